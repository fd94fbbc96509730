"""Code-grid priors: Naive Bayes against scikit-learn, normalisation, sampling invariants, transformer training."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.naive_bayes import CategoricalNB

from spectrolab.errors import ConfigError, ModelError
from spectrolab.models import create_model, list_models, load_model_dir, save_model_dir
from spectrolab.priors import Conditioning, NaiveBayesPrior, Prior, UnigramPrior, bits_per_code, lattice_log_prob
from spectrolab.priors.base import sample_codes
from spectrolab.priors.naive_bayes import colour_classes, neighbour_codes, varint_decode, varint_encode
from spectrolab.priors.transformer import MaskedCodeTransformer, centred_window, edit_windows, score_windows
from spectrolab.training.prior import EncodedGrids, TrainingBudget, random_hidden, train_transformer_prior

K, H, W = 6, 5, 7
OFFSETS = ((-1, 0), (1, 0), (0, -1), (0, 1), (1, 1), (0, -2))


def structured_grids(n: int, *, seed: int = 0) -> torch.Tensor:
    """(n, H, W) grids with real structure: a code that drifts along time and depends on the row, plus noise."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, K, (n, 1, 1), generator=g)
    rows = torch.arange(H).view(1, -1, 1)
    cols = torch.arange(W).view(1, 1, -1) // 3
    noise = (torch.rand(n, H, W, generator=g) < 0.2) * torch.randint(0, K, (n, H, W), generator=g)
    return (start + rows + cols + noise) % K


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def grids() -> torch.Tensor:
    return structured_grids(60)


@pytest.fixture(scope="module")
def labels() -> Conditioning:
    g = torch.Generator().manual_seed(1)
    return Conditioning(
        pitch=torch.randint(21, 109, (60,), generator=g), family=torch.randint(0, 11, (60,), generator=g)
    )


def sklearn_features(grids: torch.Tensor, offsets, labels: Conditioning | None = None) -> np.ndarray:
    neighbours = neighbour_codes(grids, offsets, codebook_size=K).reshape(-1, len(offsets))
    rows = torch.arange(H).view(1, -1, 1).expand_as(grids).reshape(-1, 1)
    columns = [neighbours, rows]
    if labels is not None:
        assert labels.pitch is not None and labels.family is not None
        pitch = labels.pitch.view(-1, 1, 1).expand_as(grids).reshape(-1, 1)
        columns += [pitch * H + rows]  # the (pitch, row) pair
        columns += [labels.family.view(-1, 1, 1).expand_as(grids).reshape(-1, 1)]
    return torch.cat(columns, dim=1).numpy()


def reference_nb(model: NaiveBayesPrior, features: np.ndarray, codes: np.ndarray, categories: list[int]):
    class_prior = (model.class_counts + model.alpha) / (model.class_counts + model.alpha).sum()
    reference = CategoricalNB(alpha=model.alpha, class_prior=class_prior.double().numpy(), min_categories=categories)
    return reference.fit(features, codes)


@pytest.mark.parametrize("with_labels", [False, True])
def test_naive_bayes_equals_sklearn_categorical_nb(grids, labels, with_labels):
    conditioning = labels if with_labels else None
    model = NaiveBayesPrior(codebook_size=K, height=H, offsets=OFFSETS, alpha=0.7).double()
    model.fit(grids, conditioning=conditioning)
    features = sklearn_features(grids, OFFSETS, conditioning)
    categories = [K + 1] * len(OFFSETS) + [H] + ([128 * H, 11] if with_labels else [])
    reference = reference_nb(model, features, grids.reshape(-1).numpy(), categories)
    held_out = structured_grids(10, seed=5)
    held_labels = Conditioning(pitch=labels.pitch[:10], family=labels.family[:10]) if with_labels else None
    ours = model.log_probs(held_out, conditioning=held_labels).reshape(-1, K).numpy()
    theirs = reference.predict_log_proba(sklearn_features(held_out, OFFSETS, held_labels))
    np.testing.assert_allclose(ours, theirs, atol=1e-9)
    counts = np.stack(reference.category_count_[: len(OFFSETS)]).transpose(0, 2, 1)
    np.testing.assert_array_equal(model.neighbour_counts.numpy(), counts)


