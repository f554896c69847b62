"""Where the départements and the commune points come from: embedded data or online services.

Kept apart from :mod:`pipeline.workflow` and free of heavy imports, so that the CLI can
describe a run's sources before the build forks (see :mod:`pipeline.build`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd


@dataclass(frozen=True)
class Sources:
    """Where the boundaries and the commune points come from.

    The defaults are the data embedded in the package, which need no network. The CLI's
    ``--boundaries``, ``--edition``, ``--geocoder`` and ``--cache-dir`` fill this in.

    Parameters
    ----------
    boundaries
        ``"embedded"``, ``"ign"`` (IGN ADMIN EXPRESS COG CARTO, downloaded and cached) or the
        path of a file of départements in either IGN schema.
    edition
        IGN edition for ``boundaries="ign"`` (``"2021"`` … ``"2025"``, ``"latest"``).
    geocoder
        ``"embedded"`` (the gazetteer in the package) or ``"online"`` (geo.api.gouv.fr).
    cache_dir
        Cache of the online sources (default: the user cache folder).
    progress
        Download progress callback, (bytes done, bytes in all or None).
    """

    boundaries: str | os.PathLike[str] = "embedded"
    edition: str = "2021"
    geocoder: str = "embedded"
    cache_dir: str | os.PathLike[str] | None = None
    progress: Callable[[int, int | None], None] | None = None

    def read_departements(self) -> gpd.GeoDataFrame:
        """Read the départements from the chosen source."""
        from pipeline.boundaries import read_departements

        return read_departements(self.boundaries, edition=self.edition,
                                 cache_dir=self.cache_dir, progress=self.progress)

    def geocode(self, sites: pd.DataFrame) -> pd.DataFrame:
        """Add the geocoding columns to ``sites`` with the chosen geocoder."""
        if self.geocoder == "online":
            from pipeline.online import geocode_online

            return geocode_online(sites, cache_dir=self.cache_dir)
        from pipeline.geocode import geocode_sites, read_gazetteer

        return geocode_sites(sites, read_gazetteer())
