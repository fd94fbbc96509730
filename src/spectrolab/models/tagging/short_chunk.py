"""Short-chunk CNN and Short-chunk ResNet (Won et al. 2020, "Evaluation of CNN-based automatic music tagging").

Both take 59049-sample chunks (3.69 s at 16 kHz) -> 128-band log-mel (128 x 231) -> seven stages of widths
128-128-256-256-256-256-512 that halve both axes (frequency 128 -> 1) -> max over the remaining frames ->
linear 512 -> BN -> ReLU -> dropout 0.5 -> linear. The CNN ("VGG-ish") stages are conv-BN-ReLU-max-pool 2;
the ResNet stages are residual blocks whose first conv and shortcut conv have stride 2.
"""

from __future__ import annotations

import torch
from torch import nn

from spectrolab.models.registry import register_model
from spectrolab.models.tagging.base import MelTaggingModel
from spectrolab.models.tagging.blocks import ConvBlock2d, DenseHead, ResBlock2d, global_max_pool
from spectrolab.models.tagging.frontend import MelFrontEnd, MelStyle

SHORT_CHUNK_INPUT_LENGTH = 59049


def stage_widths(n_channels: int) -> list[tuple[int, int]]:
    """(in, out) widths of the seven stages: c, c, 2c, 2c, 2c, 2c, 4c after a 1-channel input."""
    outs = [n_channels, n_channels, *([2 * n_channels] * 4), 4 * n_channels]
    return list(zip([1, *outs[:-1]], outs, strict=True))


class ShortChunkCNN(MelTaggingModel):
    """Short-chunk CNN (``residual=False``) or ResNet (``residual=True``): (B, T) -> (B, num_classes)."""

    def __init__(
        self,
        *,
        num_classes: int,
        input_length: int,
        n_channels: int = 128,
        residual: bool,
        mel_style: MelStyle = "librosa",
    ) -> None:
        super().__init__(sample_rate=16000, input_length=input_length, num_classes=num_classes)
        self.frontend = MelFrontEnd(n_mels=128, mel_style=mel_style)
        widths = stage_widths(n_channels)
        if residual:
            self.layers = nn.Sequential(*(ResBlock2d(i, o, stride=2) for i, o in widths))
        else:
            self.layers = nn.Sequential(*(ConvBlock2d(i, o, pool=2) for i, o in widths))
            self.min_input_length = (2**7 - 1) * 256  # one frame left after seven poolings by 2
        self.head = DenseHead(4 * n_channels, 4 * n_channels, num_classes)

    def forward_features(self, logmel: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.frontend.bn(logmel))  # (B, 4c, 1, N')
        return self.head(global_max_pool(x))


@register_model("short_chunk_cnn", task="tagging")
def short_chunk_cnn(
    *,
    num_classes: int = 50,
    input_length: int = SHORT_CHUNK_INPUT_LENGTH,
    n_channels: int = 128,
    mel_style: MelStyle = "librosa",
) -> ShortChunkCNN:
    """Short-chunk CNN (Won et al. 2020): 7-layer VGG-ish net on 3.7 s of 128-band log-mel.

    ``n_channels`` is the first stage's width (published 128); 32 costs about 16 times fewer operations."""
    return ShortChunkCNN(
        num_classes=num_classes, input_length=input_length, n_channels=n_channels, residual=False, mel_style=mel_style
    )


@register_model("short_chunk_resnet", task="tagging")
def short_chunk_resnet(
    *,
    num_classes: int = 50,
    input_length: int = SHORT_CHUNK_INPUT_LENGTH,
    n_channels: int = 128,
    mel_style: MelStyle = "librosa",
) -> ShortChunkCNN:
    """Short-chunk ResNet (Won et al. 2020): 7 residual blocks on 3.7 s of 128-band log-mel; ``n_channels``
    as for ``short_chunk_cnn``."""
    return ShortChunkCNN(
        num_classes=num_classes, input_length=input_length, n_channels=n_channels, residual=True, mel_style=mel_style
    )