def test_hidden_neighbours_are_marginalised(grids):
    """With every cell hidden, an interior cell (all offsets inside the grid) gets p(code | row): CategoricalNB
    on the row feature alone."""
    model = NaiveBayesPrior(codebook_size=K, height=H, offsets=OFFSETS, alpha=0.5).double().fit(grids)
    rows = torch.arange(H).view(1, -1, 1).expand_as(grids).reshape(-1, 1).numpy()
    reference = reference_nb(model, rows, grids.reshape(-1).numpy(), [H])
    hidden = torch.ones(H, W, dtype=torch.bool)
    interior = model.log_probs(grids[:1], hidden=hidden)[0, 1 : H - 1, 2 : W - 1]
    expected = reference.predict_log_proba(np.arange(1, H - 1).reshape(-1, 1))
    np.testing.assert_allclose(interior.numpy(), np.broadcast_to(expected[:, None], interior.shape), atol=1e-9)


def test_naive_bayes_counts_by_hand():
    """Grid [[0, 1]] with the right neighbour only: cell 0 sees code 1, cell 1 sees 'outside' (value K=2)."""
    model = NaiveBayesPrior(codebook_size=2, height=1, offsets=[(0, 1)], alpha=1.0).fit(torch.tensor([[[0, 1]]]))
    assert model.neighbour_counts[0].tolist() == [[0, 0], [1, 0], [0, 1]]
    assert model.class_counts.tolist() == [1, 1]
    # p(code 0 | neighbour 1) ∝ (1/2) * (1+1)/(1+3) vs p(code 1 | neighbour 1) ∝ (1/2) * 1/(1+3): 2/3 vs 1/3.
    probs = model.log_probs(torch.tensor([[[0, 1]]])).exp()[0, 0, 0]
    torch.testing.assert_close(probs, torch.tensor([2 / 3, 1 / 3]))


def test_neighbour_vocab_keeps_frequent_codes(grids):
    model = NaiveBayesPrior(codebook_size=K, height=H, neighbour_vocab=3).fit(grids)
    frequent = torch.bincount(grids.reshape(-1), minlength=K).argsort(descending=True, stable=True)
    assert model.neighbour_values[frequent[:3]].tolist() == [0, 1, 2]
    assert (model.neighbour_values[frequent[3:]] == 3).all()
    assert model.neighbour_counts.shape == (4, 5, K)


def test_unigram_is_smoothed_row_frequency():
    grid = torch.tensor([[[0, 0, 1], [2, 2, 2]]])
    model = UnigramPrior(codebook_size=3, height=2, alpha=1.0).fit(grid)
    expected = torch.tensor([[3 / 6, 2 / 6, 1 / 6], [1 / 6, 1 / 6, 4 / 6]])
    torch.testing.assert_close(model.log_probs(grid).exp()[0, :, 0], expected)
    assert bits_per_code(model, grid) == pytest.approx(
        -(2 * math.log2(0.5) + math.log2(2 / 6) + 3 * math.log2(4 / 6)) / 6
    )


def build_priors(grids: torch.Tensor) -> dict[str, Prior]:
    torch.manual_seed(0)
    return {
        "unigram": UnigramPrior(codebook_size=K, height=H).fit(grids),
        "nb": NaiveBayesPrior(codebook_size=K, height=H, offsets=OFFSETS).fit(grids),
        "transformer": create_model("prior_transformer", codebook_size=K, height=H, max_width=W, d_model=32).eval(),
    }


@pytest.mark.parametrize("name", ["unigram", "nb", "transformer"])
def test_log_probs_are_normalised_and_log_prob_picks_them(grids, name):
    prior = build_priors(grids)[name]
    hidden = torch.zeros(H, W, dtype=torch.bool)
    hidden[1:3, 2:5] = True
    log_probs = prior.log_probs(grids[:3], hidden=hidden)
    assert log_probs.shape == (3, H, W, K)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, H, W))
    assert prior.log_prob(grids[:3]).shape == (3, H, W)
    assert (prior.log_prob(grids[:3]) <= 0).all()


