"""Each preset, measured on its SVG as it ships: text sizes, markers, labels (issue 11).

Minimum sizes: A4 every text ≥ 6 pt and the legend ≥ 8 pt; slide every text ≥ 20 px and the
legend ≥ 28 px; social card and square every text ≥ 20 px, the legend ≥ 24 px and one line per
entry. A size in pixels is the SVG font size (points) times the preset's pixels per point.
"""

from __future__ import annotations

import pytest

from pipeline import config
from pipeline.outputs.maps.layout import PRESETS
from pipeline.outputs.maps.mapdata import map_data
from pipeline.outputs.maps.render import draw_map
from pipeline.outputs.maps.save import save_map
from tests import svgcheck
from tests.test_render import make_departements, make_sites

#: Every test here reads a full build of the real registry: the full tier only.
pytestmark = pytest.mark.slow

#: (every text, legend) minimum, in points for A4 and in pixels for the others.
MINIMUM = {"a4": (6.0, 8.0), "slide": (20.0, 28.0), "social": (20.0, 24.0),
           "square": (20.0, 24.0)}


@pytest.fixture(scope="module")
def real_snapshot():
    from pipeline.run import prepare, snapshot

    return snapshot(prepare(config.DEFAULT_REGISTRY))


@pytest.fixture(scope="module")
def real_data(real_snapshot):
    return map_data(real_snapshot.sites, real_snapshot.departements)


def _svgs(data, folder, labels="auto"):
    svgs = {}
    for name in PRESETS:
        path = folder / f"{name}.svg"
        save_map(draw_map(data, preset=name, labels=labels), None, path)
        svgs[name] = svgcheck.read_map_svg(str(path))
    return svgs


@pytest.fixture(scope="module")
def annex_svgs(real_data, tmp_path_factory):
    return _svgs(real_data, tmp_path_factory.mktemp("presets"))


@pytest.fixture(scope="module")
def reach_svgs(real_snapshot, tmp_path_factory):
    """The reach map (#13): seven legend entries, which the small formats set in two columns."""
    return _svgs(real_snapshot.reach_map.map, tmp_path_factory.mktemp("reach"), labels=False)


@pytest.fixture(params=["annex", "reach"])
def map_kind(request):
    return request.param


@pytest.fixture
def real_svgs(request, map_kind):
    return request.getfixturevalue(f"{map_kind}_svgs")


def size(preset: str, points: float) -> float:
    """A font size as the criterion counts it: points on A4, pixels elsewhere."""
    return points if preset == "a4" else points * PRESETS[preset].dpi / 72


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_minimum_text_sizes(real_svgs, preset):
    svg = real_svgs[preset]
    every, legend = MINIMUM[preset]
    assert svg.texts
    for item in svg.texts:
        assert size(preset, item.size) >= every - 1e-6, (item.text, item.size)
    entries = [t for t in svg.texts if "legende" in t.ids]
    assert len(entries) >= 5
    for item in entries:
        assert size(preset, item.size) >= legend - 1e-6, (item.text, item.size)


@pytest.mark.parametrize("preset", ["social", "square"])
def test_small_formats_have_one_line_per_legend_entry(annex_svgs, reach_svgs, preset):
    assert [t.text for t in reach_svgs[preset].texts if "legende" in t.ids] == [
        "63 sites", "Moins de 20\u00a0%", "20 à 40\u00a0%", "40 à 60\u00a0%", "60 à 80\u00a0%",
        "80\u00a0% ou plus", "Inconnu (Mayotte)"]
    entries = [t.text for t in annex_svgs[preset].texts if "legende" in t.ids]
    assert entries == [
        "42 écoles existantes, dont 13 lauréates", "20 lauréats AMI en ingénierie",
        "14 lauréats AMI en investissement", "13 départements nouvellement couverts",
        "28 départements déjà couverts"]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_markers_never_overlap_and_labels_read_right(real_svgs, map_kind, preset):
    svg = real_svgs[preset]
    assert len(svg.markers) == 63
    assert svgcheck.overlapping_markers(svg) == []
    # Each label's nearest marker is its own, or a leader line joins them; leaders cross
    # no other marker; labels do not overlap.
    assert svgcheck.misleading_labels(svg) == []
    assert svgcheck.leaders_crossing_markers(svg) == []
    assert svgcheck.overlapping_labels(svg) == []
    if PRESETS[preset].labels and map_kind == "annex":
        assert len(svg.labels) == 63


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_texts_stay_on_the_page_and_apart(real_svgs, preset):
    svg = real_svgs[preset]
    blocks = [t for t in svg.texts if not any(i.startswith("etiquette-") for i in t.ids)]
    for item in svg.texts:
        x0, y0, x1, y1 = item.box
        assert x0 >= -0.5 and y0 >= -0.5 and x1 <= svg.width + 0.5 and y1 <= svg.height + 0.5, (
            item.text)
    # Title, legend, notes and sources do not run into one another.
    for i, a in enumerate(blocks):
        for b in blocks[i + 1:]:
            if set(a.ids) & set(b.ids) - {"carte"}:
                continue  # lines of one block
            overlap = (a.box[0] < b.box[2] - 0.5 and b.box[0] < a.box[2] - 0.5
                       and a.box[1] < b.box[3] - 0.5 and b.box[1] < a.box[3] - 0.5)
            assert not overlap, (a.text, b.text)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_overseas_insets_leave_room_for_the_legend(preset, tmp_path):
    """With a school overseas (Kourou in the test data), the insets and texts still fit."""
    path = tmp_path / "map.svg"
    save_map(draw_map(map_data(make_sites(), make_departements()), preset=preset), None, path)
    svg = svgcheck.read_map_svg(str(path))
    legend = [t.box for t in svg.texts if "legende" in t.ids]
    sources = [t.box for t in svg.texts if "sources" in t.ids]
    frames = [t.box for t in svg.texts if any(i.startswith("nom-") for i in t.ids)]
    for box in legend:
        for other in sources + frames:
            assert (box[3] <= other[1] + 0.5 or other[3] <= box[1] + 0.5
                    or box[2] <= other[0] + 0.5 or other[2] <= box[0] + 0.5), (box, other)
    assert "kourou" in svg.markers
