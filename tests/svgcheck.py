"""Measure a map's SVG as a reader sees it: text sizes, markers, labels and leader lines.

Everything is computed from the SVG file alone (ids ``site-<id>``, ``etiquette-<id>``,
``renvoi-<id>``, the layers), so the tests check the figure that ships, not the code's
intentions. Coordinates are SVG user units (points, y downwards).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache

from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
INKSCAPE = "{http://www.inkscape.org/namespaces/inkscape}"

Box = tuple[float, float, float, float]


@dataclass
class TextItem:
    """One ``<text>`` element: its content, size, box and the ids around it."""

    text: str
    size: float
    box: Box
    ids: tuple[str, ...]  # ids of the element and its ancestors, innermost first


@dataclass
class MapSvg:
    """What a map's SVG shows."""

    width: float
    height: float
    layers: dict[str, str]  # id -> inkscape:label of the top-level layers
    texts: list[TextItem]
    markers: dict[str, tuple[float, float, float]]  # site id -> (x, y, radius)
    labels: dict[str, Box] = field(default_factory=dict)  # site id -> box of its label
    leaders: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    departements: list[str] = field(default_factory=list)  # ids of departement paths


@cache
def _measure(text: str, size: float, weight: str) -> tuple[float, float, float]:
    prop = FontProperties(family="DejaVu Sans", size=size, weight=weight)
    return TextToPath().get_text_width_height_descent(text, prop, ismath=False)


def _style(element: ET.Element) -> dict[str, str]:
    items = (part.split(":", 1) for part in element.get("style", "").split(";") if ":" in part)
    return {k.strip(): v.strip() for k, v in items}


def _path_points(d: str) -> list[tuple[float, float]]:
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", d)]
    return list(zip(numbers[::2], numbers[1::2], strict=False))


def read_map_svg(path: str) -> MapSvg:
    """Parse a map's SVG into what a reader sees.

    Parameters
    ----------
    path
        SVG written by :func:`pipeline.outputs.maps.save.save_map`.

    Returns
    -------
    MapSvg
        Sizes in points.
    """
    root = ET.parse(path).getroot()
    width = float(root.get("width", "0").removesuffix("pt"))
    height = float(root.get("height", "0").removesuffix("pt"))
    layers = {g.get("id", ""): g.get(f"{INKSCAPE}label", "") for g in root.findall(f"{SVG}g")
              if g.get(f"{INKSCAPE}groupmode") == "layer"}
    shapes = {p.get("id"): _path_points(p.get("d", "")) for p in root.iter(f"{SVG}path")
              if p.get("id")}
    result = MapSvg(width, height, layers, [], {})

    def walk(element: ET.Element, ids: tuple[str, ...]) -> None:
        own = element.get("id")
        here = (own, *ids) if own else ids
        tag = element.tag
        if tag == f"{SVG}text":
            result.texts.append(_text(element, here))
        elif tag == f"{SVG}use" and own and own.startswith("site-"):
            ref = element.get(f"{XLINK}href", "").lstrip("#")
            radius = max((math.hypot(x, y) for x, y in shapes.get(ref, [])), default=0.0)
            result.markers[own.removeprefix("site-")] = (
                float(element.get("x", 0)), float(element.get("y", 0)), radius)
        elif tag == f"{SVG}path" and own and own.startswith("renvoi-"):
            (x0, y0), (x1, y1) = _path_points(element.get("d", ""))[:2]
            result.leaders[own.removeprefix("renvoi-")] = (x0, y0, x1, y1)
        elif tag == f"{SVG}path" and own and own.startswith("departement-"):
            result.departements.append(own)
        for child in element:
            walk(child, here)

    walk(root, ())
    for item in result.texts:
        label = next((i for i in item.ids if i.startswith("etiquette-")), None)
        if label is None:
            continue
        site = label.removeprefix("etiquette-")
        box = result.labels.get(site)
        result.labels[site] = item.box if box is None else (
            min(box[0], item.box[0]), min(box[1], item.box[1]), max(box[2], item.box[2]),
            max(box[3], item.box[3]))
    return result


def _text(element: ET.Element, ids: tuple[str, ...]) -> TextItem:
    style = _style(element)
    size = float(style.get("font-size", "10px").removesuffix("px"))
    weight = style.get("font-weight", "normal")
    if "font" in style and "font-size" not in style:  # shorthand "font: 700 6px 'DejaVu Sans'"
        match = re.search(r"(\d+(?:\.\d+)?)px", style["font"])
        size = float(match.group(1)) if match else size
        weight = "bold" if re.search(r"\b(bold|[6-9]00)\b", style["font"]) else weight
    if weight in ("700", "800", "900"):
        weight = "bold"
    content = "".join(element.itertext())
    if element.get("x") is not None:
        x, y = float(element.get("x", 0)), float(element.get("y", 0))
    else:
        match = re.search(r"translate\(([-\d.e]+)[ ,]+([-\d.e]+)\)", element.get("transform", ""))
        x, y = (float(match.group(1)), float(match.group(2))) if match else (0.0, 0.0)
    w, h, d = _measure(content, size, weight)
    anchor = style.get("text-anchor", "start")
    x0 = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
    return TextItem(content, size, (x0, y - (h - d), x0 + w, y + d), ids)


def _box_distance(box: Box, x: float, y: float) -> float:
    dx = max(box[0] - x, 0.0, x - box[2])
    dy = max(box[1] - y, 0.0, y - box[3])
    return math.hypot(dx, dy)


def overlapping_markers(svg: MapSvg, *, tolerance: float = 0.01) -> list[tuple[str, str]]:
    """Pairs of sites whose markers overlap (circles around their shapes)."""
    items = sorted(svg.markers.items())
    pairs = []
    for i, (a, (xa, ya, ra)) in enumerate(items):
        for b, (xb, yb, rb) in items[i + 1:]:
            if math.hypot(xa - xb, ya - yb) < ra + rb - tolerance:
                pairs.append((a, b))
    return pairs


def misleading_labels(svg: MapSvg) -> list[str]:
    """Sites whose label is nearer another marker than its own, without a leader line."""
    bad = []
    for site, box in svg.labels.items():
        distances = {other: _box_distance(box, x, y) for other, (x, y, _) in
                     svg.markers.items()}
        nearest = min(distances, key=lambda k: (distances[k], k != site))
        if nearest != site and site not in svg.leaders:
            bad.append(site)
    return bad


def _segment_distance(x: float, y: float, seg: tuple[float, float, float, float]) -> float:
    x0, y0, x1, y1 = seg
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / length2))
    return math.hypot(x - (x0 + t * dx), y - (y0 + t * dy))


def leaders_crossing_markers(svg: MapSvg) -> list[tuple[str, str]]:
    """(label's site, crossed site) for every leader line that crosses another marker."""
    bad = []
    for site, seg in svg.leaders.items():
        for other, (x, y, r) in svg.markers.items():
            if other != site and _segment_distance(x, y, seg) < r * 0.9:
                bad.append((site, other))
    return bad


def overlapping_labels(svg: MapSvg) -> list[tuple[str, str]]:
    """Pairs of labels whose boxes overlap."""
    items = sorted(svg.labels.items())
    pairs = []
    for i, (a, p) in enumerate(items):
        for b, q in items[i + 1:]:
            if p[0] < q[2] - 0.05 and q[0] < p[2] - 0.05 and p[1] < q[3] - 0.05 \
                    and q[1] < p[3] - 0.05:
                pairs.append((a, b))
    return pairs
