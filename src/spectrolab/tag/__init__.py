"""Music tagging API: song-level aggregation of chunk logits, metrics, prediction on files, taggrams."""
