"""A snapshot's reach: options, the farthest communes, the layer and columns, over time."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline.steps.reach import (
    ROAD_ESTIMATE,
    STRAIGHT_LINE,
    ReachOptions,
    communes_layer,
    farthest_communes,
    measure_reach,
    nearest_sites,
    reach_over_time,
    with_reach,
)
from tests.test_reach import communes_frame, line_sites, lonlat

PLACES = pd.DataFrame({"departement": ["45", "28"], "nom_departement": ["Loiret", "Eure-et-Loir"],
                       "code_region": ["24", "24"],
                       "nom_region": ["Centre-Val de Loire", "Centre-Val de Loire"]})


def line() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Communes on a line (x km, young people) and two schools, "a" existing at 0, "b" at 100.

    Nearest distances: 45001 0 (a), 45002 18 (a), 45003 40 (a), 45004 35 (b), 28001 0 (b),
    28002 60 (b). Candidates of where next: the communes of 10,000 inhabitants or more
    (population is 4 × young people), here 45004 (x = 65) and 28002 (x = 160).
    """
    communes = communes_frame([("45001", "45", 0, 100), ("45002", "45", 18, 200),
                               ("45003", "45", 40, 300), ("45004", "45", 65, 2600),
                               ("28001", "28", 100, 50), ("28002", "28", 160, 3500)])
    sites = line_sites([("a", "45", 0), ("b", "28", 100)]).assign(nom=["École A", "École B"])
    return communes, sites


# --- options --------------------------------------------------------------------------------------
def test_options_are_sorted_once_and_checked() -> None:
    options = ReachOptions(thresholds_km=(45, 30, 45.0))
    assert options.thresholds_km == (30.0, 45.0)
    assert (options.radius_km, options.largest_km, options.method) == (30.0, 45.0,
                                                                       STRAIGHT_LINE)
    assert "vol d'oiseau" in options.describe()
    road = ReachOptions(detour_factor=1.3)
    assert road.method == ROAD_ESTIMATE and "× 1,3" in road.describe()
    for bad in ({"thresholds_km": ()}, {"thresholds_km": (0,)}, {"thresholds_km": (-5, 30)},
                {"detour_factor": 0.9}, {"where_next": 0}, {"farthest": 0}):
        with pytest.raises(ValueError):
            ReachOptions(**bad)  # type: ignore[arg-type]


# --- farthest communes ----------------------------------------------------------------------------
def test_farthest_communes_rank_young_people_beyond_the_largest_threshold() -> None:
    communes, sites = line()
    near = nearest_sites(communes, sites)
    far = farthest_communes(near, threshold_km=45, n=10)
    # 45004 is 35 km from b (x = 100): within 45. 28002 is 60 km from b: beyond.
    assert far["code"].tolist() == ["28002"]
    far = farthest_communes(near, threshold_km=22, n=10)
    assert far["code"].tolist() == ["28002", "45004", "45003"]  # most young people first
    assert far["rang"].tolist() == [1, 2, 3]
    assert far["methode_distance"].tolist() == [STRAIGHT_LINE] * 3
    assert farthest_communes(near, threshold_km=22, n=2)["code"].tolist() == ["28002", "45004"]
    # With a detour factor the comparison is on the road estimate: 18 km × 1.3 > 22.
    road = farthest_communes(near, threshold_km=22, n=10, detour_factor=1.3)
    assert road["code"].tolist() == ["28002", "45004", "45003", "45002"]
    assert road["methode_distance"].iloc[0] == ROAD_ESTIMATE


def test_farthest_counts_a_territory_without_site_and_skips_unknown_counts() -> None:
    communes, sites = line()
    reunion = pd.DataFrame({"code": ["97411", "97601"], "nom": ["Saint-Denis", "Acoua"],
                            "departement": ["974", "976"], "longitude": [55.45, 45.07],
                            "latitude": [-20.88, -12.72],
                            "population": pd.array([150_000, None], dtype="Int64"),
                            "jeunes_0_19": pd.array([45_000, None], dtype="Int64")})
    near = nearest_sites(pd.concat([communes, reunion], ignore_index=True), sites)
    far = farthest_communes(near, threshold_km=45)
    assert far["code"].tolist() == ["97411", "28002"]  # no site on La Réunion: out of reach
    assert pd.isna(far["distance_km"].iloc[0])


