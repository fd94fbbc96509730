"""What every training run shares on the command line: Lightning's own chatter kept quiet unless asked for,
and Lightning's configuration errors turned into our one-line errors."""

from __future__ import annotations

import logging
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException

from spectrolab.errors import ConfigError
from spectrolab.models.precision import native_bfloat16

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


def training_precision(precision: str, *, accelerator: str = "cpu") -> str:
    """Lightning's precision for ``precision``. ``"auto"`` is ``bf16-mixed`` where bfloat16 runs in hardware (a
    CPU with AVX512-BF16 or AMX, a GPU that supports it) and ``32-true`` elsewhere. ``bf16-mixed`` asked for on a
    CPU without it is kept, with a warning on stderr: there bfloat16 is emulated, many times slower than float32."""
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    native = native_bfloat16() if on_cpu else torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if precision == "auto":
        return "bf16-mixed" if native else "32-true"
    if precision == "bf16-mixed" and on_cpu and not native:
        print(
            "warning: this CPU has no bfloat16 arithmetic (AVX512-BF16 or AMX), so bf16-mixed is emulated and many "
            "times slower than 32-true; --precision auto picks the faster one",
            file=sys.stderr,
        )
    return precision


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


LR_SCHEDULES = ("constant", "cosine")


def check_lr_schedule(lr_schedule: str, max_steps: int) -> None:
    """Refuse an unknown schedule, or a cosine one without a step budget to decay over."""
    if lr_schedule not in LR_SCHEDULES:
        raise ConfigError(f"lr_schedule={lr_schedule!r}: expected one of {LR_SCHEDULES}")
    if lr_schedule == "cosine" and max_steps <= 0:
        raise ConfigError("the cosine learning-rate schedule needs a step budget (--max-steps > 0)")


def cosine_schedule(max_steps: int, *, floor: float = 0.05) -> Callable[[int], float]:
    """Learning-rate factor of step ``s``: a cosine from 1 to ``floor`` over ``max_steps`` steps."""

    def factor(step: int) -> float:
        progress = min(step / max_steps, 1.0)
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def scheduled(optimizer: torch.optim.Optimizer, lr_schedule: str, max_steps: int) -> Any:
    """What ``configure_optimizers`` returns: ``optimizer`` alone (``"constant"``) or with a per-step cosine."""
    if lr_schedule == "constant":
        return optimizer
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_schedule(max_steps))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
