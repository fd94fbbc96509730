"""Music taggers: raw waveform (B, T) -> logits (B, num_classes), each a registered name (task "tagging").

Importing this package registers every builder: the CNN zoo of Won et al. 2020 (FCN, MusiCNN, CRNN,
Sample-level CNN and +SE, Short-chunk CNN and ResNet, Harmonic CNN, CNNSA), the Music Tagging Transformer,
and timm vision backbones on log-mel (``timm/<name>``).
"""

from spectrolab.models.tagging import attention, crnn, fcn, harmonic, musicnn, sample_cnn, short_chunk, vision
from spectrolab.models.tagging.base import TaggingModel
from spectrolab.models.tagging.frontend import MelFrontEnd

__all__ = [
    "MelFrontEnd",
    "TaggingModel",
    "attention",
    "crnn",
    "fcn",
    "harmonic",
    "musicnn",
    "sample_cnn",
    "short_chunk",
    "vision",
]
