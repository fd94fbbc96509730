"""Shared fixtures: real notes rendered from the small TimGM6mb soundfont, and CI's no-skip rule."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

# numba compiles librosa's pYIN gufuncs on first use and caches them beside librosa's sources, one cache for
# every process. On a fresh machine both xdist workers compiled them at once, and the cache they left
# segfaulted every later process that loaded it (a dead worker in CI; deleting the cache cured it). So each
# worker of each environment compiles into a cache folder of its own (set before anything imports numba).
os.environ["NUMBA_CACHE_DIR"] = str(
    Path(tempfile.gettempdir())
    / f"spectrolab-numba-{hashlib.sha256(sys.prefix.encode()).hexdigest()[:8]}"
    / os.environ.get("PYTEST_XDIST_WORKER", "main")
)

import numpy as np
import pytest
import torch

from spectrolab.data.soundfont import TEST_SOUNDFONT, NoteRenderer, NoteSpec, normalize_loudness

SAMPLE_RATE = 16000
# Acoustic grand piano, nylon guitar, violin, trumpet, flute at a few pitches and velocities.
FIXTURE_NOTES = (
    NoteSpec(program=0, pitch=60, velocity=100),
    NoteSpec(program=24, pitch=52, velocity=75),
    NoteSpec(program=40, pitch=67, velocity=100),
    NoteSpec(program=56, pitch=64, velocity=127),
    NoteSpec(program=73, pitch=79, velocity=50),
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With CI=true a skipped test is a failure: nothing may silently not run in CI."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {report.longrepr}"


@pytest.fixture(scope="session")
def renderer():
    with NoteRenderer(TEST_SOUNDFONT, sample_rate=SAMPLE_RATE) as r:
        yield r


@pytest.fixture(scope="session")
def notes(renderer) -> torch.Tensor:
    """Five real 4 s notes (5, 64000) at 16 kHz, peak-normalised."""
    waves = [normalize_loudness(renderer.render(n)) for n in FIXTURE_NOTES]
    return torch.from_numpy(np.stack(waves))


@pytest.fixture(scope="module")
def one_thread():
    """Small models run fastest on one thread; more threads spin against each other on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _environment_restored():
    """No test leaves environment variables behind for the next one in its worker (Lightning's DDP launcher
    sets MASTER_PORT in the launching process, which a later DDP run would otherwise inherit)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
