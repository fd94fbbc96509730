"""``spectrolab`` entry point. Each module in ``SUBCOMMANDS`` has ``register(subparsers)`` adding its parsers;
a parser's ``run`` default is called with the parsed arguments. Errors print one line and exit non-zero."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from spectrolab import __version__
from spectrolab.errors import SpectrolabError

SUBCOMMANDS: tuple[str, ...] = (
    "spectrolab.cli.demo",
    "spectrolab.cli.blur",
    "spectrolab.cli.data",
    "spectrolab.cli.clips",
    "spectrolab.cli.models",
    "spectrolab.cli.train",
    "spectrolab.cli.codec",
    "spectrolab.cli.tagging",
    "spectrolab.cli.experiment",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spectrolab", description="Deep learning on audio spectrograms.")
    parser.add_argument("--version", action="version", version=f"spectrolab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except SpectrolabError as exc:
        print(f"spectrolab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spectrolab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
