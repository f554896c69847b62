"""Tests of the analysts' GeoPackage, read back with sqlite3 as any tool would."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pyogrio
import pytest

from pipeline import config
from pipeline.outputs.gpkg import (
    LAYER_DESCRIPTIONS,
    LAYER_TITLES,
    coverage_metadata,
    write_coverage_gpkg,
)
from pipeline.outputs.qgis_styles import (
    CLOSED_CATEGORY,
    departements_qml,
    departements_sld,
    ecoles_qml,
    ecoles_sld,
)
from pipeline.provenance import Provenance
from pipeline.schema import ANNEX_CATEGORIES, ANNEX_STATUSES, DATED_CATEGORIES, DATED_STATUSES
from pipeline.steps.join import Coverage, mark_coverage
from tests.test_join import site, sites_frame, squares

# What a coverage GeoPackage can hold: the map's styles less the reach map's own (its
# classes and its one site symbol are drawn from columns, never stored as values).
CATEGORY_STYLE = {k: v for k, v in config.CATEGORY_STYLE.items()
                  if k in {*ANNEX_CATEGORIES, *DATED_CATEGORIES}}
STATUS_STYLE = {k: v for k, v in config.STATUS_STYLE.items()
                if k in {*ANNEX_STATUSES, *DATED_STATUSES}}

METADATA = {"TITRE": "essai", "SOURCES": "IGN – ADMIN EXPRESS COG (2024)"}
SHAPES = {"existante": "circle", "ingenierie": "triangle", "investissement": "square",
          "ouverte": "circle", "ouverte_depuis_annexe": "diamond", "annoncee": "triangle"}


@pytest.fixture
def coverage() -> Coverage:
    return mark_coverage(sites_frame(
        site("a", "01", 0.5, 0.5, existing=True, metier="bois"),
        site("b", "02", 1.123456789, 0.5, ami="ingenierie", libelle="Dunkerque"),
        site("c", "2A", 0.5, 1.5, existing=True, ami="investissement", libelle="O'Tech",
             metier="usinage; chaudronnerie"),
    ), squares())


@pytest.fixture
def gpkg(tmp_path: Path, coverage: Coverage) -> Path:
    return write_coverage_gpkg(coverage.sites, coverage.departements,
                               tmp_path / "couverture.gpkg", metadata=METADATA)


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as con:
        return con.execute(sql).fetchall()


def test_contents_titles_and_descriptions(gpkg: Path) -> None:
    rows = query(gpkg, "SELECT table_name, data_type, identifier, description, last_change, "
                       "srs_id FROM gpkg_contents ORDER BY table_name")
    by_name = {r[0]: r for r in rows}
    assert set(by_name) == {"ecoles", "departements", "layer_styles"}
    for layer in ("ecoles", "departements"):
        _, kind, ident, desc, changed, srs = by_name[layer]
        assert (kind, ident, desc, srs) == ("features", LAYER_TITLES[layer],
                                            LAYER_DESCRIPTIONS[layer], 4326)
        assert changed == "2021-11-23T00:00:00.000Z"
    assert query(gpkg, "SELECT table_name, column_name, geometry_type_name FROM "
                       "gpkg_geometry_columns ORDER BY table_name") == [
        ("departements", "geom", "MULTIPOLYGON"), ("ecoles", "geom", "POINT")]


def test_spatial_index_and_columns(gpkg: Path) -> None:
    tables = {r[0] for r in query(gpkg, "SELECT name FROM sqlite_master")}
    assert {"rtree_ecoles_geom", "rtree_departements_geom"} <= tables
    assert query(gpkg, "SELECT count(*) FROM rtree_ecoles_geom") == [(3,)]
    extensions = query(gpkg, "SELECT table_name, extension_name FROM gpkg_extensions")
    assert ("ecoles", "gpkg_rtree_index") in extensions
    with sqlite3.connect(gpkg) as con:
        deps = {r[1]: (r[2], r[5]) for r in con.execute("PRAGMA table_info(departements)")}
        ecoles = [r[1] for r in con.execute("PRAGMA table_info(ecoles)")]
        types = {r[1]: r[2] for r in con.execute("PRAGMA table_info(ecoles)")}
    assert deps["fid"] == ("INTEGER", 1)
    assert deps["code"][0] == "TEXT"
    assert deps["nb_ecoles_existantes"][0] == "INTEGER"
    assert ecoles[:4] == ["fid", "geom", "id", "nom"]
    assert "departement_spatial" in ecoles and "etiquette" in ecoles
    assert all(c == c.lower() for c in ecoles)
    assert types["existante_2021"] == "BOOLEAN"
    assert query(gpkg, "SELECT code, statut FROM departements ORDER BY fid") == [
        ("01", "deja_couvert"), ("02", "nouvellement_couvert"), ("03", "non_couvert"),
        ("2A", "deja_couvert")]
    assert query(gpkg, "SELECT id, categorie, etiquette, existante_2021 FROM ecoles "
                       "ORDER BY fid") == [
        ("a", "existante", "Commune a Bois", 1), ("b", "ingenierie", "Dunkerque Usinage", 0),
        ("c", "investissement", "O'Tech Usinage et chaudronnerie", 1)]


def test_coordinates_are_rounded(gpkg: Path) -> None:
    frame = pyogrio.read_dataframe(gpkg, layer="ecoles")
    assert frame.geometry.x.tolist()[1] == 1.123457
    assert frame["longitude"].tolist()[1] == 1.123457


def test_dataset_metadata(gpkg: Path) -> None:
    meta = pyogrio.read_info(gpkg, layer="ecoles")["dataset_metadata"]
    assert meta == METADATA


def test_layer_styles_as_qgis_requires(gpkg: Path) -> None:
    rows = query(gpkg, "SELECT f_table_catalog, f_table_schema, f_table_name, "
                       "f_geometry_column, styleName, useAsDefault, update_time, styleQML, "
                       "styleSLD FROM layer_styles ORDER BY f_table_name")
    assert [r[2] for r in rows] == ["departements", "ecoles"]
    for catalog, schema, _, geom, name, default, updated, qml, sld in rows:
        assert catalog == "" and schema == ""  # '' and not NULL, or QGIS ignores the row
        assert geom == "geom" and name and default == 1
        assert updated == "2021-11-23T00:00:00.000Z"
        assert ET.fromstring(qml.split("\n", 1)[1]).tag == "qgis"
        assert ET.fromstring(sld).tag.endswith("StyledLayerDescriptor")


def qml_categories(qml: str) -> tuple[str, dict[str, tuple[str, str | None]]]:
    root = ET.fromstring(qml.split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer is not None and renderer.get("type") == "categorizedSymbol"
    out = {}
    for cat in renderer.iter("category"):
        symbol = renderer.find(f"symbols/symbol[@name='{cat.get('symbol')}']")
        assert symbol is not None
        props = {o.get("name"): o.get("value") for o in symbol.iter("Option")
                 if o.get("name")}
        out[str(cat.get("value"))] = (str(props["color"]), props.get("name"))
    return str(renderer.get("attr")), out


def rgba(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},255"


def test_qml_departements_categories() -> None:
    attr, cats = qml_categories(departements_qml())
    assert attr == "statut"
    assert {k: v[0] for k, v in cats.items()} == {
        k: rgba(v["colour"]) for k, v in STATUS_STYLE.items()}


def test_qml_ecoles_categories_shapes_and_labels() -> None:
    attr, cats = qml_categories(ecoles_qml())
    assert attr == "categorie"
    for key, style in CATEGORY_STYLE.items():
        assert cats[key] == (rgba(style["colour"]), SHAPES[key])
    root = ET.fromstring(ecoles_qml().split("\n", 1)[1])
    assert root.get("labelsEnabled") == "1"
    text_style = root.find("labeling/settings/text-style")
    assert text_style is not None and text_style.get("fieldName") == "etiquette"


def test_sld_rules_match_categories() -> None:
    se = "{http://www.opengis.net/se}"
    ogc = "{http://www.opengis.net/ogc}"
    root = ET.fromstring(ecoles_sld())
    rules = {r.findtext(f"{ogc}Filter/{ogc}PropertyIsEqualTo/{ogc}Literal"):
             (r.findtext(f".//{se}WellKnownName"),
              r.findtext(f".//{se}Mark/{se}Fill/{se}SvgParameter"))
             for r in root.iter(f"{se}Rule")}
    for key, style in CATEGORY_STYLE.items():
        # SLD has no diamond among its well-known marks: a square stands for it.
        expected = {"diamond": "square"}.get(SHAPES[key], SHAPES[key])
        assert rules[key] == (expected, style["colour"])
    deps = ET.fromstring(departements_sld())
    fills = [r.findtext(f".//{se}Fill/{se}SvgParameter") for r in deps.iter(f"{se}Rule")]
    assert fills == [v["colour"] for v in STATUS_STYLE.values()]


def test_each_file_styles_only_the_values_it_can_hold(tmp_path: Path,
                                                      coverage: Coverage) -> None:
    annex = write_coverage_gpkg(coverage.sites, coverage.departements,
                                tmp_path / "annexe.gpkg", metadata=METADATA)
    dated = write_coverage_gpkg(coverage.sites, coverage.departements,
                                tmp_path / "date.gpkg", metadata=METADATA,
                                as_of=dt.date(2024, 12, 31))
    expected = {
        annex: ({"existante", "ingenierie", "investissement", "autre"},
                {"deja_couvert", "nouvellement_couvert", "non_couvert"}),
        dated: ({"ouverte", "ouverte_depuis_annexe", "annoncee", "fermee"},
                {"couvert_avant_annexe", "couvert_depuis_annexe", "annonce", "non_couvert"}),
    }
    for path, (site_values, statuses) in expected.items():
        styles = dict(query(path, "SELECT f_table_name, styleQML FROM layer_styles"))
        assert set(qml_categories(str(styles["ecoles"]))[1]) == site_values, path.name
        assert set(qml_categories(str(styles["departements"]))[1]) == statuses, path.name
    closed = qml_categories(ecoles_qml(dated=True))[1]["fermee"]
    assert closed == (rgba(CLOSED_CATEGORY["colour"]), "circle")


def test_rewrite_is_byte_identical(tmp_path: Path, coverage: Coverage, gpkg: Path) -> None:
    again = write_coverage_gpkg(coverage.sites, coverage.departements,
                                tmp_path / "other" / "couverture.gpkg", metadata=METADATA)
    assert again.read_bytes() == gpkg.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["couverture.gpkg", "other"]
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None


def test_failed_write_leaves_previous_file(tmp_path: Path, coverage: Coverage,
                                           gpkg: Path) -> None:
    before = gpkg.read_bytes()
    broken = coverage.sites.set_crs("EPSG:2154", allow_override=True)
    with pytest.raises(Exception, match="EPSG:4326"):
        write_coverage_gpkg(broken, coverage.departements, gpkg, metadata=METADATA)
    assert gpkg.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["couverture.gpkg"]


def test_metadata_from_sources_registry() -> None:
    registry = {
        "sources": {"press_release_2021": {
            "attribution": "Dossier de presse", "title": "34 projets", "date": "2021-11-23",
            "licence": "Licence Ouverte 2.0"}},
        "products": {
            "deps": {"layer": "departements", "attribution": "IGN", "edition": "COG 2024",
                     "path": "d.gpkg", "sha256": "ab", "licence": "Licence Ouverte 2.0"},
            "communes": {"attribution": "INSEE", "edition": "COG 2025", "path": "c.csv.xz",
                         "sha256": "cd", "licence": "Licence Ouverte 2.0"}},
    }
    meta = coverage_metadata(registry)
    assert meta["DATE_ANNEXE"] == "2021-11-23"
    assert meta["LICENCE"] == "Licence Ouverte 2.0"
    assert meta["VERSION_PIPELINE"].startswith("ecoles-map ")
    assert "COG 2024" in meta["SOURCES"] and "COG 2025" in meta["SOURCES"]
    online = coverage_metadata(registry, provenance=Provenance("ign", "2021", "", ""))
    assert "d.gpkg" not in online["SOURCES"]
    assert online["SOURCE_DEPARTEMENTS"] == "edition : 2021 ; licence :  ; source : ign ; url : "


QGIS_SCRIPT = """
import os
import sys
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
for name, field in (("ecoles", "categorie"), ("departements", "statut")):
    layer = QgsVectorLayer(sys.argv[1] + "|layername=" + name, name, "ogr")
    assert layer.isValid(), name
    message, ok = layer.loadDefaultStyle()
    renderer = layer.renderer()
    assert ok, message
    assert renderer.type() == "categorizedSymbol", renderer.type()
    assert renderer.classAttribute() == field
    print(name, ",".join(c.value() + "=" + c.symbol().color().name()
                         for c in renderer.categories()), layer.labelsEnabled())
sys.stdout.flush()
os._exit(0)  # QgsApplication.exitQgis() may crash headless after the checks have run
"""


def _system_qgis() -> str | None:
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        return None
    probe = subprocess.run([python, "-c", "import qgis.core"], capture_output=True,
                           check=False)
    return python if probe.returncode == 0 else None


@pytest.mark.skipif(_system_qgis() is None, reason="python3-qgis is not installed")
def test_qgis_loads_default_styles(gpkg: Path) -> None:
    python = _system_qgis()
    assert python is not None
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([python, "-c", QGIS_SCRIPT, str(gpkg)], capture_output=True,
                          text=True, env=env, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines()
                 if line.startswith(("ecoles ", "departements ")))
    assert f"existante={CATEGORY_STYLE['existante']['colour'].lower()}" in lines["ecoles"]
    assert lines["ecoles"].endswith("True")
    assert f"nouvellement_couvert={STATUS_STYLE['nouvellement_couvert']['colour'].lower()}" \
        in lines["departements"]
