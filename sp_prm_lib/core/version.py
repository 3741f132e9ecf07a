"""The library version, recorded in every cache entry."""

__version__ = "0.1.0"
