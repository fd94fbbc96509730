"""Naive Bayes fitting speed: spectrolab's vectorised counting vs scikit-learn's CategoricalNB, same data.

Both fit the same cells: features are the codes at the 8 neighbours (value K outside the grid) and the row;
the class is the cell's code. Ours includes extracting the features from the grids; scikit-learn gets the
feature matrix ready-made. The fitted log-probabilities are compared too. Median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.naive_bayes import CategoricalNB

from spectrolab.priors import NaiveBayesPrior
from spectrolab.priors.naive_bayes import neighbour_codes


def structured_grids(n: int, *, height: int, width: int, codebook_size: int, seed: int) -> torch.Tensor:
    """Grids whose codes drift along time and depend on the row, with 20 % noise: every class occurs."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, codebook_size, (n, 1, 1), generator=g)
    base = start + 7 * torch.arange(height).view(1, -1, 1) + torch.arange(width).view(1, 1, -1) // 2
    noise = (torch.rand(n, height, width, generator=g) < 0.2) * torch.randint(0, codebook_size, (n, height, width))
    return (base + noise) % codebook_size


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grids", type=int, default=48)
    parser.add_argument("--codebook-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    k, height, width = args.codebook_size, 32, 16
    grids = structured_grids(args.grids, height=height, width=width, codebook_size=k, seed=0)
    ours = NaiveBayesPrior(codebook_size=k, height=height, alpha=1.0)
    features = torch.cat(
        [
            neighbour_codes(grids, ours.offsets, codebook_size=k).reshape(-1, len(ours.offsets)),
            torch.arange(height).view(1, -1, 1).expand_as(grids).reshape(-1, 1),
        ],
        dim=1,
    ).numpy()
    codes = grids.reshape(-1).numpy()
    categories = [k + 1] * len(ours.offsets) + [height]

    def fit_ours() -> NaiveBayesPrior:
        return NaiveBayesPrior(codebook_size=k, height=height, alpha=1.0).fit(grids)

    def fit_sklearn() -> CategoricalNB:
        return CategoricalNB(alpha=1.0, min_categories=categories).fit(features, codes)

    t_ours = median_seconds(fit_ours, args.repeats)
    t_sklearn = median_seconds(fit_sklearn, args.repeats)
    model, reference = fit_ours().double(), fit_sklearn()
    reference.class_log_prior_ = model.tables().class_log_prior.numpy()
    sample = slice(0, 2 * height * width)
    diff = np.abs(model.log_probs(grids[:2]).reshape(-1, k).numpy() - reference.predict_log_proba(features[sample]))
    print(f"{codes.size} cells ({args.grids} grids of {height}x{width}), {k} codes, {len(categories)} features")
    print(f"scikit-learn CategoricalNB.fit  {t_sklearn * 1000:9.1f} ms")
    print(f"spectrolab NaiveBayesPrior.fit  {t_ours * 1000:9.1f} ms")
    print(f"speed-up                        {t_sklearn / t_ours:9.1f} x  (max |log-prob difference| {diff.max():.1e})")


if __name__ == "__main__":
    main()
