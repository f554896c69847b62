"""Reach: distance to the nearest site, shares of young people within reach, where next.

Pure functions, frames in and frames out. Distances are straight lines between commune
points (town halls, from the gazetteer) and sites, in metres in a projected CRS, and are
computed *within each territory*: the mainland, Corsica, and each overseas département on
its own, so that no commune is reached across the sea (Bonifacio's nearest school is not
in Marseille). A territory without any site leaves its communes with no distance (NaN):
none of its young people is within reach.

Young people are the INSEE RP 2021 counts of people aged 0 to 19
(:mod:`pipeline.sources.population`); a commune without a count (Mayotte) is left out of
every share and reported as unknown, never as 0.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from pipeline.config import METRO_CRS, OVERSEAS_CRS
from pipeline.steps.reach_options import (  # re-exported: part of this step's interface
    DEFAULT_FARTHEST,
    DEFAULT_PICKS,
    DEFAULT_THRESHOLDS_KM,
    ROAD_ESTIMATE,
    STRAIGHT_LINE,
    ReachOptions,
    _detour,
    _label,
    _thresholds,
)
from pipeline.steps.reach_options import (
    SUGGESTED_DETOUR_FACTOR as SUGGESTED_DETOUR_FACTOR,
)
from pipeline.steps.reach_options import (
    threshold_label as threshold_label,
)

DEFAULT_RADIUS_KM: Final = 30.0
DEFAULT_MIN_POPULATION: Final = 10_000
#: Territories (values of ``territoire``) and the CRS distances are measured in.
MAINLAND: Final = "metropole"
CORSICA: Final = "corse"
TERRITORY_CRS: Final[dict[str, str]] = {MAINLAND: METRO_CRS, CORSICA: METRO_CRS,
                                        **OVERSEAS_CRS}
#: Values of ``desaccord`` in :func:`coverage_disagreements`.
COVERED_LOW_REACH: Final = "couvert_acces_faible"
UNCOVERED_HIGH_REACH: Final = "non_couvert_acces_fort"
#: To print with every reach figure (French, as users read them).
REACH_CAVEATS: Final = (
    "distances à vol d'oiseau, pas par la route (sauf estimation routière signalée)",
    "jeunes de 0 à 19 ans (INSEE, RP 2021), pas de 15 à 18 ans",
    "distances depuis le point de chaque commune (sa mairie), pas depuis les adresses",
    "Mayotte : pas de données par âge dans la source, part inconnue",
    "l'accès mesure un bassin potentiel, pas une capacité d'accueil",
)

#: Mainland département codes: 01 to 95 but 20 (Corsica is 2A and 2B since 1976).
MAINLAND_CODES: Final = frozenset(f"{i:02d}" for i in range(1, 96) if i != 20)
COMMUNE_COLUMNS: Final = ("code", "departement", "longitude", "latitude", "jeunes_0_19")
YOUNG: Final = "jeunes_0_19"


def territories(departements: pd.Series) -> pd.Series:
    """Name the territory of each département code, within which distances are measured.

    Parameters
    ----------
    departements
        INSEE département codes ("01", "2A", "971").

    Returns
    -------
    pandas.Series
        Same index: ``"metropole"``, ``"corse"`` (2A, 2B) or the overseas code itself
        ("971" … "976").

    Raises
    ------
    ValueError
        On a code that is none of these (a collectivité d'outre-mer such as "975").
    """
    codes = pd.Series(departements.astype("string").fillna("").to_numpy(dtype=object))
    corsica = codes.isin(["2A", "2B"]).to_numpy()
    overseas = codes.isin(list(OVERSEAS_CRS)).to_numpy()
    mainland = codes.isin(MAINLAND_CODES).to_numpy()
    bad = ~(mainland | corsica | overseas)
    if bad.any():
        values = ", ".join(sorted({str(v) for v in codes[bad]}))
        raise ValueError(f"département inconnu : {values!s} ; codes attendus : 01 à 95, 2A, "
                         "2B, 971 à 974, 976")
    names = np.where(corsica, CORSICA, np.where(overseas, codes.to_numpy(), MAINLAND))
    return pd.Series(names, index=departements.index, dtype=object)


def commune_points(gazetteer: pd.DataFrame, population: pd.DataFrame, *,
                   arrondissements: bool = False) -> pd.DataFrame:
    """Join the gazetteer's points with the population: the demand of every reach measure.

    Parameters
    ----------
    gazetteer
        The embedded gazetteer (:func:`pipeline.geocode.read_gazetteer`): ``code, type, nom,
        departement, code_parent, longitude, latitude``; its own ``population`` column (2017)
        is dropped.
    population
        :func:`pipeline.sources.population.read_population`.
    arrondissements
        Put Paris, Lyon and Marseille as their 45 arrondissements (each with its own point)
        instead of three communes. Default: the 34,875 current communes, one point each.

    Returns
    -------
    pandas.DataFrame
        One row per place, sorted by ``code``: ``code, type, nom, departement, longitude,
        latitude, population, jeunes_0_19`` (RP 2021; NA where unknown, Mayotte).
    """
    places = gazetteer[gazetteer["type"] == "COM"]
    if arrondissements:
        arm = gazetteer[gazetteer["type"] == "ARM"]
        places = pd.concat([places[~places["code"].isin(arm["code_parent"])], arm])
    places = places[["code", "type", "nom", "departement", "longitude", "latitude"]]
    counts = population[["code", "type", "population", YOUNG]]
    out = places.merge(counts, on=["code", "type"], how="left")
    for column in ("population", YOUNG):
        out[column] = out[column].astype("Int64")
    return out.sort_values(["code", "type"], ignore_index=True)


def nearest_sites(communes: pd.DataFrame, sites: pd.DataFrame, *, id_column: str = "id",
                  detour_factor: float | None = None) -> pd.DataFrame:
    """Give each commune its nearest site of the same territory and the straight-line distance.

    Parameters
    ----------
    communes
        Points to measure from: ``code, departement, longitude, latitude`` (WGS84) at least,
        e.g. :func:`commune_points`. Every column is kept.
    sites
        The sites of one snapshot: ``id_column`` and ``departement``, with either
        ``longitude``/``latitude`` columns (WGS84) or a point geometry. Sites without a
        position are ignored.
    id_column
        Column naming a site (its registry ``id``).
    detour_factor
        When given (e.g. :data:`SUGGESTED_DETOUR_FACTOR`), also a column
        ``distance_route_estimee_km`` = straight line × factor: an estimate, not a route.

    Returns
    -------
    pandas.DataFrame
        A copy of ``communes`` (same index) with ``territoire``, ``distance_km`` (float; NaN
        when the territory has no site), ``ecole_proche`` (the nearest site's id; NA when none)
        and, with a detour factor, ``distance_route_estimee_km``. Distances are measured in
        Lambert-93 for the mainland and Corsica and in the legal CRS of each overseas
        département. Equidistant sites: the smallest id wins.
    """
    _require(communes, ("code", "departement", "longitude", "latitude"), "communes")
    _require(sites, (id_column, "departement"), "sites")
    factor = _detour(detour_factor)
    territory = territories(communes["departement"]).to_numpy()
    lon, lat = (communes[c].to_numpy(dtype=float, na_value=np.nan)
                for c in ("longitude", "latitude"))
    site_ids, site_territory, site_lon, site_lat = _site_table(sites, id_column)
    distance = np.full(len(communes), np.nan)
    nearest = np.full(len(communes), None, dtype=object)
    for name in sorted(set(territory)):
        at = np.flatnonzero((territory == name) & np.isfinite(lon) & np.isfinite(lat))
        here = np.flatnonzero(site_territory == name)
        if not len(at) or not len(here):
            continue
        crs = TERRITORY_CRS[name]
        tree = shapely.STRtree(_project(site_lon[here], site_lat[here], crs))
        (query, found), metres = tree.query_nearest(
            _project(lon[at], lat[at], crs), return_distance=True, all_matches=True)
        # Sites are sorted by id, so among equidistant ones the lowest position wins.
        order = np.lexsort((found, query))
        first = order[np.unique(query[order], return_index=True)[1]]
        distance[at[query[first]]] = metres[first] / 1000.0
        nearest[at[query[first]]] = site_ids[here[found[first]]]
    out = communes.copy()
    out["territoire"] = territory
    out["distance_km"] = distance
    out["ecole_proche"] = pd.array(nearest, dtype="string")
    if factor is not None:
        out["distance_route_estimee_km"] = distance * factor
    return out


def reach_by_departement(nearest: pd.DataFrame, *,
                         thresholds_km: Sequence[float] = DEFAULT_THRESHOLDS_KM,
                         detour_factor: float | None = None) -> pd.DataFrame:
    """Count, per département, the young people within each distance threshold of a site.

    Parameters
    ----------
    nearest
        :func:`nearest_sites` (``departement``, ``distance_km``, ``jeunes_0_19``;
        ``population`` is summed when present).
    thresholds_km
        Distances in km (default 30 and 45).
    detour_factor
        Compare ``distance_km`` × factor with the thresholds (a road estimate, labelled so in
        ``methode_distance``) instead of the straight line.

    Returns
    -------
    pandas.DataFrame
        One row per département, sorted by code: ``departement, nb_communes,
        nb_communes_sans_donnees, population, jeunes_0_19``, then per threshold T
        ``jeunes_{T}km`` (young people within T) and ``part_jeunes_{T}km`` (0–1), then
        ``methode_distance`` (``"ligne_droite"`` or ``"estimation_route"``) and
        ``facteur_detour``. Only communes with a known count enter the sums; a département
        where none is known (Mayotte) has NA counts and shares, never 0.
    """
    return _reach(nearest, "departement", thresholds_km, detour_factor)


def reach_national(nearest: pd.DataFrame, *,
                   thresholds_km: Sequence[float] = DEFAULT_THRESHOLDS_KM,
                   detour_factor: float | None = None) -> pd.DataFrame:
    """Count, for all of France, the young people within each distance threshold of a site.

    Parameters
    ----------
    nearest
        :func:`nearest_sites`.
    thresholds_km
        Distances in km (default 30 and 45).
    detour_factor
        As in :func:`reach_by_departement`.

    Returns
    -------
    pandas.DataFrame
        One row, ``perimetre`` = ``"france"``, with the columns of
        :func:`reach_by_departement` (``departement`` aside) and
        ``departements_sans_donnees``: the départements left out of the shares for want of
        counts (``"976"``), comma-separated.
    """
    frame = nearest.assign(perimetre="france")
    out = _reach(frame, "perimetre", thresholds_km, detour_factor)
    unknown = frame.loc[frame[YOUNG].isna(), "departement"]
    out.insert(3, "departements_sans_donnees", ", ".join(sorted(set(unknown.astype(str)))))
    return out


def where_next(communes: pd.DataFrame, sites: pd.DataFrame, *,
               candidates: pd.DataFrame | Sequence[str] | None = None,
               k: int = DEFAULT_PICKS, radius_km: float = DEFAULT_RADIUS_KM,
               min_population: int = DEFAULT_MIN_POPULATION,
               detour_factor: float | None = None) -> pd.DataFrame:
    """Rank the places where a new school would reach the most young people not yet reached.

    Greedy maximum coverage: the snapshot's sites are placed first; then, ``k`` times, the
    candidate reaching the most young people not yet within ``radius_km`` of a school (of
    its own territory) is picked. Greedy is an approximation: its total is at least
    (1 − 1/e) ≈ 63 % of the best possible choice of ``k`` candidates (Nemhauser, Wolsey and
    Fisher, 1978), and often equal to it (with the 2021 sites, an exact solver found the same
    total for 5 and 10 picks among mainland towns of 10,000 or more). It stops early when no
    candidate adds anyone.

    Parameters
    ----------
    communes
        The demand: ``code, departement, longitude, latitude, jeunes_0_19`` (and ``nom``,
        ``population`` when present), e.g. :func:`commune_points`. Communes with no count
        (Mayotte) weigh nothing.
    sites
        The snapshot's sites, as in :func:`nearest_sites` (only their positions and
        départements matter here).
    candidates
        Where a school could go: a frame with ``code, departement, longitude, latitude``
        (``nom``, ``population`` optional), or a list of commune codes found in
        ``communes``. Default: the communes of ``communes`` with ``population`` ≥
        ``min_population``.
    k
        Number of picks.
    radius_km
        Reach of a school.
    min_population
        Threshold of the default candidates (RP 2021 population).
    detour_factor
        Measure the radius as straight line × factor (a road estimate).

    Returns
    -------
    pandas.DataFrame
        At most ``k`` rows: ``rang`` (1…), ``code, nom, departement, population`` of the
        candidate, ``jeunes_nouvellement_atteints`` (young people it adds),
        ``jeunes_atteints_cumul`` (young people within reach once it is placed, the sites'
        own reach included), ``part_jeunes_atteints_cumul`` (0–1, of the young people with a
        known count), ``rayon_km``, ``methode_distance``. Ties go to the smallest code.

    Raises
    ------
    ValueError
        If ``k`` or ``radius_km`` is not positive, or a candidate code is not in
        ``communes``.
    """
    _require(communes, COMMUNE_COLUMNS, "communes")
    _require(sites, ("departement",), "sites")
    if k < 1 or radius_km <= 0:
        raise ValueError(f"k={k}, radius_km={radius_km} : il faut k ≥ 1 et un rayon > 0")
    factor = _detour(detour_factor)
    reach_m = radius_km * 1000.0 / (factor or 1.0)
    pool = _candidates(communes, candidates, min_population)
    weight = communes[YOUNG].to_numpy(dtype=float, na_value=0.0)
    demand_territory = territories(communes["departement"]).to_numpy()
    pool_territory = territories(pool["departement"]).to_numpy()
    _, site_territory, site_lon, site_lat = _site_table(sites, None)
    lon, lat = (communes[c].to_numpy(dtype=float, na_value=np.nan)
                for c in ("longitude", "latitude"))
    pool_lon, pool_lat = (pool[c].to_numpy(dtype=float) for c in ("longitude", "latitude"))

    reached = np.zeros(len(communes), dtype=bool)
    # Pairs (candidate, demand) within reach, grouped by candidate: candidate i reaches the
    # communes dem[first[i]:first[i] + size[i]].
    pair_owner: list[np.ndarray] = []
    pair_demand: list[np.ndarray] = []
    first = np.zeros(len(pool), dtype=np.intp)
    size = np.zeros(len(pool), dtype=np.intp)
    offset = 0
    for name in sorted(set(demand_territory)):
        at = np.flatnonzero((demand_territory == name) & (weight > 0) & np.isfinite(lon)
                            & np.isfinite(lat))
        if not len(at):
            continue
        crs = TERRITORY_CRS[name]
        demand = _project(lon[at], lat[at], crs)
        tree = shapely.STRtree(demand)
        here = np.flatnonzero(site_territory == name)
        if len(here):
            # Reached: the nearest site is within the radius. One query per commune, where
            # pairs (site, commune) would be millions with thousands of sites.
            sites_tree = shapely.STRtree(_project(site_lon[here], site_lat[here], crs))
            hit, _ = sites_tree.query_nearest(demand, max_distance=reach_m, all_matches=False)
            reached[at[hit]] = True
        options = np.flatnonzero(pool_territory == name)
        if len(options):
            which, hit = tree.query(_project(pool_lon[options], pool_lat[options], crs),
                                    predicate="dwithin", distance=reach_m)
            if len(which) and not (np.diff(which) >= 0).all():
                order = np.argsort(which, kind="stable")  # STRtree groups them already
                which, hit = which[order], hit[order]
            counts = np.bincount(which, minlength=len(options))
            first[options] = offset + np.cumsum(counts) - counts
            size[options] = counts
            pair_owner.append(options[which])
            pair_demand.append(at[hit])
            offset += len(hit)
    owner = np.concatenate(pair_owner) if pair_owner else np.zeros(0, dtype=np.intp)
    dem = np.concatenate(pair_demand) if pair_demand else np.zeros(0, dtype=np.intp)

    # Lazy greedy: a candidate's gain can only fall as others are placed (submodularity), so
    # the gains of the previous round are upper bounds; only the best one is recomputed until
    # it stays best. np.argmax returns the first maximum: ties go to the smallest code.
    total = float(weight.sum())
    cumul = float(weight[reached].sum())
    bound = np.bincount(owner, weights=weight[dem] * ~reached[dem], minlength=len(pool))
    fresh = np.ones(len(pool), dtype=bool)
    picks: list[tuple[int, float, float]] = []
    while len(picks) < k and len(bound) and bound.max() > 0:
        best = int(np.argmax(bound))
        if not fresh[best]:
            mine = dem[first[best]:first[best] + size[best]]
            bound[best] = float(weight[mine][~reached[mine]].sum())
            fresh[best] = True
            continue
        mine = dem[first[best]:first[best] + size[best]]
        reached[mine] = True
        cumul += float(bound[best])
        picks.append((best, float(bound[best]), cumul))
        bound[best] = 0.0
        fresh[:] = False

    rows = pool.iloc[[p for p, _, _ in picks]].reset_index(drop=True)
    out = pd.DataFrame({
        "rang": np.arange(1, len(picks) + 1, dtype="int64"),
        "code": rows["code"].astype("string"),
        "nom": (rows["nom"].astype("string") if "nom" in rows.columns
                else pd.Series(pd.NA, index=rows.index, dtype="string")),
        "departement": rows["departement"].astype("string"),
        "population": (rows["population"].astype("Int64") if "population" in rows.columns
                       else pd.Series(pd.NA, index=rows.index, dtype="Int64")),
        "jeunes_nouvellement_atteints": np.array([g for _, g, _ in picks], dtype="int64"),
        "jeunes_atteints_cumul": np.array([c for _, _, c in picks], dtype="int64"),
        "part_jeunes_atteints_cumul": np.array([c / total if total else np.nan
                                                for _, _, c in picks], dtype=float),
        "rayon_km": float(radius_km),
        "methode_distance": STRAIGHT_LINE if factor is None else ROAD_ESTIMATE,
    })
    return out


def coverage_disagreements(reach: pd.DataFrame, sites: pd.DataFrame, *,
                           threshold_km: float = DEFAULT_THRESHOLDS_KM[0],
                           low: float = 0.25, high: float = 0.75) -> pd.DataFrame:
    """List the départements where binary coverage and reach tell different stories.

    Parameters
    ----------
    reach
        :func:`reach_by_departement`, with the column ``part_jeunes_{threshold_km}km``.
    sites
        The same snapshot's sites (``departement``): a département is *covered* when it
        holds at least one.
    threshold_km
        Which share to read.
    low, high
        A covered département whose share is below ``low``, or an uncovered one whose
        share is at least ``high``, disagrees.

    Returns
    -------
    pandas.DataFrame
        ``departement, nb_ecoles, jeunes_0_19, part_jeunes_{T}km, desaccord``
        (``"couvert_acces_faible"`` or ``"non_couvert_acces_fort"``), covered ones first,
        then by share (lowest first for covered, highest first for uncovered), then code.
        Départements with an unknown share (Mayotte) never appear.
    """
    share = f"part_jeunes_{_label(threshold_km)}km"
    _require(reach, ("departement", YOUNG, share), "reach")
    _require(sites, ("departement",), "sites")
    counts = sites["departement"].astype(str).value_counts()
    frame = reach[["departement", YOUNG, share]].copy()
    frame.insert(1, "nb_ecoles",
                 frame["departement"].map(counts).fillna(0).astype("int64").to_numpy())
    value = frame[share].astype("Float64")
    covered_low = (frame["nb_ecoles"] > 0) & (value < low).fillna(False)
    uncovered_high = (frame["nb_ecoles"] == 0) & (value >= high).fillna(False)
    frame["desaccord"] = np.where(covered_low, COVERED_LOW_REACH, UNCOVERED_HIGH_REACH)
    out = frame[covered_low | uncovered_high].copy()
    key = np.where(out["desaccord"] == COVERED_LOW_REACH, out[share], -out[share])
    out = out.assign(_group=out["desaccord"] != COVERED_LOW_REACH, _key=key)
    out = out.sort_values(["_group", "_key", "departement"], kind="stable")
    return out.drop(columns=["_group", "_key"]).reset_index(drop=True)


# --- A snapshot's reach -------------------------------------------------------------------------
#: Decimals of the shares (0–1) in the layers and tables: 0.01 %.
SHARE_DECIMALS: Final = 4
#: How many of the farthest communes :func:`farthest_communes` lists by default.


@dataclass(frozen=True, eq=False)
class Reach:
    """What one snapshot's sites reach: every commune, every département, France, what next.

    Attributes
    ----------
    options
        How it was measured.
    communes
        :func:`nearest_sites` of every commune (``code, type, nom, departement, longitude,
        latitude, population, jeunes_0_19, territoire, distance_km, ecole_proche``, and
        ``distance_route_estimee_km`` with a detour factor), plus ``nom_ecole_proche`` and
        the names of the commune's département and région when known.
    departements
        :func:`reach_by_departement`, plus ``part_jeunes_{T}km_existantes`` per threshold
        when the existing schools were measured apart (the annex).
    national
        :func:`reach_national` (one row), with the same ``_existantes`` shares.
    farthest
        :func:`farthest_communes`.
    where_next
        :func:`where_next` with the first threshold as radius, names added.
    disagreements
        :func:`coverage_disagreements` at the first threshold.
    nb_sites
        Sites that reach (a snapshot's open sites).
    nb_existing
        Existing schools measured apart, or None.
    """

    options: ReachOptions
    communes: pd.DataFrame
    departements: pd.DataFrame
    national: pd.DataFrame
    farthest: pd.DataFrame
    where_next: pd.DataFrame
    disagreements: pd.DataFrame
    nb_sites: int
    nb_existing: int | None = None


def farthest_communes(nearest: pd.DataFrame, *, threshold_km: float = DEFAULT_THRESHOLDS_KM[-1],
                      n: int = DEFAULT_FARTHEST,
                      detour_factor: float | None = None) -> pd.DataFrame:
    """List the communes with the most young people beyond ``threshold_km`` of any site.

    Ranked by young people, not by distance: the farthest hamlets weigh little, and the
    question is where the most young people are out of reach. A commune of a territory
    without any site (no distance) is beyond every threshold. Communes without a count
    (Mayotte) or without young people are left out.

    Parameters
    ----------
    nearest
        :func:`nearest_sites`.
    threshold_km
        Distance beyond which a commune is listed (default 45 km).
    n
        Number of rows.
    detour_factor
        Compare straight line × factor with the threshold.

    Returns
    -------
    pandas.DataFrame
        At most ``n`` rows of ``nearest``, a ``rang`` (1…) first; most young people first,
        then code. ``methode_distance`` last.
    """
    _require(nearest, ("code", "distance_km", YOUNG), "nearest")
    factor = _detour(detour_factor)
    distance = nearest["distance_km"].to_numpy(dtype=float, na_value=np.nan) * (factor or 1.0)
    young = nearest[YOUNG].astype("Int64")
    beyond = ~(distance <= threshold_km) & (young > 0).fillna(False).to_numpy()
    out = nearest[beyond].assign(_young=young[beyond].astype("int64"))
    out = out.sort_values(["_young", "code"], ascending=[False, True], kind="stable").head(n)
    out = out.drop(columns="_young").reset_index(drop=True)
    out.insert(0, "rang", np.arange(1, len(out) + 1, dtype="int64"))
    out["methode_distance"] = STRAIGHT_LINE if factor is None else ROAD_ESTIMATE
    return out


def measure_reach(communes: pd.DataFrame, sites: pd.DataFrame, *,
                  options: ReachOptions | None = None,
                  existing: pd.DataFrame | None = None,
                  places: pd.DataFrame | None = None) -> Reach:
    """Measure everything one snapshot's sites reach.

    Parameters
    ----------
    communes
        The demand, :func:`commune_points`.
    sites
        The sites that reach young people, as in :func:`nearest_sites` (``id``,
        ``departement``, a position; ``nom`` names the nearest site when present). The
        caller decides which: every site of the annex's map, only the open ones of a date.
    options
        Thresholds, detour factor, number of picks (default :class:`ReachOptions`).
    existing
        Sites measured apart (the annex's existing schools), giving the shares
        ``part_jeunes_{T}km_existantes``; None skips them.
    places
        ``departement, nom_departement, code_region, nom_region``: names added to the
        communes, the farthest and the picks.

    Returns
    -------
    Reach
        Frames in memory; inputs are not modified.
    """
    options = options or ReachOptions()
    factor = options.detour_factor
    thresholds = options.thresholds_km
    near = nearest_sites(communes, sites, detour_factor=factor)
    if "nom" in sites.columns:
        names = dict(zip(sites["id"].astype(str), sites["nom"].astype(str), strict=True))
        near["nom_ecole_proche"] = near["ecole_proche"].map(names).astype("string")
    by_dep = reach_by_departement(near, thresholds_km=thresholds, detour_factor=factor)
    national = reach_national(near, thresholds_km=thresholds, detour_factor=factor)
    if existing is not None:
        alone = nearest_sites(communes, existing, detour_factor=factor)
        alone_dep = reach_by_departement(alone, thresholds_km=thresholds, detour_factor=factor)
        alone_fr = reach_national(alone, thresholds_km=thresholds, detour_factor=factor)
        for t in thresholds:
            share = f"part_jeunes_{_label(t)}km"
            by_dep.insert(list(by_dep.columns).index(share) + 1, f"{share}_existantes",
                          by_dep["departement"].map(dict(zip(alone_dep["departement"],
                                                             alone_dep[share], strict=True)))
                          .astype("Float64"))
            national.insert(list(national.columns).index(share) + 1, f"{share}_existantes",
                            alone_fr[share].to_numpy())
    far = farthest_communes(near, threshold_km=options.largest_km, n=options.farthest,
                            detour_factor=factor)
    picks = where_next(communes, sites, k=options.where_next, radius_km=options.radius_km,
                       detour_factor=factor)
    disagreements = coverage_disagreements(by_dep, sites, threshold_km=options.radius_km)
    if places is not None:
        _require(places, ("departement", "nom_departement", "code_region", "nom_region"),
                 "places")
        near, far, picks = (_with_places(frame, places) for frame in (near, far, picks))
        disagreements = _with_places(disagreements, places)
    return Reach(options=options, communes=near, departements=by_dep, national=national,
                 farthest=far, where_next=picks, disagreements=disagreements,
                 nb_sites=len(sites),
                 nb_existing=None if existing is None else len(existing))


def with_reach(departements: pd.DataFrame, reach: Reach) -> pd.DataFrame:
    """Add a snapshot's reach to its départements (the ``departements`` layer's columns).

    Parameters
    ----------
    departements
        A coverage's départements (``code`` and any other column, geometry included).
    reach
        :func:`measure_reach` of the same snapshot.

    Returns
    -------
    pandas.DataFrame
        A copy (same class, same rows and order) with, after its own columns:
        ``population``, ``jeunes_0_19``, per threshold T ``jeunes_{T}km``,
        ``part_jeunes_{T}km`` (0–1) and, when measured, ``part_jeunes_{T}km_existantes``,
        then ``nb_communes``, ``nb_communes_sans_donnees``, ``methode_distance``,
        ``facteur_detour``. Shares rounded to 4 decimals (0.01 %); NA where unknown
        (Mayotte), never 0.
    """
    columns = ["population", YOUNG]
    for t in reach.options.thresholds_km:
        share = f"part_jeunes_{_label(t)}km"
        columns += [f"jeunes_{_label(t)}km", share]
        if f"{share}_existantes" in reach.departements.columns:
            columns.append(f"{share}_existantes")
    columns += ["nb_communes", "nb_communes_sans_donnees", "methode_distance", "facteur_detour"]
    table = reach.departements.set_index(reach.departements["departement"].astype(str))
    out = departements.copy()
    codes = out["code"].astype(str)
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for column in columns:
        values = codes.map(table[column])
        if column.startswith("nb_"):  # a département without communes has none
            out[column] = values.fillna(0).astype("int64")
        else:
            out[column] = values.astype(table[column].dtype) if len(values) else values
        if column.startswith("part_jeunes_"):
            out[column] = out[column].round(SHARE_DECIMALS)
    if geometry is not None:  # the geometry last, as the layers have it
        out = out[[c for c in out.columns if c != geometry] + [geometry]]
    return out


def communes_layer(reach: Reach) -> gpd.GeoDataFrame:
    """Return the communes of a reach as the ``communes_acces`` point layer (EPSG:4326).

    Distances rounded to 10 m (``distance_km`` to 2 decimals), the commune's point as
    geometry (its longitude and latitude are not repeated), ``methode_distance`` last.
    """
    from pipeline.schema import COMMUNES_COLUMNS

    frame = reach.communes
    first = [c for c in COMMUNES_COLUMNS if c in frame.columns]
    extra = ["distance_route_estimee_km"] if "distance_route_estimee_km" in frame.columns else []
    out = pd.DataFrame(frame[first + extra]).copy()
    for column in ("distance_km", *extra):
        out[column] = out[column].round(2)
    out["methode_distance"] = reach.options.method
    points = shapely.points(frame["longitude"].to_numpy(dtype=float),
                            frame["latitude"].to_numpy(dtype=float))
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry=points, crs="EPSG:4326")


def reach_over_time(communes: pd.DataFrame, sites_by_date: Mapping[dt.date, pd.DataFrame], *,
                    options: ReachOptions | None = None) -> pd.DataFrame:
    """Return the shares of young people within reach at each date, nationally and by département.

    Parameters
    ----------
    communes
        The demand, :func:`commune_points`.
    sites_by_date
        Date → the sites reaching young people that day (the open ones), as in
        :func:`nearest_sites`.
    options
        Thresholds and detour factor (the picks are not made here).

    Returns
    -------
    pandas.DataFrame
        One row per date for France (``perimetre`` ``"france"``, ``departement`` NA), then
        one per département and date (``"departement"``): ``perimetre, departement, date``
        (ISO text, the GeoPackage's DATE), ``nb_sites`` (in the département, or in all),
        ``jeunes_0_19``, per threshold ``jeunes_{T}km`` and ``part_jeunes_{T}km`` (rounded to
        4 decimals), then ``methode_distance``, ``facteur_detour``. Sorted by département
        (France first), then date.
    """
    options = options or ReachOptions()
    thresholds = options.thresholds_km
    columns = [YOUNG]
    for t in thresholds:
        columns += [f"jeunes_{_label(t)}km", f"part_jeunes_{_label(t)}km"]
    columns += ["methode_distance", "facteur_detour"]
    frames = []
    for day in sorted(sites_by_date):
        sites = sites_by_date[day]
        near = nearest_sites(communes, sites, detour_factor=options.detour_factor)
        national = reach_national(near, thresholds_km=thresholds,
                                  detour_factor=options.detour_factor)
        by_dep = reach_by_departement(near, thresholds_km=thresholds,
                                      detour_factor=options.detour_factor)
        counts = sites["departement"].astype(str).value_counts()
        national = national.assign(perimetre="france", nb_sites=len(sites))
        national["departement"] = pd.Series(pd.NA, index=national.index, dtype="string")
        by_dep = by_dep.assign(perimetre="departement", nb_sites=by_dep["departement"].map(
            counts).fillna(0).astype("int64"))
        for frame in (national, by_dep):
            frame["date"] = day.isoformat()
            frames.append(frame[["perimetre", "departement", "date", "nb_sites", *columns]])
    if not frames:
        return pd.DataFrame(columns=["perimetre", "departement", "date", "nb_sites", *columns])
    out = pd.concat(frames, ignore_index=True)
    out["departement"] = out["departement"].astype("string")
    out["nb_sites"] = out["nb_sites"].astype("int64")
    for t in thresholds:
        out[f"part_jeunes_{_label(t)}km"] = out[f"part_jeunes_{_label(t)}km"].round(SHARE_DECIMALS)
    out = out.assign(_france=out["perimetre"].ne("france"))
    out = out.sort_values(["_france", "departement", "date"], kind="stable", na_position="first")
    return out.drop(columns="_france").reset_index(drop=True)


def _with_places(frame: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """Insert the département's and région's names after ``departement``."""
    lookup = places.set_index(places["departement"].astype(str))
    out = frame.copy()
    at = list(out.columns).index("departement") + 1
    for offset, column in enumerate(("nom_departement", "code_region", "nom_region")):
        values = out["departement"].astype(str).map(lookup[column])
        out.insert(at + offset, column, values.astype("string"))
    return out


# --- helpers -----------------------------------------------------------------------------------
def _reach(nearest: pd.DataFrame, key: str, thresholds_km: Sequence[float],
           detour_factor: float | None) -> pd.DataFrame:
    _require(nearest, (key, "distance_km", YOUNG), "nearest")
    thresholds = _thresholds(thresholds_km)
    factor = _detour(detour_factor)
    young = nearest[YOUNG].astype("Int64")
    known = young.notna().to_numpy()
    distance = nearest["distance_km"].to_numpy(dtype=float, na_value=np.nan) * (factor or 1.0)
    groups = nearest[key].astype(str).to_numpy()
    frame = pd.DataFrame({key: groups, "_known": known,
                          YOUNG: young.to_numpy(dtype=float, na_value=np.nan)})
    population = "population" in nearest.columns
    if population:
        frame["population"] = nearest["population"].to_numpy(dtype=float, na_value=np.nan)
    for t in thresholds:
        # NaN distances (no site in the territory) compare False: not within reach.
        frame[f"jeunes_{_label(t)}km"] = np.where(known & (distance <= t),
                                                  frame[YOUNG].to_numpy(), 0.0)
    summed = frame.groupby(key, sort=True)
    size = summed.size()
    out = pd.DataFrame({"nb_communes": size.astype("int64"),
                        "nb_communes_sans_donnees": (size - summed["_known"].sum())
                        .astype("int64")})
    none_known = (out["nb_communes_sans_donnees"] == out["nb_communes"]).to_numpy()
    counted = ["population", YOUNG] if population else [YOUNG]
    counted += [f"jeunes_{_label(t)}km" for t in thresholds]
    for column in counted:
        # Sums skip unknown communes; a group with none known is unknown, not 0.
        out[column] = summed[column].sum().round().astype("Int64").mask(none_known)
    for t in thresholds:
        part = out[f"jeunes_{_label(t)}km"].astype("Float64") / out[YOUNG].astype("Float64")
        out[f"part_jeunes_{_label(t)}km"] = part.where(out[YOUNG] > 0)
    out["methode_distance"] = STRAIGHT_LINE if factor is None else ROAD_ESTIMATE
    out["facteur_detour"] = float(factor or 1.0)
    return out.rename_axis(key).reset_index()


def _candidates(communes: pd.DataFrame, candidates: pd.DataFrame | Sequence[str] | None,
                min_population: int) -> pd.DataFrame:
    """Return the candidate places, sorted by code (the greedy's tie-break), index 0…n−1."""
    if candidates is None:
        _require(communes, ("population",), "communes")
        pool = communes[(communes["population"] >= min_population).fillna(False)]
    elif isinstance(candidates, pd.DataFrame):
        _require(candidates, ("code", "departement", "longitude", "latitude"), "candidates")
        pool = candidates
    else:
        codes = [str(c) for c in candidates]
        unknown = sorted(set(codes) - set(communes["code"].astype(str)))
        if unknown:
            raise ValueError("commune(s) candidate(s) absente(s) de la liste des communes : "
                             + ", ".join(unknown[:10]))
        pool = communes[communes["code"].astype(str).isin(codes)]
    pool = pool.dropna(subset=["longitude", "latitude"])
    return pool.sort_values("code", kind="stable", ignore_index=True)


def _site_table(sites: pd.DataFrame, id_column: str | None,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ids, territories, longitudes and latitudes of the placed sites, sorted by id."""
    if {"longitude", "latitude"} <= set(sites.columns):
        lon = sites["longitude"].to_numpy(dtype=float, na_value=np.nan)
        lat = sites["latitude"].to_numpy(dtype=float, na_value=np.nan)
    elif isinstance(sites, gpd.GeoDataFrame) and sites.geometry.name in sites.columns:
        geometry = sites.geometry
        if geometry.crs is not None and not geometry.crs.equals("EPSG:4326"):
            geometry = geometry.to_crs("EPSG:4326")
        points = np.array(geometry.values, dtype=object)  # a copy: the input is left alone
        points[shapely.is_empty(points)] = None  # missing or empty: NaN coordinates
        lon, lat = shapely.get_x(points), shapely.get_y(points)
    else:
        raise ValueError("sites : colonnes longitude et latitude, ou une géométrie de points, "
                         "attendues")
    ids = (sites[id_column].astype(str).to_numpy(dtype=object) if id_column is not None
           else np.arange(len(sites)).astype(str).astype(object))
    placed = np.isfinite(lon) & np.isfinite(lat)
    ids, lon, lat = ids[placed], lon[placed], lat[placed]
    territory = territories(sites["departement"][placed]).to_numpy()
    order = np.argsort(ids, kind="stable")
    return ids[order], territory[order], lon[order], lat[order]


@functools.cache
def _transformer(crs: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def _project(lon: np.ndarray, lat: np.ndarray, crs: str) -> np.ndarray:
    # The transformer geopandas' to_crs builds, on the coordinate arrays: the same values,
    # five times faster than points in WGS84 reprojected (a snapshot projects 35,000 points
    # several times).
    x, y = _transformer(crs).transform(lon, lat)
    return shapely.points(x, y)


def _require(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} : colonne(s) manquante(s) {', '.join(missing)}")
