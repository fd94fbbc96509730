"""ImageNet vision backbones from timm as taggers on log-mel spectrograms, registered as ``timm/<timm name>``.

The spectrogram (B, 1, n_mels, frames) is the image: timm builds the network with ``in_chans=1``, the
spectrogram's size as ``img_size`` (transformers; CNNs take any size) and a new ``num_classes`` head (both
heads for DeiT-distilled, whose outputs timm averages). Pretrained weights go through timm's own loading,
which adapts them: the first conv's kernels summed over RGB (``adapt_input_conv``), absolute position
embeddings resampled to the new patch grid (``resample_abs_pos_embed``), classifier(s) dropped.
``pretrained=True`` fetches timm's default weights; ``pretrained_file`` loads a local state dict of the
3-channel ImageNet model (.safetensors, .pth or .bin) instead, which is the way without network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

from spectrolab.errors import ConfigError, ModelError
from spectrolab.models.registry import register_model
from spectrolab.models.tagging.base import MelTaggingModel
from spectrolab.models.tagging.frontend import MelFrontEnd, MelStyle

VISION_INPUT_LENGTH = 5 * 16000


@dataclass(frozen=True)
class Backbone:
    """A timm architecture; ``patch_size`` for transformers (fixed patch grid), None for CNNs (any size)."""

    timm_name: str
    patch_size: int | None = None


BACKBONES = (
    Backbone("vit_small_patch16_224", patch_size=16),
    Backbone("deit_tiny_distilled_patch16_224", patch_size=16),
    Backbone("convnext_atto"),
    Backbone("efficientnet_b0"),
    Backbone("resnet18"),
)


def image_size(backbone: Backbone, *, n_mels: int, frames: int) -> tuple[int, int]:
    """(height, width) fed to the backbone: frames padded up to whole patches for transformers."""
    if backbone.patch_size is None:
        return n_mels, frames
    if n_mels % backbone.patch_size:
        raise ConfigError(f"{backbone.timm_name}: n_mels={n_mels} must be a multiple of the patch size")
    return n_mels, math.ceil(frames / backbone.patch_size) * backbone.patch_size


def create_backbone(
    backbone: Backbone,
    *,
    num_classes: int,
    img_size: tuple[int, int],
    pretrained: bool,
    pretrained_file: str | None,
) -> nn.Module:
    """``timm.create_model`` with one input channel, ``num_classes`` outputs and, if asked, adapted weights."""
    kwargs: dict = {"in_chans": 1, "num_classes": num_classes}
    if backbone.patch_size is not None:
        kwargs["img_size"] = img_size
    if pretrained_file is not None:
        if not Path(pretrained_file).is_file():
            raise ModelError(f"pretrained_file {pretrained_file}: no such file")
        kwargs["pretrained_cfg_overlay"] = {"file": str(pretrained_file)}
    try:
        return timm.create_model(backbone.timm_name, pretrained=pretrained or pretrained_file is not None, **kwargs)
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        if pretrained_file is not None:
            raise ModelError(f"{pretrained_file}: cannot load into {backbone.timm_name} ({exc})") from exc
        raise ModelError(
            f"timm/{backbone.timm_name}: could not fetch pretrained weights ({type(exc).__name__}); without "
            "network, save the 3-channel ImageNet state dict elsewhere and pass pretrained_file=<local "
            ".safetensors/.pth file>"
        ) from exc


# Arguments that only say where initial weights come from; a saved model's own weights replace them.
INIT_ONLY_ARGS = ("pretrained", "pretrained_file")


class VisionTagger(MelTaggingModel):
    """Log-mel front end + timm backbone: waveform (B, T) -> logits (B, num_classes).

    The build arguments recorded by ``create_model`` (and saved by ``save_model_dir``) leave out
    :data:`INIT_ONLY_ARGS`, so a saved fine-tuned model reloads without the ImageNet file or network.
    """

    @property
    def spectrolab_args(self) -> dict:
        return self._build_args

    @spectrolab_args.setter
    def spectrolab_args(self, kwargs: dict) -> None:
        self._build_args = {k: v for k, v in kwargs.items() if k not in INIT_ONLY_ARGS}

    def __init__(
        self,
        backbone: Backbone,
        *,
        num_classes: int,
        input_length: int,
        n_mels: int = 128,
        pretrained: bool = False,
        pretrained_file: str | None = None,
        mel_style: MelStyle = "librosa",
    ) -> None:
        super().__init__(sample_rate=16000, input_length=input_length, num_classes=num_classes)
        self.frontend = MelFrontEnd(n_mels=n_mels, mel_style=mel_style)
        self.img_size = image_size(backbone, n_mels=n_mels, frames=self.frontend.num_frames(input_length))
        self.backbone = create_backbone(
            backbone,
            num_classes=num_classes,
            img_size=self.img_size,
            pretrained=pretrained,
            pretrained_file=pretrained_file,
        )
        self.pads_time = backbone.patch_size is not None

    def forward_features(self, logmel: torch.Tensor) -> torch.Tensor:
        spec = self.frontend.bn(logmel)  # (B, 1, n_mels, frames)
        if self.pads_time:
            width = self.img_size[1]
            if spec.shape[-1] > width:
                raise ConfigError(
                    f"input of {spec.shape[-1]} frames is longer than the {width} frames "
                    f"({self.input_length} samples) this model was built for"
                )
            spec = F.pad(spec, (0, width - spec.shape[-1]))
        return self.backbone(spec)


def _register(backbone: Backbone) -> None:
    @register_model(f"timm/{backbone.timm_name}", task="tagging")
    def build(
        *,
        num_classes: int = 50,
        input_length: int = VISION_INPUT_LENGTH,
        n_mels: int = 128,
        pretrained: bool = False,
        pretrained_file: str | None = None,
        mel_style: MelStyle = "librosa",
    ) -> VisionTagger:
        return VisionTagger(
            backbone,
            num_classes=num_classes,
            input_length=input_length,
            n_mels=n_mels,
            pretrained=pretrained,
            pretrained_file=pretrained_file,
            mel_style=mel_style,
        )

    build.__doc__ = f"timm {backbone.timm_name} on a 1-channel log-mel image (n_mels x frames)."


for _backbone in BACKBONES:
    _register(_backbone)
