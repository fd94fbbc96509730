"""Command groups that several modules extend: ``spectrolab train MODEL-KIND ...`` and ``spectrolab data ...``.

A module adds its subcommand with ``train_subparsers(subparsers).add_parser("tagger", ...)``; the group's
parser is created by whichever module asks first and reused by the others.
"""

from __future__ import annotations

import argparse

PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "auto")  # Lightning's names (16-mixed needs a GPU), and auto


def subcommand_group(subparsers: argparse._SubParsersAction, name: str, *, help: str) -> argparse._SubParsersAction:
    """The sub-subparsers of group ``name`` under ``subparsers``, creating the group if it does not exist."""
    parser = subparsers.choices.get(name)
    if parser is None:
        parser = subparsers.add_parser(name, help=help)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest=f"{name}_command", metavar="KIND", required=True)


def train_subparsers(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The subparsers of ``spectrolab train`` (``train tagger``, ``train codec``, ...)."""
    return subcommand_group(subparsers, "train", help="train a model (tagger, codec, ...)")


def register(subparsers: argparse._SubParsersAction) -> None:
    train_subparsers(subparsers)
