"""How a snapshot's reach is measured: thresholds, detour factor, counts (light, for the CLI).

Kept apart from :mod:`pipeline.steps.reach` so that the command line can build and check
these options without importing pandas or geopandas.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from pipeline.config import REACH_THRESHOLDS_KM, WHERE_NEXT_PICKS

DEFAULT_THRESHOLDS_KM: Final = REACH_THRESHOLDS_KM
DEFAULT_PICKS: Final = WHERE_NEXT_PICKS
DEFAULT_FARTHEST: Final = 100
#: A usual ratio of road to straight-line distance (a 2023 study of 300 European cities
#: measured 1.343); offered as ``detour_factor``, never applied by default.
SUGGESTED_DETOUR_FACTOR: Final = 1.3
#: Value of ``methode_distance``: straight line, or straight line × a detour factor.
STRAIGHT_LINE: Final = "ligne_droite"
ROAD_ESTIMATE: Final = "estimation_route"


@dataclass(frozen=True)
class ReachOptions:
    """How a snapshot's reach is measured (``--reach-km``, ``--detour``, ``--where-next``).

    Values are checked and normalised when the object is made.

    Parameters
    ----------
    thresholds_km
        Distances of the shares, in km (default 30 and 45); kept sorted, each once. The
        first is the radius of :func:`pipeline.steps.reach.where_next` and the share
        :func:`pipeline.steps.reach.coverage_disagreements` reads; the last bounds
        :func:`pipeline.steps.reach.farthest_communes`.
    detour_factor
        None (default) measures straight lines; a factor ≥ 1 (e.g.
        :data:`SUGGESTED_DETOUR_FACTOR`) compares straight line × factor with the thresholds,
        a road *estimate*, labelled so in every output.
    where_next
        Number of picks of :func:`pipeline.steps.reach.where_next`.
    farthest
        Number of rows of :func:`pipeline.steps.reach.farthest_communes`.

    Raises
    ------
    ValueError
        On a threshold that is not a positive distance, a detour factor below 1, or a count
        below 1 (messages in French: the CLI shows them).
    """

    thresholds_km: tuple[float, ...] = DEFAULT_THRESHOLDS_KM
    detour_factor: float | None = None
    where_next: int = DEFAULT_PICKS
    farthest: int = DEFAULT_FARTHEST

    def __post_init__(self) -> None:
        thresholds = _thresholds(sorted({float(t) for t in self.thresholds_km}))
        object.__setattr__(self, "thresholds_km", tuple(thresholds))
        object.__setattr__(self, "detour_factor", _detour(self.detour_factor))
        for name in ("where_next", "farthest"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} = {getattr(self, name)} : il faut au moins 1")

    @property
    def method(self) -> str:
        """``"ligne_droite"``, or ``"estimation_route"`` with a detour factor."""
        return STRAIGHT_LINE if self.detour_factor is None else ROAD_ESTIMATE

    @property
    def radius_km(self) -> float:
        """The first threshold: radius of the greedy ranking, share of the disagreements."""
        return self.thresholds_km[0]

    @property
    def largest_km(self) -> float:
        """The last threshold: beyond it a commune is among the farthest."""
        return self.thresholds_km[-1]

    def describe(self) -> str:
        """Say in French how distances are measured, for every output that shows a share."""
        if self.detour_factor is None:
            return "distances à vol d'oiseau (ligne droite) entre la mairie de chaque commune " \
                   "et le site le plus proche"
        factor = f"{self.detour_factor:g}".replace(".", ",")
        return (f"estimation routière : distance à vol d'oiseau × {factor} (facteur de détour "
                "moyen, pas un itinéraire) entre la mairie de chaque commune et le site le "
                "plus proche")


def threshold_label(km: float) -> str:
    """Write a threshold as column names do: 30 → ``"30"``, 22.5 → ``"22_5"``."""
    return _label(km)


def _thresholds(thresholds_km: Iterable[float]) -> list[float]:
    values = [float(t) for t in thresholds_km]
    if not values or any(not math.isfinite(t) or t <= 0 for t in values):
        raise ValueError(f"seuils de distance {values} : il faut des distances en km > 0")
    if len({_label(t) for t in values}) < len(values):
        raise ValueError(f"seuils de distance {values} : en double")
    return values


def _label(km: float) -> str:
    """30 → "30", 22.5 → "22_5": the threshold as written in column names."""
    return str(int(km)) if float(km).is_integer() else f"{km:g}".replace(".", "_")


def _detour(factor: float | None) -> float | None:
    if factor is None:
        return None
    if not math.isfinite(factor) or factor < 1:
        raise ValueError(f"facteur de détour {factor} : il faut un nombre ≥ 1 (par exemple 1,3)")
    return float(factor)
