"""MusiCNN (Pons et al. 2018, "End-to-end learning for music audio tagging at scale").

Configuration of Won et al. 2020 (MTAT back end): 3 s chunks -> 96-band log-mel (96 x 188) ->
timbral front end: two "vertical" convs spanning 70 % and 40 % of the mel bands x 7 frames (204 filters each),
max-pooled over frequency; temporal front end: the mean over frequency convolved by 1-D filters of lengths
129, 65 and 33 (51 each) -> 561 channels per frame -> 1-D back end: three conv(7)-BN-ReLU layers of 64
channels, the last two residual -> concatenation (561 + 3 x 64) -> max and mean over time -> linear 200 ->
BN -> ReLU -> dropout 0.5 -> linear. The MSD configuration uses ``backend_channels=512, dense_channels=500``.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from spectrolab.models.registry import register_model
from spectrolab.models.tagging.base import MelTaggingModel
from spectrolab.models.tagging.blocks import ConvBlock1d, DenseHead, conv_bn_1d
from spectrolab.models.tagging.frontend import MelFrontEnd, MelStyle, conv_of_affine

MUSICNN_INPUT_LENGTH = 3 * 16000


class TimbralConv(nn.Module):
    """Vertical conv (``height`` bands x 7 frames) -> BN -> ReLU -> max over frequency: (B,1,F,N) -> (B,C,N)."""

    def __init__(self, out_channels: int, *, height: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, out_channels, (height, 7), padding=(0, 3)), nn.BatchNorm2d(out_channels), nn.ReLU()
        )

    def forward(self, standard: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
        """``standard``: the front end's standardised log-mel (B, 1, F, N); ``bn``: its scale and shift."""
        conv, rest = self.conv[0], self.conv[1:]
        assert isinstance(conv, nn.Conv2d)
        return rest(conv_of_affine(conv, standard, bn)).amax(2)


class TemporalConv(nn.Module):
    """Mean over frequency -> 1-D conv of ``length`` frames -> BN -> ReLU: (B, 1, F, N) -> (B, C, N)."""

    def __init__(self, out_channels: int, *, length: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(conv_bn_1d(1, out_channels, kernel_size=length), nn.ReLU())

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return self.conv(spec.mean(2))


class MusiCNN(MelTaggingModel):
    """MusiCNN: waveform (B, T) -> logits (B, num_classes); published T = 48000 (3 s)."""

    def __init__(
        self,
        *,
        num_classes: int,
        input_length: int,
        backend_channels: int = 64,
        dense_channels: int = 200,
        mel_style: MelStyle = "librosa",
    ) -> None:
        super().__init__(sample_rate=16000, input_length=input_length, num_classes=num_classes)
        n_mels = 96
        self.frontend = MelFrontEnd(n_mels=n_mels, mel_style=mel_style)
        self.timbral = nn.ModuleList(
            [TimbralConv(204, height=int(0.7 * n_mels)), TimbralConv(204, height=int(0.4 * n_mels))]
        )
        self.temporal = nn.ModuleList([TemporalConv(51, length=n) for n in (129, 65, 33)])
        front_channels = 2 * 204 + 3 * 51
        widths = (front_channels, backend_channels, backend_channels)
        self.backend = nn.ModuleList([ConvBlock1d(w, backend_channels, kernel_size=7, pool=1) for w in widths])
        self.head = DenseHead(2 * (front_channels + 3 * backend_channels), dense_channels, num_classes)

    def forward_features(self, logmel: torch.Tensor) -> torch.Tensor:
        standard = self.frontend.standardize(logmel)
        spec = self.frontend.bn.weight * standard + self.frontend.bn.bias  # the front end's output
        timbral = [m(standard, self.frontend.bn) for m in self.timbral]
        return self._backend(torch.cat([*timbral, *(m(spec) for m in self.temporal)], dim=1))

    def forward_plain(self, wave: torch.Tensor) -> torch.Tensor:
        """``forward`` (waveform (B, T) -> logits) written plainly, the batch-normalised spectrogram fed straight
        to the timbral convs: the same numbers and gradients, but the backward pass computes their costly input
        gradients."""
        spec = self.frontend(self.waveform(wave))
        timbral = [cast(TimbralConv, m).conv(spec).amax(2) for m in self.timbral]
        return self._backend(torch.cat([*timbral, *(m(spec) for m in self.temporal)], dim=1))

    def _backend(self, front: torch.Tensor) -> torch.Tensor:
        """Front-end features (B, 561, N) -> logits (B, num_classes)."""
        res1 = self.backend[0](front)
        res2 = self.backend[1](res1) + res1
        res3 = self.backend[2](res2) + res2
        features = torch.cat([front, res1, res2, res3], dim=1)
        return self.head(torch.cat([features.amax(-1), features.mean(-1)], dim=1))


@register_model("musicnn", task="tagging")
def musicnn(
    *, num_classes: int = 50, input_length: int = MUSICNN_INPUT_LENGTH, mel_style: MelStyle = "librosa"
) -> MusiCNN:
    """MusiCNN (Pons et al. 2018): timbral/temporal mel front end + 1-D residual back end, 3 s chunks."""
    return MusiCNN(num_classes=num_classes, input_length=input_length, mel_style=mel_style)