@pytest.mark.parametrize("name", ["nb", "transformer"])
def test_hidden_cells_are_invisible_and_batching_is_exact(grids, name):
    prior = build_priors(grids)[name]
    hidden = torch.zeros(H, W, dtype=torch.bool)
    hidden[2:4, 1:6] = True
    changed = grids[:3].clone()
    changed[:, hidden] = (changed[:, hidden] + 1) % K
    batched = prior.log_probs(grids[:3], hidden=hidden)
    torch.testing.assert_close(prior.log_probs(changed, hidden=hidden), batched)
    one_by_one = torch.cat([prior.log_probs(grids[i : i + 1], hidden=hidden) for i in range(3)])
    torch.testing.assert_close(one_by_one, batched, atol=1e-5, rtol=1e-5)


def test_transformer_log_prob_hides_each_cell_alone(grids, labels):
    """The batched scoring (pairs of grid and cell, chunks crossing grids) equals hiding each cell alone in turn,
    grid by grid, and reading its log-probability from ``log_probs``."""
    prior = build_priors(grids)["transformer"]
    assert isinstance(prior, MaskedCodeTransformer)
    prior.precision = "float32"  # the comparison runs with gradients on, in float32
    conditioning = Conditioning(pitch=labels.pitch[:3], family=labels.family[:3])
    per_cell = prior.log_prob(grids[:3], conditioning=conditioning, chunk=9)
    expected = torch.empty(3, H, W)
    for b, r, c in itertools.product(range(3), range(H), range(W)):
        hidden = torch.zeros(H, W, dtype=torch.bool)
        hidden[r, c] = True
        one = Conditioning(pitch=labels.pitch[b : b + 1], family=labels.family[b : b + 1])
        expected[b, r, c] = prior.log_probs(grids[b : b + 1], hidden=hidden, conditioning=one)[0, r, c, grids[b, r, c]]
    torch.testing.assert_close(per_cell, expected, atol=1e-5, rtol=1e-5)


def test_transformer_bfloat16_inference_scores_close_to_float32(grids, labels):
    prior = build_priors(grids)["transformer"]
    assert isinstance(prior, MaskedCodeTransformer)
    conditioning = Conditioning(pitch=labels.pitch[:4], family=labels.family[:4])
    prior.precision = "float32"
    reference = prior.log_prob(grids[:4], conditioning=conditioning)
    prior.precision = "bfloat16"
    fast = prior.log_prob(grids[:4], conditioning=conditioning)
    assert prior._bfloat16._copies["encoder"][1].layers[0].linear1.weight.dtype == torch.bfloat16
    assert 0 < float((fast - reference).abs().max()) < 0.05


@pytest.mark.parametrize("guidance", [1.0, 2.5])
def test_transformer_scores_only_the_hidden_cells_as_the_whole_grid_would(grids, labels, guidance):
    prior = build_priors(grids)["transformer"]
    assert isinstance(prior, MaskedCodeTransformer)
    hidden = torch.zeros(3, H, W, dtype=torch.bool)
    hidden[0, 1:3, 2:5] = True
    hidden[2, 0, :] = True
    conditioning = Conditioning(pitch=labels.pitch[:3], family=labels.family[:3])
    with torch.no_grad():
        whole = prior._logits(grids[:3], hidden, conditioning, guidance=guidance)
        only = prior._hidden_logits(grids[:3], hidden, conditioning, guidance=guidance)
    torch.testing.assert_close(only, whole[hidden], atol=1e-5, rtol=1e-5)


def labelled_prior(name: str, grids: torch.Tensor, labels: Conditioning) -> Prior:
    """Naive Bayes fitted with the labels (one neighbour, so that they matter), or the untrained transformer
    (its label embeddings random)."""
    if name == "nb":
        return NaiveBayesPrior(codebook_size=K, height=H, offsets=((0, -1),)).fit(grids, conditioning=labels)
    return build_priors(grids)[name]


