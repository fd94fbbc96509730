"""Lightning training: modules, data plumbing and callbacks wrapping the plain registered models."""
