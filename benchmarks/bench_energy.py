"""Our energy estimate vs CodeCarbon's offline tracker, both wrapped around the same blocks in one process.

Blocks: a busy CPU block (float32 matrix products on one thread) and an idle one (sleep), ``--seconds`` each.
Prints both figures and CodeCarbon / ours (the middle of our range). On a machine without counters both are
estimates: ours is CPU-seconds x 3-10 W/core + RAM 0.5-3 W x wall; CodeCarbon uses its TDP table (else
4 W per thread) x CPU load, plus a RAM power model (at least 10 W), so it charges idle time far more.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from spectrolab.energy import EstimateMeter
from spectrolab.energy.codecarbon import CodeCarbonMeter


def busy(seconds: float) -> None:
    a = torch.randn(256, 256)
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        a = torch.tanh(a @ a)


def idle(seconds: float) -> None:
    time.sleep(seconds)


def compare(name: str, block: Callable[[float], None], seconds: float, *, country: str) -> None:
    ours, theirs = EstimateMeter(), CodeCarbonMeter(country=country, measure_power_secs=1.0)
    with theirs, ours:
        block(seconds)
    assert ours.result is not None and theirs.result is not None
    ratio = theirs.result.joules / ours.result.joules if ours.result.joules > 0 else float("inf")
    print(f"{name:5s} ours:       {ours.result.describe()}")
    print(f"{name:5s} CodeCarbon: {theirs.result.describe()}")
    print(f"{name:5s} CodeCarbon / ours (middle of range): {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each block")
    parser.add_argument("--country", default="US", help="country code CodeCarbon is told (its carbon only)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name, block in (("busy", busy), ("idle", idle)):
        compare(name, block, args.seconds, country=args.country)


if __name__ == "__main__":
    main()
