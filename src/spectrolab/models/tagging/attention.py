"""CNN front ends with Transformer back ends: CNNSA (Won et al. 2019) and the Music Tagging Transformer (2021).

CNNSA ("Toward interpretable music tagging with self-attention", configuration of Won et al. 2020): 15 s
chunks -> 128-band log-mel (128 x 938) -> seven residual blocks (widths 128-128-256-256-256-256-256; the
first three stride 2 in both axes, the rest (2, 1)) -> 118 frames of 256-d features -> [CLS] + BERT encoder
(2 post-norm layers, 8 heads, FFN 1024, GELU, hidden dropout 0.4, attention dropout 0.5) -> pooler
(linear + tanh on [CLS]) -> dropout 0.5 -> linear. The reference prepends a fixed random vector as [CLS] and
adds no position information; here [CLS] is trained and BERT's learned position embeddings (700 positions,
then LayerNorm and dropout, as in BERT's embedding layer) are added.

Music Tagging Transformer ("Semi-supervised music tagging transformer", Won, Choi and Serra 2021; published
configuration of minzwon/semi-supervised-music-tagging-transformer): 10 s at 22.05 kHz -> 128-band log-mel
(n_fft 1024, hop 512, f_max 11025) -> BatchNorm -> three residual max-pool blocks of 128 channels pooling
(2, 2), (2, 2), (2, 1) -> per-frame flatten (128 ch x 16 bands) -> linear 256 -> trained [CLS] token and
learned position embeddings (512 + 1) -> dropout 0.1 -> 4 pre-norm Transformer layers (8 heads of 32, FFN 1024,
GELU, q/k/v without bias) -> LayerNorm + linear on [CLS].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spectrolab.errors import ConfigError
from spectrolab.models.registry import register_model
from spectrolab.models.tagging.base import MelTaggingModel
from spectrolab.models.tagging.blocks import ResBlock2d, ResPoolBlock2d, Size2d
from spectrolab.models.tagging.frontend import MelFrontEnd, MelStyle

CNNSA_INPUT_LENGTH = 15 * 16000
MTT_SAMPLE_RATE = 22050
MTT_INPUT_LENGTH = 10 * MTT_SAMPLE_RATE


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention: (B, L, dim) -> (B, L, dim)."""

    def __init__(self, dim: int, heads: int, *, qkv_bias: bool, attention_dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(f"attention width {dim} is not a multiple of the number of heads {heads}")
        self.heads = heads
        self.attention_dropout = attention_dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        dropout = self.attention_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


def feed_forward(dim: int, hidden: int, *, dropout: float = 0.0) -> nn.Sequential:
    """Linear -> GELU -> dropout -> Linear."""
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))


class PostNormLayer(nn.Module):
    """BERT encoder layer: x = LN(x + drop(attn(x))); x = LN(x + drop(ffn(x)))."""

    def __init__(self, dim: int, heads: int, hidden: int, *, dropout: float, attention_dropout: float) -> None:
        super().__init__()
        self.attention = SelfAttention(dim, heads, qkv_bias=True, attention_dropout=attention_dropout)
        self.norm1 = nn.LayerNorm(dim, eps=1e-12)
        self.ffn = feed_forward(dim, hidden)
        self.norm2 = nn.LayerNorm(dim, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.attention(x)))
        return self.norm2(x + self.dropout(self.ffn(x)))


class PreNormLayer(nn.Module):
    """ViT-style layer: x = x + drop(attn(LN(x))); x = x + drop(ffn(LN(x)))."""

    def __init__(self, dim: int, heads: int, hidden: int, *, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads, qkv_bias=False)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = feed_forward(dim, hidden, dropout=dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm1(x)))
        return x + self.dropout(self.ffn(self.norm2(x)))


