"""Load on the web editor: concurrent clients making Naive Bayes edits of a 4 s note over loopback.

Starts ``spectrolab serve --workers W`` on 127.0.0.1, then runs ``--clients`` asyncio clients (httpx2) for
``--duration`` seconds. Each client sends the bundled 4 s example note with a random rectangle of cells and a
random seed, waits for the edited WAV, pauses ``--think`` seconds (a person listening before the next edit;
0 for a closed loop) and goes again. Prints the round-trip p50/p90/p99, the errors (any non-200 reply or
failed request) and throughput, against the goal (0 errors, p50 <= 60 ms, p99 <= 250 ms).

Peer measured in the same run: the same edit called in-process (``spectrolab.web.service.perform_edit``, one
thread, no HTTP), so the ratio shows what the server, queueing and transfer add.

    PYTHONPATH=src python benchmarks/bench_web_load.py [--clients 8] [--duration 60] [--workers 2] [--think 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import numpy as np

GOAL_P50_MS, GOAL_P99_MS = 60.0, 250.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def direct_edit_ms(note: Path, runs: int) -> float:
    """Median ms of the same edit called in-process on one thread (the peer)."""
    import torch

    from spectrolab.edit import BlurOptions, CellRegion
    from spectrolab.web.service import Models, perform_edit

    torch.set_num_threads(1)
    models = Models.load()
    rng = random.Random(1)
    times = []
    for i in range(runs + 2):
        cells = _cells(rng)
        started = time.perf_counter()
        perform_edit(note, models=models, prior="nb", cells=CellRegion(**cells), options=BlurOptions(seed=i))
        if i >= 2:
            times.append(1e3 * (time.perf_counter() - started))
    return statistics.median(times)


def _cells(rng: random.Random) -> dict[str, int]:
    """A random rectangle of 2-8 rows by 1-4 time cells on the 32 x 16 grid of a 4 s note."""
    rows, cols = rng.randint(2, 8), rng.randint(1, 4)
    row, col = rng.randint(0, 32 - rows), rng.randint(0, 16 - cols)
    return {"row_start": row, "row_stop": row + rows, "col_start": col, "col_stop": col + cols}


async def _client(client: httpx.AsyncClient, url: str, note: bytes, *, until: float, think: float, seed: int):
    rng = random.Random(seed)
    latencies: list[float] = []
    server_edit: list[float] = []
    errors: list[str] = []
    while time.monotonic() < until:
        data = {**_cells(rng), "prior": "nb", "seed": rng.randrange(2**31)}
        started = time.perf_counter()
        try:
            reply = await client.post(f"{url}/api/edit", files={"audio": ("note.wav", note)}, data=data)
            elapsed = 1e3 * (time.perf_counter() - started)
            if reply.status_code == 200:
                latencies.append(elapsed)
                server_edit.append(reply.json()["latency_ms"]["edit"])
            else:
                errors.append(f"HTTP {reply.status_code}: {reply.text[:120]}")
        except httpx.HTTPError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        if think > 0:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))
    return latencies, server_edit, errors


async def run_load(url: str, note: bytes, *, clients: int, duration: float, think: float):
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        for _ in range(4):  # warm-up: both workers, first-call allocations
            await client.post(f"{url}/api/edit", files={"audio": ("n.wav", note)}, data=_cells(random.Random(0)))
        until = time.monotonic() + duration
        started = time.monotonic()
        results = await asyncio.gather(
            *(_client(client, url, note, until=until, think=think, seed=i) for i in range(clients))
        )
        wall = time.monotonic() - started
    latencies = [x for r in results for x in r[0]]
    server_edit = [x for r in results for x in r[1]]
    errors = [x for r in results for x in r[2]]
    return latencies, server_edit, errors, wall


def _wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"spectrolab serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/api/config", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.5)
    raise SystemExit("spectrolab serve did not start in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between a client's edits (s)")
    parser.add_argument("--direct-runs", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from spectrolab.web.examples import BUNDLED_EXAMPLE

    note = BUNDLED_EXAMPLE.read_bytes()
    direct = direct_edit_ms(BUNDLED_EXAMPLE, args.direct_runs)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "spectrolab", "serve", "--no-browser", "--port", str(port)]
    load_before = os.getloadavg()[0]
    process = subprocess.Popen([*command, "--workers", str(args.workers)], env=env)
    try:
        _wait_until_up(url, process)
        latencies, server_edit, errors, wall = asyncio.run(
            run_load(url, note, clients=args.clients, duration=args.duration, think=args.think)
        )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    load_after = os.getloadavg()[0]
    if not latencies:
        print(f"no edit succeeded; errors: {errors[:5]}")
        return 1
    p50, p90, p99 = (float(np.percentile(latencies, q)) for q in (50, 90, 99))
    figures = {
        "clients": args.clients,
        "workers": args.workers,
        "think_s": args.think,
        "duration_s": round(wall, 1),
        "edits": len(latencies),
        "errors": len(errors),
        "edits_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(p50, 1),
        "p90_ms": round(p90, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(max(latencies), 1),
        "server_edit_p50_ms": round(statistics.median(server_edit), 1),
        "direct_edit_median_ms": round(direct, 1),
        "cpus": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(load_after, 2),
    }
    print(
        f"{args.clients} clients x {wall:.0f} s, {args.workers} workers, think {args.think:g} s, "
        f"{os.cpu_count()} CPUs, 1-minute load average {load_before:.1f} before / {load_after:.1f} after"
    )
    print(f"edits {len(latencies)} ({len(latencies) / wall:.1f}/s), errors {len(errors)}")
    print(f"round trip ms: p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max {max(latencies):.1f}")
    print(f"server-side edit p50 {statistics.median(server_edit):.1f} ms")
    print(f"peer: in-process edit, 1 thread, median {direct:.1f} ms; HTTP p50 / in-process = {p50 / direct:.2f}x")
    ok = not errors and p50 <= GOAL_P50_MS and p99 <= GOAL_P99_MS
    print(f"goal (0 errors, p50 <= {GOAL_P50_MS:g} ms, p99 <= {GOAL_P99_MS:g} ms): {'met' if ok else 'not met'}")
    for error in sorted(set(errors))[:5]:
        print(f"  error: {error}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
