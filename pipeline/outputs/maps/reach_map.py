"""The reach map: départements filled by the share of young people within reach, sites on top.

:func:`reach_map_of` makes it from a snapshot's départements and the sites that reach. It
reads the départements' reach columns only (``part_jeunes_{T}km``, ``jeunes_{T}km``,
``jeunes_0_19``, ``methode_distance``, ``facteur_detour``), so a snapshot just measured and a
GeoPackage read back give the same map. The classes and the one site symbol are styles
(:data:`pipeline.config.REACH_CLASSES`), never values stored in a file.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline import config
from pipeline.outputs.maps.mapdata import MapData, map_data
from pipeline.outputs.maps.texts import reach_alt_text, reach_map_texts
from pipeline.provenance import Provenance
from pipeline.steps.reach_options import STRAIGHT_LINE, ReachOptions

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReachMap:
    """The map of the share of young people within the first threshold, by département.

    Attributes
    ----------
    map
        Its data and texts: the départements filled by class
        (:data:`pipeline.config.REACH_CLASSES`), the sites that reach on top, no labels.
    alt_text
        Its alternative text.
    threshold_km
        The distance it shows the share within.
    """

    map: MapData
    alt_text: str
    threshold_km: float


def reach_class(share: float) -> str:
    """Return the class of a share of young people within reach (NaN: no age data)."""
    if share != share:  # NaN: the census has no ages there (Mayotte)
        return config.REACH_UNKNOWN
    return next(key for bound, key in config.REACH_CLASSES if share < bound or bound == 1.0)


def reach_map_of(departements: pd.DataFrame, reaching: gpd.GeoDataFrame, *,
               day: dt.date | None, provenance: Provenance) -> ReachMap | None:
    """Make the reach map of a snapshot from its départements' reach columns.

    The same columns whether just measured or read back from a GeoPackage (``render``): the
    first ``part_jeunes_{T}km`` is the threshold shown, ``jeunes_{T}km`` over
    ``jeunes_0_19`` the national share, ``methode_distance`` and ``facteur_detour`` the
    method. None when the départements carry no reach.
    """
    shares = [m for c in departements.columns
              if (m := re.fullmatch(r"part_jeunes_(\d+(?:_\d+)?)km", str(c)))]
    if not shares:
        return None
    label = shares[0].group(1)
    needed = [f"jeunes_{label}km", "jeunes_0_19", "methode_distance", "facteur_detour"]
    if any(c not in departements.columns for c in needed):
        log.warning("pas de carte de l'accès : la couche departements n'a pas les colonnes %s",
                    ", ".join(c for c in needed if c not in departements.columns))
        return None
    threshold = float(label.replace("_", "."))
    share = departements[shares[0].group(0)].astype(float)
    within, young = departements[f"jeunes_{label}km"].sum(), departements["jeunes_0_19"].sum()
    national = float(within / young) if young else None
    straight = departements["methode_distance"].eq(STRAIGHT_LINE).all()
    method = ReachOptions(thresholds_km=(threshold,), detour_factor=None if straight else float(
        departements["facteur_detour"].iloc[0])).describe()
    filled = departements.assign(statut=[reach_class(v) for v in share])
    sites = reaching[reaching["categorie"].isin(list(config.CATEGORY_STYLE))].copy()
    sites["categorie"] = "site_acces"
    classes = {str(k): int(v) for k, v in filled["statut"].value_counts().items()}
    texts = reach_map_texts(day=day, threshold_km=threshold, national_share=national,
                            classes=classes, nb_sites=len(sites), method=method,
                            provenance=provenance, road_estimate=not straight)
    ranked = filled.assign(share=share).dropna(subset=["share"])
    ranked = ranked.sort_values(["share", "code"], ascending=[False, True], kind="stable")
    best = [f"{n} ({round(100 * v)}\u00a0%)" for n, v in zip(ranked["nom"][:3],
                                                              ranked["share"][:3], strict=True)]
    none_within = int((ranked["share"] == 0).sum())
    tail = ranked[::-1][:3]
    worst = [n if none_within > 1 else f"{n} ({round(100 * v)}\u00a0%)"
             for n, v in zip(tail["nom"], tail["share"], strict=True)]
    data = map_data(sites, filled, provenance=provenance, **texts)  # type: ignore[arg-type]
    alt = reach_alt_text(day=day, threshold_km=threshold, national_share=national,
                         best=best, worst=worst, none_within=none_within, method=method)
    return ReachMap(data, alt, threshold)
