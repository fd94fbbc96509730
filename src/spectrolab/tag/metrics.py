"""Song-level tagging metrics via torchmetrics: macro ROC-AUC and PR-AUC (average precision) for multi-label
tagging, accuracy for single-label classification."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multilabel_auroc,
    multilabel_average_precision,
)

from spectrolab.errors import ConfigError


@dataclass(frozen=True)
class TaggingScores:
    """Song-level metrics; the ones that do not apply to the task are ``None``."""

    roc_auc: float | None = None
    pr_auc: float | None = None
    accuracy: float | None = None

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in vars(self).items() if v is not None}


def multilabel_scores(scores: torch.Tensor, targets: torch.Tensor) -> TaggingScores:
    """Macro ROC-AUC and PR-AUC of ``scores`` (N, C) in [0, 1] against binary ``targets`` (N, C).

    Classes without any positive (or any negative) example are left out of the macro average, as scikit-learn
    would refuse them.
    """
    if scores.shape != targets.shape or scores.ndim != 2:
        raise ConfigError(f"scores {tuple(scores.shape)} and targets {tuple(targets.shape)} must both be (N, C)")
    positives = targets.sum(0)
    usable = (positives > 0) & (positives < targets.shape[0])
    if not bool(usable.any()):
        raise ConfigError("no class has both positive and negative examples; ROC-AUC is undefined")
    s, t = scores[:, usable].float(), targets[:, usable].long()
    n = int(usable.sum())
    auc = multilabel_auroc(s, t, num_labels=n, average="macro", thresholds=None)
    ap = multilabel_average_precision(s, t, num_labels=n, average="macro", thresholds=None)
    return TaggingScores(roc_auc=float(auc), pr_auc=float(ap))


def accuracy(scores: torch.Tensor, targets: torch.Tensor) -> TaggingScores:
    """Micro accuracy (fraction of items whose arg-max class is right) of ``scores`` (N, C), ``targets`` (N,)."""
    if scores.ndim != 2 or targets.shape != scores.shape[:1]:
        raise ConfigError(f"expected scores (N, C) and targets (N,), got {tuple(scores.shape)}, {tuple(targets.shape)}")
    acc = multiclass_accuracy(scores, targets.long(), num_classes=scores.shape[1], average="micro")
    return TaggingScores(accuracy=float(acc))
