"""The editor's JSON API: every bad input gets a 4xx in plain words (never a 5xx), uploads never reach a
path the client names, foreign Hosts and Origins are refused, and a slow edit never blocks the page."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx
import numpy as np
import pytest
import soundfile as sf
import torch
from fastapi.testclient import TestClient

import spectrolab.web
from spectrolab.cli.main import main
from spectrolab.cli.serve import exposure_warning
from spectrolab.sampling import DEFAULT_GUIDANCE, DEFAULT_STEPS, DEFAULT_TEMPERATURES
from spectrolab.web import Limits, WebSettings, create_app
from spectrolab.web.cache import LRUCache
from spectrolab.web.examples import BUNDLED_EXAMPLE
from spectrolab.web.security import allowed_hosts, is_loopback
from spectrolab.web.service import Models
from spectrolab.web.uploads import UploadStore

BASE = "http://127.0.0.1:8000"
CELLS = {"row_start": 4, "row_stop": 12, "col_start": 3, "col_stop": 6}
LIMITS = Limits(max_upload_bytes=400_000, max_duration_s=6.0, min_duration_s=0.25)


def _wav(audio: np.ndarray, rate: int = 16000, subtype: str = "PCM_16", format: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=format, subtype=subtype)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def models() -> Models:
    torch.set_num_threads(1)
    return Models.load()


@pytest.fixture(scope="module")
def example() -> bytes:
    return BUNDLED_EXAMPLE.read_bytes()


@pytest.fixture()
def settings(tmp_path) -> WebSettings:
    return WebSettings(upload_dir=tmp_path / "uploads", limits=LIMITS, cache_entries=4)


@pytest.fixture()
def client(settings, models):
    with TestClient(create_app(settings, models=models), base_url=BASE) as c:
        yield c


def _edit(client, audio: bytes, name: str = "note.wav", **fields):
    return client.post("/api/edit", files={"audio": (name, audio)}, data={**CELLS, **fields})


def _assert_refused(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail and "Traceback" not in detail
    for word in words:
        assert word in detail, detail


def test_config_openapi_and_page(client):
    config = client.get("/api/config").json()
    assert config["max_upload_bytes"] == LIMITS.max_upload_bytes and config["priors"] == ["nb", "transformer"]
    assert config["examples_folder"] is False and config["energy"] is True
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/config", "/api/analyse", "/api/edit", "/api/example", "/api/examples/random"} <= set(paths)
    page = client.get("/")
    assert page.status_code == 200 and "spectrolab editor" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/js/main.js").status_code == 200
    assert client.get("/docs").status_code == 404  # Swagger UI would load scripts from a CDN


def test_analyse_and_edit(client, example):
    analysis = client.post("/api/analyse", files={"audio": ("x.wav", example)}).json()
    assert analysis["key"] == hashlib.sha256(example).hexdigest()
    assert analysis["duration"] == 4.0 and analysis["grid"]["rows"] == 32 and analysis["grid"]["cols"] == 16
    again = client.post("/api/analyse", files={"audio": ("x.wav", example)}).json()
    assert again == analysis and len(client.app.state.service.encodings) == 1

    reply = _edit(client, example, temperature=1.5, seed=3, steps=4).json()
    wav = base64.b64decode(reply["audio_wav_base64"])
    assert hashlib.sha256(wav).hexdigest() == reply["key"]
    audio, rate = sf.read(io.BytesIO(wav), always_2d=True)
    assert rate == reply["sample_rate"] == 16000 and audio.shape == (64000, 1) and reply["channels"] == 1
    changed = np.array(reply["changed"])
    assert changed.sum() == reply["changed_cells"] > 0
    inside = np.zeros_like(changed)
    inside[4:12, 3:6] = True
    assert not changed[~inside].any()
    assert reply["cells"] == CELLS and reply["energy"]["joules"] > 0 and "estimated" in reply["energy"]["method"]
    assert {"queue", "load", "edit", "total"} <= set(reply["latency_ms"])
    assert reply["region"]["start_s"] == pytest.approx(3 * 0.256)
    # The same seed gives the same edit; a transformer edit with targets works too.
    assert _edit(client, example, temperature=1.5, seed=3, steps=4).json()["key"] == reply["key"]
    target = _edit(client, example, prior="transformer", pitch=64, family="string", steps=2)
    assert target.status_code == 200, target.text
    guided = _edit(client, example, prior="transformer", pitch=64, family="string", steps=2, guidance=0)
    assert guided.status_code == 200, guided.text
    assert guided.json()["key"] != target.json()["key"]  # the guidance reaches the prior
    free = _edit(client, example, temperature=1.5, seed=3, steps=4, match_level="false")
    assert free.status_code == 200 and free.json()["key"] != reply["key"]  # the level matching reaches the paste
    _assert_refused(_edit(client, example, match_level="maybe"), 422, "match_level")


def test_oversized_uploads_get_413(client, settings):
    big = _wav(np.zeros(300_000, dtype=np.float32), subtype="PCM_16")  # 600 kB > 400 kB
    _assert_refused(_edit(client, big), 413, "limit")
    _assert_refused(client.post("/api/analyse", files={"audio": ("x.wav", big)}), 413, "limit")

    def chunks():  # no Content-Length: the limit counts the bytes as they arrive
        for _ in range(100):
            yield b"x" * 10_000

    streamed = client.post(
        "/api/analyse", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert streamed.status_code == 413
    assert not any(settings.upload_dir.iterdir())


BAD_AUDIO = {
    "text": (b"hello, this is not audio\n" * 20, 415, "not audio"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(200), 415, "not audio"),
    "corrupt wav header": (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + bytes(40), 415, "not audio"),
    "empty file": (b"", 422, "empty"),
    "zero-length wav": (_wav(np.zeros(0, dtype=np.float32)), 422, "no samples"),
    "too short": (_wav(np.zeros(800, dtype=np.float32)), 422, "at least"),
    "too long": (_wav(np.zeros(8 * 8000, dtype=np.float32), rate=8000), 422, "limit is 6 s"),
    "nan samples": (_wav(np.full(16000, np.nan, dtype=np.float32), subtype="FLOAT"), 422, "NaN"),
}


@pytest.mark.parametrize("case", BAD_AUDIO)
def test_bad_audio_is_refused_plainly(client, case):
    data, status, words = BAD_AUDIO[case]
    _assert_refused(_edit(client, data), status, words)
    _assert_refused(client.post("/api/analyse", files={"audio": ("a.wav", data)}), status, words)


def test_audio_is_recognised_by_content_not_name(client, example):
    flac = _wav(sf.read(io.BytesIO(example), dtype="float32")[0], format="FLAC")
    for name in ("notes.txt", "image.png", "no_extension"):
        assert client.post("/api/analyse", files={"audio": (name, flac, "image/png")}).status_code == 200
    _assert_refused(client.post("/api/analyse", files={"audio": ("real.wav", b"GIF89a" + bytes(100))}), 415)


BAD_FIELDS = {
    "rows beyond the grid": {"row_stop": 40},
    "columns beyond the sound": {"col_start": 15, "col_stop": 30},
    "inverted region": {"row_start": 9, "row_stop": 3},
    "negative cell": {"col_start": -1},
    "huge cell index": {"row_stop": 10**12},
    "missing level": {"level": 3},
    "nan temperature": {"temperature": "nan"},
    "infinite temperature": {"temperature": "inf"},
    "huge temperature": {"temperature": "1e308"},
    "zero temperature": {"temperature": "0"},
    "text temperature": {"temperature": "warm"},
    "huge steps": {"steps": 10**9},
    "zero steps": {"steps": 0},
    "negative seed": {"seed": -1},
    "huge seed": {"seed": 2**70},
    "pitch out of range": {"pitch": 300},
    "fractional pitch": {"pitch": "60.5"},
    "unknown family": {"family": "kazoo"},
    "negative guidance": {"guidance": "-1"},
    "nan guidance": {"guidance": "nan"},
    "huge guidance": {"guidance": "1e9"},
    "unknown prior": {"prior": "../../priors/evil"},
    "unknown field": {"path": "/etc/passwd"},
}


@pytest.mark.parametrize("case", BAD_FIELDS)
def test_bad_parameters_get_422(client, example, case):
    _assert_refused(_edit(client, example, **BAD_FIELDS[case]), 422)


def test_missing_or_misshapen_upload(client):
    _assert_refused(client.post("/api/edit", data=CELLS), 422, "no file was sent")
    _assert_refused(client.post("/api/edit", data={**CELLS, "audio": "not a file"}), 422)
    assert client.post("/api/edit", json={"audio": "x", **CELLS}).status_code == 422
    assert (
        client.post("/api/edit", content=b"--x\r\n", headers={"content-type": "multipart/form-data"}).status_code < 500
    )


TRAVERSAL_NAMES = ["../../../../etc/passwd", "..\\..\\win.ini", "/tmp/evil.wav", "a/../../b.wav", "\x00.wav"]


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
def test_client_file_names_never_reach_a_path(client, settings, example, name, tmp_path):
    response = client.post("/api/analyse", files={"audio": (name, example)})
    assert response.status_code == 200
    stored = [p.name for p in settings.upload_dir.iterdir()]
    assert stored == [f"{hashlib.sha256(example).hexdigest()}.audio"]
    assert not (tmp_path / "evil.wav").exists() and not Path("/tmp/evil.wav").exists()


def test_foreign_host_and_origin_are_refused(client, example):
    assert client.get("/api/config", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"host": "attacker.test:8000"}).status_code == 400
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"}, {"sec-fetch-site": "cross-site"}):
        response = client.post("/api/edit", files={"audio": ("x.wav", example)}, data=CELLS, headers=headers)
        _assert_refused(response, 403, "another site")
    # A different port on the same host is another origin too.
    other_port = client.post(
        "/api/analyse", files={"audio": ("x.wav", example)}, headers={"origin": "http://127.0.0.1:9999"}
    )
    assert other_port.status_code == 403
    same = client.post("/api/analyse", files={"audio": ("x.wav", example)}, headers={"origin": BASE})
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers
    preflight = client.options(
        "/api/edit", headers={"origin": "http://evil.example", "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_random_notes_from_a_folder(tmp_path, models, example):
    folder = tmp_path / "notes" / "nsynth-test" / "audio"
    folder.mkdir(parents=True)
    (folder / "string_acoustic_012-064-100.wav").write_bytes(example)
    (folder / "readme.txt").write_text("not a note")
    settings = WebSettings(upload_dir=tmp_path / "up", examples_dir=tmp_path / "notes")
    with TestClient(create_app(settings, models=models), base_url=BASE) as c:
        reply = c.get("/api/examples/random")
        assert reply.status_code == 200 and reply.content == example
        assert reply.headers["x-example-name"] == "string_acoustic_012-064-100"
        assert c.get("/api/config").json()["examples_folder"] is True
    with TestClient(create_app(WebSettings(upload_dir=tmp_path / "up2"), models=models), base_url=BASE) as c:
        _assert_refused(c.get("/api/examples/random"), 404, "--examples")
        assert c.get("/api/example").content == example


def test_uploads_are_swept_by_age_and_encodings_bounded(tmp_path):
    store = UploadStore(tmp_path / "u", max_age_s=60)
    _, old = store.put(b"old")
    _, new = store.put(b"new")
    os.utime(old, (time.time() - 120, time.time() - 120))
    assert store.sweep(force=True) == 1 and not old.exists() and new.exists()
    assert oct((tmp_path / "u").stat().st_mode & 0o777) == "0o700"
    cache: LRUCache[int] = LRUCache(2)
    for i, key in enumerate("abc"):
        cache.put(key, i)
    assert len(cache) == 2 and cache.get("a") is None and cache.get("c") == 2


def test_exposure_helpers():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.7") and not is_loopback("example.org")
    assert exposure_warning("127.0.0.1") is None and "reachable from other machines" in exposure_warning("0.0.0.0")
    assert allowed_hosts("0.0.0.0", ["editor.example"]) == ("127.0.0.1", "localhost", "[::1]", "editor.example")
    assert "[::1]" in allowed_hosts("::1")
    assert main(["serve", "--workers", "0", "--no-browser"]) == 2


class _SlowPrior:
    """The Naive Bayes prior, taking an extra second per edit."""

    def __init__(self, prior) -> None:
        self._prior = prior

    def __getattr__(self, name):
        return getattr(self._prior, name)

    def sample(self, *args, **kwargs):
        time.sleep(1.0)
        return self._prior.sample(*args, **kwargs)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_slow_edits_do_not_block_the_page_and_run_one_at_a_time(tmp_path, models, example):
    import uvicorn

    slow = Models(codec=models.codec, priors={"nb": _SlowPrior(models.priors["nb"])})
    app = create_app(WebSettings(upload_dir=tmp_path / "u"), models=slow)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    replies: list[httpx.Response] = []

    def post() -> None:
        with httpx.Client(timeout=60) as c:
            replies.append(c.post(f"{url}/api/edit", files={"audio": ("x.wav", example)}, data=CELLS))

    try:
        edits = [threading.Thread(target=post) for _ in range(2)]
        for t in edits:
            t.start()
        time.sleep(0.3)
        with httpx.Client(timeout=60) as c:
            started = time.perf_counter()
            for path in ("/", "/static/js/main.js", "/static/editor.css", "/api/config"):
                assert c.get(f"{url}{path}").status_code == 200
            assert time.perf_counter() - started < 0.9, "static files waited for an edit"
        for t in edits:
            t.join()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert [r.status_code for r in replies] == [200, 200]
    assert len({r.json()["key"] for r in replies}) == 1  # same seed, same edit, also under concurrency
    assert max(r.json()["latency_ms"]["queue"] for r in replies) > 500  # the second waited for the first


def test_serve_command_with_two_workers(tmp_path):
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "spectrolab", "serve", "--no-browser", "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "spectrolab serve did not start"
            try:
                if httpx.get(f"{url}/api/config", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        with httpx.Client(timeout=120) as c:
            example = BUNDLED_EXAMPLE.read_bytes()
            replies = [c.post(f"{url}/api/edit", files={"audio": ("x.wav", example)}, data=CELLS) for _ in range(3)]
            assert len({r.json()["key"] for r in replies}) == 1
            assert c.get(f"{url}/", headers={"host": "evil.example"}).status_code == 400
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    assert "spectrolab editor at http://127.0.0.1:" in output


def test_the_page_starts_from_the_library_defaults():
    """The editor's inputs start at the sampling defaults BlurOptions, the CLI and the API share (the page opens
    on Naive Bayes, with its temperature)."""
    page = (Path(spectrolab.web.__file__).parent / "static" / "index.html").read_text()
    assert re.search(r'<select id="prior"', page) and DEFAULT_TEMPERATURES["nb"] != DEFAULT_TEMPERATURES["transformer"]
    defaults = (("temperature", DEFAULT_TEMPERATURES["nb"]), ("steps", DEFAULT_STEPS), ("guidance", DEFAULT_GUIDANCE))
    for name, value in defaults:
        assert re.search(rf'id="{name}" type="number" value="{value:g}"', page), name