@pytest.mark.parametrize("name", ["nb", "transformer"])
def test_guidance_one_is_the_plain_conditional_and_zero_ignores_the_labels(grids, labels, name):
    prior = labelled_prior(name, grids, labels)
    region = torch.zeros(H, W, dtype=torch.bool)
    region[1:4, 2:6] = True
    conditioning = Conditioning(pitch=labels.pitch[:4], family=labels.family[:4])

    def draw(**options) -> torch.Tensor:
        return prior.sample(grids[:4], region, steps=3, generator=torch.Generator().manual_seed(5), **options)

    plain = draw(conditioning=conditioning)
    assert torch.equal(draw(conditioning=conditioning, guidance=1.0), plain)
    assert torch.equal(draw(conditioning=conditioning, guidance=0.0), draw())
    assert not torch.equal(draw(conditioning=conditioning, guidance=0.0), plain)
    with pytest.raises(ConfigError, match="guidance"):
        draw(conditioning=conditioning, guidance=-1.0)
    with pytest.raises(ConfigError, match="guidance"):
        draw(guidance=math.nan)


@pytest.mark.parametrize("name", ["nb", "transformer"])
def test_guided_draws_follow_the_guided_conditional(grids, labels, name):
    """One region cell among fixed cells, one step: its draws follow softmax(u + s (c - u)), c and u the model's
    log-distributions at that cell with and without the labels."""
    prior = labelled_prior(name, grids, labels)
    region = torch.zeros(H, W, dtype=torch.bool)
    region[2, 3] = True
    one = Conditioning(pitch=labels.pitch[7:8], family=labels.family[7:8])
    cond = prior.log_probs(grids[7:8], hidden=region, conditioning=one)[0, 2, 3]
    uncond = prior.log_probs(grids[7:8], hidden=region)[0, 2, 3]
    scale = 4.0
    expected = torch.softmax(uncond + scale * (cond - uncond), dim=0)
    assert (expected - cond.exp()).abs().max() > 0.03  # the guidance changes the distribution
    many = Conditioning(pitch=labels.pitch[7:8].expand(20000), family=labels.family[7:8].expand(20000))
    batch = grids[7:8].expand(20000, H, W)
    drawn = prior.sample(
        batch, region, steps=1, generator=torch.Generator().manual_seed(0), conditioning=many, guidance=scale
    )[:, 2, 3]
    torch.testing.assert_close(torch.bincount(drawn, minlength=K) / 20000.0, expected, atol=0.012, rtol=0)


def test_neighbours_beat_position_only(grids):
    held_out = structured_grids(20, seed=9)
    priors = build_priors(grids)
    assert bits_per_code(priors["nb"], held_out) < bits_per_code(priors["unigram"], held_out) - 0.3


@pytest.mark.parametrize("name", ["unigram", "nb", "transformer"])
def test_sampling_keeps_outside_and_is_seeded(grids, name):
    prior = build_priors(grids)[name]
    region = torch.zeros(H, W, dtype=torch.bool)
    region[1:4, 2:6] = True
    batch = grids[:4]

    def draw(seed: int) -> torch.Tensor:
        return prior.sample(batch, region, temperature=1.5, steps=4, generator=torch.Generator().manual_seed(seed))

    first, again, other = draw(0), draw(0), draw(1)
    assert torch.equal(first[:, ~region], batch[:, ~region])
    assert torch.equal(first, again)
    assert not torch.equal(first[:, region], other[:, region])


@pytest.mark.parametrize("name", ["unigram", "nb", "transformer"])
def test_an_edit_without_a_temperature_samples_at_the_priors_own(grids, name):
    from spectrolab.edit.blur import BlurOptions, resample_cells
    from spectrolab.edit.region import CellRegion
    from spectrolab.sampling import DEFAULT_TEMPERATURES

    prior = build_priors(grids)[name]
    assert prior.default_temperature == DEFAULT_TEMPERATURES.get(name, 1.0)
    cells = CellRegion(1, 4, 2, 6)

    def edit(temperature: float | None) -> torch.Tensor:
        return resample_cells(grids[:8], cells, prior=prior, options=BlurOptions(temperature=temperature, seed=3))

    assert torch.equal(edit(None), edit(prior.default_temperature))
    assert not torch.equal(edit(None), edit(prior.default_temperature * 3))


