"""What every training run shares on the command line: Lightning's own chatter kept quiet unless asked for,
and Lightning's configuration errors turned into our one-line errors."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
from lightning.fabric.utilities.exceptions import MisconfigurationException

from spectrolab.errors import ConfigError

LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "lightning_fabric", "pytorch_lightning")


@contextmanager
def quiet_lightning(*, verbose: bool = False) -> Iterator[None]:
    """Unless ``verbose``: hide Lightning's informational lines ("Seed set to 0", accelerator lines, tips) and
    its warnings (deprecations, logging intervals); the progress bar and our own prints stay."""
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"(lightning|pytorch_lightning|lightning_fabric|torchmetrics)\b")
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def one_line(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split())


def make_trainer(**kwargs: Any) -> L.Trainer:
    """``L.Trainer(**kwargs)``; an invalid device, accelerator, strategy or precision raises :class:`ConfigError`."""
    try:
        return L.Trainer(**kwargs)
    except (MisconfigurationException, ValueError, TypeError) as exc:
        raise ConfigError(f"training set-up: {one_line(exc)}") from exc


@contextmanager
def lightning_errors() -> Iterator[None]:
    """Around ``trainer.fit``: Lightning's misconfiguration errors become :class:`ConfigError`."""
    try:
        yield
    except MisconfigurationException as exc:
        raise ConfigError(f"training: {one_line(exc)}") from exc


def check_steps(max_steps: int) -> None:
    """Refuse a step budget that trains nothing (``0``) or means nothing (below ``-1``, Lightning's "none")."""
    if max_steps == 0 or max_steps < -1:
        raise ConfigError(
            f"--max-steps {max_steps}: give a positive number of steps (or -1 for no step limit); "
            "0 would export an untrained model"
        )
