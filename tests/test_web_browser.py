"""The editor end to end in headless Chromium (Debian's, driven by Playwright; no browser is downloaded):
load the example, select cells, resample, undo/redo with Ctrl and Cmd, reload, A/B, download."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from spectrolab.sampling import DEFAULT_TEMPERATURES
from spectrolab.web import WebSettings, create_app
from spectrolab.web.examples import BUNDLED_EXAMPLE
from spectrolab.web.service import Models

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "out" / "web_editor"
# Cells to select: rows 6-21 of 32 (a broad band), time cells 5-8 of 16 (1.28-2.30 s).
ROWS, COLS = (6, 22), (5, 9)

playwright_sync = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/sysdeps.sh)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    torch.set_num_threads(1)
    notes = tmp_path_factory.mktemp("notes")
    shutil.copy(BUNDLED_EXAMPLE, notes / "string_acoustic_000-064-100.wav")
    settings = WebSettings(upload_dir=tmp_path_factory.mktemp("uploads"), examples_dir=notes)
    app = create_app(settings, models=Models.load())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not instance.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with playwright_sync.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


def _cell_point(page, row: int, col: int) -> tuple[float, float]:
    """Viewport coordinates of the centre of a grid cell, from the page's own geometry."""
    return page.evaluate(
        """([row, col]) => {
            const { view } = window.spectrolabEditor;
            const g = view.data.grid;
            const [x, y, w, h] = view.cellRect(g, row, col);
            const r = view.canvas.getBoundingClientRect();
            return [r.left + x + w / 2, r.top + y + h / 2];
        }""",
        [row, col],
    )


def _state(page) -> dict:
    return page.evaluate("() => ({ ...document.body.dataset })")


def _expect_current(page, key: str) -> None:
    page.wait_for_selector(f"body[data-current-key='{key}']", timeout=10_000)


def _download(page) -> bytes:
    with page.expect_download() as info:
        page.keyboard.press("d")
    return Path(info.value.path()).read_bytes()


def _check_change_inside_region(before: bytes, after: bytes, region: dict) -> None:
    """The edit changed the audio inside the region's time span and left every sample outside the span and
    its soft edges (at most 0.25 s) bit for bit as it was."""
    a, rate_a = sf.read(io.BytesIO(before), dtype="float32", always_2d=True)
    b, rate_b = sf.read(io.BytesIO(after), dtype="float32", always_2d=True)
    assert rate_a == rate_b and a.shape == b.shape
    margin = round(0.25 * rate_a)
    start, stop = round(region["start_s"] * rate_a), round(region["stop_s"] * rate_a)
    outside = np.ones(len(a), dtype=bool)
    outside[max(0, start - margin) : stop + margin] = False
    assert not np.array_equal(a[start:stop], b[start:stop])
    np.testing.assert_array_equal(a[outside], b[outside])


