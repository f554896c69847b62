"""The annex map: Figure contents, SVG structure, label overlaps, baselines, determinism."""

from __future__ import annotations

import itertools
import json
import os
import pickle
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.colors import to_rgb
from matplotlib.image import AxesImage
from matplotlib.testing.compare import compare_images
from matplotlib.text import Text

from pipeline import config
from pipeline.config import map_stem
from pipeline.errors import RenderError, SourceDataError
from pipeline.outputs.gpkg import read_coverage
from pipeline.outputs.maps.frames import map_frames
from pipeline.outputs.maps.labels import (
    _candidates,
    _segment_hits_box,
    leader_anchor,
    place_labels,
)
from pipeline.outputs.maps.layout import PRESETS
from pipeline.outputs.maps.mapdata import MapData, map_data
from pipeline.outputs.maps.render import LAYERS, draw_map, plot_coverage
from pipeline.outputs.maps.save import save_map
from pipeline.outputs.maps.texts import alt_text
from pipeline.sources.labelfile import read_label_overrides
from tests import svgcheck

BASELINE = Path(__file__).parent / "baseline"
UPDATE_BASELINE = os.environ.get("ECOLES_MAP_UPDATE_BASELINE") == "1"
SVG = "{http://www.w3.org/2000/svg}"
INKSCAPE = "{http://www.inkscape.org/namespaces/inkscape}"


def category_gids() -> dict[str, str]:
    return {k: v["gid"] for k, v in config.CATEGORY_STYLE.items()}


# --- Tiny data built in code -------------------------------------------------------------------
def _box(code: str, nom: str, x: float, y: float, w: float, h: float) -> dict[str, object]:
    return {"code": code, "nom": nom, "geometry": shapely.box(x, y, x + w, y + h)}


def make_departements() -> gpd.GeoDataFrame:
    rows = [
        _box("29", "Finistère", -4.8, 47.8, 1.2, 0.9),
        _box("59", "Nord", 2.5, 50.0, 1.5, 1.0),
        _box("69", "Rhône", 4.3, 45.4, 0.8, 0.9),
        _box("13", "Bouches-du-Rhône", 4.2, 43.2, 1.2, 0.7),
        _box("31", "Haute-Garonne", 0.5, 42.7, 1.2, 1.1),
        _box("67", "Bas-Rhin", 7.0, 48.1, 1.0, 1.0),
        _box("2A", "Corse-du-Sud", 8.6, 41.4, 0.8, 0.9),
        _box("75", "Paris", 2.25, 48.82, 0.17, 0.08),
        _box("92", "Hauts-de-Seine", 2.15, 48.75, 0.10, 0.2),
        _box("93", "Seine-Saint-Denis", 2.42, 48.85, 0.15, 0.12),
        _box("94", "Val-de-Marne", 2.35, 48.7, 0.2, 0.12),
        _box("77", "Seine-et-Marne", 2.6, 48.1, 0.9, 1.0),
        _box("78", "Yvelines", 1.5, 48.5, 0.6, 0.5),
        _box("91", "Essonne", 2.0, 48.3, 0.6, 0.4),
        _box("95", "Val-d'Oise", 1.7, 49.0, 0.8, 0.3),
        _box("971", "Guadeloupe", -61.8, 15.9, 0.7, 0.6),
        _box("972", "Martinique", -61.2, 14.4, 0.4, 0.5),
        _box("973", "Guyane", -54.5, 2.1, 2.8, 3.6),
        _box("974", "La Réunion", 55.2, -21.4, 0.6, 0.5),
        _box("976", "Mayotte", 45.0, -13.0, 0.3, 0.35),
    ]
    deps = gpd.GeoDataFrame(rows, crs=config.STORAGE_CRS)
    new = {"29", "67", "973"}
    covered = {"59", "69", "13", "93", "77"}
    deps["statut"] = [config.STATUS_NEW if c in new else
                      config.STATUS_COVERED if c in covered else config.STATUS_NONE
                      for c in deps["code"]]
    deps.attrs["edition"] = "COG 2024"
    return deps


SITES = [  # id, departement, categorie, existing in 2021, lon, lat, etiquette
    ("quimper", "29", "ingenierie", False, -4.1, 48.0, "Quimper Usinage"),
    ("lille", "59", "existante", True, 3.06, 50.63, "Lille Industrie"),
    ("roubaix", "59", "investissement", True, 3.17, 50.69, "EPICC Textile"),
    ("lens", "59", "existante", True, 2.83, 50.43, "Lens Automobile"),
    ("lyon", "69", "existante", True, 4.83, 45.76, "Lyon Usinage"),
    ("vaulx", "69", "existante", True, 4.92, 45.78, "Vaulx-en-Velin Métallerie"),
    ("villeurbanne", "69", "investissement", True, 4.88, 45.77, "Villeurbanne Numérique"),
    ("marseille", "13", "investissement", True, 5.37, 43.35, "Fask Academy Textile"),
    ("toulouse", "31", "existante", True, 1.44, 43.6, "Toulouse Usinage"),
    ("strasbourg", "67", "ingenierie", False, 7.75, 48.58, "Strasbourg Chaudronnerie"),
    ("stains", "93", "investissement", True, 2.45, 48.95, "Iron Academy Métallerie"),
    ("lieusaint", "77", "existante", True, 2.55, 48.63, "Lieusaint Usinage"),
    ("kourou", "973", "ingenierie", False, -52.65, 5.16, "Kourou Maintenance"),
    ("ajaccio", "2A", "autre", False, 8.74, 41.92, "Ajaccio Bois"),
]


