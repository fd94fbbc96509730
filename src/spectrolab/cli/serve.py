"""``spectrolab serve``: the web editor on loopback, with the bundled models loaded once per worker."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import threading
import time
import webbrowser
from pathlib import Path

from spectrolab.errors import ConfigError


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {port}")
    return port


def exposure_warning(host: str) -> str | None:
    """The warning printed when ``--host`` makes the editor reachable from other machines."""
    from spectrolab.web.security import is_loopback

    if is_loopback(host):
        return None
    return (
        f"warning: --host {host} makes the editor reachable from other machines; it has no login. Prefer the "
        "default 127.0.0.1 (or a reverse proxy with authentication in front of it)"
    )


def _open_when_up(host: str, port: int, url: str, *, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                webbrowser.open(url)
                return
        except OSError:
            time.sleep(0.25)


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from spectrolab.web.examples import ExampleFolder
    from spectrolab.web.security import allowed_hosts, host_header_name
    from spectrolab.web.settings import ENV_VAR, WebSettings
    from spectrolab.web.uploads import make_private_dir

    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    examples = None
    if args.examples is not None:
        examples = args.examples.resolve()
        print(f"random notes from {examples} ({ExampleFolder(examples).check()} files)")
    warning = exposure_warning(args.host)
    if warning:
        print(warning, file=sys.stderr)
    upload_dir = make_private_dir()
    settings = WebSettings(
        upload_dir=upload_dir,
        allowed_hosts=allowed_hosts(args.host, args.allow_host),
        examples_dir=examples,
        threads=max(1, (os.cpu_count() or 1) // args.workers),
    )
    os.environ[ENV_VAR] = settings.to_json()
    local = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    url = f"http://{host_header_name(local)}:{args.port}/"
    print(f"spectrolab editor at {url} ({args.workers} worker(s)); Ctrl+C stops it", flush=True)
    if not args.no_browser:
        threading.Thread(target=_open_when_up, args=(local, args.port, url), daemon=True).start()
    try:
        uvicorn.run(
            "spectrolab.web.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
        )
    finally:
        shutil.rmtree(upload_dir, ignore_errors=True)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="the web editor: select cells of a sound's code grid and resample them")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    p.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    p.add_argument("--no-browser", action="store_true", help="do not open the page in a browser")
    p.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes, each with its own models (default: 1)"
    )
    p.add_argument(
        "--examples", type=Path, metavar="DIR", help="folder of notes (e.g. an NSynth-format dataset) for 'random note'"
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept this Host header (a reverse proxy's name); repeatable",
    )
    p.set_defaults(run=_run)
