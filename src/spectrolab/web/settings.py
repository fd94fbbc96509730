"""What one editor server is configured with, and how it travels to uvicorn's worker processes (JSON in an
environment variable, since ``--workers N`` imports the app factory afresh in each process)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

ENV_VAR = "SPECTROLAB_WEB_SETTINGS"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class Limits:
    """What the server accepts; the page shows these before anything is uploaded."""

    max_upload_bytes: int = 16 * 2**20
    max_duration_s: float = 30.0
    min_duration_s: float = 0.25

    @property
    def max_body_bytes(self) -> int:
        """The request body limit: one upload plus room for the multipart framing and the form fields."""
        return self.max_upload_bytes + 64 * 2**10


@dataclass(frozen=True)
class WebSettings:
    """One server's settings.

    Attributes:
        upload_dir: private (0700) folder for uploads; every worker of one server shares it.
        allowed_hosts: Host header values accepted (DNS-rebinding defence), loopback names by default.
        examples_dir: folder of notes for "random note" (an NSynth-format dataset or any audio folder).
        limits: upload size and duration limits.
        upload_max_age_s: uploads older than this are deleted.
        cache_entries: encodings kept per worker (LRU by content hash).
        threads: torch threads per worker (0: leave torch's default).
    """

    upload_dir: Path
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    examples_dir: Path | None = None
    limits: Limits = field(default_factory=Limits)
    upload_max_age_s: float = 3600.0
    cache_entries: int = 64
    threads: int = 0

    def to_json(self) -> str:
        data = asdict(self)
        data["upload_dir"] = str(self.upload_dir)
        data["examples_dir"] = None if self.examples_dir is None else str(self.examples_dir)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> WebSettings:
        data = json.loads(text)
        return cls(
            upload_dir=Path(data["upload_dir"]),
            allowed_hosts=tuple(data["allowed_hosts"]),
            examples_dir=None if data["examples_dir"] is None else Path(data["examples_dir"]),
            limits=Limits(**data["limits"]),
            upload_max_age_s=float(data["upload_max_age_s"]),
            cache_entries=int(data["cache_entries"]),
            threads=int(data["threads"]),
        )

    @classmethod
    def from_env(cls) -> WebSettings:
        text = os.environ.get(ENV_VAR)
        if not text:
            raise RuntimeError(f"{ENV_VAR} is not set; start the editor with `spectrolab serve`")
        return cls.from_json(text)
