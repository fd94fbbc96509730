"""``spectrolab models``: list the registered model names.

The listing reads ``assets/models.json``, the registry's catalogue (name, task, description), so that it needs
no torch; a test checks the catalogue against the live registry, and ``scripts/model_catalog.py`` rewrites it.
"""

from __future__ import annotations

import argparse
import json

from spectrolab.errors import ConfigError, did_you_mean
from spectrolab.paths import MODEL_CATALOG


def read_catalog() -> list[dict[str, str]]:
    """The registered models as ``{"name", "task", "description"}`` dicts, sorted by name."""
    return list(json.loads(MODEL_CATALOG.read_text()))


def _run(args: argparse.Namespace) -> int:
    catalog = read_catalog()
    tasks = sorted({entry["task"] for entry in catalog})
    if args.task is not None and args.task not in tasks:
        raise ConfigError(
            f"--task: unknown task '{args.task}'{did_you_mean(args.task, tasks)} (tasks: {', '.join(tasks)})"
        )
    for entry in catalog:
        if (args.task is None or entry["task"] == args.task) and (
            args.pattern is None or args.pattern in entry["name"]
        ):
            print(f"{entry['name']:45s} {entry['task']:10s} {entry['description']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list registered models")
    p.add_argument("--task", help="only this task (tagging, codec, prior)")
    p.add_argument("--pattern", help="only names containing this")
    p.set_defaults(run=_run)