def make_sites() -> gpd.GeoDataFrame:
    frame = pd.DataFrame(SITES, columns=["id", "departement", "categorie", "existante_2021",
                                         "longitude", "latitude", "etiquette"])
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.longitude, frame.latitude),
                            crs=config.STORAGE_CRS)


@pytest.fixture(scope="module")
def sites() -> gpd.GeoDataFrame:
    return make_sites()


@pytest.fixture(scope="module")
def departements() -> gpd.GeoDataFrame:
    return make_departements()


@pytest.fixture(scope="module")
def figure(sites: gpd.GeoDataFrame, departements: gpd.GeoDataFrame):
    fig = plot_coverage(sites, departements, preset="a4", labels=True)
    fig.canvas.draw()
    return fig


@pytest.fixture(scope="module")
def real_coverage():
    """Sites and départements of the real registry, when the join and the data are there."""
    from pipeline.run import prepare, snapshot

    snap = snapshot(prepare(config.DEFAULT_REGISTRY))
    return snap.sites, snap.departements


# --- Helpers ------------------------------------------------------------------------------------
def walk(artist):
    """Every artist under ``artist`` (layers, named groups), depth first."""
    for child in artist.get_children():
        yield child
        yield from walk(child)


def by_gid(fig, gid: str) -> list:
    return [a for a in walk(fig) if a.get_gid() == gid]


def sites_by_category(fig) -> dict[str, list[str]]:
    """Site ids drawn, by category, from the markers of every frame (``site-<id>``)."""
    found: dict[str, list[str]] = {cat: [] for cat in config.CATEGORY_STYLE}
    (ecoles,) = by_gid(fig, "ecoles")
    for group in ecoles.get_children():
        for cat, gid in category_gids().items():
            if group.get_gid() == gid or (group.get_gid() or "").startswith(gid + "-"):
                found[cat] += [m.get_gid().removeprefix("site-") for m in group.get_children()]
    return found


def label_artists(fig) -> list[Text]:
    groups = by_gid(fig, "etiquettes")
    return [a for g in groups for a in g.get_children() if isinstance(a, Text)]


def legend_of(fig):
    (legend,) = by_gid(fig, "legende-entrees")
    return legend


def svg_of(fig, tmp_path, name="map.svg") -> svgcheck.MapSvg:
    path = tmp_path / name
    save_map(fig, None, path)
    return svgcheck.read_map_svg(str(path))


def assert_readable(svg: svgcheck.MapSvg) -> None:
    """No label overlaps another, no marker overlaps another, none misleads (issue 11)."""
    assert svgcheck.overlapping_labels(svg) == []
    assert svgcheck.overlapping_markers(svg) == []
    assert svgcheck.misleading_labels(svg) == []
    assert svgcheck.leaders_crossing_markers(svg) == []
    for site, box in svg.labels.items():
        for other, (x, y, r) in svg.markers.items():
            inner = (box[0] + 0.3, box[1] + 0.3, box[2] - 0.3, box[3] - 0.3)
            assert not (inner[0] < x + r * 0.9 and x - r * 0.9 < inner[2]
                        and inner[1] < y + r * 0.9 and y - r * 0.9 < inner[3]), (
                f"the label of {site} covers the marker of {other}")


# --- The Figure -------------------------------------------------------------------------------
def test_one_marker_per_site_by_category(figure, sites):
    drawn = sites_by_category(figure)
    for cat in config.CATEGORY_STYLE:
        assert sorted(drawn[cat]) == sorted(sites.loc[sites.categorie == cat, "id"]), cat
    # Marker shape and colour come from the shared style.
    (lille,) = by_gid(figure, "site-lille")
    assert lille.get_marker() == "o"
    assert to_rgb(lille.get_markerfacecolor()) == pytest.approx(
        to_rgb(config.CATEGORY_STYLE["existante"]["colour"]))


def test_newly_covered_departements_are_filled(figure, departements):
    (new,) = by_gid(figure, "departements-nouvellement-couverts")
    codes = sorted(p.get_gid().removeprefix("departement-") for p in new.get_children())
    metro_new = departements[(departements.statut == config.STATUS_NEW)
                             & ~departements.code.isin(config.OVERSEAS_CRS)]
    assert codes == sorted(metro_new.code) == ["29", "67"]
    colour = config.STATUS_STYLE[config.STATUS_NEW]["colour"]
    for patch in new.get_children():
        assert patch.get_facecolor()[:3] == pytest.approx(to_rgb(colour))
    # Guyane is newly covered and has a site: its inset has its own newly covered path.
    (guyane,) = by_gid(figure, "departements-nouvellement-couverts-973")
    (path,) = [p.get_path() for p in guyane.get_children()]
    assert len(path.vertices) >= 4


