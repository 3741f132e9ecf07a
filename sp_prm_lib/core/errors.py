"""Exceptions with one-line messages that name what is wrong and where."""


class SpPrmError(Exception):
    """Base class of the library's own errors."""


class ConfigError(SpPrmError, ValueError):
    """A profile or setting is missing, unknown or out of range."""


class DataError(SpPrmError, ValueError):
    """A data file is missing, corrupt or has a malformed row or field."""


class ModelError(SpPrmError, RuntimeError):
    """A model cannot be provisioned, converted, verified or loaded."""


class ArtifactError(SpPrmError, RuntimeError):
    """A cache entry is incomplete, corrupt or cannot be written."""
