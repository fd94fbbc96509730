"""One exception hierarchy. Messages name the file or argument at fault and, where there is one, the fix."""


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