@pytest.mark.slow
def test_real_data_has_13_newly_covered_and_all_markers(real_coverage, tmp_path):
    sites, departements = real_coverage
    fig = plot_coverage(sites, departements, preset="a4")
    (new,) = by_gid(fig, "departements-nouvellement-couverts")
    assert (departements.statut == config.STATUS_NEW).sum() == len(new.get_children()) == 13
    drawn = sites_by_category(fig)
    for cat in config.CATEGORY_STYLE:
        assert len(drawn[cat]) == int((sites.categorie == cat).sum())
    labelled = sites[sites.categorie.isin(list(config.CATEGORY_STYLE))]
    # Every site has its label (on the main frame or in a zoom); the figure reads right.
    svg = svg_of(fig, tmp_path)
    assert sorted(svg.labels) == sorted(labelled.id)
    assert_readable(svg)


def test_legend_texts_count_from_data(figure):
    legend = legend_of(figure)
    texts = [t.get_text().replace("\n", " ") for t in legend.get_texts()]
    # Four existing schools are investment laureates, drawn as squares: the legend says so.
    assert texts[0] == ("Écoles de production existantes (10, dont 4 aussi lauréates de "
                        "l'AMI, figurées par le symbole de leur aide)")
    assert texts[1] == "3 nouveaux lauréats de l'AMI en ingénierie"
    assert texts[2].startswith("4 écoles de production soutenues par l'État en subvention")
    assert texts[2].endswith("et par la Banque des Territoires, dont 4 déjà existantes")
    assert "\n" in legend.get_texts()[2].get_text()  # the long entry is wrapped
    assert texts[3] == ("Département nouvellement couvert par une école de production suite "
                        "à l'AMI (3)")
    # Every fill of the map is in the legend: the already covered ones too.
    assert texts[4] == "Département déjà couvert par une école de production (5)"
    fills = [h.get_facecolor()[:3] for h in legend.legend_handles[3:]]
    assert fills == [pytest.approx(to_rgb(config.STATUS_STYLE[s]["colour"]))
                     for s in (config.STATUS_NEW, config.STATUS_COVERED)]


def test_title_and_source_line(figure):
    (title,) = by_gid(figure, "titre-texte")
    assert title.get_text().replace("\n", " ") == (
        "7 projets soutenus par l'AMI Écoles de production pour accélérer le déploiement "
        "des écoles sur tout le territoire")
    (subtitle,) = by_gid(figure, "sous-titre")
    assert "annoncés le 23 novembre 2021" in subtitle.get_text().replace("\n", " ")
    (source,) = by_gid(figure, "sources-texte")
    text = source.get_text().replace("\n", " ")
    assert "IGN – ADMIN EXPRESS COG (2024)" in text and "INSEE COG" in text
    # A reconstruction, and the tool is not presented as its author.
    assert text.startswith("Carte reconstituée d'après l'annexe du communiqué de presse du "
                           "23 novembre 2021")
    assert "Réalisation" not in text and "logiciel libre ecoles-map" in text
    assert "Plan IGN" not in text  # no basemap, no basemap credit


def test_insets_zooms_strip_and_scale_bar(figure):
    names = {"971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion",
             "976": "Mayotte"}
    # Guyane has a site: a boxed, named inset; the others share the compact strip.
    assert by_gid(figure, "cadre-encart-973")
    for code, name in names.items():
        (text,) = by_gid(figure, f"nom-encart-{code}")
        assert text.get_text() == name
        assert bool(by_gid(figure, f"cadre-encart-{code}")) is (code == "973")
    (note,) = by_gid(figure, "note-outre-mer")
    assert note.get_text() == "Échelles différentes"
    # Lyon, Vaulx-en-Velin and Villeurbanne crowd: a zoom, named (after the département, as
    # these sites have no commune), tied to its window on the main frame.
    assert by_gid(figure, "cadre-zoom-rhone")
    (zoom_name,) = by_gid(figure, "nom-zoom-rhone")
    assert zoom_name.get_text() == "Rhône"
    assert by_gid(figure, "emprise-zoom-rhone") and by_gid(figure, "lien-zoom-rhone")
    assert sorted(sites_in(figure, "-zoom-rhone")) == ["lyon", "vaulx", "villeurbanne"]
    (bar,) = by_gid(figure, "echelle-barre")
    assert [t.get_text() for t in bar.get_children() if isinstance(t, Text)] == ["100 km"]


def sites_in(fig, suffix: str) -> list[str]:
    (ecoles,) = by_gid(fig, "ecoles")
    return [m.get_gid().removeprefix("site-") for g in ecoles.get_children()
            if (g.get_gid() or "").endswith(suffix) for m in g.get_children()]


@pytest.mark.slow
def test_no_overseas_site_collapses_to_a_strip_with_a_note(sites, departements):
    fig = plot_coverage(sites[sites.id != "kourou"], departements, preset="a4")
    assert not [a for a in walk(fig) if (a.get_gid() or "").startswith("cadre-encart-")]
    (note,) = by_gid(fig, "note-outre-mer")
    assert note.get_text().replace("\n", " ") == (
        "Aucune école en outre-mer à cette date ; échelles différentes")
    for preset in ("social", "square"):  # small formats: the note alone
        fig = plot_coverage(sites[sites.id != "kourou"], departements, preset=preset)
        assert not [a for a in walk(fig) if (a.get_gid() or "").startswith("nom-encart-")]
        (note,) = by_gid(fig, "note-outre-mer")
        assert "Aucune école en outre-mer" in note.get_text()


