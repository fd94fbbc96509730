"""Convolution blocks shared by the CNN taggers (Won et al. 2020 reference layouts).

2-D blocks take (B, C, F, N) feature maps; 1-D blocks take (B, C, T). Every convolution is 3 wide (or
``kernel_size``) with "same" padding ``kernel_size // 2``, followed by batch norm.
"""

from __future__ import annotations

import torch
from torch import nn

Size2d = int | tuple[int, int]


def conv_bn_2d(in_channels: int, out_channels: int, *, stride: Size2d = 1) -> nn.Sequential:
    """3x3 convolution (padding 1) + BatchNorm2d."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1), nn.BatchNorm2d(out_channels)
    )


class ConvBlock2d(nn.Sequential):
    """conv 3x3 -> BN -> ReLU -> max-pool ``pool``: (B, C_in, F, N) -> (B, C_out, F // pf, N // pn)."""

    def __init__(self, in_channels: int, out_channels: int, *, pool: Size2d) -> None:
        super().__init__(conv_bn_2d(in_channels, out_channels), nn.ReLU(), nn.MaxPool2d(pool))


class ResBlock2d(nn.Module):
    """Two 3x3 conv-BN layers (the first strided) plus a shortcut, then ReLU.

    The shortcut is a strided 3x3 conv-BN when the stride or width changes, the identity otherwise.
    """

    def __init__(self, in_channels: int, out_channels: int, *, stride: Size2d) -> None:
        super().__init__()
        self.conv1 = conv_bn_2d(in_channels, out_channels, stride=stride)
        self.conv2 = conv_bn_2d(out_channels, out_channels)
        needs_projection = stride not in (1, (1, 1)) or in_channels != out_channels
        self.shortcut = conv_bn_2d(in_channels, out_channels, stride=stride) if needs_projection else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + self.shortcut(x))


class ResPoolBlock2d(nn.Module):
    """Two 3x3 conv-BN layers plus a shortcut (3x3 conv-BN if the width changes), ReLU, then max-pool ``pool``."""

    def __init__(self, in_channels: int, out_channels: int, *, pool: Size2d) -> None:
        super().__init__()
        self.conv1 = conv_bn_2d(in_channels, out_channels)
        self.conv2 = conv_bn_2d(out_channels, out_channels)
        self.shortcut = conv_bn_2d(in_channels, out_channels) if in_channels != out_channels else nn.Identity()
        self.pool = nn.MaxPool2d(pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.conv2(torch.relu(self.conv1(x))) + self.shortcut(x)))


def conv_bn_1d(in_channels: int, out_channels: int, *, kernel_size: int, stride: int = 1) -> nn.Sequential:
    """1-D convolution with padding ``kernel_size // 2`` + BatchNorm1d."""
    conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)
    return nn.Sequential(conv, nn.BatchNorm1d(out_channels))


class ConvBlock1d(nn.Sequential):
    """conv -> BN -> ReLU -> max-pool ``pool``: (B, C_in, T) -> (B, C_out, T // stride // pool)."""

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int, stride: int = 1, pool: int) -> None:
        conv = conv_bn_1d(in_channels, out_channels, kernel_size=kernel_size, stride=stride)
        super().__init__(conv, nn.ReLU(), nn.MaxPool1d(pool))


class SqueezeExcite1d(nn.Module):
    """Squeeze-and-excitation over channels (Hu et al. 2018) with full-width (ratio 1) dense layers."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.dense1 = nn.Linear(channels, channels)
        self.dense2 = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.dense2(torch.relu(self.dense1(x.mean(-1)))))
        return x * gate[..., None]


class ResSEBlock1d(nn.Module):
    """Sample-level residual SE block (Kim et al. 2018): conv-BN-ReLU-conv-BN, SE, + shortcut, ReLU, max-pool."""

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int, stride: int = 1, pool: int) -> None:
        super().__init__()
        self.conv1 = conv_bn_1d(in_channels, out_channels, kernel_size=kernel_size, stride=stride)
        self.conv2 = conv_bn_1d(out_channels, out_channels, kernel_size=kernel_size)
        self.se = SqueezeExcite1d(out_channels)
        needs_projection = stride != 1 or in_channels != out_channels
        projection = conv_bn_1d(in_channels, out_channels, kernel_size=kernel_size, stride=stride)
        self.shortcut = projection if needs_projection else nn.Identity()
        self.pool = nn.MaxPool1d(pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.se(self.conv2(torch.relu(self.conv1(x))))
        return self.pool(torch.relu(out + self.shortcut(x)))


def global_max_pool(x: torch.Tensor) -> torch.Tensor:
    """(B, C, 1, N) or (B, C, N) -> (B, C): maximum over the remaining time axis."""
    return x.flatten(2).amax(-1)


class DenseHead(nn.Sequential):
    """Linear -> BatchNorm1d -> ReLU -> dropout -> Linear: (B, in_features) -> (B, num_classes)."""

    def __init__(self, in_features: int, hidden: int, num_classes: int, *, dropout: float = 0.5) -> None:
        super().__init__(
            nn.Linear(in_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