def prepend_cls(tokens: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
    """(B, L, D) tokens and a (D,) vector -> (B, L + 1, D) with the vector first."""
    return torch.cat([cls.expand(tokens.shape[0], 1, -1), tokens], dim=1)


def check_sequence(length: int, max_length: int, model: str) -> None:
    """Raise before any computation if ``length`` tokens (with [CLS]) exceed the position embeddings."""
    if length > max_length:
        raise ConfigError(f"{model}: {length} tokens exceed the {max_length} position embeddings; use shorter chunks")


class CNNSA(MelTaggingModel):
    """CNN + self-attention tagger: waveform (B, T) -> logits (B, num_classes); published T = 240000 (15 s)."""

    def __init__(
        self,
        *,
        num_classes: int,
        input_length: int,
        n_channels: int = 128,
        max_positions: int = 700,
        mel_style: MelStyle = "librosa",
    ) -> None:
        super().__init__(sample_rate=16000, input_length=input_length, num_classes=num_classes)
        c, dim = n_channels, 2 * n_channels
        self.frontend = MelFrontEnd(n_mels=128, mel_style=mel_style)
        strides: list[Size2d] = [2, 2, 2, (2, 1), (2, 1), (2, 1), (2, 1)]
        widths = [(1, c), (c, c), (c, dim), *[(dim, dim)] * 4]
        self.layers = nn.Sequential(*(ResBlock2d(i, o, stride=s) for (i, o), s in zip(widths, strides, strict=True)))
        self.cls = nn.Parameter(torch.randn(dim) * 0.02)
        self.positions = nn.Embedding(max_positions, dim)
        self.embedding_norm = nn.LayerNorm(dim, eps=1e-12)
        self.embedding_dropout = nn.Dropout(0.4)
        self.encoder = nn.Sequential(
            *(PostNormLayer(dim, 8, 4 * dim, dropout=0.4, attention_dropout=0.5) for _ in range(2))
        )
        self.pooler = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(0.5)
        self.dense = nn.Linear(dim, num_classes)

    def num_tokens(self, num_samples: int) -> int:
        """Sequence length with [CLS] for ``num_samples`` samples."""
        return self.frame_tokens(self.frontend.num_frames(num_samples))

    @staticmethod
    def frame_tokens(frames: int) -> int:
        """Sequence length with [CLS] for ``frames`` log-mel frames: three stride-2 blocks leave ceil(N / 8)."""
        for _ in range(3):
            frames = -(-frames // 2)
        return frames + 1

    def forward_features(self, logmel: torch.Tensor) -> torch.Tensor:
        check_sequence(self.frame_tokens(logmel.shape[-1]), self.positions.num_embeddings, "cnnsa")
        x = self.layers(self.frontend.bn(logmel))  # (B, 2c, 1, N')
        x = prepend_cls(x.squeeze(2).transpose(1, 2), self.cls)  # (B, N' + 1, 2c)
        x = x + self.positions.weight[: x.shape[1]]
        x = self.encoder(self.embedding_dropout(self.embedding_norm(x)))
        return self.dense(self.dropout(torch.tanh(self.pooler(x[:, 0]))))


class MusicTaggingTransformer(MelTaggingModel):
    """Music Tagging Transformer: waveform (B, T) -> logits (B, num_classes); published 10 s at 22.05 kHz."""

    def __init__(
        self,
        *,
        num_classes: int,
        input_length: int,
        sample_rate: int = MTT_SAMPLE_RATE,
        n_mels: int = 128,
        conv_channels: int = 128,
        dim: int = 256,
        heads: int = 8,
        layers: int = 4,
        max_length: int = 512,
        dropout: float = 0.1,
        mel_style: MelStyle = "librosa",
    ) -> None:
        super().__init__(sample_rate=sample_rate, input_length=input_length, num_classes=num_classes)
        self.frontend = MelFrontEnd(
            n_mels=n_mels,
            sample_rate=sample_rate,
            n_fft=1024,
            hop_length=512,
            f_max=sample_rate / 2,
            mel_style=mel_style,
        )
        c = conv_channels
        self.conv = nn.Sequential(
            ResPoolBlock2d(1, c, pool=(2, 2)), ResPoolBlock2d(c, c, pool=(2, 2)), ResPoolBlock2d(c, c, pool=(2, 1))
        )
        self.project = nn.Linear(n_mels // 8 * c, dim)
        self.positions = nn.Parameter(torch.randn(1, max_length + 1, dim))
        self.cls = nn.Parameter(torch.randn(dim))
        self.dropout = nn.Dropout(dropout)
        self.transformer = nn.Sequential(*(PreNormLayer(dim, heads, 4 * dim, dropout=dropout) for _ in range(layers)))
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))

    def num_tokens(self, num_samples: int) -> int:
        """Sequence length with [CLS]: the two time poolings leave N // 4 of the N frames."""
        return self.frontend.num_frames(num_samples) // 4 + 1

    def forward_features(self, logmel: torch.Tensor) -> torch.Tensor:
        check_sequence(logmel.shape[-1] // 4 + 1, self.positions.shape[1], "music_tagging_transformer")
        x = self.conv(self.frontend.bn(logmel))  # (B, c, n_mels / 8, N')
        x = self.project(x.permute(0, 3, 1, 2).flatten(2))  # (B, N', dim), features channel-major
        x = prepend_cls(x, self.cls)
        x = self.transformer(self.dropout(x + self.positions[:, : x.shape[1]]))
        return self.head(x[:, 0])


@register_model("cnnsa", task="tagging")
def cnnsa(*, num_classes: int = 50, input_length: int = CNNSA_INPUT_LENGTH, mel_style: MelStyle = "librosa") -> CNNSA:
    """CNN + self-attention (Won et al. 2019): residual CNN + 2-layer BERT over 15 s of 128-band log-mel."""
    return CNNSA(num_classes=num_classes, input_length=input_length, mel_style=mel_style)


@register_model("music_tagging_transformer", task="tagging")
def music_tagging_transformer(
    *,
    num_classes: int = 50,
    sample_rate: int = MTT_SAMPLE_RATE,
    input_length: int | None = None,
    mel_style: MelStyle = "librosa",
) -> MusicTaggingTransformer:
    """Music Tagging Transformer (Won et al. 2021): residual CNN front end + 4-layer Transformer, 10 s chunks."""
    length = 10 * sample_rate if input_length is None else input_length
    return MusicTaggingTransformer(
        num_classes=num_classes, input_length=length, sample_rate=sample_rate, mel_style=mel_style
    )
