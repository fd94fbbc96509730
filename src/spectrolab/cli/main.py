"""``spectrolab`` entry point. Each module in ``SUBCOMMANDS`` has ``register(subparsers)`` adding its parsers;
a parser's ``run`` default is called with the parsed arguments. Errors print one line and exit non-zero.

The command modules import torch and the models inside their ``run`` functions only, so that ``--help``,
``--version``, ``models`` and ``data info`` start in a fraction of a second (tested).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import re
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from spectrolab import __version__
from spectrolab.errors import SpectrolabError, SpectrolabWarning, did_you_mean

SUBCOMMANDS: tuple[str, ...] = (
    "spectrolab.cli.demo",
    "spectrolab.cli.blur",
    "spectrolab.cli.data",
    "spectrolab.cli.clips",
    "spectrolab.cli.models",
    "spectrolab.cli.train",
    "spectrolab.cli.codec",
    "spectrolab.cli.tagging",
    "spectrolab.cli.energy",
    "spectrolab.cli.serve",
    "spectrolab.cli.experiment",
)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default after its help, unless the help already says it or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        hidden = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if "default" in text or hidden or not action.option_strings:
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse with defaults in ``--help``, and errors about unknown options or choices reported by the
    subcommand they belong to (its usage, not the top level's) with a "did you mean" where one is close."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            options = [o for action in self._actions for o in action.option_strings]
            hints = [did_you_mean(e.split("=", 1)[0], options) if e.startswith("-") else "" for e in extras]
            hint = next((h for h in hints if h), "")
            self.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
        return namespace, extras

    def error(self, message: str) -> NoReturn:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            message += did_you_mean(choice.group(1), options)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="spectrolab", description="Deep learning on audio spectrograms.")
    parser.add_argument("--version", action="version", version=f"spectrolab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def _show_warning(command: str, shown: Any, message: Any, category: type[Warning], *rest: Any, **kw: Any) -> None:
    """Our warnings as one line each (``spectrolab CMD: warning: ...``); other warnings as Python shows them."""
    if issubclass(category, SpectrolabWarning):
        print(f"spectrolab {command}: warning: {message}", file=sys.stderr)
    else:
        shown(message, category, *rest, **kw)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", SpectrolabWarning)
        warnings.showwarning = functools.partial(_show_warning, args.command, warnings.showwarning)
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
