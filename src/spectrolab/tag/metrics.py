"""Song-level tagging metrics via torchmetrics: macro ROC-AUC and PR-AUC (average precision) for multi-label
tagging, accuracy for single-label classification."""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    labels: list[str] | None = None
    confusion: list[list[int]] | None = None  # single-label: confusion[true][predicted] counts
    per_label_roc_auc: dict[str, float] | None = None  # multi-label with labels: each scorable label's ROC-AUC

    def as_dict(self) -> dict[str, float]:
        """The scalar metrics that apply."""
        return {k: v for k in ("roc_auc", "pr_auc", "accuracy") if (v := getattr(self, k)) is not None}

    def per_class_accuracy(self) -> dict[str, float]:
        """Single-label: the fraction of each class's items predicted right (classes with items only)."""
        if self.confusion is None or self.labels is None:
            return {}
        return {
            label: row[i] / sum(row)
            for i, (label, row) in enumerate(zip(self.labels, self.confusion, strict=True))
            if sum(row)
        }

    def confusion_table(self) -> str:
        """The confusion matrix as text: one row per true class (with items), one column per predicted class."""
        if self.confusion is None or self.labels is None:
            return ""
        short = [label[:7] for label in self.labels]
        lines = ["true / predicted" + "".join(f"{s:>8s}" for s in short) + "  accuracy"]
        per_class = self.per_class_accuracy()
        for label, row in zip(self.labels, self.confusion, strict=True):
            if sum(row):
                lines.append(f"{label:16s}" + "".join(f"{n:8d}" for n in row) + f"  {per_class[label]:8.3f}")
        return "\n".join(lines)


def multilabel_scores(scores: torch.Tensor, targets: torch.Tensor, *, labels: list[str] | None = None) -> TaggingScores:
    """Macro ROC-AUC and PR-AUC of ``scores`` (N, C) in [0, 1] against binary ``targets`` (N, C); with the C
    ``labels``, also each label's ROC-AUC.

    Classes without any positive (or any negative) example are left out of the macro average (and of the
    per-label figures), as scikit-learn would refuse them.
    """
    if scores.shape != targets.shape or scores.ndim != 2:
        raise ConfigError(f"scores {tuple(scores.shape)} and targets {tuple(targets.shape)} must both be (N, C)")
    positives = targets.sum(0)
    usable = (positives > 0) & (positives < targets.shape[0])
    if not bool(usable.any()):
        raise ConfigError("no class has both positive and negative examples; ROC-AUC is undefined")
    s, t = scores[:, usable].float(), targets[:, usable].long()
    n = int(usable.sum())
    if labels is not None and len(labels) != scores.shape[1]:
        raise ConfigError(f"{len(labels)} labels for {scores.shape[1]} score columns")
    per_label = multilabel_auroc(s, t, num_labels=n, average=None, thresholds=None)
    ap = multilabel_average_precision(s, t, num_labels=n, average="macro", thresholds=None)
    kept = [label for label, use in zip(labels or [], usable.tolist(), strict=False) if use]
    return TaggingScores(
        roc_auc=float(per_label.mean()), pr_auc=float(ap), labels=labels,
        per_label_roc_auc=dict(zip(kept, per_label.tolist(), strict=True)) if labels is not None else None,
    )  # fmt: skip


def accuracy(scores: torch.Tensor, targets: torch.Tensor, *, labels: list[str] | None = None) -> TaggingScores:
    """Micro accuracy (fraction of items whose arg-max class is right) of ``scores`` (N, C), ``targets`` (N,),
    with the confusion matrix (true class x predicted class) and the class ``labels`` if given."""
    if scores.ndim != 2 or targets.shape != scores.shape[:1]:
        raise ConfigError(f"expected scores (N, C) and targets (N,), got {tuple(scores.shape)}, {tuple(targets.shape)}")
    classes = scores.shape[1]
    acc = multiclass_accuracy(scores, targets.long(), num_classes=classes, average="micro")
    pairs = targets.long() * classes + scores.argmax(1)
    confusion = torch.bincount(pairs, minlength=classes * classes).view(classes, classes)
    return TaggingScores(accuracy=float(acc), labels=labels, confusion=confusion.tolist())


def single_label_scores(
    scores: torch.Tensor, targets: torch.Tensor, *, labels: list[str] | None = None
) -> TaggingScores:
    """:func:`accuracy` (with the confusion matrix) and the macro one-vs-rest ROC-AUC and PR-AUC of the class
    ``scores`` (N, C) against ``targets`` (N,): how well each class's score ranks its items above the others."""
    top = accuracy(scores, targets, labels=labels)
    one_hot = torch.nn.functional.one_hot(targets.long(), scores.shape[1])
    ranked = multilabel_scores(scores, one_hot)
    return replace(top, roc_auc=ranked.roc_auc, pr_auc=ranked.pr_auc)
