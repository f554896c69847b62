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
from pipeline.french import join_french
from pipeline.outputs.maps.texts import (
    MapTexts,
    annex_label,
    default_source_line,
    default_subtitle,
    default_title,
    edition_label,
    legend_entries,
    place_name,
    short_texts,
    site_label,
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


# --- The list of projects (second page of the PDF) -------------------------------------------
@dataclass(frozen=True)
class ProjectRow:
    """One project of the AMI, as the press kit lists them.

    Attributes
    ----------
    region
        Région of its département (``"Hauts-de-France"``).
    departement
        Département code.
    place
        Commune, arrondissement left out.
    name
        The school or the project (the registry's ``nom``).
    trade
        Trades, in French prose ("usinage et chaudronnerie").
    support
        Kind of support: ``"ingenierie"`` or ``"investissement"``.
    existing
        Whether the school existed on 23 November 2021.
    """

    region: str
    departement: str
    place: str
    name: str
    trade: str
    support: str
    existing: bool


def _sort_key(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def project_rows(sites: pd.DataFrame) -> tuple[ProjectRow, ...]:
    """Return the AMI laureates of ``sites`` as :class:`ProjectRow`, by région then place.

    Parameters
    ----------
    sites
        Annex sites with ``categorie``, ``departement``, ``commune``, ``nom`` and ``metier``
        (and ``existante_2021``, ``departement_spatial`` when known).

    Returns
    -------
    tuple of ProjectRow
        Empty when no site is a laureate or a column is missing.
    """
    needed = ("categorie", "departement", "commune", "nom")
    if any(c not in sites.columns for c in needed):
        return ()
    laureates = sites.loc[sites["categorie"].astype(str).isin(["ingenierie",
                                                                "investissement"])]
    deps = _site_departement(laureates).tolist()
    rows = []
    for (_, site), dep in zip(laureates.iterrows(), deps, strict=True):
        metier = site.get("metier")
        trades = [t.strip() for t in metier.split(";")] if isinstance(metier, str) else []
        existing = site.get("existante_2021", False)
        existing = bool(existing) if isinstance(existing, (bool, np.bool_)) else False
        rows.append(ProjectRow(
            region=config.REGION_OF_DEPARTEMENT.get(dep, ""), departement=dep,
            place=place_name(str(site["commune"])), name=" ".join(str(site["nom"]).split()),
            trade=join_french([t for t in trades if t]), support=str(site["categorie"]),
            existing=existing))
    rows.sort(key=lambda r: (_sort_key(r.region), _sort_key(r.place), _sort_key(r.name)))
    return tuple(rows)


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
    subtitle
        Line under the title (may be empty).
    short
        The texts of the small formats (social card, square), or None to use the full ones.
    site_communes
        Commune of each site as the registry names it ("Lyon 9e Arrondissement"): it names
        the zooms; may be empty.
    projects
        The AMI laureates, for the list printed beside the map (PDF); may be empty.
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
    subtitle: str = ""
    short: MapTexts | None = None
    site_communes: tuple[str, ...] = ()
    projects: tuple[ProjectRow, ...] = ()

    def texts(self, short: bool = False) -> MapTexts:
        """Return the map's texts: the full ones, or those of the small formats.

        Parameters
        ----------
        short
            The small formats' texts (the full ones when there are none).

        Returns
        -------
        MapTexts
            Title, subtitle, legend, source line.
        """
        if short and self.short is not None:
            return self.short
        return MapTexts(self.title, self.subtitle, self.legend, self.source_line)

    def __post_init__(self) -> None:
        n_deps = {len(self.departement_codes), len(self.departement_noms),
                  len(self.departement_statuts), len(self.departement_geometries)}
        n_sites = {len(self.site_ids), len(self.site_categories), len(self.site_etiquettes),
                   len(self.site_departements), len(self.site_lon), len(self.site_lat)}
        if self.site_communes and len(self.site_communes) != len(self.site_ids):
            n_sites.add(len(self.site_communes))
        if len(n_deps) != 1 or len(n_sites) != 1:
            raise RenderError(
                "erreur interne : champs de MapData de longueurs différentes (départements : "
                f"{sorted(n_deps)}, sites : {sorted(n_sites)}) ; construisez-le avec map_data()"
            )
        _check_statuts(self.departement_codes, self.departement_statuts)
        check_legend(self.legend)
        if self.short is not None:
            check_legend(self.short.legend)


def _check_statuts(codes: Sequence[object], statuts: Sequence[object]) -> None:
    """Refuse départements whose ``statut`` has no fill in the styles."""
    unstyled = [(c, v) for c, v in zip(codes, statuts, strict=True)
                if v not in config.STATUS_STYLE]
    if unstyled:
        examples = ", ".join(f"{c} ({v!r})" for c, v in unstyled)
        raise RenderError(
            f"départements dont le 'statut' n'a pas de remplissage dans "
            f"pipeline.config.STATUS_STYLE : {examples} ; utilisez l'un de "
            f"{', '.join(config.STATUS_STYLE)} ou ajoutez-lui un style"
        )


def map_data(sites: gpd.GeoDataFrame, departements: gpd.GeoDataFrame, *,
             provenance: Provenance | None = None, title: str | None = None,
             legend: Sequence[tuple[str, str]] | None = None,
             source_line: str | None = None, subtitle: str | None = None,
             short: MapTexts | None = None, verbatim_labels: bool = False) -> MapData:
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
    subtitle
        Line under the title; None gives :func:`default_subtitle` when the legend is the
        annex's (``legend`` None), else none.
    short
        Texts of the small formats; None gives :func:`short_texts` when the legend is the
        annex's, else the full texts.
    verbatim_labels
        Print the labels exactly as the 2021 annex did (``libelle_annexe`` and the trades:
        "Châteaubriand Bois", "EPB Usinage"). By default a label names its place in the
        commune's spelling ("Châteaubriant Bois", "Besançon – EPB Usinage"; see
        :func:`pipeline.outputs.maps.texts.site_label`).

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
                f"la table des {what} n'a pas la/les colonne(s) {', '.join(missing)} ; lancez "
                "l'étape join (ecoles-map join) pour les produire"
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
        raise RenderError("chaque site doit avoir un point : géocodez d'abord le registre")
    deps = departements.sort_values("code", kind="stable")

    def strings(values: Any) -> tuple[str, ...]:
        return tuple(str(v) for v in values)

    etiquettes = strings(drawn["etiquette"].fillna("").astype(str))
    communes = strings(drawn["commune"].astype(str)) if "commune" in drawn.columns else ()
    places = tuple(place_name(c) for c in communes)
    if verbatim_labels and {"libelle_annexe", "commune", "metier"} <= set(drawn.columns):
        etiquettes = tuple(
            annex_label(lib, com, met) if label else ""
            for lib, com, met, label in zip(drawn["libelle_annexe"], drawn["commune"],
                                            drawn["metier"], etiquettes, strict=True))
    elif not verbatim_labels and places:
        etiquettes = tuple(site_label(label, place) if label else ""
                           for label, place in zip(etiquettes, places, strict=True))
    annex = legend is None

    return MapData(
        departement_codes=strings(deps["code"].astype(str)),
        departement_noms=strings(deps["nom"].astype(str)),
        departement_statuts=strings(deps["statut"].astype(str)),
        departement_geometries=np.asarray(deps.geometry.values, dtype=object),
        edition=edition_label(provenance),
        site_ids=strings(drawn["id"].astype(str)),
        site_categories=strings(drawn["categorie"].astype(str)),
        site_etiquettes=etiquettes,
        site_departements=strings(_site_departement(drawn)),
        site_lon=np.ascontiguousarray(lonlat[:, 0]),
        site_lat=np.ascontiguousarray(lonlat[:, 1]),
        title=title or default_title(drawn),
        legend=tuple((key, text) for key, text in
                     (legend_entries(drawn, departements) if legend is None else legend)),
        source_line=source_line or default_source_line(provenance),
        subtitle=(default_subtitle() if annex else "") if subtitle is None else subtitle,
        short=(short_texts(drawn, departements, provenance) if short is None and annex
               else short),
        site_communes=communes,
        projects=project_rows(drawn) if annex else (),
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
                f"l'entrée de légende {i} {entry!r} n'est pas une paire (clé, texte) de clé "
                f"connue ; clés : les catégories et statuts de pipeline.config.CATEGORY_STYLE "
                f"et STATUS_STYLE : {', '.join(known)}"
            )