def test_windows_centre_on_the_region_where_the_grid_allows():
    assert centred_window(100, 104, width=235, max_width=16) == (94, 110)
    assert centred_window(1, 3, width=235, max_width=16) == (0, 16)
    assert centred_window(230, 235, width=235, max_width=16) == (219, 235)
    assert centred_window(2, 5, width=10, max_width=16) == (0, 10)
    assert edit_windows(10, 30, width=235, max_width=16) == [(10, 18, 6, 22), (18, 26, 14, 30), (26, 30, 20, 36)]
    for width in (7, 8, 9, 30, 31):
        windows = score_windows(width, 7)
        assert [(a, b) for _, _, a, b in windows] == list(itertools.pairwise([0, *(b for *_, b in windows)]))
        assert all(0 <= a <= ka < kb <= b <= width and b - a == min(width, 7) for a, b, ka, kb in windows)


def test_transformer_edits_grids_wider_than_its_window(grids):
    prior = build_priors(grids)["transformer"]
    wide = structured_grids(2, seed=3).repeat(1, 1, 5)[..., : 5 * W - 2]  # 33 columns, the model takes 7
    region = torch.zeros(H, wide.shape[-1], dtype=torch.bool)
    region[1:4, 15:18] = True

    def draw(grid: torch.Tensor, mask: torch.Tensor, seed: int = 0) -> torch.Tensor:
        return prior.sample(grid, mask, steps=4, generator=torch.Generator().manual_seed(seed))

    edited = draw(wide, region)
    assert torch.equal(edited[:, ~region], wide[:, ~region]) and not torch.equal(edited, wide)
    # The window of 7 columns centred on the region's 3 is all the model sees: the cells beyond it do not matter.
    first, last = centred_window(15, 18, width=wide.shape[-1], max_width=W)
    assert (first, last) == (13, 20)
    torch.testing.assert_close(edited[..., first:last], draw(wide[..., first:last], region[:, first:last]))
    elsewhere = wide.clone()
    elsewhere[..., :first] = (elsewhere[..., :first] + 1) % K
    assert torch.equal(draw(elsewhere, region)[..., first:last], edited[..., first:last])
    # A region wider than the window is drawn part by part; every part changes, the outside never does.
    region[:, 2:30] = True
    long_edit = draw(wide, region, seed=1)
    assert torch.equal(long_edit[:, ~region], wide[:, ~region])
    assert all(
        bool((long_edit[..., a:b] != wide[..., a:b]).any()) for a, b, *_ in edit_windows(2, 30, width=33, max_width=W)
    )
    log_prob = prior.log_prob(wide[:1], chunk=64)
    assert log_prob.shape == (1, H, wide.shape[-1]) and bool((log_prob <= 0).all())
    torch.testing.assert_close(log_prob[..., :4], prior.log_prob(wide[:1, :, :W], chunk=64)[..., :4])
    assert prior.log_probs(wide, hidden=region).shape == (2, H, wide.shape[-1], K)


def test_gibbs_draws_a_single_cell_from_its_conditional(grids):
    """One region cell among fixed neighbours: its Gibbs draws follow the model's conditional at that cell."""
    model = NaiveBayesPrior(codebook_size=K, height=H, offsets=OFFSETS, alpha=0.5).fit(grids)
    batch = grids[7:8].expand(20000, H, W)
    region = torch.zeros(H, W, dtype=torch.bool)
    region[2, 3] = True
    drawn = model.sample(batch, region, steps=1, generator=torch.Generator().manual_seed(0))[:, 2, 3]
    expected = model.log_probs(grids[7:8])[0, 2, 3].exp()
    torch.testing.assert_close(torch.bincount(drawn, minlength=K) / 20000.0, expected, atol=0.012, rtol=0)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 0.5])
def test_sample_codes_follow_tempered_distribution(temperature):
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    log_probs = probs.log().expand(40000, 4)
    draws = sample_codes(log_probs, temperature=temperature, generator=torch.Generator().manual_seed(0))
    expected = torch.softmax(probs.log() / temperature, dim=0)
    torch.testing.assert_close(torch.bincount(draws, minlength=4) / 40000.0, expected, atol=0.01, rtol=0)