def test_labels_name_every_site_and_read_right(figure, sites, tmp_path):
    drawn = sites[sites.categorie.isin(list(config.CATEGORY_STYLE))]
    assert sorted(a.get_text().replace("\n", " ") for a in label_artists(figure)) == sorted(
        drawn.etiquette)
    assert_readable(svg_of(figure, tmp_path))


@pytest.mark.slow
def test_auto_labels_off_on_small_formats(sites, departements):
    for preset in ("slide", "social", "square"):
        fig = plot_coverage(sites, departements, preset=preset)
        assert label_artists(fig) == []
    fig = plot_coverage(sites, departements, preset="a4", labels=False)
    assert label_artists(fig) == []


@pytest.mark.slow
def test_manual_label_offset_is_kept(sites, departements, tmp_path):
    fig = plot_coverage(sites, departements, preset="a4", labels=True,
                        label_overrides={"toulouse": (-60.0, 20.0)})
    svg = svg_of(fig, tmp_path)
    x, y, _ = svg.markers["toulouse"]
    box = svg.labels["toulouse"]
    # Lower-left corner of the label at the offset (points; SVG y runs downwards).
    assert box[0] == pytest.approx(x - 60.0, abs=1.5)
    assert box[3] == pytest.approx(y - 20.0, abs=2.5)
    assert "toulouse" in svg.leaders  # moved away: it gets a leader line


def test_alt_text_names_the_newly_covered(sites, departements):
    text = alt_text(sites, departements)
    assert ("10 écoles de production existantes, dont 4 aussi lauréates de l'AMI, dessinées "
            "avec le symbole de leur aide ; les 6 autres en cercles") in text
    assert "3 départements sont nouvellement couverts" in text
    assert "Bas-Rhin, Finistère et Guyane" in text


# --- Saved files --------------------------------------------------------------------------------
def test_svg_for_designers_layers_and_ids(figure, departements, sites, tmp_path):
    svg = tmp_path / "map.svg"
    save_map(figure, None, svg)
    root = ET.parse(svg).getroot()
    # Top-level groups are Inkscape layers with French names, in drawing order.
    layers = [(g.get("id"), g.get(f"{INKSCAPE}label")) for g in root.findall(f"{SVG}g")]
    assert all(g.get(f"{INKSCAPE}groupmode") == "layer" for g in root.findall(f"{SVG}g"))
    assert layers == [("fond", "Fond"), *((k, v) for k, v in LAYERS.items()
                                          if k not in ("fond-de-carte",))]
    assert LAYERS["ecoles"] == "Écoles" and LAYERS["etiquettes"] == "Étiquettes"
    elements = {e.get("id"): e for e in root.iter() if e.get("id")}
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)), "ids are unique"
    # One path per département, each site's marker, label and leader line by its id.
    for code in departements["code"]:
        assert elements[f"departement-{code}"].tag == f"{SVG}path", code
    drawn = sites[sites.categorie.isin(list(config.CATEGORY_STYLE))]
    for site in drawn["id"]:
        assert elements[f"site-{site}"].tag == f"{SVG}use", site
        assert elements[f"etiquette-{site}"].tag in (f"{SVG}text", f"{SVG}g"), site
    leaders = [i for i in ids if i.startswith("renvoi-")]
    assert all(elements[i].tag == f"{SVG}path" for i in leaders)
    assert {i.removeprefix("renvoi-") for i in leaders} <= set(drawn["id"])
    # Text stays text, with its halo as a stroke painted under the fill.
    texts = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    assert "projets soutenus par l'AMI" in texts
    assert "Écoles de production existantes (10, dont 4 aussi" in texts
    assert "Villeurbanne Numérique" in texts
    label = elements["etiquette-lille"]
    assert "paint-order: stroke" in label.get("style", "") and "#ffffff" in label.get("style")
    assert svg.stat().st_size < 1_000_000


@pytest.mark.slow
def test_output_is_byte_identical(sites, departements, tmp_path):
    outputs = []
    for run in ("a", "b"):
        fig = plot_coverage(sites, departements, preset="square", labels=True)
        png, svg = tmp_path / f"{run}.png", tmp_path / f"{run}.svg"
        save_map(fig, png, svg, dpi=40)
        outputs.append((png.read_bytes(), svg.read_bytes()))
    assert outputs[0] == outputs[1]
    assert b"Software" not in outputs[0][0]


@pytest.mark.slow
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_baseline_image(preset, sites, departements, tmp_path):
    dpi = 30 if preset == "a4" else 50
    fig = plot_coverage(sites, departements, preset=preset)
    actual = tmp_path / f"{preset}.png"
    save_map(fig, actual, None, dpi=dpi)
    expected = BASELINE / f"{preset}.png"
    if UPDATE_BASELINE:
        expected.parent.mkdir(exist_ok=True)
        expected.write_bytes(actual.read_bytes())
    assert expected.exists(), "run with ECOLES_MAP_UPDATE_BASELINE=1 to create the baseline"
    assert compare_images(str(expected), str(actual), tol=3) is None


