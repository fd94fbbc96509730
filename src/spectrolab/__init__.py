"""spectrolab: deep learning on audio spectrograms."""

__version__ = "0.1.0"
