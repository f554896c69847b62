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

from collections.abc import Iterable, Sequence
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.config import METRO_CRS, OVERSEAS_CRS

DEFAULT_THRESHOLDS_KM: Final = (30.0, 45.0)
DEFAULT_RADIUS_KM: Final = 30.0
DEFAULT_PICKS: Final = 10
DEFAULT_MIN_POPULATION: Final = 10_000
#: A usual ratio of road to straight-line distance (a 2023 study of 300 European cities
#: measured 1.343); offered as ``detour_factor``, never applied by default.
SUGGESTED_DETOUR_FACTOR: Final = 1.3
#: Value of ``methode_distance``: straight line, or straight line × a detour factor.
STRAIGHT_LINE: Final = "ligne_droite"
ROAD_ESTIMATE: Final = "estimation_route"
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
        tree = shapely.STRtree(_project(lon[at], lat[at], crs))
        here = np.flatnonzero(site_territory == name)
        if len(here):
            _, hit = tree.query(_project(site_lon[here], site_lat[here], crs),
                                predicate="dwithin", distance=reach_m)
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


def _project(lon: np.ndarray, lat: np.ndarray, crs: str) -> np.ndarray:
    points = gpd.GeoSeries(shapely.points(lon, lat), crs="EPSG:4326").to_crs(crs)
    return np.asarray(points.values, dtype=object)


def _thresholds(thresholds_km: Iterable[float]) -> list[float]:
    values = [float(t) for t in thresholds_km]
    if not values or any(not np.isfinite(t) or t <= 0 for t in values):
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
    if not np.isfinite(factor) or factor < 1:
        raise ValueError(f"facteur de détour {factor} : il faut un nombre ≥ 1 (par exemple 1,3)")
    return float(factor)


def _require(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} : colonne(s) manquante(s) {', '.join(missing)}")