@pytest.mark.parametrize(("offsets", "colours"), [(OFFSETS, 6), (((-1, 0), (1, 0), (0, -1), (0, 1), (2, 1)), 2)])
def test_colour_classes_separate_neighbours(offsets, colours):
    classes = colour_classes(H, W, offsets)
    assert int(classes.max()) + 1 == colours
    for r in range(H):
        for c in range(W):
            for dr, dc in offsets:
                if 0 <= r + dr < H and 0 <= c + dc < W:
                    assert classes[r, c] != classes[r + dr, c + dc]


def test_bad_inputs_raise(grids):
    model = NaiveBayesPrior(codebook_size=K, height=H)
    with pytest.raises(ModelError, match="not been fitted"):
        model.log_probs(grids)
    model.fit(grids)
    with pytest.raises(ConfigError, match=r"codes must be in \[0, 6\)"):
        model.log_probs(grids + 1)
    with pytest.raises(ConfigError, match="rows"):
        model.log_probs(grids[:, :3])
    region = torch.ones(H, W, dtype=torch.bool)
    with pytest.raises(ConfigError, match="temperature"):
        model.sample(grids, region, temperature=0.0)
    with pytest.raises(ConfigError, match="pitch"):
        model.log_probs(grids[:2], conditioning=Conditioning(pitch=torch.tensor([60, 200])))
    for offsets in ([(0, 0)], [(1,)], [], [(0, 1), (0, 1)]):
        with pytest.raises(ConfigError, match="offsets"):
            NaiveBayesPrior(codebook_size=K, height=H, offsets=offsets)


def test_registered_and_saved_with_config(tmp_path, grids):
    assert {"prior_unigram", "prior_naive_bayes", "prior_transformer"} <= set(list_models("prior"))
    model = create_model("prior_naive_bayes", codebook_size=K, height=H, offsets=OFFSETS, neighbour_vocab=4)
    model.fit(grids)
    save_model_dir(model, tmp_path / "nb")
    loaded = load_model_dir(tmp_path / "nb").model
    for name, buffer in model.named_buffers():
        assert torch.equal(getattr(loaded, name), buffer), name
    torch.testing.assert_close(loaded.log_probs(grids), model.log_probs(grids))


def test_random_hidden_covers_rectangles_and_subsets():
    hidden = random_hidden((200, H, W), generator=torch.Generator().manual_seed(0))
    counts = hidden.view(200, -1).sum(dim=1)
    assert (counts >= 1).all()
    assert (counts == H * W).any() or counts.max() > H * W // 2


def test_transformer_trains_and_loss_drops(tmp_path):
    """Rows constant in time: a cell is a copy of its row's visible cells. After 100 steps the transformer's
    pseudo-likelihood beats log2(K), the best any context-free model can do on uniform codes."""
    torch.manual_seed(0)
    grids = torch.randint(0, K, (200, H, 1)).expand(200, H, W).contiguous()
    model = create_model("prior_transformer", codebook_size=K, height=H, max_width=W, d_model=32, num_layers=2)
    data = EncodedGrids(grids, torch.full((200,), 60), torch.zeros(200, dtype=torch.long))
    before = bits_per_code(model.eval(), grids[:8])
    budget = TrainingBudget(max_steps=100, max_minutes=1.0, batch_size=20, lr=3e-3)
    metrics = train_transformer_prior(model, data, data, budget=budget)
    after = bits_per_code(model, grids[:8])
    assert metrics["steps"] == 100
    assert after < min(before, math.log2(K)) - 0.3
    save_model_dir(model, tmp_path / "tf")
    loaded = load_model_dir(tmp_path / "tf").model
    torch.testing.assert_close(loaded.log_probs(grids[:2]), model.log_probs(grids[:2]))


def test_bits_per_code_in_batches_is_the_mean_over_all_cells(grids, labels):
    model = NaiveBayesPrior(codebook_size=K, height=H, offsets=OFFSETS).fit(grids, conditioning=labels)
    expected = -model.log_prob(grids, conditioning=labels).double().mean().item() / math.log(2)
    assert bits_per_code(model, grids, conditioning=labels, batch=7) == pytest.approx(expected, rel=1e-12)
    assert bits_per_code(model, grids, batch=7) != pytest.approx(expected, rel=1e-6)  # the labels reach every batch


