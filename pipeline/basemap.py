"""A basemap ready to draw: the one value the sources hand to the drawing code."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Basemap:
    """A basemap ready to draw.

    Attributes
    ----------
    source
        An xyzservices tile provider (a mapping with ``url``), or the path of a raster.
    cache_dir
        Where the tiles are cached (None for a local raster).
    credit
        What the source line says of it.
    tiles
        Whether ``source`` is a tile provider (fetched over the network).
    """

    source: Any
    cache_dir: Path | None
    credit: str
    tiles: bool
