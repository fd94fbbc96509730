"""Spectrogram codec: vector quantisation, hierarchical VQ-VAE, code grids and the shipped default model.

Importing this package registers the codec presets with the model registry (task "codec").
"""

from spectrolab.codec import presets as _presets  # noqa: F401  (registers the presets)
from spectrolab.codec.api import DEFAULT_CODEC_DIR, decode, encode, load_codec
from spectrolab.codec.codegrid import CodeGrid, CodeGrids
from spectrolab.codec.digits import DigitsVQVAE
from spectrolab.codec.quantizer import QuantizerOutput, VectorQuantizer
from spectrolab.codec.vqvae import Codec, CodecOutput

__all__ = [
    "DEFAULT_CODEC_DIR",
    "CodeGrid",
    "CodeGrids",
    "Codec",
    "CodecOutput",
    "DigitsVQVAE",
    "QuantizerOutput",
    "VectorQuantizer",
    "decode",
    "encode",
    "load_codec",
]
