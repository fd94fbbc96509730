"""Command-line front-end: argparse subcommands, each a thin call into the library."""
