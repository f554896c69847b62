"""Tests of the join step on small synthetic départements (unit squares)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import MultiPolygon, box

from pipeline.errors import GeocodingError
from pipeline.french import join_french
from pipeline.steps.join import ANNEX_LABEL_CORRECTIONS, categorize, make_label, mark_coverage

REGISTRY = Path(__file__).resolve().parents[1] / "data" / "raw" / "ecoles.csv"


def squares() -> gpd.GeoDataFrame:
    """Four départements: 01 [0,1]², 02 right of it, 03 further right, 2A above 01."""
    cells = {"02": (1, 0), "01": (0, 0), "03": (2, 0), "2A": (0, 1)}
    return gpd.GeoDataFrame(
        {"code": list(cells), "nom": [f"Dép {c}" for c in cells]},
        geometry=[MultiPolygon([box(x, y, x + 1, y + 1)]) for x, y in cells.values()],
        crs="EPSG:4326",
    )


def site(id_: str, dep: str, lon: float, lat: float, *, existing: bool = False,
         ami: str | None = None, libelle: str | None = None, metier: str | None = "usinage",
         status: str = "ok") -> dict[str, object]:
    return {
        "id": id_, "nom": f"École {id_}", "commune": f"Commune {id_}", "departement": dep,
        "existante_2021": existing, "ami_2021": ami, "libelle_annexe": libelle,
        "metier": metier, "ouverture": None, "confiance": "haute",
        "sources": "https://example.org", "note": None, "code_insee": "01001",
        "nom_commune": f"Commune {id_}", "longitude": lon, "latitude": lat,
        "methode": "exact", "statut_geocodage": status,
    }


def sites_frame(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def test_statuses_counts_and_categories() -> None:
    sites = sites_frame(
        site("a", "01", 0.5, 0.5, existing=True),
        site("b", "01", 0.2, 0.2, ami="ingenierie"),
        site("c", "02", 1.5, 0.5, ami="ingenierie"),
        site("d", "02", 1.6, 0.6, ami="investissement"),
        site("e", "2A", 0.5, 1.5, existing=True, ami="investissement"),
    )
    cov = mark_coverage(sites, squares())
    deps = cov.departements.set_index("code")
    assert list(cov.departements["code"]) == ["01", "02", "03", "2A"]
    assert deps["statut"].to_dict() == {
        "01": "deja_couvert", "02": "nouvellement_couvert", "03": "non_couvert",
        "2A": "deja_couvert"}
    assert deps.loc["01", ["nb_ecoles_existantes", "nb_laureats_ingenierie",
                           "nb_laureats_investissement"]].tolist() == [1, 1, 0]
    assert deps.loc["02", ["nb_ecoles_existantes", "nb_laureats_ingenierie",
                           "nb_laureats_investissement"]].tolist() == [0, 1, 1]
    assert deps.loc["2A", "nb_ecoles_existantes"] == 1
    assert deps.loc["2A", "nb_laureats_investissement"] == 1
    for col in ("nb_ecoles_existantes", "nb_laureats_ingenierie", "nb_laureats_investissement"):
        assert cov.departements[col].dtype == "int64"
    # the school that is both existing and an investment laureate is drawn once, as laureate
    assert list(cov.sites["categorie"]) == [
        "existante", "ingenierie", "ingenierie", "investissement", "investissement"]
    assert list(cov.sites["departement_spatial"]) == ["01", "01", "02", "02", "2A"]
    assert cov.sites.crs == "EPSG:4326"
    assert cov.sites.geometry.geom_type.eq("Point").all()
    assert cov.mismatches.empty


def test_point_on_shared_border_is_deterministic() -> None:
    # x = 1 is the border of 01 and 02: the declared département wins, whatever the order
    on_border = [site("x", "02", 1.0, 0.5, ami="ingenierie"),
                 site("y", "01", 1.0, 0.25, ami="ingenierie")]
    deps = squares()
    forward = mark_coverage(sites_frame(*on_border), deps)
    backward = mark_coverage(sites_frame(*on_border[::-1]), deps.iloc[::-1])
    assert list(forward.sites["departement_spatial"]) == ["02", "01"]
    assert list(backward.sites["departement_spatial"]) == ["01", "02"]
    assert forward.mismatches.empty
    # declared in neither: the smallest code is chosen and the site is reported
    other = mark_coverage(sites_frame(site("z", "03", 1.0, 0.5)), deps)
    assert other.sites["departement_spatial"].tolist() == ["01"]
    assert other.mismatches["id"].tolist() == ["z"]


def test_mismatch_is_reported_not_dropped() -> None:
    sites = sites_frame(site("a", "01", 0.5, 0.5, existing=True),
                        site("b", "03", 1.5, 0.5, ami="ingenierie"),
                        site("sea", "01", 10.0, 10.0, ami="ingenierie"))
    cov = mark_coverage(sites, squares())
    assert len(cov.sites) == 3
    assert cov.mismatches[["id", "departement", "departement_spatial"]].astype(
        object).where(cov.mismatches[["id", "departement", "departement_spatial"]].notna(),
                      None).values.tolist() == [["b", "03", "02"], ["sea", "01", None]]
    # counted where the point truly is
    deps = cov.departements.set_index("code")
    assert deps.loc["02", "statut"] == "nouvellement_couvert"
    assert deps.loc["03", "statut"] == "non_couvert"


def test_inputs_are_not_mutated() -> None:
    sites = sites_frame(site("a", "01", 0.5, 0.5, existing=True))
    deps = squares()
    sites_before, deps_before = sites.copy(), deps.copy()
    mark_coverage(sites, deps)
    pd.testing.assert_frame_equal(sites, sites_before)
    assert_geodataframe_equal(deps, deps_before)


def test_unresolved_geocode_raises_listing_every_site() -> None:
    sites = sites_frame(site("a", "01", 0.5, 0.5, existing=True),
                        site("b", "02", float("nan"), float("nan"), status="introuvable"),
                        site("c", "03", 2.5, 0.5, status="ambigu"))
    with pytest.raises(GeocodingError) as err:
        mark_coverage(sites, squares())
    message = str(err.value)
    assert "2 site(s)" in message
    assert "'b'" in message and "'introuvable'" in message and "Commune b" in message
    assert "'c'" in message and "'ambigu'" in message and "'03'" in message
    assert "'a'" not in message


def test_other_crs_is_reprojected() -> None:
    cov = mark_coverage(sites_frame(site("a", "02", 1.5, 0.5, ami="ingenierie")),
                        squares().to_crs("EPSG:3857"))
    assert cov.departements.crs == "EPSG:4326"
    assert cov.sites["departement_spatial"].tolist() == ["02"]


@pytest.mark.parametrize(("place", "metier", "expected"), [
    ("Dunkerque", "usinage", "Dunkerque Usinage"),
    ("O'Tech", "usinage; chaudronnerie", "O'Tech Usinage et chaudronnerie"),
    ("Fask Academy", "textile", "Fask Academy Textile"),
    ("Lyon", "a; b;c", "Lyon A, b et c"),
    ("Lyon", None, "Lyon"),
    ("Lyon", "  ", "Lyon"),
    ("Lyon 9e Arrondissement", "usinage", "Lyon Usinage"),
    ("Marseille 15e Arrondissement", "textile", "Marseille Textile"),
    ("Paris 15e Arrondissement", None, "Paris"),
    ("Paris 1er arrondissement", "bois", "Paris Bois"),
    ("Marseille 3ème Arrondissement", "", "Marseille"),
    ("  Lyon   Confluence ", "usinage", "Lyon Confluence Usinage"),
    ("Arrondissement Factory", "bois", "Arrondissement Factory Bois"),
])
def test_make_label(place: str, metier: str | None, expected: str) -> None:
    assert make_label(place, metier) == expected


def test_label_uses_annex_name_else_commune() -> None:
    sites = sites_frame(site("a", "01", 0.5, 0.5, existing=True, libelle="O'Tech",
                             metier="usinage; chaudronnerie"),
                        site("b", "01", 0.5, 0.4, existing=True, metier="textile"))
    assert mark_coverage(sites, squares()).sites["etiquette"].tolist() == [
        "O'Tech Usinage et chaudronnerie", "Commune b Textile"]


def test_misspelt_annex_labels_are_corrected_and_kept_verbatim() -> None:
    sites = sites_frame(site("a", "01", 0.5, 0.5, ami="ingenierie", libelle="Châteaubriand",
                             metier="bois"),
                        site("b", "01", 0.5, 0.4, existing=True, ami="investissement",
                             libelle="Saint-Eloi", metier="joaillerie"))
    corrected = mark_coverage(sites, squares()).sites
    assert corrected["etiquette"].tolist() == ["Châteaubriant Bois", "Saint-Éloi Joaillerie"]
    assert corrected["libelle_annexe"].tolist() == ["Châteaubriand", "Saint-Eloi"]
    verbatim = mark_coverage(sites, squares(), label_corrections={}).sites
    assert verbatim["etiquette"].tolist() == ["Châteaubriand Bois", "Saint-Eloi Joaillerie"]
    assert ANNEX_LABEL_CORRECTIONS["Châteaubriand"] == "Châteaubriant"


def test_join_french_and_categorize() -> None:
    assert join_french([]) == ""
    assert join_french(["a"]) == "a"
    assert join_french(["a", "b"]) == "a et b"
    assert categorize(True, "investissement") == "investissement"
    assert categorize(True, None) == "existante"
    assert categorize(False, float("nan")) == "autre"


def test_real_registry_gives_13_newly_covered() -> None:
    from pipeline.run import load_registry
    from pipeline.sources.embedded import read_gazetteer
    from pipeline.sources.inputs import read_departements
    from pipeline.steps.geocode import geocode_sites

    sites = geocode_sites(load_registry(REGISTRY), read_gazetteer())
    cov = mark_coverage(sites, read_departements()[0])
    assert cov.mismatches.empty, cov.mismatches.to_string()
    assert len(cov.departements) == 101
    assert cov.departements["statut"].eq("nouvellement_couvert").sum() == 13


def test_point_just_outside_takes_nearest_within_tolerance() -> None:
    # 0.00001° south of 01 is about 1.1 m outside: a seaside town hall off a simplified coast
    sites = sites_frame(site("quay", "01", 0.5, -0.00001, ami="ingenierie"),
                        site("far", "01", 0.5, -0.1, ami="ingenierie"))
    cov = mark_coverage(sites, squares())
    assert cov.sites["departement_spatial"].tolist()[0] == "01"
    assert 1.0 < cov.sites["distance_departement_m"].iloc[0] < 1.3
    assert pd.isna(cov.sites["departement_spatial"].iloc[1])  # 11 km away: not guessed
    assert cov.mismatches["id"].tolist() == ["far"]
    strict = mark_coverage(sites, squares(), tolerance_m=0.5)
    assert strict.mismatches["id"].tolist() == ["quay", "far"]
