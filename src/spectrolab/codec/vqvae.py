"""Hierarchical VQ-VAE over GANSynth-style mel-IF spectrograms: a sound in, small grids of integer codes out.

The representation (log-mel power and mel-warped instantaneous frequency, :class:`~spectrolab.audio.
representations.MelIF`) inverts with one matrix product, a cumulative sum and one inverse STFT, so decoding
needs no Griffin-Lim. The encoder downsamples frequency and time by configurable strides per stage, giving
the bottom grid; an optional top level downsamples further (VQ-VAE-2). The bottom quantiser sees the encoder
features and the decoded top codes; the decoder sees both levels' codebook vectors.

Spectrograms inside the model are *normalised*: channel 0 is ``(log_mel - norm_shift) / norm_scale``,
channel 1 the IF in [-1, 1); time is padded to a multiple of the total time stride with silence.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spectrolab.audio import functional as F_audio
from spectrolab.audio.representations import MelIF, as_batch, representation_from_config
from spectrolab.codec.codegrid import CodeGrid, CodeGrids
from spectrolab.codec.phase import peak_locked_phase
from spectrolab.codec.quantizer import QuantizerOutput, VectorQuantizer
from spectrolab.errors import ConfigError
from spectrolab.models.precision import BFloat16Copies, Precision, uses_bfloat16

PHASES = ("decoded", "peaks")


def _check_strides(strides: Sequence[Sequence[int]], what: str) -> list[tuple[int, int]]:
    out = []
    for stride in strides:
        if len(stride) != 2 or min(stride) < 1:
            raise ConfigError(f"{what}: each stride is a (freq, time) pair of positive integers, got {list(stride)}")
        out.append((int(stride[0]), int(stride[1])))
    return out


_CHANNELS_LAST = ("encoder", "top_encoder")  # the sub-networks whose bfloat16 copies run channels-last


class Unpatch(nn.Module):
    """(B, C * sf * st, H, W) -> (B, C, H * sf, W * st): a rectangular pixel shuffle."""

    def __init__(self, stride: tuple[int, int]) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (b, c, h, w), (sf, st) = x.shape, self.stride
        x = x.reshape(b, c // (sf * st), sf, st, h, w).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(b, c // (sf * st), h * sf, w * st)


def _down(c_in: int, c_out: int, stride: tuple[int, int]) -> nn.Conv2d:
    """Patchify: a conv whose kernel equals its stride, dividing each axis exactly (cheap on a CPU)."""
    return nn.Conv2d(c_in, c_out, stride, stride=stride)


def _up(c_in: int, c_out: int, stride: tuple[int, int]) -> nn.Module:
    """Inverse of :func:`_down`: a 1x1 conv to ``c_out * sf * st`` channels, then :class:`Unpatch`."""
    return nn.Sequential(nn.Conv2d(c_in, c_out * stride[0] * stride[1], 1), Unpatch(stride))


def _conv3(channels: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, padding=1)


class ResBlock(nn.Module):
    """x + conv1x1(relu(conv3x3(relu(x)))), as in VQ-VAE-2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), _conv3(channels), nn.ReLU(), nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _encoder(c_in: int, channels: Sequence[int], strides: Sequence[tuple[int, int]], res_blocks: int) -> nn.Module:
    """Per stage: patchify by its stride, then a 3x3 conv; residual blocks at the lowest resolution."""
    layers: list[nn.Module] = []
    for c_out, stride in zip(channels, strides, strict=True):
        layers += [_down(c_in, c_out, stride), nn.ReLU(), _conv3(c_out), nn.ReLU()]
        c_in = c_out
    layers += [ResBlock(c_in) for _ in range(res_blocks)] + [nn.ReLU()]
    return nn.Sequential(*layers)