def test_naive_bayes_fits_in_batches_exactly(grids, labels):
    whole = NaiveBayesPrior(codebook_size=K, height=H, offsets=OFFSETS, neighbour_vocab=3)
    parts = NaiveBayesPrior(codebook_size=K, height=H, offsets=OFFSETS, neighbour_vocab=3)
    whole.fit(grids, conditioning=labels, batch=len(grids))
    parts.fit(grids, conditioning=labels, batch=7)
    for name, counts in whole.state_dict(keep_vars=True).items():
        assert torch.equal(parts.state_dict()[name], counts), name


def test_varint_round_trip_and_sizes():
    values = torch.tensor([0, 1, 127, 128, 16383, 16384, 2**21 - 1, 2**21, 2**35 + 7, 5])
    data = varint_encode(values)
    assert data.dtype == torch.uint8 and data.numel() == 1 + 1 + 1 + 2 + 2 + 3 + 3 + 4 + 6 + 1
    assert torch.equal(varint_decode(data), values)
    assert torch.equal(varint_encode(torch.tensor([300])), torch.tensor([0xAC, 0x02], dtype=torch.uint8))  # LEB128
    many = torch.randint(0, 2**20, (5000,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(varint_decode(varint_encode(many)), many)


@pytest.mark.parametrize("name", ["nb", "transformer"])
def test_guidance_without_labels_is_the_plain_draw(grids, name):
    prior = build_priors(grids)[name]
    region = torch.zeros(2, H, W, dtype=torch.bool)
    region[:, 1:4, 2:6] = True

    def draw(guidance: float) -> torch.Tensor:
        generator = torch.Generator().manual_seed(3)
        return prior.sample(grids[:2], region, steps=2, generator=generator, guidance=guidance)

    assert torch.equal(draw(3.0), draw(1.0))
    assert not Conditioning().known and Conditioning(pitch=torch.tensor([-1, 60])).known


def test_transformer_training_resumes_and_keeps_its_best_weights(tmp_path):
    """A step-only run with checkpoints continues from ``last.ckpt`` to the step budget, and the model ends with
    the weights of the best validation, whose loss it reports."""
    torch.manual_seed(0)
    grids = torch.randint(0, K, (64, H, 1)).expand(64, H, W).contiguous()
    data = EncodedGrids(grids, torch.full((64,), 60), torch.zeros(64, dtype=torch.long))
    kwargs = dict(codebook_size=K, height=H, max_width=W, d_model=16, num_layers=1)
    model = create_model("prior_transformer", **kwargs)
    ckpt = tmp_path / "checkpoints"
    first = TrainingBudget(max_steps=20, max_minutes=None, batch_size=16, lr=3e-3, precision="bf16-mixed")
    train_transformer_prior(model, data, data, budget=first, checkpoint_dir=str(ckpt), val_every=10)
    assert (ckpt / "last.ckpt").is_file()
    resumed = create_model("prior_transformer", **kwargs)
    longer = TrainingBudget(max_steps=30, max_minutes=None, batch_size=16, lr=3e-3, precision="bf16-mixed")
    metrics = train_transformer_prior(
        resumed, data, data, budget=longer, checkpoint_dir=str(ckpt), val_every=10, resume=str(ckpt / "last.ckpt")
    )
    assert metrics["steps"] == 30
    assert metrics["best_step"] in (10, 20, 30)
    best = next(ckpt.glob("best-*.ckpt"))
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    for name, value in resumed.state_dict().items():
        torch.testing.assert_close(value, state[f"model.{name}"])
    with pytest.raises(ConfigError, match="no such checkpoint"):
        train_transformer_prior(resumed, data, data, budget=longer, resume=str(tmp_path / "missing.ckpt"))


def test_lattice_scoring_is_exact_for_naive_bayes_and_one_cell_at_the_widest_stride(grids, labels):
    """Hidden cells a lattice apart are never in each other's Naive Bayes neighbourhood (offsets reach 2 cells),
    so its lattice score is its one-cell score; at a stride as wide as the grid each pass hides one cell, so any
    prior's lattice score is its one-cell score; in between the Transformer sees fewer cells, so it differs."""
    nb = NaiveBayesPrior(codebook_size=K, height=H, offsets=OFFSETS).fit(grids, conditioning=labels)
    some = Conditioning(pitch=labels.pitch[:9], family=labels.family[:9])  # type: ignore[index]
    torch.testing.assert_close(
        lattice_log_prob(nb, grids[:9], stride=3, conditioning=some), nb.log_prob(grids[:9], conditioning=some)
    )
    torch.manual_seed(0)
    tf = create_model("prior_transformer", codebook_size=K, height=H, max_width=W, d_model=16, num_layers=1).eval()
    tf.precision = "float32"  # bfloat16 inference rounds its two paths differently
    one_cell = tf.log_prob(grids[:3])
    torch.testing.assert_close(lattice_log_prob(tf, grids[:3], stride=max(H, W)), one_cell)
    assert not torch.allclose(lattice_log_prob(tf, grids[:3], stride=2), one_cell)
    wide = torch.cat([grids[:2], grids[2:4, :, :3]], dim=2)  # wider than the window: scored through windows
    torch.testing.assert_close(lattice_log_prob(tf, wide, stride=wide.shape[-1]), tf.log_prob(wide))
    lattice = bits_per_code(tf, grids[:3], lattice=max(H, W), batch=2)
    assert lattice == pytest.approx(bits_per_code(tf, grids[:3]), rel=1e-5)
    with pytest.raises(ConfigError, match="stride"):
        lattice_log_prob(nb, grids[:2], stride=1)


def test_train_priors_script_warm_starts_from_a_trained_transformer(tmp_path):
    """``scripts/train_priors.py --init-from DIR`` starts the Transformer from DIR's weights (at a negligible
    learning rate they come back unchanged) and architecture, records the source and its budget, and refuses
    one that does not fit the grids."""
    import json
    import runpy
    import sys
    from pathlib import Path

    from safetensors.torch import save_file

    root = Path(__file__).resolve().parent.parent
    source = create_model("prior_transformer", codebook_size=1024, height=32, max_width=16, d_model=16, num_layers=1)
    save_model_dir(source, tmp_path / "source", metadata={"trained_by": "a test", "train_seconds": 1.5})
    cache = tmp_path / "cache"
    cache.mkdir()
    grids = torch.randint(0, 1024, (8, 32, 16))
    for split in ("train", "valid", "test"):
        save_file({"grids": grids, "pitch": torch.full((8,), 60), "family": torch.zeros(8, dtype=torch.long)},
                  str(cache / f"{split}.safetensors"))  # fmt: skip
    argv = ["train_priors.py", "--data", str(tmp_path / "data"), "--cache", str(cache), "--skip-nb", "--minutes", "0"]
    argv += ["--max-steps", "2", "--batch-size", "4", "--lr", "1e-12"]  # the source's d_model and layers
    argv += ["--logs", str(tmp_path / "logs"), "--out", str(tmp_path / "out"), "--init-from", str(tmp_path / "source")]
    saved = sys.argv
    try:
        sys.argv = argv
        runpy.run_path(str(root / "scripts" / "train_priors.py"), run_name="__main__")
        misfit = create_model("prior_transformer", codebook_size=512, height=32, max_width=16, d_model=16)
        save_model_dir(misfit, tmp_path / "misfit")
        sys.argv = [*argv[:-1], str(tmp_path / "misfit"), "--out", str(tmp_path / "other")]
        with pytest.raises(SystemExit, match=r"'codebook_size': \(512, 1024\)"):
            runpy.run_path(str(root / "scripts" / "train_priors.py"), run_name="__main__")
    finally:
        sys.argv = saved
    trained = load_model_dir(tmp_path / "out" / "prior_transformer")
    for name, value in source.state_dict().items():
        torch.testing.assert_close(trained.model.state_dict()[name], value, rtol=0, atol=1e-6)
    warm = json.loads((tmp_path / "out" / "prior_transformer" / "config.json").read_text())["metadata"]["warm_start"]
    assert warm["sha256"] == load_model_dir(tmp_path / "source").sha256
    assert warm["source_budget"] == {"trained_by": "a test", "train_seconds": 1.5}
    assert not (tmp_path / "other").exists()
