"""One exception hierarchy. Messages name the file or argument at fault and, where there is one, the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` naming the candidate closest to ``word``, or ``""`` if none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class SpectrolabError(Exception):
    """Base class of every error spectrolab raises on purpose."""


class AudioError(SpectrolabError):
    """An audio file is missing, unreadable, empty or holds invalid samples."""


class ConfigError(SpectrolabError):
    """An argument or configuration value is out of range or inconsistent."""


class ModelError(SpectrolabError):
    """A model name is unknown, or a model directory is missing, incomplete or mismatched."""


class DataError(SpectrolabError):
    """A dataset directory or its metadata is missing or malformed."""


class OutputExistsError(SpectrolabError):
    """An output path exists and overwriting was not asked for (use --force)."""


class EnergyError(SpectrolabError):
    """An energy counter is missing or unreadable, or an energy record is missing or malformed."""


class SpectrolabWarning(UserWarning):
    """Something worth telling the user that does not stop the work (a clipped region, a thin split, ...);
    the command line prints it as one line."""