def test_preset_pixel_sizes_are_exact():
    assert {n: (p.width_px, p.height_px) for n, p in PRESETS.items()} == {
        "a4": (2481, 3508), "slide": (1920, 1080), "social": (1200, 630),
        "square": (1080, 1080)}
    for p in PRESETS.values():
        w, h = p.figsize
        assert round(w * p.dpi) == p.width_px and round(h * p.dpi) == p.height_px


def test_png_has_the_preset_size(sites, departements, tmp_path):
    from PIL import Image

    fig = plot_coverage(sites, departements, preset="social")
    save_map(fig, tmp_path / "s.png", None)
    with Image.open(tmp_path / "s.png") as im:
        assert im.size == (1200, 630)


# --- Basemap ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_local_geotiff_basemap(sites, departements, tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import Affine

    tif = tmp_path / "fond.tif"
    data = np.full((3, 8, 8), 200, dtype="uint8")
    # 8 × 8 pixels of 162.5 km over metropolitan France, in Lambert-93.
    transform = Affine(162_500.0, 0.0, 0.0, 0.0, -150_000.0, 7_200_000.0)
    with rasterio.open(tif, "w", driver="GTiff", width=8, height=8, count=3, dtype="uint8",
                       crs="EPSG:2154", transform=transform) as dst:
        dst.write(data)
    from pipeline.sources.tiles import basemap_source

    fig = plot_coverage(sites, departements, preset="social", basemap=basemap_source(str(tif)))
    (under,) = [ax for ax in fig.get_axes() if ax.get_gid() == "fond-de-carte"]
    assert any(isinstance(a, AxesImage) for a in under.get_children())
    (source,) = by_gid(fig, "sources-texte")
    assert "Fond de carte : fond.tif" in source.get_text().replace("\n", " ")


def test_offline_tiles_raise_and_write_nothing(sites, departements, tmp_path, monkeypatch):
    contextily = pytest.importorskip("contextily")
    import requests

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError("no network in tests")

    monkeypatch.setattr(contextily, "add_basemap", offline)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    previous = tmp_path / "maps" / f"{map_stem('a4')}.png"
    previous.parent.mkdir()
    previous.write_bytes(b"previous map")
    from pipeline.outputs.gpkg import write_coverage_gpkg
    from pipeline.run import publish, read_snapshot

    gpkg = write_coverage_gpkg(sites, departements, tmp_path / "couverture.gpkg")
    with pytest.raises(RenderError, match="Plan IGN"):
        publish(read_snapshot(gpkg), processed_dir=tmp_path, maps_dir=tmp_path / "maps",
                parts=("maps",), basemap="plan-ign")
    assert previous.read_bytes() == b"previous map"
    assert sorted(p.name for p in previous.parent.iterdir()) == [previous.name]


def test_missing_basemap_file_and_unknown_font(sites, departements):
    from pipeline.sources.tiles import basemap_source

    with pytest.raises(RenderError, match="ni 'plan-ign' ni un fichier GeoTIFF existant"):
        basemap_source("nowhere.tif")
    with pytest.raises(RenderError, match="police 'No Such Font'"):
        plot_coverage(sites, departements, font="No Such Font")
    with pytest.raises(RenderError, match="cadre inconnu"):
        plot_coverage(sites, departements, preset="poster")


# --- Label placer and overrides file -----------------------------------------------------------
def test_placer_avoids_overlaps_in_a_crowd():
    rng = np.random.default_rng(0)
    points = rng.uniform(100, 300, size=(40, 2))
    sizes = np.tile([60.0, 10.0], (40, 1))
    frames = [(0.0, 0.0, 1000.0, 1000.0)] * 40
    placed = place_labels(points, sizes, frames, marker_radius=3, gap=5)
    boxes = [p.box for p in placed if p is not None]
    assert len(boxes) == 40
    for a, b in itertools.combinations(boxes, 2):
        assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    for box in boxes:
        for x, y in points:
            assert not (box[0] < x + 3 and x - 3 < box[2] and box[1] < y + 3 and y - 3 < box[3])
    assert place_labels(points, sizes, frames, marker_radius=3, gap=5) == placed


def test_placer_leader_lines_go_around_markers():
    # The near positions are taken; a wall (say a column of markers) stands to the right and
    # above, where the first displaced positions are: the label must go where its leader
    # line crosses nothing.
    x, y, w, h, gap = 100.0, 100.0, 60.0, 10.0, 5.0
    near = [box for box, _ in itertools.islice(_candidates(x, y, w, h, gap), 8)]
    taken = [((a + c) / 2 - 1, (b + d) / 2 - 1, (a + c) / 2 + 1, (b + d) / 2 + 1)
             for a, b, c, d in near]
    wall = (112.0, 80.0, 116.0, 120.0)
    (placed,) = place_labels(np.array([[x, y]]), np.array([[w, h]]), [(0.0, 0.0, 1e3, 1e3)],
                             marker_radius=3, gap=gap, obstacles=[*taken, wall])
    assert placed is not None and placed.leader
    end = leader_anchor(placed.box, x, y)
    ex = placed.box[0] + end[0] * (placed.box[2] - placed.box[0])
    ey = placed.box[1] + end[1] * (placed.box[3] - placed.box[1])
    for box in [*taken, wall]:
        assert not _segment_hits_box((x, y, ex, ey), box), box


