"""``spectrolab models``: list the registered model names."""

from __future__ import annotations

import argparse

from spectrolab.models import list_models, model_info


def _run(args: argparse.Namespace) -> int:
    for name in list_models(args.task, pattern=args.pattern):
        info = model_info(name)
        print(f"{name:45s} {info.task:10s} {info.description}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list registered models")
    p.add_argument("--task", help="only this task (tagging, codec, prior)")
    p.add_argument("--pattern", help="only names containing this")
    p.set_defaults(run=_run)
