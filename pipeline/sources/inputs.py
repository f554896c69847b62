"""Which source of départements and commune points a run uses: embedded, online, or a file.

Free of heavy imports, so that the CLI can describe a run's sources at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pipeline.provenance import Provenance

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd


EMBEDDED: Final = "embedded"
IGN: Final = "ign"


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

    def read_departements(self) -> tuple[gpd.GeoDataFrame, Provenance]:
        """Read the départements from the chosen source, with their provenance."""
        return read_departements(self.boundaries, edition=self.edition,
                                 cache_dir=self.cache_dir, progress=self.progress)

    def geocode(self, sites: pd.DataFrame, *,
                gazetteer: pd.DataFrame | None = None) -> pd.DataFrame:
        """Add the geocoding columns to ``sites`` with the chosen geocoder.

        ``gazetteer`` is the embedded gazetteer when the caller has already read it (read
        here otherwise); the online geocoder does not use it.
        """
        if self.geocoder == "online":
            from pipeline.sources.geoapi import geocode_online

            return geocode_online(sites, cache_dir=self.cache_dir)
        from pipeline.sources.embedded import read_gazetteer
        from pipeline.steps.geocode import geocode_sites

        return geocode_sites(sites, read_gazetteer() if gazetteer is None else gazetteer)


def read_departements(source: str | os.PathLike[str] = EMBEDDED, *, edition: str = "2021",
                      cache_dir: str | os.PathLike[str] | None = None,
                      progress: Callable[[int, int | None], None] | None = None,
                      ) -> tuple[gpd.GeoDataFrame, Provenance]:
    """Return the 101 départements from the embedded data, IGN, or a file, with provenance.

    Parameters
    ----------
    source
        ``"embedded"`` (default, offline): the GeoPackage shipped in the package, derived
        from IGN ADMIN EXPRESS COG 2024 (see ``data/raw/README.md``). ``"ign"``: the
        authoritative IGN ADMIN EXPRESS COG CARTO layer, downloaded once and cached
        (:func:`pipeline.sources.ign.fetch_ign_departements`). Any other value is a path to a
        vector file of either IGN schema (GeoPackage, shapefile, GeoJSON).
    edition
        IGN edition for ``source="ign"`` (``"2021"`` is the vintage of the 2021 annex).
    cache_dir
        Download cache for ``source="ign"``.
    progress
        Called with (bytes done, bytes in all or None) while an IGN archive downloads.

    Returns
    -------
    departements : geopandas.GeoDataFrame
        ``code``, ``nom``, geometry (MultiPolygon, EPSG:4326), sorted by ``code``.
    provenance : Provenance
        Where they came from (attribution line, edition, licence, URL or path).

    Raises
    ------
    BoundaryError
        If the file is missing or unreadable, or its schema is not an IGN one.
    """
    if source == IGN:
        # The online path (HTTP, cache, archives) is imported only when asked, so that the
        # offline path never needs it.
        from pipeline.sources.ign import fetch_ign_departements

        return fetch_ign_departements(edition=edition, cache_dir=cache_dir, progress=progress)
    if source == EMBEDDED:
        from pipeline.sources.embedded import read_embedded_departements

        return read_embedded_departements()
    from pipeline.sources.vectorfile import read_vector
    from pipeline.steps.boundaries import normalize_departements

    path = Path(source)
    departements = normalize_departements(read_vector(path), origin=str(path))
    return departements, Provenance(source=f"fichier {path.name}", edition="", licence="",
                                    url=str(path))