def test_editor_end_to_end(server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server)
    page.wait_for_selector("body[data-started='true']")
    example = BUNDLED_EXAMPLE.read_bytes()

    # Each prior brings its own default temperature (spectrolab.sampling), the page starting on Naive Bayes'.
    assert page.input_value("#temperature") == format(DEFAULT_TEMPERATURES["nb"], "g")
    page.select_option("#prior", "transformer")
    assert page.input_value("#temperature") == format(DEFAULT_TEMPERATURES["transformer"], "g")
    page.select_option("#prior", "nb")
    assert page.input_value("#temperature") == format(DEFAULT_TEMPERATURES["nb"], "g")

    # A refused upload says why in plain words.
    page.set_input_files("#file-input", files=[{"name": "notes.wav", "mimeType": "audio/wav", "buffer": b"not audio"}])
    page.wait_for_selector("#error:not([hidden])")
    assert "not audio" in page.inner_text("#error-text")

    # Load the bundled example.
    page.click("#load-example")
    page.wait_for_selector("body[data-state='ready'][data-versions='1']")
    original_key = _state(page)["currentKey"]
    assert original_key == hashlib.sha256(example).hexdigest()
    assert page.is_hidden("#error")

    # Drag a rectangle of cells: a preview while dragging, Escape cancels, a second drag selects.
    x0, y0 = _cell_point(page, ROWS[0], COLS[0])
    x1, y1 = _cell_point(page, ROWS[1] - 1, COLS[1] - 1)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=5)
    assert "64 cells will be resampled" in page.inner_text("#selection-info")
    page.mouse.up()
    page.keyboard.press("Escape")
    assert "Drag across the grid" in page.inner_text("#selection-info")
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    selection = page.evaluate("() => window.spectrolabEditor.state.selection")
    assert (selection["row_start"], selection["row_stop"]) == ROWS
    assert (selection["col_start"], selection["col_stop"]) == COLS
    page.screenshot(path=str(SCREENSHOTS / "1_selected.png"))
    grid_before = page.evaluate("() => document.getElementById('spectrogram').toDataURL()")
    draws_before = int(page.get_attribute("#spectrogram", "data-draws"))

    # Resample (R); the grid redraws with the changed cells marked.
    page.keyboard.press("r")
    page.wait_for_selector("body[data-state='ready'][data-versions='2'][data-index='1']")
    edited = page.evaluate("() => window.spectrolabEditor.state.versions[1]")
    assert edited["changedCells"] > 0 and sum(map(sum, edited["changed"])) == edited["changedCells"]
    assert f"({edited['changedCells']} changed)" in page.inner_text("#edit-info")
    assert "Latency" in page.inner_text("#edit-info") and "J (estimated" in page.inner_text("#edit-info")
    assert "3 steps, seed 0" in page.inner_text("#history")  # the history line says how each edit was made
    assert int(page.get_attribute("#spectrogram", "data-draws")) > draws_before
    assert page.evaluate("() => document.getElementById('spectrogram').toDataURL()") != grid_before
    page.screenshot(path=str(SCREENSHOTS / "2_edited.png"))

    # The download equals the current state; the audio changed inside the region only (as far as it can).
    after = _download(page)
    assert hashlib.sha256(after).hexdigest() == edited["key"] == _state(page)["currentKey"]
    _check_change_inside_region(example, after, edited["region"])

    # Undo and redo, with Ctrl and with Cmd.
    page.keyboard.press("Control+z")
    _expect_current(page, original_key)
    assert _download(page) == example
    page.keyboard.press("Meta+Shift+z")
    _expect_current(page, edited["key"])
    page.keyboard.press("Meta+z")
    _expect_current(page, original_key)
    page.keyboard.press("Control+Shift+z")
    _expect_current(page, edited["key"])

    # A reload keeps the history.
    page.reload()
    page.wait_for_selector("body[data-started='true'][data-versions='2'][data-index='1']")
    _expect_current(page, edited["key"])
    assert _download(page) == after
    page.keyboard.press("Control+z")
    _expect_current(page, original_key)
    page.keyboard.press("Control+y")
    _expect_current(page, edited["key"])

    # A/B: the held key and the button switch what is heard and shown; B is level-matched to A.
    page.click("#play")
    page.wait_for_function("() => window.spectrolabEditor.player.playing")
    page.keyboard.down("a")
    assert _state(page)["ab"] == "A" and _state(page)["shownKey"] == original_key
    assert page.evaluate("() => window.spectrolabEditor.player.gains()") == [1, 0]
    page.screenshot(path=str(SCREENSHOTS / "3_holding_a.png"))
    page.keyboard.up("a")
    assert _state(page)["ab"] == "B" and _state(page)["shownKey"] == edited["key"]
    gains = page.evaluate("() => window.spectrolabEditor.player.gains()")
    assert gains[0] == 0 and 0.25 <= gains[1] <= 4
    page.click("#ab-toggle")
    assert _state(page)["ab"] == "A"
    page.click("#ab-toggle")
    assert _state(page)["ab"] == "B"
    page.keyboard.press("Space")
    assert not page.evaluate("() => window.spectrolabEditor.player.playing")
    # The selection, looped: playback stays inside the selection's span.
    page.keyboard.press("l")
    assert page.is_checked("#loop")
    page.keyboard.press("s")
    page.wait_for_function("() => window.spectrolabEditor.player.playing")
    voices = "() => { const v = window.spectrolabEditor.player.voices; return [v.start, v.end, v.loop]; }"
    span = page.evaluate(voices)
    assert span == [pytest.approx(COLS[0] * 0.256), pytest.approx(COLS[1] * 0.256), True]
    page.keyboard.press("Space")
    page.keyboard.press("l")

    # Zoom for long files, and the help overlay.
    width = page.evaluate("() => document.getElementById('spectrogram').clientWidth")
    page.keyboard.press("+")
    assert page.evaluate("() => document.getElementById('spectrogram').clientWidth") > width
    page.keyboard.press("0")
    page.keyboard.press("?")
    assert page.is_visible("#help")
    page.screenshot(path=str(SCREENSHOTS / "4_help.png"))
    page.keyboard.press("Escape")
    assert page.is_hidden("#help")

    # A random note from the folder given at start begins a new history.
    page.click("#load-random")
    page.wait_for_selector("body[data-state='ready'][data-versions='1'][data-index='0']")
    assert "string_acoustic_000-064-100.wav" in page.inner_text("#history")
    assert not errors, errors
    context.close()
    if os.environ.get("SPECTROLAB_UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(SCREENSHOTS / "2_edited.png", Path(__file__).resolve().parent.parent / "docs" / "web_editor.png")
