"""CRNN (Choi et al. 2017, "Convolutional recurrent neural networks for music classification").

Configuration of Won et al. 2020: 29 s chunks -> 96-band log-mel -> four 3x3 conv-BN-ReLU-max-pool blocks
(widths 64-128-128-128, pools 2, 3, 4, 4 in both axes; 96 mel bands -> 1) -> 2-layer GRU with 32 units over
the 18 remaining frames -> last step -> dropout 0.5 -> linear. (The reference hard-codes 50 outputs; here
``num_classes`` sets them.)
"""

from __future__ import annotations

import torch
from torch import nn

from spectrolab.models.registry import register_model
from spectrolab.models.tagging.base import MelTaggingModel
from spectrolab.models.tagging.blocks import ConvBlock2d
from spectrolab.models.tagging.frontend import MelFrontEnd, MelStyle

CRNN_LAYERS = ((1, 64, 2), (64, 128, 3), (128, 128, 4), (128, 128, 4))


class CRNN(MelTaggingModel):
    """CNN + GRU tagger: waveform (B, T) -> logits (B, num_classes); published T = 464000 (29 s)."""

    def __init__(
        self,
        *,
        num_classes: int,
        input_length: int,
        gru_units: int = 32,
        gru_layers: int = 2,
        mel_style: MelStyle = "librosa",
    ) -> None:
        super().__init__(sample_rate=16000, input_length=input_length, num_classes=num_classes)
        self.frontend = MelFrontEnd(n_mels=96, mel_style=mel_style)
        self.min_input_length = (2 * 3 * 4 * 4 - 1) * 256  # one frame left after the time poolings
        self.layers = nn.Sequential(*(ConvBlock2d(i, o, pool=p) for i, o, p in CRNN_LAYERS))
        self.gru = nn.GRU(128, gru_units, gru_layers, batch_first=True)
        self.dropout = nn.Dropout(0.5)
        self.dense = nn.Linear(gru_units, num_classes)

    def forward_features(self, logmel: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.frontend.bn(logmel))  # (B, 128, 1, N')
        x, _ = self.gru(x.squeeze(2).transpose(1, 2))  # (B, N', gru_units)
        return self.dense(self.dropout(x[:, -1]))


@register_model("crnn", task="tagging")
def crnn(*, num_classes: int = 50, input_length: int = 29 * 16000, mel_style: MelStyle = "librosa") -> CRNN:
    """CRNN (Choi et al. 2017): 4 conv blocks + 2-layer GRU on 29 s of 96-band log-mel."""
    return CRNN(num_classes=num_classes, input_length=input_length, mel_style=mel_style)
