"""Tests of the département boundaries: the embedded layer, both IGN schemas, the CLI."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal

import pipeline.sources.ign
from cli import main
from pipeline.config import EMBEDDED_DEPARTEMENTS, sources
from pipeline.errors import BoundaryError
from pipeline.outputs.gpkg import write_departements
from pipeline.provenance import Provenance
from pipeline.schema import DEPARTEMENT_CODES
from pipeline.sources.inputs import read_departements
from pipeline.steps.boundaries import normalize_departements

#: Llívia, a Spanish exclave inside Pyrénées-Orientales: the one true hole in metro France.
LLIVIA = shapely.Point(1.9806, 42.4636)


@pytest.fixture(scope="module")
def departements() -> gpd.GeoDataFrame:
    return read_departements()[0]


def test_embedded_schema_and_provenance(departements: gpd.GeoDataFrame) -> None:
    _, provenance = read_departements()
    assert list(departements.columns) == ["code", "nom", "geometry"]
    assert departements["code"].tolist() == sorted(DEPARTEMENT_CODES)
    assert departements.crs.equals("EPSG:4326")
    assert (departements.geom_type == "MultiPolygon").all()
    assert departements.is_valid.all()
    assert not departements.is_empty.any()
    noms = dict(zip(departements["code"], departements["nom"], strict=True))
    assert (noms["2A"], noms["974"], noms["01"]) == ("Corse-du-Sud", "La Réunion", "Ain")
    assert provenance.licence == "Licence Ouverte 2.0"
    assert provenance.source.startswith("IGN – ADMIN EXPRESS COG")
    assert provenance.sha256 == sources()["products"]["departements_gpkg"]["sha256"]


def test_embedded_files_match_their_recorded_checksums() -> None:
    import hashlib

    from pipeline.config import EMBEDDED_GAZETTEER

    products = sources()["products"]
    for key, path in (("departements_gpkg", EMBEDDED_DEPARTEMENTS),
                      ("communes_csv_gz", EMBEDDED_GAZETTEER)):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == products[key]["sha256"], key




def _timed(func: object) -> float:
    start = time.perf_counter()
    func()  # type: ignore[operator]
    return time.perf_counter() - start


@pytest.mark.slow
def test_no_gap_or_overlap_between_metro_neighbours(departements: gpd.GeoDataFrame) -> None:
    metro = departements[departements["code"].str.len() == 2].to_crs("EPSG:2154")
    assert len(metro) == 96
    left, right = metro.sindex.query(metro.geometry, predicate="intersects")
    pairs = left < right
    overlaps = shapely.area(shapely.intersection(metro.geometry.values[left[pairs]],
                                                 metro.geometry.values[right[pairs]]))
    assert overlaps.max() < 1e6  # m², i.e. 1 km²
    union = shapely.union_all(metro.geometry.values)
    holes = [shapely.Polygon(ring) for part in shapely.get_parts(union)
             for ring in part.interiors]
    big = [h for h in holes if h.area > 1e6]
    llivia = gpd.GeoSeries([LLIVIA], crs="EPSG:4326").to_crs("EPSG:2154").iloc[0]
    assert len(big) == 1 and big[0].contains(llivia)


def test_overseas_departements_where_they_belong(departements: gpd.GeoDataFrame) -> None:
    towns = {"971": (-61.53, 16.24), "972": (-61.07, 14.61), "973": (-52.33, 4.94),
             "974": (55.45, -20.88), "976": (45.23, -12.78), "2A": (8.74, 41.92),
             "75": (2.35, 48.86)}
    by_code = departements.set_index("code").geometry
    for code, (x, y) in towns.items():
        assert by_code[code].contains(shapely.Point(x, y)), code


def ign_sample(schema: str) -> gpd.GeoDataFrame:
    """Two départements as IGN delivers them, in Lambert-93, with extra columns."""
    square = shapely.box(700_000, 6_600_000, 710_000, 6_610_000)
    two = shapely.MultiPolygon([shapely.box(600_000, 6_500_000, 610_000, 6_510_000),
                                shapely.box(620_000, 6_500_000, 630_000, 6_510_000)])
    if schema == "3.x":
        data = {"ID": ["A", "B"], "NOM_M": ["CORSE-DU-SUD", "AIN"], "NOM": ["Corse-du-Sud", "Ain"],
                "INSEE_DEP": ["2a", "1"], "INSEE_REG": ["94", "84"]}
        return gpd.GeoDataFrame(data, geometry=[square, two], crs="EPSG:2154")
    data = {"cleabs": ["A", "B"], "nom_officiel": ["Corse-du-Sud", "Ain"],
            "code_insee": ["2A", "01"], "code_insee_de_la_region": ["94", "84"]}
    frame = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([square, two], crs="EPSG:2154"))
    return frame.rename_geometry("geometrie")


def test_normalize_both_ign_schemas_to_one() -> None:
    old = ign_sample("3.x")
    new = ign_sample("4.0")
    before = old.copy()
    a = normalize_departements(old)
    b = normalize_departements(new)
    assert_geodataframe_equal(old, before)
    assert_geodataframe_equal(a, b)
    assert list(a.columns) == ["code", "nom", "geometry"]
    assert a["code"].tolist() == ["01", "2A"]
    assert a["nom"].tolist() == ["Ain", "Corse-du-Sud"]
    assert a.crs.equals("EPSG:4326")
    assert (a.geom_type == "MultiPolygon").all()
    west, south, east, north = a.total_bounds  # reprojected from Lambert-93 to degrees
    assert -6 < west < east < 10 and 41 < south < north < 52


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: f.drop(columns="INSEE_DEP"), "pas de colonne 'code'"),
    (lambda f: f.drop(columns="NOM"), "pas de colonne 'nom'"),
    (lambda f: f.set_crs(None, allow_override=True), "pas de système de coordonnées"),
    (lambda f: f.assign(INSEE_DEP=["01", "1"]), "01 présent\\(s\\) plusieurs fois"),
    (lambda f: f.set_geometry([shapely.Point(0, 0), shapely.Point(1, 1)], crs=f.crs),
     "sans géométrie polygonale"),
])
def test_normalize_rejects_what_is_not_a_departement_layer(change: object,
                                                           message: str) -> None:
    frame = change(ign_sample("3.x"))  # type: ignore[operator]
    with pytest.raises(BoundaryError, match=message):
        normalize_departements(frame, origin="DEPARTEMENT.shp")


def test_read_departements_from_a_file_of_either_schema(tmp_path: Path) -> None:
    path = tmp_path / "DEPARTEMENT.shp"
    pyogrio.write_dataframe(ign_sample("3.x"), path)
    read, provenance = read_departements(path)
    assert read["code"].tolist() == ["01", "2A"]
    assert provenance.url == str(path) and provenance.source == "fichier DEPARTEMENT.shp"
    with pytest.raises(BoundaryError, match="fichier introuvable"):
        read_departements(tmp_path / "absent.gpkg")
    (tmp_path / "junk.gpkg").write_bytes(b"not a geopackage")
    with pytest.raises(BoundaryError, match="impossible de lire"):
        read_departements(tmp_path / "junk.gpkg")


def test_ign_source_is_delegated_to_the_online_module(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []

    def fake_fetch(*, edition: str, cache_dir: object,
                   progress: object) -> tuple[gpd.GeoDataFrame, Provenance]:
        calls.append((edition, cache_dir, progress))
        return normalize_departements(ign_sample("4.0")), Provenance("IGN", "x", "", "")

    monkeypatch.setattr(pipeline.sources.ign, "fetch_ign_departements", fake_fetch)
    read, _ = read_departements("ign", edition="2024", cache_dir=tmp_path, progress=print)
    assert calls == [("2024", tmp_path, print)]
    assert read["code"].tolist() == ["01", "2A"]


def test_write_departements_round_trip_and_deterministic(
        departements: gpd.GeoDataFrame, tmp_path: Path) -> None:
    target = tmp_path / "out" / "departements.gpkg"
    provenance = Provenance("IGN – test", "COG 2024", "Licence Ouverte 2.0", "https://x")
    write_departements(departements, target, provenance=provenance)
    first = target.read_bytes()
    write_departements(departements, target, provenance=provenance)
    assert target.read_bytes() == first
    assert [p.name for p in target.parent.iterdir()] == ["departements.gpkg"]
    back, _ = read_departements(target)
    assert_geodataframe_equal(back, departements, check_like=True)
    meta = pyogrio.read_info(target)["dataset_metadata"]
    assert Provenance.from_line(meta["SOURCE_DEPARTEMENTS"]) == provenance


def test_cli_boundaries_exports_the_embedded_layer(tmp_path: Path) -> None:
    target = tmp_path / "deps.gpkg"
    result = CliRunner().invoke(main, ["boundaries", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "101 départements" in result.stderr
    assert pyogrio.list_layers(target)[:, 0].tolist() == ["departements"]
    assert len(read_departements(target)[0]) == 101
