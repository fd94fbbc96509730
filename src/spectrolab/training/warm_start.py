"""Warm starts: a trained model's weights start a new run of the same registered model, and the new model's
config records where they came from and what they cost (so that it holds the whole budget of its weights)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from spectrolab.errors import ConfigError
from spectrolab.models.registry import load_model_dir, read_config


@dataclass(frozen=True)
class WarmStart:
    """A trained model whose weights start a new run: its directory, registered name, weights digest, builder
    arguments (the new model's defaults, ``head_arg`` left out), weights, and what its own training cost
    (``budget``: the entries of its metadata that describe its training).

    ``head_rows`` is the source's value of ``head_arg`` (e.g. a tagger's ``num_classes``): tensors whose first
    dimension it is may differ in that dimension and then start fresh. -1 when no tensor may differ.
    """

    directory: Path
    name: str
    sha256: str
    model_args: dict[str, Any]
    head_rows: int
    state: dict[str, torch.Tensor]
    budget: dict[str, Any]

    @classmethod
    def from_directory(
        cls, directory: str | os.PathLike[str], *, budget_keys: Iterable[str], head_arg: str | None = None
    ) -> WarmStart:
        """Load the model exported in ``directory``; ``budget_keys`` name the metadata entries to record."""
        loaded = load_model_dir(Path(directory))
        args = dict(read_config(loaded.directory)["args"])  # the builder's arguments: not in LoadedModel
        return cls(
            directory=loaded.directory,
            name=loaded.name,
            sha256=loaded.sha256,
            head_rows=-1 if head_arg is None else int(args.pop(head_arg, -1)),
            model_args=args,
            state=loaded.model.state_dict(),
            budget={k: loaded.metadata[k] for k in budget_keys if k in loaded.metadata},
        )

    def record(self, fresh: list[str]) -> dict[str, Any]:
        """The exported model's ``warm_start`` entry: the source, its digest, the tensors that started fresh and
        the source's own budget, so that the new model's config holds the whole cost of its weights."""
        return {"from": str(self.directory), "sha256": self.sha256, "fresh": fresh, "source_budget": self.budget}

    def load_into(self, model: torch.nn.Module, *, name: str) -> list[str]:
        """Copy the source's weights into ``model`` (registered as ``name``) and return the names of the tensors
        left at their initialisation: those whose first dimension is the source's ``head_rows`` and differs
        here (a classifier for other labels). Any other difference is a :class:`ConfigError` naming the tensor."""
        if name != self.name:
            raise ConfigError(f"--init-from {self.directory}: it is a {self.name}, not a {name}")
        state, fresh = model.state_dict(), []
        for key, value in state.items():
            old = self.state.get(key)
            if old is not None and old.shape == value.shape:
                state[key] = old
            elif old is not None and old.shape[1:] == value.shape[1:] and old.shape[:1] == (self.head_rows,):
                fresh.append(key)
            else:
                there = "no such tensor" if old is None else f"shape {tuple(old.shape)}"
                raise ConfigError(
                    f"--init-from {self.directory}: {key} has {there} there and shape {tuple(value.shape)} here; "
                    "give the same --model-arg"
                )
        model.load_state_dict(state, strict=True)
        return fresh
