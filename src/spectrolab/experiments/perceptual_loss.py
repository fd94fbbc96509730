"""The perceptual-loss experiment: a tiny generator fits one sound under MSE, the original recipe, ours and ours
with masking, and we measure (rather than listen to) what each loss buys.

Setup, as the original blog experiment: a fixed 128-d N(0, 1) noise vector feeds seven bias-free Conv1d layers
(32 channels, kernel 7, nearest-neighbour upsampling from length 1 to 8192 samples at 11025 Hz, LeakyReLU 0.2
between layers, Xavier-normal weights); Adam (lr 1e-4, betas (0, 0.9)), batch 1, 1000 iterations, audio kept
every 250. Each seed fixes the noise and the initial weights, the same for every loss.

Metrics per sound, loss, seed and checkpoint, after matching the output's RMS to the target's (the cosine
losses ignore scale): multi-resolution STFT distance, log-spectral distance in the bands below 500 Hz,
500-3000 Hz and above 3 kHz, and STOI (pystoi) for the sounds with speech.
"""

from __future__ import annotations

import ctypes
import io
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from spectrolab import metrics
from spectrolab.audio import functional as AF
from spectrolab.audio.io import atomic_write_bytes, check_writable, save
from spectrolab.errors import ConfigError
from spectrolab.experiments.sounds import SOUNDS, SPEECH_SOUNDS, make_sound
from spectrolab.losses import perceptual_loss

LOSSES: dict[str, str] = {
    "mse": "MSE",
    "original": "original recipe (zounds)",
    "ours": "ours",
    "ours_masking": "ours + masking",
}
"""Loss names and their labels in tables and figures."""
BANDS: dict[str, tuple[float, float]] = {"lsd_low": (0.0, 500.0), "lsd_mid": (500.0, 3000.0), "lsd_high": (3000.0, 1e9)}
METRICS: dict[str, str] = {
    "mrstft": "MR-STFT",
    "lsd_low": "LSD <500 Hz (dB)",
    "lsd_mid": "LSD 0.5-3 kHz (dB)",
    "lsd_high": "LSD >3 kHz (dB)",
    "stoi": "STOI",
}


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines the experiment's numbers; written into results.json."""

    sample_rate: int = 11025
    num_samples: int = 8192
    latent_size: int = 128
    channels: int = 32
    layers: int = 7
    kernel_size: int = 7
    iterations: int = 1000
    checkpoint_every: int = 250
    learning_rate: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    seeds: int = 3
    sounds: tuple[str, ...] = tuple(SOUNDS)
    losses: tuple[str, ...] = tuple(LOSSES)
    threads: int = 1

    def __post_init__(self) -> None:
        for name in self.sounds:
            if name not in SOUNDS:
                raise ConfigError(f"unknown sound '{name}'; use some of {', '.join(SOUNDS)}")
        for name in self.losses:
            if name not in LOSSES:
                raise ConfigError(f"unknown loss '{name}'; use some of {', '.join(LOSSES)}")
        if self.seeds < 1 or self.iterations < 1 or not 1 <= self.checkpoint_every <= self.iterations:
            raise ConfigError("need seeds >= 1, iterations >= 1 and 1 <= checkpoint_every <= iterations")
        upsampling_factors(self.num_samples, self.layers)

    @property
    def checkpoints(self) -> list[int]:
        return list(range(self.checkpoint_every, self.iterations + 1, self.checkpoint_every))


def upsampling_factors(num_samples: int, layers: int) -> list[int]:
    """Nearest-neighbour factors, one per layer, taking length 1 to ``num_samples`` (a power of two), large first.

    8192 samples over 7 layers: 4, 4, 4, 4, 4, 4, 2.
    """
    octaves = round(math.log2(num_samples)) if num_samples > 0 else -1
    if octaves < layers or 2**octaves != num_samples:
        raise ConfigError(f"num_samples={num_samples} must be a power of two of at least 2**layers = {2**layers}")
    base, extra = divmod(octaves, layers)
    return [2 ** (base + (i < extra)) for i in range(layers)]


