"""Sample-level CNN (Lee et al. 2017) and its residual squeeze-and-excitation variant (Kim et al. 2018).

Raw waveform, 59049 = 3^10 samples at 16 kHz: a stride-3 conv (128 ch), nine blocks that each max-pool by 3
(widths 128, 128, 256 x 6, 512), then a 1-wide conv (512 ch) on the single remaining step. SampleCNN: dropout
0.5 -> linear. SampleCNN+SE: every block is a residual SE block and the head is linear 512 -> BN -> ReLU ->
dropout 0.5 -> linear (configuration of Won et al. 2020).
"""

from __future__ import annotations

import torch
from torch import nn

from spectrolab.models.registry import register_model
from spectrolab.models.tagging.base import TaggingModel
from spectrolab.models.tagging.blocks import ConvBlock1d, DenseHead, ResSEBlock1d

SAMPLE_CNN_INPUT_LENGTH = 3**10
# (in, out, kernel, stride, pool) of the 11 layers.
SAMPLE_CNN_LAYERS = (
    (1, 128, 3, 3, 1),
    (128, 128, 3, 1, 3),
    (128, 128, 3, 1, 3),
    (128, 256, 3, 1, 3),
    *((256, 256, 3, 1, 3),) * 5,
    (256, 512, 3, 1, 3),
    (512, 512, 1, 1, 1),
)


class SampleCNN(TaggingModel):
    """Sample-level CNN on raw audio: (B, 59049) -> (B, num_classes); ``se=True`` for residual SE blocks."""

    fixed_length = True

    def __init__(self, *, num_classes: int, se: bool) -> None:
        super().__init__(sample_rate=16000, input_length=SAMPLE_CNN_INPUT_LENGTH, num_classes=num_classes)
        block = ResSEBlock1d if se else ConvBlock1d
        self.layers = nn.Sequential(
            *(block(i, o, kernel_size=k, stride=s, pool=p) for i, o, k, s, p in SAMPLE_CNN_LAYERS)
        )
        self.head: nn.Module = (
            DenseHead(512, 512, num_classes) if se else nn.Sequential(nn.Dropout(0.5), nn.Linear(512, num_classes))
        )

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.waveform(wave)[:, None])  # (B, 512, 1)
        return self.head(x.squeeze(-1))


@register_model("sample_cnn", task="tagging")
def sample_cnn(*, num_classes: int = 50) -> SampleCNN:
    """Sample-level CNN (Lee et al. 2017): 11 1-D conv layers on 59049 raw samples."""
    return SampleCNN(num_classes=num_classes, se=False)


@register_model("sample_cnn_se", task="tagging")
def sample_cnn_se(*, num_classes: int = 50) -> SampleCNN:
    """Sample-level CNN + residual squeeze-and-excitation blocks (Kim et al. 2018) on 59049 raw samples."""
    return SampleCNN(num_classes=num_classes, se=True)