def test_placer_gives_up_when_there_is_no_room():
    points = np.array([[5.0, 5.0]])
    placed = place_labels(points, np.array([[100.0, 10.0]]), [(0, 0, 10, 10)],
                          marker_radius=2, gap=3)
    assert placed == [None]


def test_read_label_overrides(tmp_path):
    good = tmp_path / "etiquettes.csv"
    good.write_text("id,dx,dy\ndunkerque,-40,12\nvire,\"3,5\",-8\n", encoding="utf-8")
    assert read_label_overrides(good) == {"dunkerque": (-40.0, 12.0), "vire": (3.5, -8.0)}
    bad = tmp_path / "bad.csv"
    bad.write_text("id,dx,dy\ndunkerque,left,12\ndunkerque,1,2\n", encoding="utf-8")
    with pytest.raises(SourceDataError) as info:
        read_label_overrides(bad)
    message = str(info.value)
    assert "bad.csv:2" in message and "'left'" in message and "bad.csv:3" in message


def test_shipped_overrides_file_is_valid():
    path = Path(__file__).parents[1] / config.DEFAULT_LABEL_OVERRIDES
    assert isinstance(read_label_overrides(path), dict)


# --- CLI ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_render_reads_the_geopackage(sites, departements, tmp_path):
    from click.testing import CliRunner

    from cli import main

    gpkg = tmp_path / "couverture.gpkg"
    sites.to_file(gpkg, layer="ecoles", driver="GPKG")
    departements.to_file(gpkg, layer="departements", driver="GPKG")
    read = read_coverage(gpkg)
    assert len(read.sites) == len(sites) and len(read.departements) == len(departements)
    result = CliRunner().invoke(main, ["render", str(gpkg), "--preset", "social",
                                       "--maps-dir", str(tmp_path / "maps")])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "maps").iterdir())
    stem = map_stem("social")
    assert names == [f"{stem}.png", f"{stem}.svg", f"{stem}.txt"]
    result = CliRunner().invoke(main, ["render", str(tmp_path / "absent.gpkg")])
    assert result.exit_code == 1 and "ecoles-map join" in result.output


# --- Styles and legend are generic --------------------------------------------------------------
def test_custom_category_status_and_legend(sites, departements, monkeypatch, tmp_path):
    monkeypatch.setitem(config.CATEGORY_STYLE, "ouverture_2023", {
        "colour": "#6A3D9A", "marker": "D", "label": "Ouvertures 2023", "gid": "ouvertures-2023"})
    monkeypatch.setitem(config.STATUS_STYLE, "couvert_2023", {
        "colour": "#FFD92F", "label": "Couvert en 2023", "gid": "departements-couverts-2023"})
    extra = make_sites().iloc[:2].copy()
    extra["id"] = ["nouveau-a", "nouveau-b"]
    extra["categorie"] = "ouverture_2023"
    extra["etiquette"] = ["Nouveau A", "Nouveau B"]
    more = pd.concat([sites, extra], ignore_index=True)
    deps = departements.copy()
    deps.loc[deps["code"] == "31", "statut"] = "couvert_2023"
    legend = [("ouverture_2023", "Écoles ouvertes en 2023 (2)"),
              ("couvert_2023", "Département couvert en 2023 (1)"),
              ("existante", "Écoles existantes")]
    fig = plot_coverage(more, deps, preset="a4", legend=legend, labels=True)
    new_sites = [m for g in walk(fig) if (g.get_gid() or "").startswith("ouvertures-2023")
                 for m in g.get_children()]
    assert len(new_sites) == 2
    assert to_rgb(new_sites[0].get_markerfacecolor()) == pytest.approx(
        (0x6A / 255, 0x3D / 255, 0x9A / 255))
    (filled,) = by_gid(fig, "departements-couverts-2023")
    (patch,) = filled.get_children()
    assert patch.get_facecolor()[:3] == pytest.approx((1.0, 0xD9 / 255, 0x2F / 255))
    assert patch.get_gid() == "departement-31"
    drawn_legend = legend_of(fig)
    assert [t.get_text() for t in drawn_legend.get_texts()] == [t for _, t in legend]
    handles = drawn_legend.legend_handles
    assert handles[0].get_marker() == "D" and handles[2].get_marker() == "o"
    assert handles[1].get_facecolor()[:3] == pytest.approx((1.0, 0xD9 / 255, 0x2F / 255))
    svg = tmp_path / "custom.svg"
    save_map(fig, None, svg)
    ids = {g.get("id") for g in ET.parse(svg).getroot().iter()}
    assert {"ouvertures-2023", "departements-couverts-2023", "departements",
            "departements-nouvellement-couverts", "site-nouveau-a"} <= ids


