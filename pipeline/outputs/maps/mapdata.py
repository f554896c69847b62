"""What the map shows, as plain objects: the bridge between the coverage tables and the drawing.

:func:`map_data` turns the coverage GeoDataFrames into a :class:`MapData` of plain Python,
numpy and shapely objects (cheap to pickle), with the map's texts (title, legend with counts,
source line; :mod:`pipeline.outputs.maps.texts` writes them). This module imports neither
matplotlib nor pandas, so a process that draws need not pay for pandas.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from pipeline import config
from pipeline.errors import RenderError
from pipeline.outputs.maps.texts import (
    default_source_line,
    default_title,
    edition_label,
    legend_entries,
)
from pipeline.provenance import Provenance

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

log = logging.getLogger(__name__)

# --- Data helpers -----------------------------------------------------------------------------
def _site_departement(sites: pd.DataFrame) -> pd.Series:
    """Département of each site: the spatial one when the join computed it."""
    if "departement_spatial" in sites.columns:
        spatial = sites["departement_spatial"].astype("string")
        return spatial.fillna(sites["departement"].astype("string")).astype(str)
    return sites["departement"].astype(str)


# --- Map data ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class MapData:
    """Everything :func:`draw_map` needs, as plain Python, numpy and shapely objects.

    Built by :func:`map_data` from the GeoDataFrames; it pickles without pandas, so a process
    that imports only matplotlib, numpy, shapely and pyproj can draw it. Départements are
    sorted by code, sites by id; only the sites of a styled category are kept (those drawn).
    Equality is identity (the fields hold numpy arrays).

    Attributes
    ----------
    departement_codes, departement_noms, departement_statuts
        Code ("01", "2A", "971"), name and ``statut`` of each département.
    departement_geometries
        Object array of shapely (multi)polygons in EPSG:4326, in the order of the codes.
    edition
        Edition of the boundaries, as on the source line (e.g. ``"2024"``).
    site_ids, site_categories, site_etiquettes
        Id, ``categorie`` and label (``""`` for none) of each site drawn.
    site_departements
        Département code of each site (the spatial one when known): it puts the site in the
        overseas inset or the Île-de-France zoom.
    site_lon, site_lat
        WGS84 longitude and latitude of each site (float arrays).
    title, source_line
        Texts of the map, unwrapped (a basemap credit is appended when drawing).
    legend
        ``(key, text)`` pairs, keys of :data:`pipeline.config.CATEGORY_STYLE` or
        :data:`pipeline.config.STATUS_STYLE`.
    """

    departement_codes: tuple[str, ...]
    departement_noms: tuple[str, ...]
    departement_statuts: tuple[str, ...]
    departement_geometries: np.ndarray
    edition: str
    site_ids: tuple[str, ...]
    site_categories: tuple[str, ...]
    site_etiquettes: tuple[str, ...]
    site_departements: tuple[str, ...]
    site_lon: np.ndarray
    site_lat: np.ndarray
    title: str
    legend: tuple[tuple[str, str], ...]
    source_line: str

    def __post_init__(self) -> None:
        n_deps = {len(self.departement_codes), len(self.departement_noms),
                  len(self.departement_statuts), len(self.departement_geometries)}
        n_sites = {len(self.site_ids), len(self.site_categories), len(self.site_etiquettes),
                   len(self.site_departements), len(self.site_lon), len(self.site_lat)}
        if len(n_deps) != 1 or len(n_sites) != 1:
            raise RenderError(
                "MapData fields of different lengths (départements: "
                f"{sorted(n_deps)}, sites: {sorted(n_sites)}); build it with map_data()"
            )
        _check_statuts(self.departement_codes, self.departement_statuts)
        check_legend(self.legend)


def _check_statuts(codes: Sequence[object], statuts: Sequence[object]) -> None:
    """Refuse départements whose ``statut`` has no fill in the styles."""
    unstyled = [(c, v) for c, v in zip(codes, statuts, strict=True)
                if v not in config.STATUS_STYLE]
    if unstyled:
        examples = ", ".join(f"{c} ({v!r})" for c, v in unstyled)
        raise RenderError(
            f"départements with a 'statut' that has no fill in pipeline.config.STATUS_STYLE: "
            f"{examples}; use one of {', '.join(config.STATUS_STYLE)} or add a style for it"
        )


def map_data(sites: gpd.GeoDataFrame, departements: gpd.GeoDataFrame, *,
             provenance: Provenance | None = None, title: str | None = None,
             legend: Sequence[tuple[str, str]] | None = None,
             source_line: str | None = None) -> MapData:
    """Check the coverage tables and turn what the map shows into a :class:`MapData`.

    Parameters
    ----------
    sites, departements
        As for :func:`plot_coverage`.
    provenance
        Where the départements came from, credited on the source line (default: the
        embedded ones).
    title, legend, source_line
        As for :func:`plot_coverage`; None (or an empty title or source line) gives the
        defaults, :func:`default_title`, :func:`legend_entries` and
        :func:`default_source_line`, computed from the sites drawn.

    Returns
    -------
    MapData
        Plain objects, ready for :func:`draw_map` here or in another process.

    Raises
    ------
    RenderError
        If a column is missing, a ``statut`` has no style, a legend key is unknown or a site
        has no point geometry.
    """
    for frame, columns, what in ((sites, ("categorie", "etiquette", "departement", "id"),
                                  "sites"),
                                 (departements, ("code", "nom", "statut"), "départements")):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise RenderError(
                f"the {what} table lacks column(s) {', '.join(missing)}; run the join step "
                "(ecoles-map join) to produce them"
            )
    _check_statuts(departements["code"].astype(str).tolist(),
                   departements["statut"].astype(str).tolist())
    if legend is not None:
        check_legend(legend)

    drawn = sites.loc[sites["categorie"].astype(str).isin(list(config.CATEGORY_STYLE))]
    skipped = len(sites) - len(drawn)
    if skipped:
        log.info("%d site(s) of a category without a style ('autre') are not drawn", skipped)
    drawn = drawn.sort_values("id", kind="stable")
    lonlat = shapely.get_coordinates(np.asarray(drawn.geometry.values, dtype=object))
    if len(lonlat) != len(drawn):
        raise RenderError("every site needs a point geometry; geocode the registry first")
    deps = departements.sort_values("code", kind="stable")

    def strings(values: Any) -> tuple[str, ...]:
        return tuple(str(v) for v in values)

    return MapData(
        departement_codes=strings(deps["code"].astype(str)),
        departement_noms=strings(deps["nom"].astype(str)),
        departement_statuts=strings(deps["statut"].astype(str)),
        departement_geometries=np.asarray(deps.geometry.values, dtype=object),
        edition=edition_label(provenance),
        site_ids=strings(drawn["id"].astype(str)),
        site_categories=strings(drawn["categorie"].astype(str)),
        site_etiquettes=strings(drawn["etiquette"].fillna("").astype(str)),
        site_departements=strings(_site_departement(drawn)),
        site_lon=np.ascontiguousarray(lonlat[:, 0]),
        site_lat=np.ascontiguousarray(lonlat[:, 1]),
        title=title or default_title(drawn),
        legend=tuple((key, text) for key, text in
                     (legend_entries(drawn, departements) if legend is None else legend)),
        source_line=source_line or default_source_line(provenance),
    )


def check_legend(legend: Sequence[tuple[str, str]]) -> None:
    """Refuse legend keys that have no style to draw them with.

    Raises
    ------
    RenderError
        Naming the entry and the known keys.
    """
    known = [*config.CATEGORY_STYLE, *config.STATUS_STYLE]
    for i, entry in enumerate(legend):
        if len(entry) != 2 or entry[0] not in known:
            raise RenderError(
                f"legend entry {i} {entry!r} is not a (key, text) pair with a known key; "
                f"keys are the categories and statuses of pipeline.config.CATEGORY_STYLE and "
                f"STATUS_STYLE: {', '.join(known)}"
            )
