"""Spectrogram representations: ``nn.Module``s with a dataclass config, ``forward(wave) -> spec`` and ``inverse``.

Input waveforms are (B, T), (B, 1, T) or (T,); spectrograms are (B, ch, F, N) (``ch`` channels, ``F``
frequency rows from low to high, ``N`` frames). Windows and filterbanks are buffers, so ``.to(device)``
moves everything. ``representation_from_config(cfg.to_dict())`` rebuilds any of them, which is how a
codec's or tagger's representation travels with its weights.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, ClassVar, Literal

import librosa
import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from spectrolab.audio import functional as F
from spectrolab.errors import ConfigError


def as_batch(wave: torch.Tensor) -> torch.Tensor:
    """(T,), (B, T) or (B, 1, T) -> (B, T)."""
    if wave.dim() == 1:
        return wave[None]
    if wave.dim() == 3 and wave.shape[1] == 1:
        return wave[:, 0]
    if wave.dim() == 2:
        return wave
    raise ConfigError(f"expected a waveform (T,), (B, T) or (B, 1, T), got shape {tuple(wave.shape)}")


@dataclass(frozen=True)
class RepresentationConfig:
    """Fields shared by every representation."""

    kind: ClassVar[str] = ""
    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    pad_mode: str = "constant"

    def __post_init__(self) -> None:
        if self.n_fft <= 0 or self.hop_length <= 0 or self.hop_length > self.n_fft:
            raise ConfigError(f"need 0 < hop_length <= n_fft, got n_fft={self.n_fft}, hop_length={self.hop_length}")
        if self.pad_mode not in ("constant", "reflect"):
            raise ConfigError(f"pad_mode={self.pad_mode!r}: expected 'constant' (librosa) or 'reflect' (torchaudio)")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


class Representation(nn.Module):
    """Base class: holds the config and the analysis window."""

    config: RepresentationConfig
    channels: int = 1
    window: torch.Tensor

    def __init__(self, config: RepresentationConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("window", F.hann_window(config.n_fft), persistent=False)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a waveform of ``num_samples`` samples."""
        return F.num_frames(num_samples, hop_length=self.config.hop_length)

    def num_samples(self, num_frames: int) -> int:
        """Samples :meth:`inverse` returns for ``num_frames`` frames."""
        return (num_frames - 1) * self.config.hop_length

    def frequencies(self) -> torch.Tensor:
        """Centre frequency in Hz of each row, (F,), increasing."""
        return torch.linspace(0.0, self.config.sample_rate / 2, self.config.n_fft // 2 + 1)

    def _stft(self, wave: torch.Tensor) -> torch.Tensor:
        c = self.config
        return F.stft(as_batch(wave), n_fft=c.n_fft, hop_length=c.hop_length, window=self.window, pad_mode=c.pad_mode)

    def _istft(self, spec: torch.Tensor, length: int | None) -> torch.Tensor:
        return F.istft(
            spec, n_fft=self.config.n_fft, hop_length=self.config.hop_length, window=self.window, length=length
        )

    def inverse(self, spec: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        """(B, ch, F, N) -> waveform (B, T)."""
        raise NotImplementedError(f"{type(self).__name__} has no inverse")


@dataclass(frozen=True)
class LogMelConfig(RepresentationConfig):
    """Power mel spectrogram in dB; the defaults are the tagging literature's front end (96 bands).

    ``htk=False, norm="slaney"`` is librosa's default filterbank; ``htk=True, norm=None`` with
    ``pad_mode="reflect"`` is torchaudio's ``MelSpectrogram``, which the published tagging code used.
    """

    kind: ClassVar[str] = "logmel"
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 96
    f_min: float = 0.0
    f_max: float | None = 8000.0
    top_db: float | None = None
    amin: float = 1e-10
    htk: bool = False
    norm: Literal["slaney"] | None = "slaney"
    griffin_lim_iters: int = 32


class LogMel(Representation):
    """Log-mel: ``10 log10(mel @ |STFT|^2)`` -> (B, 1, n_mels, N). Inverse: mel pseudo-inverse + Griffin-Lim."""

    config: LogMelConfig
    filterbank: torch.Tensor

    def __init__(self, config: LogMelConfig | None = None) -> None:
        super().__init__(config or LogMelConfig())
        c = self.config
        fb = F.mel_filterbank(
            sample_rate=c.sample_rate,
            n_fft=c.n_fft,
            n_mels=c.n_mels,
            f_min=c.f_min,
            f_max=c.f_max,
            htk=c.htk,
            norm=c.norm,
        )
        self.register_buffer("filterbank", fb, persistent=False)

    def frequencies(self) -> torch.Tensor:
        c = self.config
        hz = librosa.mel_frequencies(n_mels=c.n_mels + 2, fmin=c.f_min, fmax=c.f_max or c.sample_rate / 2, htk=c.htk)
        return torch.from_numpy(hz[1:-1]).float()

    def mel_power(self, wave: torch.Tensor) -> torch.Tensor:
        """Power mel spectrogram (B, n_mels, N)."""
        return self.filterbank @ self._stft(wave).abs().pow(2)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        db = F.power_to_db(self.mel_power(wave), amin=self.config.amin, top_db=self.config.top_db)
        return db[:, None]

    def inverse(self, spec: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        pinv = torch.linalg.pinv(self.filterbank)  # only inversion needs it; computed on demand
        power = (pinv @ F.db_to_power(spec[:, 0])).clamp_min(0.0)
        c = self.config
        return F.griffin_lim(
            power.sqrt(), n_fft=c.n_fft, hop_length=c.hop_length, n_iter=c.griffin_lim_iters, length=length
        )


@dataclass(frozen=True)
class LinearSTFTConfig(RepresentationConfig):
    """Log-magnitude STFT; inverted with ``griffin_lim_iters`` iterations of fast Griffin-Lim."""

    kind: ClassVar[str] = "linear_stft"
    log_offset: float = 1e-5
    griffin_lim_iters: int = 32


class LinearSTFT(Representation):
    """``log(|STFT| + log_offset)`` -> (B, 1, n_fft // 2 + 1, N); inverse by Griffin-Lim."""

    config: LinearSTFTConfig

    def __init__(self, config: LinearSTFTConfig | None = None) -> None:
        super().__init__(config or LinearSTFTConfig())

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.log(self._stft(wave).abs() + self.config.log_offset)[:, None]

    def inverse(self, spec: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        magnitude = (spec[:, 0].exp() - self.config.log_offset).clamp_min(0.0)
        c = self.config
        return F.griffin_lim(
            magnitude, n_fft=c.n_fft, hop_length=c.hop_length, n_iter=c.griffin_lim_iters, length=length
        )


@dataclass(frozen=True)
class MelIFConfig(RepresentationConfig):
    """GANSynth "IF-Mel": log mel power and mel-warped instantaneous frequency.

    ``n_mels`` equal to the number of linear bins kept (n_fft // 2, Nyquist dropped) makes the warp square, as
    in GANSynth's high-resolution setting. It is not full rank: below roughly 900 Hz (n_fft 2048) mel bands are
    narrower than a bin and some rows are empty, so the least-squares inverse smooths detail there; the
    round-trip error this leaves is measured in scripts/representation_results.py.
    """

    kind: ClassVar[str] = "mel_if"
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 1024
    log_eps: float = 1e-6
    frames: int | None = None

    @classmethod
    def gansynth(cls, sample_rate: int = 16000) -> MelIFConfig:
        """GANSynth / NOTONO high resolution: n_fft 2048, hop 512, 1024 mel bins, 128 frames (4 s zero-padded)."""
        return cls(sample_rate=sample_rate, n_fft=2048, hop_length=512, n_mels=1024, frames=128)

    @classmethod
    def fast(cls, sample_rate: int = 16000) -> MelIFConfig:
        """Half the resolution in frequency, twice in time: n_fft 1024, hop 256, 512 mel bins."""
        return cls(sample_rate=sample_rate, n_fft=1024, hop_length=256, n_mels=512)


def _htk_mel_edges(*, sample_rate: int, n_mels: int) -> np.ndarray:
    """n_mels + 2 equally spaced HTK-mel points from 0 Hz to Nyquist, in mel."""
    return np.linspace(0.0, 1127.0 * np.log1p(sample_rate / 2 / 700.0), n_mels + 2)


def _htk_warp_matrix(*, sample_rate: int, n_bins: int, n_mels: int) -> np.ndarray:
    """Triangular HTK-mel weights (n_mels, n_bins) on the bins 0..n_bins-1 of a 2 * n_bins FFT (Nyquist dropped)."""
    bin_hz = np.arange(n_bins) * sample_rate / (2 * n_bins)
    bin_mel = 1127.0 * np.log1p(bin_hz / 700.0)
    edges = _htk_mel_edges(sample_rate=sample_rate, n_mels=n_mels)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_mel[None] - lower) / (centre - lower)
    falling = (upper - bin_mel[None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


@lru_cache(maxsize=8)
def _warp_pair(sample_rate: int, n_bins: int, n_mels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The warp matrix and its least-squares inverse, computed once per configuration (a 1024^2 SVD)."""
    warp = _htk_warp_matrix(sample_rate=sample_rate, n_bins=n_bins, n_mels=n_mels)
    with threadpool_limits(1):  # one BLAS thread: many times faster than oversubscribed threads on small CPUs
        unwarp = np.linalg.pinv(warp, rcond=1e-6)
    return torch.from_numpy(warp).float(), torch.from_numpy(unwarp).float()


class MelIF(Representation):
    """Log-mel magnitude and mel-warped IF -> (B, 2, n_mels, N); inverse without Griffin-Lim.

    Channel 0 is ``log(W |X|^2 + eps)``, channel 1 the IF of the warped unwrapped phase ``W phi``; the inverse
    un-warps both with the least-squares inverse of ``W``, integrates the IF and runs one inverse STFT. With
    ``config.frames`` set, waveforms are zero-padded or cut to give exactly that many frames.
    """

    channels = 2
    config: MelIFConfig
    warp: torch.Tensor
    unwarp: torch.Tensor

    def __init__(self, config: MelIFConfig | None = None) -> None:
        super().__init__(config or MelIFConfig())
        c = self.config
        warp, unwarp = _warp_pair(c.sample_rate, c.n_fft // 2, c.n_mels)
        self.register_buffer("warp", warp.clone(), persistent=False)
        self.register_buffer("unwarp", unwarp.clone(), persistent=False)
        self._sparse: dict[tuple[Any, ...], torch.Tensor] = {}

    def frequencies(self) -> torch.Tensor:
        mel = _htk_mel_edges(sample_rate=self.config.sample_rate, n_mels=self.config.n_mels)[1:-1]
        return torch.from_numpy(700.0 * np.expm1(mel / 1127.0)).float()

    def num_frames(self, num_samples: int) -> int:
        return self.config.frames or super().num_frames(num_samples)

    def _fit_length(self, wave: torch.Tensor) -> torch.Tensor:
        if self.config.frames is None:
            return wave
        target = self.num_samples(self.config.frames)
        return (
            torch.nn.functional.pad(wave, (0, target - wave.shape[-1]))
            if wave.shape[-1] < target
            else wave[..., :target]
        )

    def to_mel(self, linear: torch.Tensor) -> torch.Tensor:
        """Linear bins (B, n_fft // 2, N) -> mel bins (B, n_mels, N): ``warp @ linear``."""
        return self._project("warp", linear)

    def from_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel bins (B, n_mels, N) -> linear bins (B, n_fft // 2, N): the least-squares inverse ``unwarp @ mel``."""
        return self._project("unwarp", mel)

    def _project(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """``getattr(self, name) @ x`` for x (B, F, N). Without gradients, as a sparse (CSR) product of the
        matrix's significant entries: the warp's triangles have at most 6 non-zero bins per row and its inverse
        is banded too (entries beyond 1e-7 of its largest are dropped), so this is 30-50x fewer operations."""
        matrix: torch.Tensor = getattr(self, name)
        if torch.is_grad_enabled() and (x.requires_grad or matrix.requires_grad):
            return matrix @ x
        key = (name, matrix.device, matrix.dtype, matrix.data_ptr())
        sparse = self._sparse.get(key)
        if sparse is None:
            kept = matrix * (matrix.abs() > 1e-7 * float(matrix.abs().max()))
            with warnings.catch_warnings():  # "sparse CSR support is in beta": the product used here is stable
                warnings.simplefilter("ignore", UserWarning)
                sparse = self._sparse[key] = kept.to_sparse_csr()
        batch, bins, frames = x.shape
        # In the matrix's dtype, autocast or not: the sparse product has no bfloat16 kernel (mixed-precision
        # training hands it bfloat16 decoder outputs to invert).
        flat = x.transpose(0, 1).reshape(bins, batch * frames).to(matrix.dtype)
        with torch.autocast(device_type=flat.device.type, enabled=False):
            return (sparse @ flat).view(-1, batch, frames).transpose(0, 1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        # A contiguous copy: the angles of torch.stft's frame-major layout take 1.5x as long.
        spec = self._stft(self._fit_length(as_batch(wave)))[:, :-1].contiguous()
        batch = spec.shape[0]
        # One warp for all: the power of each item, then its phase step. The IF of the warped unwrapped phase,
        # wrap(diff(W phi)), is wrap(W diff(phi)) since W is linear, and wrap(diff(phi)) is the angle of
        # X_t conj(X_{t-1}) (the first frame keeps its own phase): no unwrapping, no wrapping of the steps.
        linear = torch.empty((2 * batch, *spec.shape[1:]), dtype=spec.real.dtype, device=spec.device)
        torch.mul(spec.real, spec.real, out=linear[:batch]).addcmul_(spec.imag, spec.imag)
        torch.angle(spec[..., :1], out=linear[batch:, :, :1])
        steps, current, previous = linear[batch:, :, 1:], spec[..., 1:], spec[..., :-1]
        product = current * previous.conj()
        torch.angle(product, out=steps)
        # A zero product is digital silence on either side (angle 0) or two tiny values whose product is below
        # float's range: there the step is the difference of the two angles.
        underflow = product == 0
        if bool(underflow.any()):
            steps[underflow] = F.wrap_phase(current[underflow].angle() - previous[underflow].angle())
        mel = self.to_mel(linear)
        log_mel = torch.log(mel[:batch] + self.config.log_eps)
        mel_if = F.wrap_phase(mel[batch:]) / math.pi
        return torch.stack([log_mel, mel_if], dim=1)

    def inverse(self, spec: torch.Tensor, *, length: int | None = None) -> torch.Tensor:
        power = self.from_mel(spec[:, 0].exp() - self.config.log_eps).clamp_min(0.0)
        phase = self.from_mel(F.phase_from_instantaneous_frequency(spec[:, 1]))
        linear = torch.polar(power.sqrt(), phase)
        linear = torch.cat([linear, torch.zeros_like(linear[:, :1])], dim=1)
        return self._istft(linear, length)


_KINDS: dict[str, tuple[type[RepresentationConfig], type[Representation]]] = {
    LogMelConfig.kind: (LogMelConfig, LogMel),
    LinearSTFTConfig.kind: (LinearSTFTConfig, LinearSTFT),
    MelIFConfig.kind: (MelIFConfig, MelIF),
}


def representation_from_config(config: dict[str, Any] | RepresentationConfig) -> Representation:
    """Build a representation from its config object or from ``config.to_dict()``."""
    if isinstance(config, RepresentationConfig):
        return _KINDS[config.kind][1](config)
    values = dict(config)
    kind = values.pop("kind", None)
    if kind not in _KINDS:
        raise ConfigError(f"unknown representation kind {kind!r}; expected one of {sorted(_KINDS)}")
    config_cls, module_cls = _KINDS[kind]
    known = {f.name for f in fields(config_cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown {kind} options: {sorted(unknown)}")
    return module_cls(config_cls(**values))