def test_unknown_legend_key_or_status_is_refused(sites, departements):
    with pytest.raises(RenderError, match=r"'fermee'.*clés :"):
        plot_coverage(sites, departements, legend=[("fermee", "Écoles fermées")])
    deps = departements.copy()
    deps.loc[deps["code"] == "31", "statut"] = "inconnu"
    with pytest.raises(RenderError, match=r"31 \('inconnu'\).*ajoutez-lui un style"):
        plot_coverage(sites, deps)


@pytest.mark.slow
def test_a4_map_spans_the_page_width_with_margins(real_coverage):
    sites, departements = real_coverage
    data = map_data(sites, departements)
    fig = draw_map(data, preset="a4", labels=False)
    main = map_frames(data, "a4").main
    metro = departements[~departements.code.isin(config.OVERSEAS_CRS)].to_crs(config.METRO_CRS)
    x0, y0, x1, y1 = metro.total_bounds
    (a, b), (c, _) = main.to_page(np.array([(x0, y0), (x1, y1)]))
    assert c - a > 0.93  # France is wider than tall: the width is the limit
    assert a > 0.02 and c < 0.98  # neither Brittany nor Corsica touches the page edge
    renderer = fig.canvas.get_renderer()
    legend_box = legend_of(fig).get_window_extent(renderer).transformed(
        fig.transFigure.inverted())
    assert legend_box.y0 > 0.02 and legend_box.y1 < b  # the legend fits under the map


# --- The designers' tool ------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("inkscape") is None, reason="inkscape is not installed")
def test_inkscape_lists_the_groups_and_renders_the_svg(figure, tmp_path):
    svg = tmp_path / "map.svg"
    save_map(figure, None, svg)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    # Inkscape itself lists the layers, by name in its Layers panel (inkscape:label).
    listed = subprocess.run(["inkscape", "--actions=select-all:layers;select-list", str(svg)],
                            capture_output=True, text=True, timeout=120, env=env, check=True)
    layer_ids = [line.split(" ")[0] for line in listed.stdout.splitlines() if line.strip()]
    assert layer_ids == ["fond", *(k for k in LAYERS if k != "fond-de-carte")]
    root = ET.parse(svg).getroot()
    names = {g.get("id"): g.get(f"{INKSCAPE}label") for g in root.findall(f"{SVG}g")}
    assert [names[i] for i in layer_ids] == ["Fond", *(v for k, v in LAYERS.items()
                                                        if k != "fond-de-carte")]
    query = subprocess.run(["inkscape", "--query-all", str(svg)], capture_output=True,
                           text=True, timeout=120, env=env, check=True)
    ids = {line.split(",")[0] for line in query.stdout.splitlines()}
    for gid in ("departement-29", "site-lille", "etiquette-lille", "ecoles-existantes",
                "departements-nouvellement-couverts", "legende-entrees", "sources-texte"):
        assert gid in ids, gid
    png = tmp_path / "map.png"
    subprocess.run(["inkscape", str(svg), "--export-type=png", f"--export-filename={png}",
                    "--export-dpi=30"], capture_output=True, timeout=120, env=env, check=True)
    from PIL import Image

    with Image.open(png) as im:
        assert im.size[0] > 50 and im.size[1] > 50
        # Not blank: the fills of the départements and the markers are there.
        colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 10


# --- Drawing without pandas -------------------------------------------------------------------
HEAVY = ("pandas", "geopandas", "pyogrio")