class Generator(nn.Module):
    """Noise (B, latent, 1) -> waveform (B, num_samples): upsample, bias-free Conv1d, LeakyReLU 0.2, repeated."""

    def __init__(self, *, num_samples: int, latent_size: int, channels: int, layers: int, kernel_size: int) -> None:
        super().__init__()
        self.factors = upsampling_factors(num_samples, layers)
        widths = [latent_size] + [channels] * (layers - 1) + [1]
        self.convs = nn.ModuleList(
            nn.Conv1d(widths[i], widths[i + 1], kernel_size, padding=kernel_size // 2, bias=False)
            for i in range(layers)
        )
        for conv in self.convs:
            nn.init.xavier_normal_(cast(nn.Conv1d, conv).weight)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        x = noise
        for i, (factor, conv) in enumerate(zip(self.factors, self.convs, strict=True)):
            x = conv(nn.functional.interpolate(x, scale_factor=factor, mode="nearest"))
            if i < len(self.convs) - 1:
                x = nn.functional.leaky_relu(x, 0.2)
        return x[:, 0]


def objective(name: str, target: torch.Tensor, *, sample_rate: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """``pred (1, T) -> scalar loss`` against the fixed ``target`` (1, T); target features are computed once."""
    if name == "mse":
        return lambda pred: nn.functional.mse_loss(pred, target)
    return perceptual_loss(name, sample_rate=sample_rate).fixed_target(target)


def gain_matched(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``estimate`` scaled to the RMS of ``reference``."""
    rms = estimate.square().mean().sqrt()
    return estimate * (reference.square().mean().sqrt() / rms.clamp_min(1e-12))


def measure(reference: torch.Tensor, estimate: torch.Tensor, *, sample_rate: int, speech: bool) -> dict[str, float]:
    """The experiment's metrics of ``estimate`` (T,) against ``reference`` (T,), after gain matching."""
    est = gain_matched(estimate, reference)
    out = {"mrstft": float(metrics.multi_resolution_stft_distance(reference, est))}
    for key, (low, high) in BANDS.items():
        lsd = metrics.band_log_spectral_distance(
            reference, est, sample_rate=sample_rate, low_hz=low, high_hz=high, n_fft=512, hop_length=128
        )
        out[key] = float(lsd)
    if speech:
        from pystoi import stoi

        out["stoi"] = float(stoi(reference.double().numpy(), est.double().numpy(), sample_rate))
    return out


@dataclass(frozen=True)
class Checkpoint:
    """One loss, sound and seed at one iteration: the loss value, metrics and training seconds so far."""

    sound: str
    loss: str
    seed: int
    iteration: int
    loss_value: float
    seconds: float
    metrics: dict[str, float]


@dataclass
class ExperimentResult:
    """Every checkpoint, the wall and CPU time, and the files written."""

    config: ExperimentConfig
    checkpoints: list[Checkpoint]
    seconds: float
    cpu_seconds: float
    files: dict[str, Path] = field(default_factory=dict)


def fit(
    config: ExperimentConfig, target: torch.Tensor, loss: str, seed: int
) -> tuple[list[tuple[int, float, float, torch.Tensor]], float]:
    """Train a fresh generator on ``target`` (T,) with ``loss``; (iteration, loss, seconds, audio) per checkpoint."""
    torch.manual_seed(seed)
    generator = Generator(
        num_samples=config.num_samples,
        latent_size=config.latent_size,
        channels=config.channels,
        layers=config.layers,
        kernel_size=config.kernel_size,
    )
    noise = torch.randn(1, config.latent_size, 1)
    step = objective(loss, target[None], sample_rate=config.sample_rate)
    optimiser = torch.optim.Adam(generator.parameters(), lr=config.learning_rate, betas=config.betas)
    kept, start, keep = [], time.perf_counter(), set(config.checkpoints)
    for iteration in range(1, config.iterations + 1):
        optimiser.zero_grad(set_to_none=True)
        audio = generator(noise)
        value = step(audio)
        value.backward()
        optimiser.step()
        if iteration in keep:
            kept.append((iteration, float(value.detach()), time.perf_counter() - start, audio.detach()[0].clone()))
    return kept, time.perf_counter() - start


def reuse_large_allocations() -> None:
    """Have glibc keep freed large blocks for reuse instead of unmapping them (no-op elsewhere).

    The original recipe allocates ~18 MB tensors every step; by default each is a fresh mmap whose pages the
    kernel zero-fills again: a quarter of its step time went to page faults (76 -> 61 ms per step, system time
    20 -> 2 ms, measured on this project's shared machine). Process-wide, so only experiment commands call it.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 1 << 30)


def run_experiment(
    config: ExperimentConfig,
    out: str | os.PathLike[str],
    *,
    force: bool = False,
    progress: Callable[[str], None] = print,
) -> ExperimentResult:
    """Run every sound x loss x seed; write results.json, results.md, spectrograms.png, curves.png, audio/."""
    out = Path(out)
    check_writable(out / "results.md", force=force)
    reuse_large_allocations()
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    checkpoints: list[Checkpoint] = []
    audio: dict[tuple[str, str, int, int], torch.Tensor] = {}
    targets: dict[str, torch.Tensor] = {}
    try:
        for sound in config.sounds:
            target = torch.from_numpy(make_sound(sound, sample_rate=config.sample_rate, num_samples=config.num_samples))
            targets[sound] = target
            save(out / "audio" / sound / "target.wav", target, sample_rate=config.sample_rate, force=True)
            for loss in config.losses:
                for seed in range(config.seeds):
                    kept, seconds = fit(config, target, loss, seed)
                    for iteration, value, elapsed, wave in kept:
                        scores = measure(target, wave, sample_rate=config.sample_rate, speech=sound in SPEECH_SOUNDS)
                        checkpoints.append(Checkpoint(sound, loss, seed, iteration, value, elapsed, scores))
                        audio[sound, loss, seed, iteration] = wave
                        path = out / "audio" / sound / f"{loss}_seed{seed}_it{iteration}.wav"
                        save(path, gain_matched(wave, target), sample_rate=config.sample_rate, force=True)
                    last = checkpoints[-1].metrics
                    progress(
                        f"{sound:>12} {loss:>12} seed {seed}: {seconds:6.1f} s, "
                        f"MR-STFT {last['mrstft']:.3f}, LSD>3k {last['lsd_high']:.2f} dB"
                    )
    finally:
        torch.set_num_threads(threads)
    result = ExperimentResult(config, checkpoints, time.perf_counter() - start, time.process_time() - cpu_start)
    result.files = write_outputs(result, out, targets=targets, audio=audio)
    return result


# --- summaries -------------------------------------------------------------------------------------------------


def _values(result: ExperimentResult, *, metric: str, loss: str, iteration: int, sound: str | None = None):
    """Per-seed values: of one sound, or (sound=None) the mean over the sounds that have the metric."""
    per_seed = []
    for seed in range(result.config.seeds):
        rows = [
            c.metrics[metric]
            for c in result.checkpoints
            if c.loss == loss
            and c.seed == seed
            and c.iteration == iteration
            and metric in c.metrics
            and (sound is None or c.sound == sound)
        ]
        if rows:
            per_seed.append(float(np.mean(rows)))
    return np.array(per_seed)


def _mean_spread(values: np.ndarray, digits: int) -> str:
    if values.size == 0:
        return "-"
    spread = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {spread:.{digits}f}"


def _digits(metric: str) -> int:
    return 3 if metric in ("mrstft", "stoi") else 2


def verdict(result: ExperimentResult) -> list[str]:
    """Plain sentences comparing each perceptual loss with MSE on the claim's two parts, from the numbers."""
    config = result.config
    if "mse" not in config.losses:
        return ["MSE was not run, so the claim cannot be tested."]
    first, last = config.checkpoints[0], config.checkpoints[-1]
    lines = []
    for loss in (name for name in config.losses if name != "mse"):
        parts = []
        for metric, iteration, what in (
            ("lsd_high", first, f"LSD above 3 kHz at {first}"),
            ("lsd_high", last, f"LSD above 3 kHz at {last}"),
            ("mrstft", first, f"MR-STFT at {first}"),
            ("mrstft", last, f"MR-STFT at {last}"),
        ):
            ours = {
                s: _values(result, metric=metric, loss=loss, iteration=iteration, sound=s).mean() for s in config.sounds
            }
            base = {
                s: _values(result, metric=metric, loss="mse", iteration=iteration, sound=s).mean()
                for s in config.sounds
            }
            better = sum(ours[s] < base[s] for s in config.sounds)
            mean_ours, mean_base = np.mean(list(ours.values())), np.mean(list(base.values()))
            parts.append(
                f"{what}: {mean_ours:.{_digits(metric)}f} vs MSE {mean_base:.{_digits(metric)}f} "
                f"(lower on {better}/{len(config.sounds)} sounds)"
            )
        lines.append(f"**{LOSSES[loss]}** against MSE: " + "; ".join(parts) + ".")
    return lines


def markdown(result: ExperimentResult) -> str:
    """results.md: setup, summary table (mean over sounds), the comparison with MSE, and per-sound tables."""
    config = result.config
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    metrics_present = [m for m in METRICS if any(m in c.metrics for c in result.checkpoints)]
    per_iter = {
        loss: np.mean(
            [c.seconds / c.iteration for c in result.checkpoints if c.loss == loss and c.iteration == config.iterations]
        )
        for loss in config.losses
    }
    lines = [
        "# Perceptual loss vs MSE on a tiny generator",
        "",
        f"Produced by `spectrolab experiment perceptual-loss --seeds {config.seeds}`: {len(config.sounds)} sounds x "
        f"{len(config.losses)} losses x {config.seeds} seeds, {config.iterations} iterations each, in "
        f"{result.seconds / 60:.1f} min of wall time and {result.cpu_seconds / 60:.1f} min of CPU time on "
        f"{config.threads} CPU thread(s) (1-minute load average {load:.1f} at the end; the machine was shared, so "
        "times are upper bounds).",
        "",
        f"Setup: fixed {config.latent_size}-d N(0, 1) noise -> {config.layers} bias-free Conv1d layers "
        f"({config.channels} channels, kernel {config.kernel_size}, nearest upsampling x"
        f"{'/'.join(map(str, upsampling_factors(config.num_samples, config.layers)))} to {config.num_samples} samples "
        f"at {config.sample_rate} Hz, LeakyReLU 0.2, Xavier normal); Adam lr {config.learning_rate:g}, betas "
        f"{config.betas}, batch 1. Sounds (max-abs normalised): {', '.join(config.sounds)}. Each seed fixes the "
        "noise and initial weights, the same for every loss.",
        "",
        "Metrics after matching each output's RMS to the target's (lower is better, except STOI): multi-resolution "
        "STFT distance (512/1024/2048), log-spectral distance (n_fft 512, 80 dB floor) below 500 Hz, 500-3000 Hz and "
        "above 3 kHz, STOI for the speech sounds. Values are mean ± standard deviation over seeds.",
        "",
        "## Mean over the sounds",
        "",
    ]
    header = ["loss", "iteration", *(METRICS[m] for m in metrics_present), "s / iteration"]
    lines += ["| " + " | ".join(header) + " |", "|---|---:|" + "---:|" * (len(metrics_present) + 1)]
    for loss in config.losses:
        for iteration in config.checkpoints:
            cells = [
                _mean_spread(_values(result, metric=m, loss=loss, iteration=iteration), _digits(m))
                for m in metrics_present
            ]
            lines.append(f"| {LOSSES[loss]} | {iteration} | " + " | ".join(cells) + f" | {per_iter[loss]:.3f} |")
    lines += ["", "## Against MSE", "", *(f"- {line}" for line in verdict(result)), ""]
    for iteration in (config.checkpoints[0], config.checkpoints[-1]):
        lines += [f"## Per sound at {iteration} iterations", ""]
        lines += ["| sound | loss | " + " | ".join(METRICS[m] for m in metrics_present) + " |"]
        lines += ["|---|---|" + "---:|" * len(metrics_present)]
        for sound in config.sounds:
            for loss in config.losses:
                cells = [
                    _mean_spread(_values(result, metric=m, loss=loss, iteration=iteration, sound=sound), _digits(m))
                    for m in metrics_present
                ]
                lines.append(f"| {sound} | {LOSSES[loss]} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append("Figures: `spectrograms.png` (seed 0), `curves.png`. Audio (gain-matched) in `audio/`, not committed.")
    return "\n".join(lines) + "\n"


# --- figures ---------------------------------------------------------------------------------------------------


def _db_image(wave: torch.Tensor) -> np.ndarray:
    power = AF.stft(wave, n_fft=512, hop_length=64).abs().pow(2)
    return AF.power_to_db(power[None], top_db=80.0)[0].numpy()


def spectrogram_grid(
    result: ExperimentResult, targets: dict[str, torch.Tensor], audio: dict, path: Path, *, force: bool = True
) -> Path:
    """Rows: sounds; columns: the target, then each loss at the first and last checkpoint (seed 0)."""
    import matplotlib.pyplot as plt

    config = result.config
    iterations = sorted({config.checkpoints[0], config.checkpoints[-1]})
    columns = [("target", None, None)] + [(LOSSES[loss], loss, it) for loss in config.losses for it in iterations]
    fig, axes = plt.subplots(
        len(config.sounds), len(columns), figsize=(1.7 * len(columns), 1.5 * len(config.sounds)), squeeze=False
    )
    extent = (0.0, config.num_samples / config.sample_rate, 0.0, config.sample_rate / 2000)
    for row, sound in enumerate(config.sounds):
        for col, (label, loss, iteration) in enumerate(columns):
            wave = targets[sound] if loss is None else gain_matched(audio[sound, loss, 0, iteration], targets[sound])
            ax = axes[row, col]
            ax.imshow(_db_image(wave), origin="lower", aspect="auto", cmap="magma", extent=extent)
            ax.set_xticks([])
            ax.set_yticks([0, 2, 4] if col == 0 else [])
            if col == 0:
                ax.set_ylabel(f"{sound}\nkHz", fontsize=8)
            if row == 0:
                ax.set_title(label if loss is None else f"{label}\n@{iteration}", fontsize=7)
    fig.subplots_adjust(wspace=0.05, hspace=0.08)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=64, bbox_inches="tight")  # noise-like images compress badly: keep it small
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue(), force=force)


def curves(result: ExperimentResult, path: Path, *, force: bool = True) -> Path:
    """Each metric against iterations: mean over sounds, error bars the standard deviation over seeds."""
    import matplotlib.pyplot as plt

    from spectrolab.plot import figure_to_png

    config = result.config
    present = [m for m in METRICS if any(m in c.metrics for c in result.checkpoints)]
    fig, axes = plt.subplots(1, len(present), figsize=(3.3 * len(present), 3.0), squeeze=False)
    for ax, metric in zip(axes[0], present, strict=True):
        for loss in config.losses:
            values = [_values(result, metric=metric, loss=loss, iteration=it) for it in config.checkpoints]
            means = [v.mean() for v in values]
            spreads = [v.std(ddof=1) if v.size > 1 else 0.0 for v in values]
            ax.errorbar(config.checkpoints, means, yerr=spreads, label=LOSSES[loss], marker="o", ms=3, capsize=2)
        ax.set_title(METRICS[metric] + (" (speech)" if metric == "stoi" else ""), fontsize=9)
        ax.set_xlabel("iteration")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return figure_to_png(fig, path, force=force)


def write_outputs(
    result: ExperimentResult, out: Path, *, targets: dict[str, torch.Tensor], audio: dict
) -> dict[str, Path]:
    """results.json, results.md, spectrograms.png and curves.png under ``out``."""
    payload = {
        "config": asdict(result.config),
        "seconds": round(result.seconds, 1),
        "cpu_seconds": round(result.cpu_seconds, 1),
        "checkpoints": [asdict(c) for c in result.checkpoints],
    }
    files = {
        "json": atomic_write_bytes(out / "results.json", json.dumps(payload, indent=1).encode(), force=True),
        "markdown": atomic_write_bytes(out / "results.md", markdown(result).encode(), force=True),
        "spectrograms": spectrogram_grid(result, targets, audio, out / "spectrograms.png"),
        "curves": curves(result, out / "curves.png"),
    }
    return files


def parse_names(text: str | None, default: Iterable[str]) -> tuple[str, ...]:
    """Comma-separated names, or ``default`` when ``text`` is empty."""
    return tuple(default) if not text else tuple(name.strip() for name in text.split(",") if name.strip())
