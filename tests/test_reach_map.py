"""The reach map (issue 13): départements filled by the share of young people within reach."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from pipeline import config
from pipeline.outputs.maps.reach_map import reach_class as _reach_class
from pipeline.outputs.maps.reach_map import reach_map_of as _reach_map
from pipeline.provenance import Provenance
from tests.test_render import make_departements, make_sites

PROVENANCE = Provenance("IGN", "ADMIN EXPRESS COG", "2024", "Licence Ouverte 2.0")


@pytest.mark.parametrize(("share", "key"), [
    (0.0, "acces_0_20"), (0.1999, "acces_0_20"), (0.2, "acces_20_40"), (0.5, "acces_40_60"),
    (0.7999, "acces_60_80"), (0.8, "acces_80_100"), (1.0, "acces_80_100"),
    (float("nan"), "acces_inconnu")])
def test_classes_have_closed_lower_bounds_and_unknown_is_not_zero(share, key):
    assert _reach_class(share) == key


def with_reach_columns(detour: float | None = None):
    """The test départements with reach columns: young people and those within 30 km."""
    deps = make_departements()
    n = len(deps)
    young = np.full(n, 1000.0)
    within = np.linspace(0, 1000, n)
    mayotte = deps["code"].eq("976").to_numpy()
    young[mayotte], within[mayotte] = np.nan, np.nan
    return deps.assign(jeunes_0_19=young, jeunes_30km=within,
                       part_jeunes_30km=within / young, jeunes_45km=within,
                       part_jeunes_45km=within / young,
                       methode_distance="ligne_droite" if detour is None else "estimation_route",
                       facteur_detour=1.0 if detour is None else detour)


def test_reach_map_fills_each_departement_by_its_class_and_counts_them():
    deps = with_reach_columns()
    reach = _reach_map(deps, make_sites(), day=None, provenance=PROVENANCE)
    assert reach is not None and reach.threshold_km == 30
    data = reach.map
    expected = [_reach_class(v) for v in deps["part_jeunes_30km"]]
    filled = dict(zip(data.departement_codes, data.departement_statuts, strict=True))
    assert filled == dict(zip(deps["code"], expected, strict=True))
    assert filled["976"] == "acces_inconnu" and filled["29"] == "acces_0_20"
    # One legend entry per class present, its count in brackets; the sites first.
    legend = dict(data.legend)
    drawn = make_sites()["categorie"].isin(list(config.CATEGORY_STYLE)).sum()
    assert drawn < len(make_sites())  # a site of no drawn category ("autre") is left out
    assert legend["site_acces"].endswith(f"({drawn})") and len(data.site_ids) == drawn
    for key in set(expected):
        assert legend[key].endswith(f"({expected.count(key)})"), key
    assert "Mayotte" in legend["acces_inconnu"]
    # The national share is young people within over young people, Mayotte left out.
    national = np.nansum(deps["jeunes_30km"]) / np.nansum(deps["jeunes_0_19"])
    assert f"{round(100 * national)}\u00a0% des jeunes à moins de 30\u00a0km" in data.subtitle
    assert "vol d'oiseau" in data.source_line
    assert data.short is not None and data.short.source_line.startswith("Vol d'oiseau")
    assert "novembre 2021" in data.title
    assert "1 départements" not in reach.alt_text


def test_reach_map_of_a_date_counts_open_schools_and_says_a_road_estimate():
    deps = with_reach_columns(detour=1.3)
    reach = _reach_map(deps, make_sites(), day=dt.date(2025, 6, 30), provenance=PROVENANCE)
    assert reach is not None
    assert "30 juin 2025" in reach.map.title
    assert dict(reach.map.legend)["site_acces"].startswith("École de production ouverte")
    assert "estimation routière" in reach.map.source_line
    assert reach.map.short is not None
    assert reach.map.short.source_line.startswith("Estimation routière")
    assert "estimation routière" in reach.alt_text
    assert reach.alt_text.endswith("\n")


def test_no_reach_columns_no_reach_map():
    assert _reach_map(make_departements(), make_sites(), day=None,
                      provenance=PROVENANCE) is None


def test_reach_styles_are_distinct_and_ordered_by_lightness():
    def lightness(hex_colour: str) -> float:
        r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    fills = [config.STATUS_STYLE[key]["colour"] for _, key in config.REACH_CLASSES]
    values = [lightness(c) for c in fills]
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)


def test_shares_without_their_counts_draw_no_reach_map_and_say_so(caplog):
    """A GeoPackage edited by hand may keep a share and lose what it was computed from."""
    deps = with_reach_columns().drop(columns=["jeunes_30km", "methode_distance"])
    assert _reach_map(deps, make_sites(), day=None, provenance=PROVENANCE) is None
    assert "jeunes_30km, methode_distance" in caplog.text