def _decoder(
    c_in: int, channels: Sequence[int], strides: Sequence[tuple[int, int]], c_out: int, res_blocks: int
) -> nn.Sequential:
    """Mirror of :func:`_encoder` (its ``channels``/``strides`` walked backwards), ending at ``c_out`` channels."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, channels[-1], 3, padding=1)]
    layers += [ResBlock(channels[-1]) for _ in range(res_blocks)] + [nn.ReLU()]
    for i in range(len(channels) - 1, 0, -1):
        layers += [_up(channels[i], channels[i - 1], strides[i]), nn.ReLU(), _conv3(channels[i - 1]), nn.ReLU()]
    layers.append(_up(channels[0], c_out, strides[0]))
    return nn.Sequential(*layers)


@dataclass
class CodecOutput:
    """Result of :meth:`Codec.forward` on a normalised spectrogram.

    Attributes:
        reconstruction: (B, 2, F, N) normalised spectrogram decoded from the codes.
        quantizers: one :class:`QuantizerOutput` per level, bottom first.
    """

    reconstruction: torch.Tensor
    quantizers: list[QuantizerOutput]


def _prod(pairs: Sequence[tuple[int, int]], axis: int) -> int:
    return int(np.prod([p[axis] for p in pairs])) if pairs else 1


class Codec(nn.Module):
    """Hierarchical (1 or 2 level) VQ-VAE turning waveforms into :class:`CodeGrids` and back.

    Args:
        representation: config dict of a :class:`MelIF` representation.
        channels: encoder channels of each bottom downsampling stage.
        strides: (freq, time) stride of each bottom stage; their products give the bottom cell size.
        top_channels: encoder channels of each top stage (empty: one level).
        top_strides: (freq, time) stride of each top stage.
        embedding_dim: dimension of the codebook vectors.
        codebook_sizes: codes per level, bottom first.
        res_blocks: residual blocks after each encoder and before each decoder.
        norm_shift, norm_scale: log-mel normalisation ``(x - shift) / scale``.
        decay, restart_threshold, kmeans_init: :class:`VectorQuantizer` options.
        phase: how decoding recovers phase: ``"decoded"`` integrates the decoded IF channel (GANSynth, NOTONO);
            ``"peaks"`` derives it from the decoded magnitude (:func:`~spectrolab.codec.phase.peak_locked_phase`).
    """

    def __init__(
        self,
        *,
        representation: dict,
        channels: Sequence[int],
        strides: Sequence[Sequence[int]],
        top_channels: Sequence[int] = (),
        top_strides: Sequence[Sequence[int]] = (),
        embedding_dim: int = 64,
        codebook_sizes: Sequence[int] = (1024,),
        res_blocks: int = 1,
        norm_shift: float = -5.0,
        norm_scale: float = 4.0,
        decay: float = 0.95,
        restart_threshold: float = 0.5,
        kmeans_init: bool = True,
        phase: str = "decoded",
    ) -> None:
        super().__init__()
        if phase not in PHASES:
            raise ConfigError(f"phase={phase!r}: expected one of {PHASES}")
        self.phase = phase
        rep = representation_from_config(representation)
        if not isinstance(rep, MelIF):
            raise ConfigError(f"the codec needs a mel_if representation, got {representation.get('kind')!r}")
        self.representation = rep
        self.strides = _check_strides(strides, "strides")
        self.top_strides = _check_strides(top_strides, "top_strides")
        levels = 2 if self.top_strides else 1
        bottom = (_prod(self.strides, 0), _prod(self.strides, 1))
        top = (bottom[0] * _prod(self.top_strides, 0), bottom[1] * _prod(self.top_strides, 1))
        self._level_strides = [bottom, top][:levels]
        self._row_edges: dict[int, tuple[float, ...]] = {}
        if len(codebook_sizes) != levels or len(channels) != len(self.strides):
            raise ConfigError(f"need {levels} codebook sizes and one channel count per stride")
        if len(top_channels) != len(self.top_strides):
            raise ConfigError("need one top channel count per top stride")
        self.norm_shift, self.norm_scale = float(norm_shift), float(norm_scale)
        self.codebook_sizes = [int(k) for k in codebook_sizes]
        width = channels[-1]
        self.encoder = _encoder(rep.channels, channels, self.strides, res_blocks)
        self.quantizers = nn.ModuleList(
            [
                VectorQuantizer(
                    k, embedding_dim, decay=decay, restart_threshold=restart_threshold, kmeans_init=kmeans_init
                )
                for k in self.codebook_sizes
            ]
        )
        if levels == 2:
            top_width = top_channels[-1]
            self.top_encoder = _encoder(width, top_channels, self.top_strides, res_blocks)
            self.top_project = nn.Conv2d(top_width, embedding_dim, 1)
            self.top_decoder = _decoder(embedding_dim, top_channels, self.top_strides, embedding_dim, res_blocks)
            self.top_upsample = _decoder(embedding_dim, top_channels, self.top_strides, embedding_dim, 0)
            self.project = nn.Conv2d(width + embedding_dim, embedding_dim, 1)
        else:
            self.project = nn.Conv2d(width, embedding_dim, 1)
        self.decoder = _decoder(embedding_dim * levels, channels, self.strides, rep.channels, res_blocks)
        # The codec's identity beside its name: the SHA-256 of the weights file it was loaded from (set by
        # load_codec; "" for a codec built or trained here). Code grids record it and decoders check it.
        self.weights_sha256 = ""
        self.precision: Precision = "auto"
        self._bfloat16 = BFloat16Copies()

    # -- inference precision ---------------------------------------------------------------------------------
    @property
    def uses_bfloat16(self) -> bool:
        """Whether inference (eval mode, no gradients) runs the convolutional networks in bfloat16:
        ``precision="bfloat16"``, or ``"auto"`` on a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX)."""
        return uses_bfloat16(self.precision, self.project.weight.device)

    def _run(self, name: str, x: torch.Tensor, *, layers: slice | None = None) -> torch.Tensor:
        """``getattr(self, name)(x)`` (only ``layers`` of it, if given), in bfloat16 inference through a bfloat16
        copy of that network. On this project's CPU that halves the convolutions' time at the same quality
        (``results/edit_latency.md``); training and gradients always run in float32. The encoders run
        channels-last: a 4 s note encoded about a quarter faster, the codes the same but for bfloat16 near-ties
        (the decoders, whose pixel shuffles dominate, do not gain)."""
        return self._bfloat16.run(
            name,
            getattr(self, name),
            x,
            enabled=self.uses_bfloat16,
            layers=layers,
            channels_last=name in _CHANNELS_LAST,
        )

    # -- geometry --------------------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.representation.sample_rate

    @property
    def num_levels(self) -> int:
        return len(self.codebook_sizes)

    def level_strides(self) -> list[tuple[int, int]]:
        """Total (freq, time) downsampling of each level, bottom first."""
        return list(self._level_strides)

    def grid_shapes(self, num_samples: int) -> list[tuple[int, int]]:
        """(H, W) of each level's grid for audio of ``num_samples`` samples."""
        frames = self._padded_frames(num_samples)
        n_mels = self.representation.config.n_mels
        return [(n_mels // f, frames // t) for f, t in self.level_strides()]

    def bitrate(self, num_samples: int) -> float:
        """Bits per second for audio of ``num_samples`` samples: sum of H * W * log2(K) over levels / seconds."""
        shapes = self.grid_shapes(num_samples)
        bits = sum(h * w * np.log2(k) for (h, w), k in zip(shapes, self.codebook_sizes, strict=True))
        return float(bits * self.sample_rate / num_samples)

    def _padded_frames(self, num_samples: int) -> int:
        step = self.level_strides()[-1][1]
        frames = self.representation.num_frames(num_samples)
        return -(-frames // step) * step

    def seconds_per_cell(self, level: int = 0) -> float:
        """Duration of one time cell of ``level``."""
        return self.level_strides()[level][1] * self.representation.config.hop_length / self.sample_rate

    def receptive_field_frames(self) -> tuple[int, int] | None:
        """How many spectrogram frames, either side, reach one bottom cell's code through the encoder (with the
        analysis STFT's window and the IF's frame difference) and one decoded frame from the codes; ``None``
        for two-level codecs, whose top level sees much further.

        A patchify stage moves no information across its patches; each 3x3 convolution reaches one unit of its
        resolution further, residual blocks at the lowest resolution one cell each.
        """
        if self.num_levels != 1:
            return None
        scales = list(itertools.accumulate(self.strides, lambda acc, s: acc * s[1], initial=1))[1:]
        blocks = sum(isinstance(m, ResBlock) for m in self.encoder.modules())
        convs = sum(scales) + blocks * scales[-1]
        window = -(-self.representation.config.n_fft // self.representation.config.hop_length)
        return convs + window // 2 + 1, convs + window // 2

    def row_edges_hz(self, rows: int) -> tuple[float, ...]:
        """Band edges of ``rows`` equal slices of the HTK mel axis the representation's bins tile."""
        edges = self._row_edges.get(rows)
        if edges is None:
            top_mel = 1127.0 * np.log1p(self.sample_rate / 2 / 700.0)
            mel = np.linspace(0.0, top_mel, rows + 1)
            edges = self._row_edges[rows] = tuple(float(e) for e in 700.0 * np.expm1(mel / 1127.0))
        return edges

    # -- spectrograms ----------------------------------------------------------------------------------------
    def analyse(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform (B, T) -> normalised, time-padded spectrogram (B, 2, n_mels, N')."""
        wave = as_batch(wave)
        spec = self.representation(wave)
        log_mel = (spec[:, :1] - self.norm_shift) / self.norm_scale
        silence = (np.log(self.representation.config.log_eps) - self.norm_shift) / self.norm_scale
        pad = self._padded_frames(wave.shape[-1]) - spec.shape[-1]
        log_mel = F.pad(log_mel, (0, pad), value=silence)
        return torch.cat([log_mel, F.pad(spec[:, 1:], (0, pad))], dim=1)

    def synthesise(self, spec: torch.Tensor, *, num_samples: int) -> torch.Tensor:
        """Normalised spectrogram (B, 2, n_mels, N') -> waveform (B, num_samples)."""
        return self.invert(self.denormalise(spec, num_samples=num_samples), num_samples=num_samples)

    @property
    def needs_if(self) -> bool:
        """Whether :meth:`invert` reads the IF channel: with ``phase="peaks"`` it derives the phase from the
        magnitude alone."""
        return self.phase == "decoded"

    def invert(self, spec: torch.Tensor, *, num_samples: int) -> torch.Tensor:
        """Spectrogram (B, 2, n_mels, N) in representation units -> waveform (B, num_samples), by ``phase``;
        in float32 also under mixed-precision autocast (complex spectra have no bfloat16 type)."""
        with torch.autocast(device_type=spec.device.type, enabled=False):
            return self._invert(spec.float(), num_samples=num_samples)

    def _invert(self, spec: torch.Tensor, *, num_samples: int) -> torch.Tensor:
        rep = self.representation
        if self.phase == "decoded":
            return rep.inverse(spec, length=num_samples)
        config = rep.config
        magnitude = rep.from_mel(spec[:, 0].exp() - config.log_eps).clamp_min(0.0).sqrt()
        # The phase follows the magnitude but carries no useful gradient (and its peak picking gives NaNs).
        phase = peak_locked_phase(magnitude.detach(), n_fft=config.n_fft, hop_length=config.hop_length)
        linear = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))  # twice polar's speed
        linear = torch.cat([linear, torch.zeros_like(linear[:, :1])], dim=1)
        window = rep.window
        return F_audio.istft(
            linear, n_fft=config.n_fft, hop_length=config.hop_length, window=window, length=num_samples
        )

    @property
    def max_log_power(self) -> float:
        """Ceiling of decoded log-mel power: a full-scale sinusoid's, ``log((n_fft / 4) ** 2)``, plus one.

        Overshooting peaks of the decoder would otherwise dominate the decoded audio's energy.
        """
        return float(2 * np.log(self.representation.config.n_fft / 4) + 1.0)

    def denormalise(self, spec: torch.Tensor, *, num_samples: int) -> torch.Tensor:
        """Normalised (B, 2, n_mels, N') -> representation units, cropped to the frames of ``num_samples``."""
        return self._to_units(spec[..., : self.representation.num_frames(num_samples)])

    def _to_units(self, spec: torch.Tensor) -> torch.Tensor:
        """Normalised (B, 2, n_mels, N) -> representation units (log-mel clamped to its range, IF to [-1, 1])."""
        config = self.representation.config
        log_mel = (spec[:, :1] * self.norm_scale + self.norm_shift).clamp(np.log(config.log_eps), self.max_log_power)
        return torch.cat([log_mel, spec[:, 1:].clamp(-1.0, 1.0)], dim=1)

    # -- the network -----------------------------------------------------------------------------------------
    def forward(self, spec: torch.Tensor) -> CodecOutput:
        """Normalised spectrogram (B, 2, n_mels, N') -> reconstruction and quantiser outputs (bottom first)."""
        quantized = self.quantize(spec)
        return CodecOutput(self.decode_vectors([q.quantized for q in quantized]), quantized)

    def quantize(self, spec: torch.Tensor) -> list[QuantizerOutput]:
        """Normalised spectrogram (B, 2, n_mels, N') -> one :class:`QuantizerOutput` per level, bottom first."""
        hidden = self._run("encoder", spec)
        if self.num_levels == 1:
            return [self.quantizers[0](self.project(hidden))]
        top = self.quantizers[1](self.top_project(self._run("top_encoder", hidden)))
        bottom = self.quantizers[0](self.project(torch.cat([hidden, self._run("top_decoder", top.quantized)], dim=1)))
        return [bottom, top]

    def codes(self, spec: torch.Tensor) -> list[torch.Tensor]:
        """Normalised spectrogram (B, 2, n_mels, N') -> the codes (B, H_l, W_l) of each level, bottom first: the
        inference path of :meth:`quantize`, without its losses (a top level's vectors are its codes' rows)."""
        quantizers: list[VectorQuantizer] = list(self.quantizers)  # type: ignore[arg-type]
        hidden = self._run("encoder", spec)
        if self.num_levels == 1:
            return [quantizers[0].codes(self.project(hidden))]
        top = quantizers[1].codes(self.top_project(self._run("top_encoder", hidden)))
        vectors = self._run("top_decoder", quantizers[1].lookup(top))
        return [quantizers[0].codes(self.project(torch.cat([hidden, vectors], dim=1))), top]

    def decode_vectors(
        self, vectors: list[torch.Tensor], *, magnitude_only: bool = False, frames: tuple[int, int] | None = None
    ) -> torch.Tensor:
        """Codebook vectors of each level, bottom first, each (B, D, H_l, W_l) -> normalised spectrogram.

        Inference-only options (no gradients):

        - ``magnitude_only`` computes channel 0 alone (the decoder's last 1x1 convolution and pixel shuffle on
          that channel's outputs) and leaves the IF channel at zero;
        - ``frames=(a, b)`` returns frames ``[a, b)`` only, the same as the whole output's: the decoder's last
          stages run on the part of their input that reaches those frames (:meth:`_decoder_crop`).
        """
        if (magnitude_only or frames is not None) and torch.is_grad_enabled():
            raise ConfigError("magnitude_only and frames are for inference decoding (no gradients)")
        if len(vectors) == 2:
            vectors = [vectors[0], self._run("top_upsample", vectors[1])]
        x = torch.cat(vectors, dim=1)
        if magnitude_only or frames is not None:
            out = self._decode_part(x, magnitude_only=magnitude_only, frames=frames)
        else:
            out = self._run("decoder", x)
        if magnitude_only:
            return torch.cat([out, torch.zeros_like(out)], dim=1)
        return torch.cat([out[:, :1], torch.tanh(out[:, 1:])], dim=1)

    def _decode_part(self, x: torch.Tensor, *, magnitude_only: bool, frames: tuple[int, int] | None) -> torch.Tensor:
        """The decoder's raw output for :meth:`decode_vectors`' options: channel 0 alone with
        ``magnitude_only``, frames ``[a, b)`` alone with ``frames``."""
        crop, scale, reach = self._decoder_crop()
        hidden = self._run("decoder", x, layers=slice(0, crop))
        first = 0
        if frames is not None:
            a, b = frames
            if not 0 <= a < b <= hidden.shape[-1] * scale:
                raise ConfigError(f"frames {a}:{b} outside the {hidden.shape[-1] * scale} decoded frames")
            first, last = max(0, (a - reach) // scale), min(hidden.shape[-1], -(-(b + reach) // scale))
            hidden = hidden[..., first:last]
        hidden = self._run("decoder", hidden, layers=slice(crop, len(self.decoder) - 1))
        last_conv, unpatch = cast(nn.Sequential, self.decoder[-1])
        assert isinstance(last_conv, nn.Conv2d) and last_conv.bias is not None
        weight, bias = last_conv.weight.to(hidden.dtype), last_conv.bias.to(hidden.dtype)
        if magnitude_only:
            per_channel = last_conv.out_channels // self.representation.channels
            weight, bias = weight[:per_channel], bias[:per_channel]
        out = unpatch(F.conv2d(hidden, weight, bias)).to(x.dtype)
        return out if frames is None else out[..., frames[0] - first * scale : frames[1] - first * scale]

    def _decoder_crop(self) -> tuple[int, int, int]:
        """Where :meth:`decode_vectors` crops for ``frames``: the index of the decoder's second-to-last
        upsampling (its last, for one stage), the frames per time unit of that layer's input, and how many frames
        either side the layers from there on reach (one unit of its scale per 3x3 convolution)."""
        ups = [i for i, layer in enumerate(self.decoder) if isinstance(layer, nn.Sequential)]
        crop = ups[-2] if len(ups) > 1 else ups[-1]
        scale, reach = 1, 0
        for layer in reversed(self.decoder[crop:]):
            if isinstance(layer, nn.Sequential):
                scale *= cast(Unpatch, layer[1]).stride[1]
            elif isinstance(layer, nn.Conv2d):
                reach += layer.kernel_size[1] // 2 * scale
        return crop, scale, reach

    # -- the public API --------------------------------------------------------------------------------------
    @property
    def min_samples(self) -> int:
        """The shortest audio this codec encodes: one time cell of its coarsest level."""
        return self.level_strides()[-1][1] * self.representation.config.hop_length

    def encode(self, wave: torch.Tensor) -> CodeGrids:
        """Waveform (B, T), (B, 1, T) or (T,) -> :class:`CodeGrids` (bottom level first); audio shorter than
        :attr:`min_samples` (one time cell) raises :class:`ConfigError`."""
        wave = as_batch(wave)
        num_samples = wave.shape[-1]
        if num_samples < self.min_samples:
            raise ConfigError(
                f"{num_samples / self.sample_rate:.3f} s of audio is shorter than one time cell of this codec "
                f"({self.min_samples / self.sample_rate:g} s); nothing to encode"
            )
        return self.code_grids(self.codes(self.analyse(wave)), num_samples=num_samples)

    def code_grids(self, codes: Sequence[torch.Tensor], *, num_samples: int) -> CodeGrids:
        """:class:`CodeGrids` of this codec holding ``codes`` (one (B, H, W) tensor per level, bottom first) of
        audio of ``num_samples`` samples (a window of a sound, or all of it)."""
        levels = tuple(
            CodeGrid(c, k, self.seconds_per_cell(level), self.row_edges_hz(c.shape[1]))
            for level, (c, k) in enumerate(zip(codes, self.codebook_sizes, strict=True))
        )
        return CodeGrids(
            levels=levels,
            sample_rate=self.sample_rate,
            num_samples=num_samples,
            codec=self.name,
            codec_sha256=self.weights_sha256,
        )

    @property
    def name(self) -> str:
        """The registered name this codec was built under ("" if it was built directly)."""
        return str(getattr(self, "spectrolab_name", ""))

    def decode_spec(
        self,
        grids: CodeGrids,
        *,
        allow_mismatch: bool = False,
        magnitude_only: bool = False,
        frames: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Codes -> spectrogram (B, 2, n_mels, N) in the representation's units.

        Codes of another codec (their weights hash differs from ``weights_sha256``) are refused, unless
        ``allow_mismatch`` (then a warning). Inference only: ``magnitude_only`` leaves the IF channel at zero
        uncomputed, all that :meth:`invert` reads of it with ``phase="peaks"`` (see :attr:`needs_if`);
        ``frames=(a, b)`` decodes frames ``[a, b)`` of the N alone (see :meth:`decode_vectors`).
        """
        self._check(grids)
        grids.check_codec(self.weights_sha256, user=f"this codec '{self.name}'", allow_mismatch=allow_mismatch)
        total = self.representation.num_frames(grids.num_samples)
        if frames is not None and not 0 <= frames[0] < frames[1] <= total:
            raise ConfigError(f"frames {frames[0]}:{frames[1]} outside the {total} frames of these codes")
        quantizers: list[VectorQuantizer] = list(self.quantizers)  # type: ignore[arg-type]
        vectors = [q.lookup(c.to(q.codebook.device)) for q, c in zip(quantizers, grids.grids, strict=True)]
        spec = self.decode_vectors(vectors, magnitude_only=magnitude_only, frames=frames)
        return self._to_units(spec) if frames is not None else self.denormalise(spec, num_samples=grids.num_samples)

    def decode(self, grids: CodeGrids, *, allow_mismatch: bool = False) -> torch.Tensor:
        """Codes -> waveform (B, T) with T = ``grids.num_samples`` (``allow_mismatch``: see :meth:`decode_spec`)."""
        magnitude_only = not self.needs_if and not torch.is_grad_enabled()
        spec = self.decode_spec(grids, allow_mismatch=allow_mismatch, magnitude_only=magnitude_only)
        return self.invert(spec, num_samples=grids.num_samples)

    def _check(self, grids: CodeGrids) -> None:
        if grids.sample_rate != self.sample_rate:
            raise ConfigError(
                f"codes made by codec {grids.made_by} are at {grids.sample_rate} Hz but this codec works at "
                f"{self.sample_rate} Hz; decode with the codec that made them"
            )
        expected = self.grid_shapes(grids.num_samples)
        got = [level.shape for level in grids.levels]
        if got != expected or grids.codebook_sizes != self.codebook_sizes:
            raise ConfigError(
                f"codes made by codec {grids.made_by}, of shapes {got} with codebooks {grids.codebook_sizes}, do not "
                f"fit this codec '{self.name}' (expects {expected} with codebooks {self.codebook_sizes}); decode "
                "with the codec that made them"
            )