# --- the whole measure ----------------------------------------------------------------------------
def test_measure_reach_with_existing_schools_apart() -> None:
    communes, sites = line()
    reach = measure_reach(communes, sites, existing=sites[sites["id"] == "a"], places=PLACES,
                          options=ReachOptions(where_next=2))
    deps = reach.departements.set_index("departement")
    assert deps.loc["45", "part_jeunes_30km"] == pytest.approx(300 / 3200)
    assert deps.loc["45", "part_jeunes_45km"] == pytest.approx(3200 / 3200)  # 45004: 35 km
    assert deps.loc["45", "part_jeunes_45km_existantes"] == pytest.approx(600 / 3200)
    assert deps.loc["28", "part_jeunes_30km"] == pytest.approx(50 / 3550)
    assert deps.loc["28", "part_jeunes_30km_existantes"] == 0
    national = reach.national.iloc[0]
    assert national["part_jeunes_30km"] == pytest.approx(350 / 6750)
    assert national["part_jeunes_30km_existantes"] == pytest.approx(300 / 6750)
    assert (reach.nb_sites, reach.nb_existing) == (2, 1)
    # The commune layer names its nearest site and its places.
    row = reach.communes.set_index("code").loc["45004"]
    assert (row["ecole_proche"], row["nom_ecole_proche"]) == ("b", "École B")
    assert (row["nom_departement"], row["nom_region"]) == ("Loiret", "Centre-Val de Loire")
    # Where next: radius 30 km (the first threshold), the towns of 10,000 or more.
    assert reach.where_next["code"].tolist() == ["28002", "45004"]
    assert reach.where_next["rayon_km"].tolist() == [30.0, 30.0]
    assert reach.where_next["nom_departement"].tolist() == ["Eure-et-Loir", "Loiret"]
    assert reach.farthest["code"].tolist() == ["28002"]
    # Both départements hold a site but reach few of their young people within 30 km.
    assert reach.disagreements["departement"].tolist() == ["28", "45"]
    assert "part_jeunes_30km_existantes" not in measure_reach(communes, sites).departements


def test_inputs_are_left_alone() -> None:
    communes, sites = line()
    before = (communes.copy(), sites.copy())
    measure_reach(communes, sites, existing=sites.iloc[:1], places=PLACES)
    pd.testing.assert_frame_equal(communes, before[0])
    pd.testing.assert_frame_equal(sites, before[1])


def test_with_reach_adds_the_layer_columns_in_order() -> None:
    communes, sites = line()
    reach = measure_reach(communes, sites, existing=sites.iloc[:1],
                          options=ReachOptions(thresholds_km=(20, 30)))
    squares = [shapely.box(i, 0, i + 1, 1) for i in range(3)]
    deps = gpd.GeoDataFrame({"code": ["28", "45", "976"], "nom": ["E", "L", "M"]},
                            geometry=squares, crs="EPSG:4326")
    out = with_reach(deps, reach)
    assert list(out.columns) == [
        "code", "nom", "population", "jeunes_0_19", "jeunes_20km", "part_jeunes_20km",
        "part_jeunes_20km_existantes", "jeunes_30km", "part_jeunes_30km",
        "part_jeunes_30km_existantes", "nb_communes", "nb_communes_sans_donnees",
        "methode_distance", "facteur_detour", "geometry"]
    assert isinstance(out, gpd.GeoDataFrame)
    assert out.loc[1, "part_jeunes_20km"] == round(300 / 3200, 4)  # rounded to 0.01 %
    assert out.loc[2, ["nb_communes", "nb_communes_sans_donnees"]].tolist() == [0, 0]
    assert out.loc[2, ["population", "jeunes_0_19", "part_jeunes_30km"]].isna().all()
    assert list(deps.columns) == ["code", "nom", "geometry"]


def test_communes_layer_points_rounded_distances_and_method() -> None:
    communes, sites = line()
    layer = communes_layer(measure_reach(communes, sites,
                                         options=ReachOptions(detour_factor=1.3)))
    assert list(layer.columns) == ["code", "nom", "departement", "territoire", "population",
                                   "jeunes_0_19", "distance_km", "ecole_proche",
                                   "distance_route_estimee_km", "methode_distance",
                                   "geometry"]
    assert layer.crs == "EPSG:4326" and (layer.geom_type == "Point").all()
    assert layer.geometry.x.iloc[2] == pytest.approx(lonlat(40)[0])
    row = layer.set_index("code").loc["45003"]
    assert (row["distance_km"], row["distance_route_estimee_km"]) == (40.0, 52.0)
    assert layer["methode_distance"].unique().tolist() == [ROAD_ESTIMATE]
    assert np.all(np.round(layer["distance_km"], 2) == layer["distance_km"])


def test_reach_over_time_france_first_then_departements() -> None:
    communes, sites = line()
    days = {dt.date(2022, 12, 31): sites, dt.date(2021, 11, 23): sites.iloc[:1]}
    table = reach_over_time(communes, days)
    assert table.columns[:4].tolist() == ["perimetre", "departement", "date", "nb_sites"]
    france = table[table["perimetre"] == "france"]
    assert france["date"].tolist() == ["2021-11-23", "2022-12-31"]
    assert france["departement"].isna().all()
    assert france["nb_sites"].tolist() == [1, 2]
    assert france["part_jeunes_30km"].tolist() == [round(300 / 6750, 4), round(350 / 6750, 4)]
    deps = table[table["perimetre"] == "departement"]
    assert deps[["departement", "date"]].values.tolist() == [
        ["28", "2021-11-23"], ["28", "2022-12-31"], ["45", "2021-11-23"], ["45", "2022-12-31"]]
    assert deps["nb_sites"].tolist() == [0, 1, 1, 1]
