"""FCN (Choi et al. 2016, "Automatic tagging using deep convolutional neural networks").

Configuration of Won et al. 2020 (minzwon/sota-music-tagging-models): 29 s chunks (464000 samples at
16 kHz) -> 96-band log-mel (96 x 1813) -> five 3x3 conv-BN-ReLU-max-pool blocks, widths 64-128-128-128-64,
pools (2,4), (2,4), (2,4), (3,5), (4,4) reducing the map to 1 x 1 -> dropout 0.5 -> linear.
"""

from __future__ import annotations

import torch
from torch import nn

from spectrolab.models.registry import register_model
from spectrolab.models.tagging.base import MelTaggingModel
from spectrolab.models.tagging.blocks import ConvBlock2d
from spectrolab.models.tagging.frontend import MelFrontEnd, MelStyle

FCN_INPUT_LENGTH = 29 * 16000
FCN_LAYERS = ((1, 64, (2, 4)), (64, 128, (2, 4)), (128, 128, (2, 4)), (128, 128, (3, 5)), (128, 64, (4, 4)))


class FCN(MelTaggingModel):
    """Fully convolutional tagger: waveform (B, 464000) -> logits (B, num_classes)."""

    fixed_length = True

    def __init__(self, *, num_classes: int, mel_style: MelStyle = "librosa") -> None:
        super().__init__(sample_rate=16000, input_length=FCN_INPUT_LENGTH, num_classes=num_classes)
        self.frontend = MelFrontEnd(n_mels=96, mel_style=mel_style)
        self.layers = nn.Sequential(*(ConvBlock2d(i, o, pool=p) for i, o, p in FCN_LAYERS))
        self.dropout = nn.Dropout(0.5)
        self.dense = nn.Linear(64, num_classes)

    def forward_features(self, logmel: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.frontend.bn(logmel))  # (B, 64, 1, 1)
        return self.dense(self.dropout(x.flatten(1)))


@register_model("fcn", task="tagging")
def fcn(*, num_classes: int = 50, mel_style: MelStyle = "librosa") -> FCN:
    """FCN (Choi et al. 2016): 5-layer fully convolutional net on 29 s of 96-band log-mel."""
    return FCN(num_classes=num_classes, mel_style=mel_style)
