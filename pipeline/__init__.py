"""Geospatial pipeline behind the map of France's écoles de production."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ecoles-map")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