def run_python(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter of this environment; return its stdout."""
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_drawing_modules_import_without_pandas():
    out = run_python(
        "import sys, pipeline.config, pipeline.outputs.maps.labels, "
        "pipeline.outputs.maps.layout, pipeline.outputs.maps.render; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])")
    assert out.strip() == "[]"


def test_map_data_holds_plain_objects(sites, departements):
    data = map_data(sites, departements)
    assert data.departement_codes == tuple(sorted(departements["code"]))
    assert data.site_ids == tuple(sorted(sites.loc[sites["categorie"] != "autre", "id"]))
    assert "ajaccio" not in data.site_ids  # category without a style: not drawn
    for name in ("departement_codes", "departement_noms", "departement_statuts", "site_ids",
                 "site_categories", "site_etiquettes", "site_departements"):
        value = getattr(data, name)
        assert type(value) is tuple and all(type(v) is str for v in value), name
    assert data.departement_geometries.dtype == object
    assert all(isinstance(g, shapely.Geometry) for g in data.departement_geometries)
    assert data.site_lon.dtype == np.float64 and data.site_lat.dtype == np.float64
    kourou = data.site_ids.index("kourou")
    assert (data.site_lon[kourou], data.site_lat[kourou]) == (-52.65, 5.16)
    assert data.edition == "2024" and "ADMIN EXPRESS COG (2024)" in data.source_line
    assert data.title.startswith("7 projets soutenus")  # 3 ingénierie + 4 investissement
    assert [key for key, _ in data.legend] == ["existante", "ingenierie", "investissement",
                                               config.STATUS_NEW, config.STATUS_COVERED]
    assert all(type(entry) is tuple for entry in data.legend)


def test_map_data_uses_spatial_departement_and_blank_labels(sites, departements):
    moved = sites.copy()
    moved["departement_spatial"] = moved["departement"]
    moved.loc[moved["id"] == "kourou", "departement_spatial"] = None  # falls back
    moved.loc[moved["id"] == "lille", "departement_spatial"] = "62"
    moved.loc[moved["id"] == "lens", "etiquette"] = None
    data = map_data(moved, departements, title="Titre", legend=[("existante", "x")],
                    source_line="Sources")
    by_id = dict(zip(data.site_ids, data.site_departements, strict=True))
    assert by_id["lille"] == "62" and by_id["kourou"] == "973"
    assert data.site_etiquettes[data.site_ids.index("lens")] == ""
    assert (data.title, data.legend, data.source_line) == ("Titre", (("existante", "x"),),
                                                           "Sources")


def test_map_data_refuses_missing_columns_and_inconsistent_fields(sites, departements):
    with pytest.raises(RenderError,
                       match=r"table des sites n'a pas la/les colonne\(s\) etiquette ; lancez"):
        map_data(sites.drop(columns="etiquette"), departements)
    with pytest.raises(RenderError,
                       match=r"table des départements n'a pas la/les colonne\(s\) statut"):
        plot_coverage(sites, departements.drop(columns="statut"))
    data = map_data(sites, departements)
    fields = {f: getattr(data, f) for f in data.__dataclass_fields__}
    with pytest.raises(RenderError, match="longueurs différentes"):
        MapData(**{**fields, "site_lat": data.site_lat[:-1]})
    with pytest.raises(RenderError, match=r"\('fermee'\)"):
        MapData(**{**fields, "departement_statuts": ("fermee",) * len(data.departement_codes)})


@pytest.mark.slow
def test_pickled_map_data_draws_the_same_map_without_pandas(sites, departements, tmp_path):
    data = map_data(sites, departements)
    (tmp_path / "map.pickle").write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    child = tmp_path / "child"
    out = run_python(
        "import json, pickle, sys\n"
        "from pathlib import Path\n"
        "from pipeline.outputs.maps.render import draw_map\n"
        "from pipeline.outputs.maps.save import save_map\n"
        "folder = Path(sys.argv[1])\n"
        "data = pickle.loads((folder / 'map.pickle').read_bytes())\n"
        "fig = draw_map(data, preset='square', labels=True)\n"
        "save_map(fig, folder / 'child.png', folder / 'child.svg', dpi=40)\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n",
        str(tmp_path))
    assert json.loads(out) == []
    fig = plot_coverage(sites, departements, preset="square", labels=True)
    save_map(fig, tmp_path / "parent.png", tmp_path / "parent.svg", dpi=40)
    assert child.with_suffix(".png").read_bytes() == (tmp_path / "parent.png").read_bytes()
    assert child.with_suffix(".svg").read_bytes() == (tmp_path / "parent.svg").read_bytes()


def test_draw_map_equals_plot_coverage_with_options(sites, departements, tmp_path):
    legend = [("existante", "Écoles"), (config.STATUS_NEW, "Nouveaux")]
    outputs = []
    for fig in (plot_coverage(sites, departements, preset="slide", title="Titre",
                              legend=legend, label_overrides={"lille": (10.0, 5.0)}),
                draw_map(map_data(sites, departements, title="Titre", legend=legend),
                         preset="slide", label_overrides={"lille": (10.0, 5.0)})):
        svg = tmp_path / "map.svg"
        save_map(fig, None, svg)
        outputs.append(svg.read_bytes())
    assert outputs[0] == outputs[1] and b"Titre" in outputs[0]



@pytest.mark.slow
def test_reading_the_geopackage_leaves_no_sidecar_file(tmp_path):
    """GDAL must not write couverture.gpkg.aux.xml next to an analyst's file when we read it."""
    from click.testing import CliRunner

    from cli import main

    gpkg = tmp_path / "couverture.gpkg"
    result = CliRunner().invoke(main, ["join", "data/raw/ecoles.csv", "--processed-dir",
                                       str(tmp_path)])
    assert result.exit_code == 0, result.output
    read_coverage(gpkg)
    assert not (tmp_path / "couverture.gpkg.aux.xml").exists()


@pytest.mark.slow
def test_dollars_are_drawn_literally_never_as_mathtext(sites, departements, tmp_path):
    """A "$" in a label, title or legend is a dollar: no mathtext, no TeX error (issue 14)."""
    odd = sites.copy()
    odd.loc[odd["id"] == "lille", "etiquette"] = "Lille 5$ puis 10$"
    odd.loc[odd["id"] == "lens", "etiquette"] = r"Lens $\frac{$"  # bad TeX
    fig = plot_coverage(odd, departements, preset="a4", labels=True,
                        title="Titre à 3$ et 4$", legend=[("existante", "Écoles $x^2$")])
    svg = tmp_path / "map.svg"
    save_map(fig, tmp_path / "map.png", svg, dpi=40)
    texts = ["".join(t.itertext()) for t in ET.parse(svg).getroot().iter(f"{SVG}text")]
    for expected in ("Lille 5$ puis 10$", r"Lens $\frac{$", "Titre à 3$ et 4$",
                     "Écoles $x^2$"):
        assert any(expected in t for t in texts), expected
