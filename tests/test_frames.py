"""The map's frames as plain geometry (pipeline.outputs.maps.frames): no matplotlib needed."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from pipeline import config
from pipeline.outputs.maps.frames import map_frames
from pipeline.outputs.maps.layout import PRESETS
from pipeline.outputs.maps.mapdata import map_data
from tests.test_render import HEAVY, make_departements, make_sites, run_python


@pytest.fixture(scope="module")
def data():
    return map_data(make_sites(), make_departements())


@pytest.mark.slow
def test_frames_module_imports_neither_matplotlib_nor_pandas():
    out = run_python("import sys, pipeline.outputs.maps.frames; "
                     f"print([m for m in {(*HEAVY, 'matplotlib')!r} if m in sys.modules])")
    assert out.strip() == "[]"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_site_and_departement_has_a_frame(data, preset):
    frames = map_frames(data, preset)
    assert frames.main.kind == "main" and frames.main.crs == config.METRO_CRS
    names = [f.name for f in frames.frames]
    assert len(names) == len(set(names))
    # Every département is drawn in exactly one frame that is not a zoom (the small formats
    # leave out the overseas ones without a site: a note says so).
    drawn = np.concatenate([f.departement_index for f in frames.of_kind("main", "inset",
                                                                          "strip")])
    everyone = range(len(data.departement_codes))
    expected = [i for i in everyone if PRESETS[preset].strip_shapes
                or data.departement_codes[i] not in ("971", "972", "974", "976")]
    assert sorted(drawn.tolist()) == expected
    # Every site is labelled in exactly one frame.
    labelled = np.concatenate([f.site_index[f.labelled] for f in frames.frames])
    assert sorted(labelled.tolist()) == list(range(len(data.site_ids)))
    for frame in frames.frames:
        assert len(frame.site_xy) == len(frame.site_index) == len(frame.labelled)
        assert frame.departement_codes == tuple(
            data.departement_codes[i] for i in frame.departement_index)
        left, bottom, width, height = frame.box
        assert min(left, bottom) >= 0 and left + width <= 1 and bottom + height <= 1
        # The scale is the same on both axes.
        w_in, h_in = width * frames.width_in, height * frames.height_in
        sx = (frame.xlim[1] - frame.xlim[0]) / w_in
        sy = (frame.ylim[1] - frame.ylim[0]) / h_in
        assert sx == pytest.approx(sy, rel=1e-9) == pytest.approx(frame.units_per_inch)


def test_sites_are_projected_into_their_frame(data):
    frames = map_frames(data, "a4")
    guyane = frames.get("encart-973")
    assert guyane.kind in ("inset", "strip") and guyane.title == "Guyane"
    (kourou,) = guyane.site_index
    assert data.site_ids[kourou] == "kourou"
    page = guyane.to_page(guyane.site_xy)
    left, bottom, width, height = guyane.box
    assert left < page[0, 0] < left + width and bottom < page[0, 1] < bottom + height
    main = frames.main
    toulouse = data.site_ids.index("toulouse")
    (k,) = np.flatnonzero(main.site_index == toulouse)
    x, y = main.site_xy[k]
    assert x == pytest.approx(574_000, abs=2_000) and y == pytest.approx(6_279_000, abs=2_000)
    # Lyon, Vaulx-en-Velin and Villeurbanne crowd: a zoom shows them, not the main frame.
    (zoom,) = frames.of_kind("zoom")
    assert sorted(data.site_ids[i] for i in zoom.site_index) == ["lyon", "vaulx",
                                                                "villeurbanne"]
    assert not set(zoom.site_index) & set(main.site_index)
    assert zoom.units_per_inch < main.units_per_inch / 2
    assert zoom.connector is not None
    for zoom in frames.of_kind("zoom"):
        assert zoom.extent_on_main is not None and zoom.title
        x0, y0, x1, y1 = zoom.extent_on_main
        window = shapely.box(x0, y0, x1, y1)
        assert shapely.contains_xy(window, zoom.site_xy[:, 0], zoom.site_xy[:, 1]).all()


def test_coincident_markers_are_spread_apart():
    from pipeline.outputs.maps.frames import spread

    xy = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    radii = np.array([0.5, 0.5, 0.5, 0.5])
    moved = spread(xy, radii, 0.1)
    d = np.hypot(*(moved[:, None, :] - moved[None, :, :]).transpose(2, 0, 1))
    assert (d[np.triu_indices(4, 1)] >= 1.1 - 1e-6).all()
    assert np.allclose(moved[3], xy[3])  # a marker with room keeps its place
    assert np.array_equal(spread(xy, radii, 0.1), moved)  # deterministic


def test_map_only_boxes_fill_the_map_area(data):
    page = map_frames(data, "slide")
    area = map_frames(data, "slide", map_only=True)
    _, _, width, height = page.area()
    assert area.width_in == pytest.approx(page.width_in * width)
    assert area.height_in == pytest.approx(page.height_in * height)
    assert area.area() == pytest.approx((0.0, 0.0, 1.0, 1.0))
    # Same frames, same geometry, same place relative to each other.
    for a, b in zip(page.frames, area.frames, strict=True):
        assert a.name == b.name and a.xlim == b.xlim
        assert a.box[2] * page.width_in == pytest.approx(b.box[2] * area.width_in)


def test_a_zoom_is_named_after_its_city():
    sites = make_sites()
    sites["commune"] = sites["id"].str.title()
    sites.loc[sites["id"] == "lyon", "commune"] = "Lyon 9e Arrondissement"
    sites.loc[sites["id"] == "vaulx", "commune"] = "Vaulx-en-Velin"
    frames = map_frames(map_data(sites, make_departements()), "a4")
    (zoom,) = frames.of_kind("zoom")
    assert (zoom.name, zoom.title) == ("zoom-lyon", "Lyon")
