"""VectorQuantizer: nearest codes, straight-through gradients, EMA, k-means initialisation, restarts."""

from __future__ import annotations

import pytest
import torch

from spectrolab.codec.quantizer import VectorQuantizer, kmeans, nearest_codes, perplexity
from spectrolab.errors import ConfigError

CENTRES = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]])


def _mixture(n: int, *, std: float = 0.05, seed: int = 0) -> torch.Tensor:
    """(n, 2, 1, 1) samples of four well separated Gaussians."""
    g = torch.Generator().manual_seed(seed)
    points = CENTRES[torch.randint(4, (n,), generator=g)] + std * torch.randn(n, 2, generator=g)
    return points[:, :, None, None]


def test_quantized_equals_codebook_rows_and_codes_are_nearest():
    vq = VectorQuantizer(16, 8, kmeans_init=False).eval()
    x = torch.randn(3, 8, 5, 7)
    out = vq(x)
    assert out.codes.shape == (3, 5, 7) and out.codes.dtype == torch.int64
    assert torch.allclose(out.quantized, vq.codebook[out.codes].permute(0, 3, 1, 2), atol=1e-6)
    flat = x.permute(0, 2, 3, 1).reshape(-1, 8)
    assert torch.equal(out.codes.flatten(), torch.cdist(flat, vq.codebook).argmin(1))
    assert torch.allclose(vq.lookup(out.codes), out.quantized, atol=1e-6)


def test_straight_through_gradient_is_identity():
    vq = VectorQuantizer(16, 4, kmeans_init=False)
    x = torch.randn(2, 4, 3, 3, requires_grad=True)
    weights = torch.randn(2, 4, 3, 3)
    (vq(x).quantized * weights).sum().backward()
    assert torch.allclose(x.grad, weights)


def test_losses_are_the_mean_squared_distance_to_the_chosen_code():
    vq = VectorQuantizer(16, 4, kmeans_init=False).eval()
    x = torch.randn(2, 4, 3, 3)
    out = vq(x)
    expected = (x - out.quantized.detach()).pow(2).mean()
    assert out.commitment_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert out.codebook_loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradient_codebook_learns_through_the_codebook_loss():
    vq = VectorQuantizer(4, 2, ema=False, kmeans_init=False)
    out = vq(_mixture(64))
    out.codebook_loss.backward()
    assert vq.codebook.grad is not None and vq.codebook.grad.abs().sum() > 0


def test_perplexity_of_uniform_and_constant_codes():
    assert perplexity(torch.arange(8).repeat(5), 8).item() == pytest.approx(8.0, rel=1e-5)
    assert perplexity(torch.zeros(40, dtype=torch.long), 8).item() == pytest.approx(1.0)


def test_ema_converges_to_the_mixture_centres():
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 2, kmeans_init=False, decay=0.9, restart_threshold=0.0)
    start = CENTRES + 0.5 * torch.randn(4, 2)  # each code starts nearest its own centre
    vq.codebook.copy_(start)
    vq.embed_sum.copy_(start)
    for step in range(150):
        vq(_mixture(256, seed=step))
    error = torch.cdist(CENTRES, vq.codebook).min(1).values
    assert error.max() < 0.02, error


def test_kmeans_init_finds_the_centres_on_the_first_batch():
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 2, kmeans_iters=20)
    assert not bool(vq.initialized)
    vq(_mixture(512))
    assert bool(vq.initialized)
    assert torch.cdist(CENTRES, vq.codebook).min(1).values.max() < 0.1


def test_kmeans_with_fewer_vectors_than_clusters_still_returns_k_centroids():
    centroids, counts = kmeans(torch.randn(3, 5), 8, iters=3)
    assert centroids.shape == (8, 5) and counts.sum() == 3


def test_restarts_revive_dead_codes():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 2, kmeans_init=False, restart_threshold=1.0)
    far = torch.full((8, 2), 100.0)
    far[0] = 0.0  # only code 0 is near the data: the other seven are dead
    vq.codebook.copy_(far)
    vq.embed_sum.copy_(far)
    vq.cluster_size.fill_(0.0)
    x = _mixture(256)
    out = vq(x)
    assert out.dead_codes == 8  # all below the threshold before the update
    assert (vq.codebook.abs() < 3).all()  # every code moved onto the data
    vq.eval()
    after = vq(x)
    assert after.codes.unique().numel() > 1
    assert after.perplexity > out.perplexity


def test_wrong_shape_is_a_config_error():
    with pytest.raises(ConfigError, match="expected"):
        VectorQuantizer(4, 3)(torch.randn(2, 5, 4, 4))
    with pytest.raises(ConfigError):
        VectorQuantizer(1, 3)


def test_nearest_codes_equal_the_brute_force_argmin_of_distances():
    generator = torch.Generator().manual_seed(0)
    vectors, codebook = torch.randn(500, 16, generator=generator), torch.randn(300, 16, generator=generator)
    brute = torch.cdist(vectors.double(), codebook.double()).argmin(1)
    assert torch.equal(nearest_codes(vectors, codebook), brute)


def test_nearest_codes_pick_the_first_of_tied_codes_and_keep_int64():
    codebook = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])  # rows 2, 3 repeat rows 0, 1
    vectors = torch.tensor([[2.0, 0.0], [0.0, 3.0], [0.5, 0.5]])
    codes = nearest_codes(vectors, codebook)
    assert codes.dtype == torch.int64
    assert codes.tolist() == [0, 1, 0]  # the last vector is equally near all four: the first wins
    grad = nearest_codes(vectors.requires_grad_(), codebook)  # a training batch's vectors carry gradients
    assert torch.equal(grad, codes)


def test_quantizer_runs_in_float32_under_bfloat16_autocast():
    # bf16-mixed training hands the quantiser bfloat16 activations: its distances, codes and EMA updates stay
    # those of float32 (the input's bfloat16 values, exactly widened).
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 5).bfloat16()
    plain, mixed = VectorQuantizer(64, 8, kmeans_init=False), VectorQuantizer(64, 8, kmeans_init=False)
    mixed.load_state_dict(plain.state_dict())
    torch.manual_seed(1)  # the same random restarts of unused codes in both
    expected = plain(x.float())
    torch.manual_seed(1)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = mixed(x)
    assert out.quantized.dtype == torch.float32 and out.codebook_loss.dtype == torch.float32
    assert torch.equal(out.codes, expected.codes)
    torch.testing.assert_close(out.quantized, expected.quantized, rtol=0, atol=0)
    torch.testing.assert_close(mixed.codebook, plain.codebook, rtol=0, atol=0)
