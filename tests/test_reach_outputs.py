"""The reach in what analysts open: GeoPackage layers, columns and styles, CSVs, report, CLI."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from pipeline.schema import DEPARTEMENT_CODES
from tests.conftest import GOOD_ROWS
from tests.test_gpkg import _system_qgis

REGISTRY = Path("data/raw/ecoles.csv")
OPENINGS = Path("data/raw/ouvertures.csv")
DAY = "2025-12-31"

#: Every test here reads a full build of the real registry: the full tier only.
pytestmark = pytest.mark.slow


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as con:
        return con.execute(sql).fetchall()


def columns(path: Path, table: str) -> list[str]:
    return [r[1] for r in query(path, f"PRAGMA table_info({table})")]


def style(path: Path, layer: str) -> ET.Element:
    [(qml,)] = query(path, f"SELECT styleQML FROM layer_styles WHERE f_table_name = '{layer}'")
    return ET.fromstring(str(qml).split("\n", 1)[1])


def categories(path: Path, layer: str) -> list[str]:
    return [str(c.get("value")) for c in style(path, layer).iter("category")]


def join(tmp: Path, *extra: str, registry: Path = REGISTRY):
    return CliRunner().invoke(main, ["join", str(registry), "--processed-dir", str(tmp),
                                     *extra])


@pytest.fixture(scope="module")
def annex(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("annexe")
    result = join(folder)
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def dated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("date")
    result = join(folder, "--as-of", DAY, "--openings", str(OPENINGS))
    assert result.exit_code == 0, result.output
    return folder


# --- the annex GeoPackage -------------------------------------------------------------------------
def test_communes_layer_as_analysts_open_it(annex: Path) -> None:
    gpkg = annex / "couverture.gpkg"
    [(kind, title, description, srs)] = query(
        gpkg, "SELECT data_type, identifier, description, srs_id FROM gpkg_contents "
              "WHERE table_name = 'communes_acces'")
    assert (kind, srs) == ("features", 4326)
    assert title == "Accès des communes aux écoles de production (23 novembre 2021)"
    assert "vol d'oiseau" in description and "les 63 sites" in description
    assert "0 à 19 ans et non 15 à 18" in description
    assert columns(gpkg, "communes_acces") == [
        "fid", "geom", "code", "nom", "departement", "territoire", "population", "jeunes_0_19",
        "distance_km", "ecole_proche", "methode_distance"]
    assert query(gpkg, "SELECT count(*) FROM rtree_communes_acces_geom") == [(34875,)]
    assert query(gpkg, "SELECT count(*), count(jeunes_0_19) FROM communes_acces "
                       "WHERE departement = '976'") == [(17, 0)]  # Mayotte: NULL, never 0
    assert query(gpkg, "SELECT DISTINCT methode_distance FROM communes_acces") == [
        ("ligne_droite",)]
    # Every nearest site is a site of the layer ecoles.
    assert query(gpkg, "SELECT count(*) FROM communes_acces WHERE ecole_proche IS NOT NULL "
                       "AND ecole_proche NOT IN (SELECT id FROM ecoles)") == [(0,)]
    [(code, name, distance)] = query(gpkg, "SELECT code, nom, distance_km FROM communes_acces "
                                           "WHERE code = '75056'")
    assert (code, name) == ("75056", "Paris") and 0 < float(distance) < 30  # type: ignore[arg-type]


def test_departements_and_ecoles_gain_regions_and_reach(annex: Path) -> None:
    gpkg = annex / "couverture.gpkg"
    assert columns(gpkg, "departements")[2:15] == [
        "code", "nom", "code_region", "nom_region", "statut", "nb_ecoles_existantes",
        "nb_laureats_ingenierie", "nb_laureats_investissement", "population", "jeunes_0_19",
        "jeunes_30km", "part_jeunes_30km", "part_jeunes_30km_existantes"]
    ecoles = columns(gpkg, "ecoles")
    at = ecoles.index("departement")
    assert ecoles[at:at + 4] == ["departement", "nom_departement", "code_region", "nom_region"]
    assert query(gpkg, "SELECT nom_departement, code_region, nom_region FROM ecoles "
                       "WHERE id = 'boisard'") == [("Rhône", "84", "Auvergne-Rhône-Alpes")]
    paris, gironde, mayotte = (query(gpkg, "SELECT part_jeunes_30km, part_jeunes_30km_existantes"
                                           f", jeunes_0_19 FROM departements WHERE code = '{c}'")
                               [0] for c in ("75", "33", "976"))
    assert paris[:2] == (1.0, 1.0) and gironde[:2] == (0.0, 0.0)
    assert mayotte == (None, None, None)
    [(share, alone)] = query(gpkg, "SELECT sum(jeunes_30km) * 1.0 / sum(jeunes_0_19), "
                                   "sum(part_jeunes_30km_existantes * jeunes_0_19) / "
                                   "sum(jeunes_0_19) FROM departements")
    assert 0.50 < float(share) < 0.51 and 0.44 < float(alone) < 0.45  # type: ignore[arg-type]
    meta = " ".join(str(r[0]) for r in query(gpkg, "SELECT metadata FROM gpkg_metadata"))
    assert "RP 2021" in meta and "METHODE_ACCES" in meta  # GDAL's XML of the dataset metadata


def test_annex_styles_hold_only_annex_values(annex: Path) -> None:
    gpkg = annex / "couverture.gpkg"
    assert query(gpkg, "SELECT f_table_name, f_table_schema, f_geometry_column, useAsDefault "
                       "FROM layer_styles ORDER BY f_table_name") == [
        ("communes_acces", "", "geom", 1), ("departements", "", "geom", 1),
        ("ecoles", "", "geom", 1)]
    assert categories(gpkg, "ecoles") == ["existante", "ingenierie", "investissement", "autre"]
    assert categories(gpkg, "departements") == ["nouvellement_couvert", "deja_couvert",
                                                "non_couvert"]
    renderer = style(gpkg, "communes_acces").find("renderer-v2")
    assert renderer is not None and renderer.get("type") == "graduatedSymbol"
    assert renderer.get("attr") == "distance_km"
    assert [(r.get("lower"), r.get("upper"), r.get("label")) for r in renderer.iter("range")] == [
        ("0.000000", "30.000000", "à moins de 30 km"), ("30.000000", "45.000000",
                                                         "de 30 à 45 km"),
        ("45.000000", "10000.000000", "plus de 45 km")]


def test_reach_tables_and_report(annex: Path) -> None:
    deps = pd.read_csv(annex / "acces_departements.csv", dtype={"code": str})
    assert len(deps) == 101 and deps["code"].tolist() == sorted(DEPARTEMENT_CODES)
    assert {"nom_region", "part_jeunes_30km", "part_jeunes_45km_existantes",
            "methode_distance"} <= set(deps.columns)
    far = pd.read_csv(annex / "communes_les_plus_eloignees.csv", dtype={"code": str})
    assert len(far) == 100 and far["rang"].tolist() == list(range(1, 101))
    assert far["jeunes_0_19"].is_monotonic_decreasing
    assert ((far["distance_km"] > 45) | far["distance_km"].isna()).all()
    assert far.loc[0, "nom"] == "Nice"
    picks = pd.read_csv(annex / "ou_ensuite.csv", dtype={"code": str})
    assert picks["rang"].tolist() == list(range(1, 11))
    assert picks.loc[0, ["code", "nom"]].tolist() == ["33003", "Ambarès-et-Lagrave"]
    assert picks["jeunes_atteints_cumul"].is_monotonic_increasing
    for name in ("acces_departements.csv", "communes_les_plus_eloignees.csv", "ou_ensuite.csv"):
        assert (annex / name).read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads accents
    report = (annex / "rapprochement.md").read_text(encoding="utf-8")
    section = report.split("## Accès des jeunes aux écoles de production")[1]
    assert "| France (hors Mayotte) | 50,4 % | 62,1 % |" in section
    assert "| écoles existantes seules (42) | 44,6 % | 53,3 % |" in section
    for place in ("Nièvre (58)", "Marne (51)", "Loir-et-Cher (41)", "Ille-et-Vilaine (35)",
                  "Paris (75)", "Hauts-de-Seine (92)", "Val-de-Marne (94)", "Val-d'Oise (95)",
                  "Essonne (91)"):
        assert place in section, place
    assert "vol d'oiseau" in section and "pas de 15 à 18 ans" in section
    assert "Mayotte" in section and "capacité" in section


# --- a dated GeoPackage ---------------------------------------------------------------------------
def test_dated_files_carry_the_date_and_count_open_sites_only(dated: Path) -> None:
    names = sorted(p.name for p in dated.iterdir())
    assert names == sorted(f"{stem}-{DAY}.{ext}" for stem, ext in (
        ("couverture", "gpkg"), ("ecoles", "csv"), ("rapprochement", "md"),
        ("acces_departements", "csv"), ("communes_les_plus_eloignees", "csv"),
        ("ou_ensuite", "csv")))
    gpkg = dated / f"couverture-{DAY}.gpkg"
    [(description,)] = query(gpkg, "SELECT description FROM gpkg_contents "
                                   "WHERE table_name = 'communes_acces'")
    [(open_sites,)] = query(gpkg, "SELECT count(*) FROM ecoles WHERE ouverte")
    assert f"les {open_sites} sites ouverts au 31 décembre 2025" in description
    # Announced laureates not open yet reach no one: no commune has one as nearest site.
    assert query(gpkg, "SELECT count(*) FROM communes_acces WHERE ecole_proche IN "
                       "(SELECT id FROM ecoles WHERE NOT ouverte)") == [(0,)]
    assert "part_jeunes_30km_existantes" not in columns(gpkg, "departements")
    assert categories(gpkg, "ecoles") == ["ouverte", "ouverte_depuis_annexe", "annoncee",
                                          "fermee"]
    assert set(categories(gpkg, "departements")) == {
        "couvert_avant_annexe", "couvert_depuis_annexe", "annonce", "non_couvert"}
    assert query(gpkg, "SELECT statut, premiere_ouverture, precision_premiere_ouverture FROM "
                       "departements WHERE code = '44'") == [
        ("couvert_avant_annexe", "2021-11-23", "au_plus_tard")]
    assert query(gpkg, "SELECT date_ouverture, precision_ouverture FROM ecoles "
                       "WHERE id = 'boisard'") == [("1882-12-31", "annee")]


# --- options --------------------------------------------------------------------------------------
def test_reach_options_reach_every_output(tmp_path: Path,
                                          write_registry: Callable[..., Path]) -> None:
    result = join(tmp_path, "--reach-km", "40", "--reach-km", "20", "--detour", "1.3",
                  "--where-next", "3", registry=write_registry(GOOD_ROWS))
    assert result.exit_code == 0, result.output
    assert "estimation routière" in result.output and "20 km" in result.output
    gpkg = tmp_path / "couverture.gpkg"
    deps = columns(gpkg, "departements")
    assert {"part_jeunes_20km", "part_jeunes_40km", "part_jeunes_20km_existantes"} <= set(deps)
    assert "part_jeunes_30km" not in deps
    assert query(gpkg, "SELECT DISTINCT methode_distance, facteur_detour FROM departements "
                       "WHERE code != '976'") == [("estimation_route", 1.3)]
    assert "distance_route_estimee_km" in columns(gpkg, "communes_acces")
    renderer = style(gpkg, "communes_acces").find("renderer-v2")
    assert renderer is not None and renderer.get("attr") == "distance_route_estimee_km"
    assert [r.get("upper") for r in renderer.iter("range")][:2] == ["20.000000", "40.000000"]
    picks = pd.read_csv(tmp_path / "ou_ensuite.csv")
    assert len(picks) == 3 and set(picks["rayon_km"]) == {20.0}
    assert set(picks["methode_distance"]) == {"estimation_route"}
    report = (tmp_path / "rapprochement.md").read_text(encoding="utf-8")
    assert "estimation routière : distance à vol d'oiseau × 1,3" in report


@pytest.mark.parametrize("args", [
    ["--reach-km", "0"], ["--reach-km", "-5"], ["--reach-km", "trente"], ["--reach-km", "nan"],
    ["--reach-km", "301"], ["--detour", "0.9"], ["--detour", "4"], ["--detour", "inf"],
    ["--where-next", "0"], ["--where-next", "2.5"]])
@pytest.mark.parametrize("command", ["join", "build", "history"])
def test_bad_reach_options_are_usage_errors(tmp_path: Path, command: str,
                                            args: list[str]) -> None:
    result = CliRunner().invoke(main, [command, str(REGISTRY), "--processed-dir",
                                       str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert not any(tmp_path.iterdir())


# --- booleans, and the registry ingested again ----------------------------------------------------
def test_registre_is_ingested_again_unchanged(tmp_path: Path, annex: Path) -> None:
    first = tmp_path / "registre.csv"
    again = tmp_path / "registre-2.csv"
    for source, target in ((REGISTRY, first), (first, again)):
        result = CliRunner().invoke(main, ["ingest", str(source), "-o", str(target)])
        assert result.exit_code == 0, result.output
    assert again.read_bytes() == first.read_bytes() == (annex / "registre.csv").read_bytes()
    written = pd.read_csv(first, dtype=str, keep_default_na=False)
    assert set(written["existante_2021"]) == {"oui", "non"}
    table = pd.read_csv(annex / "ecoles.csv", dtype=str, keep_default_na=False)
    assert set(table["existante_2021"]) == {"oui", "non"}
    types = {r[1]: r[2] for r in query(annex / "couverture.gpkg", "PRAGMA table_info(ecoles)")}
    assert types["existante_2021"] == "BOOLEAN"


def test_two_runs_write_the_same_bytes(tmp_path: Path, annex: Path) -> None:
    result = join(tmp_path)
    assert result.exit_code == 0, result.output
    for path in sorted(annex.iterdir()):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


# --- QGIS, where installed ------------------------------------------------------------------------
QGIS_SCRIPT = """
import os
import sys
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
layer = QgsVectorLayer(sys.argv[1] + "|layername=communes_acces", "communes_acces", "ogr")
assert layer.isValid()
message, ok = layer.loadDefaultStyle()
assert ok, message
renderer = layer.renderer()
print(renderer.type(), renderer.classAttribute(),
      ";".join(f"{r.lowerValue():g}-{r.upperValue():g}" for r in renderer.ranges()))
for name in ("ecoles", "departements"):
    other = QgsVectorLayer(sys.argv[1] + "|layername=" + name, name, "ogr")
    other.loadDefaultStyle()
    print(name, ",".join(c.value() for c in other.renderer().categories()))
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(_system_qgis() is None, reason="python3-qgis is not installed")
def test_qgis_draws_the_reach_layer_and_the_dated_categories(dated: Path) -> None:
    python = _system_qgis()
    assert python is not None
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([python, "-c", QGIS_SCRIPT, str(dated / f"couverture-{DAY}.gpkg")],
                          capture_output=True, text=True, env=env, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "graduatedSymbol distance_km 0-30;30-45;45-10000" in lines
    assert "ecoles ouverte,ouverte_depuis_annexe,annoncee,fermee" in lines
