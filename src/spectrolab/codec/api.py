"""Library functions behind ``spectrolab encode`` / ``decode``: load a codec, files to codes and back."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from spectrolab.audio import io
from spectrolab.codec.codegrid import CodeGrids
from spectrolab.codec.vqvae import Codec
from spectrolab.errors import AudioError, ModelError
from spectrolab.models.registry import load_model_dir
from spectrolab.paths import DEFAULT_CODEC_DIR


def load_codec(directory: str | os.PathLike[str] | None = None) -> Codec:
    """The codec saved in ``directory`` (default: the shipped one), in eval mode."""
    loaded = load_model_dir(DEFAULT_CODEC_DIR if directory is None else directory)
    if not isinstance(loaded.model, Codec):
        raise ModelError(f"{loaded.directory}: holds a '{loaded.name}' model, not a codec")
    loaded.model.weights_sha256 = loaded.sha256
    return loaded.model


def encode(path: str | os.PathLike[str], *, codec: Codec) -> CodeGrids:
    """Load an audio file (mono, resampled to the codec's rate) and encode it."""
    wave = io.load(path, sample_rate=codec.sample_rate)
    if wave.shape[-1] < codec.min_samples:
        seconds, cell = wave.shape[-1] / codec.sample_rate, codec.min_samples / codec.sample_rate
        raise AudioError(f"{path}: {seconds:.3f} s of audio is too short to encode (one time cell is {cell:g} s)")
    with torch.inference_mode():
        return codec.encode(wave)


def decode(
    grids: CodeGrids,
    path: str | os.PathLike[str],
    *,
    codec: Codec,
    force: bool = False,
    allow_mismatch: bool = False,
) -> Path:
    """Decode ``grids`` (batch of one) and write the audio to ``path`` atomically. Codes another codec made
    are refused (:class:`ModelError`), unless ``allow_mismatch`` (then a warning)."""
    with torch.inference_mode():
        wave = codec.decode(grids, allow_mismatch=allow_mismatch)
    return io.save(path, wave[0], sample_rate=codec.sample_rate, force=force)
