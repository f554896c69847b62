"""QGIS styles (QML and SLD) of the coverage GeoPackage's layers, built from the map's colours.

The colours, marker shapes and French labels come from :data:`pipeline.config.CATEGORY_STYLE`
and :data:`pipeline.config.STATUS_STYLE`, the same mappings the map renderer reads, so the
GeoPackage opened in QGIS looks like the annex map. Output is deterministic text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from pipeline.config import CATEGORY_STYLE, STATUS_STYLE
from pipeline.schema import (
    ANNEX_CATEGORIES,
    ANNEX_STATUSES,
    CATEGORY_CLOSED,
    DATED_CATEGORIES,
    DATED_STATUSES,
)

#: QGIS version written in the QML header (the oldest LTR the files were checked with).
QGIS_VERSION = "3.22.16-Białowieża"
#: Font of the labels: open, shipped with matplotlib and most Linux desktops (MAP.md §3).
LABEL_FONT = "DejaVu Sans"
#: Sites in no known category ("autre"): drawn small and grey.
OTHER_CATEGORY = {"colour": "#7F7F7F", "marker": "o", "label": "Autre site"}
#: Closed schools of a dated file ("fermee"): kept in the layer, not drawn on the maps; small,
#: light grey in QGIS.
CLOSED_CATEGORY = {"colour": "#B4B4B4", "marker": "o",
                   "label": "École de production fermée (absente de la carte)"}
#: Small categories, drawn at the smaller size.
_SMALL = ("autre", CATEGORY_CLOSED)
#: Colours of the distance classes of ``communes_acces``, nearest first, in as many steps as
#: there are classes: one hue from pale yellow to dark brown, so that the order reads under
#: every colour-vision deficiency and in greyscale (lightness alone), and no class takes the
#: blue, red or teal of the schools drawn on top.
DISTANCE_COLOURS = ("#FDE3A0", "#FDBF5E", "#F59134", "#DC6220", "#A8390E", "#5E1F05")
#: Upper bound of the last distance class (km): beyond any distance in France.
DISTANCE_CAP_KM = 10_000.0
#: Outline of département polygons and of markers.
DEPARTEMENT_OUTLINE = "#8C8C8C"
MARKER_OUTLINE = "#FFFFFF"

#: matplotlib marker → QGIS SimpleMarker shape and SLD WellKnownName.
_SHAPES = {"o": ("circle", "circle"), "^": ("triangle", "triangle"), "s": ("square", "square"),
           "D": ("diamond", "square"), "v": ("triangle", "triangle")}

_SE = "http://www.opengis.net/se"
_OGC = "http://www.opengis.net/ogc"
_SLD = "http://www.opengis.net/sld"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _rgba(hex_colour: str) -> str:
    """Return QGIS's "r,g,b,a" notation of a "#RRGGBB" colour."""
    value = hex_colour.lstrip("#")
    return ",".join(str(int(value[i:i + 2], 16)) for i in (0, 2, 4)) + ",255"


def _options(parent: ET.Element, props: Mapping[str, str]) -> None:
    """Write symbol-layer properties both as QGIS ≥ 3.16 ``Option`` map and legacy ``prop``."""
    opt_map = ET.SubElement(parent, "Option", type="Map")
    for key, value in props.items():
        ET.SubElement(opt_map, "Option", name=key, type="QString", value=value)
    for key, value in props.items():
        ET.SubElement(parent, "prop", k=key, v=value)


def _fill_symbol(parent: ET.Element, name: str, colour: str) -> None:
    symbol = ET.SubElement(parent, "symbol", type="fill", name=name, alpha="1",
                           clip_to_extent="1", force_rhr="0")
    layer = ET.SubElement(symbol, "layer", {"class": "SimpleFill", "enabled": "1",
                                            "locked": "0", "pass": "0"})
    _options(layer, {
        "color": _rgba(colour), "style": "solid", "joinstyle": "bevel",
        "outline_color": _rgba(DEPARTEMENT_OUTLINE), "outline_style": "solid",
        "outline_width": "0.2", "outline_width_unit": "MM",
    })


def _marker_symbol(parent: ET.Element, name: str, colour: str, marker: str,
                   size: str, *, outline: bool = True) -> None:
    symbol = ET.SubElement(parent, "symbol", type="marker", name=name, alpha="1",
                           clip_to_extent="1", force_rhr="0")
    layer = ET.SubElement(symbol, "layer", {"class": "SimpleMarker", "enabled": "1",
                                            "locked": "0", "pass": "0"})
    _options(layer, {
        "name": _SHAPES[marker][0], "color": _rgba(colour), "size": size, "size_unit": "MM",
        "outline_color": _rgba(MARKER_OUTLINE),
        "outline_style": "solid" if outline else "no",
        "outline_width": "0.3", "outline_width_unit": "MM", "angle": "0",
        "scale_method": "diameter", "joinstyle": "miter",
    })


def _qml_document(field: str, categories: list[tuple[str, str]],
                  looks: list[tuple[str, str, str]], geometry_type: int,
                  label_field: str | None) -> str:
    """Build a QML document with a categorized renderer on ``field``."""
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology|Labeling",
                      labelsEnabled="1" if label_field else "0")
    renderer = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=field,
                             forceraster="0", symbollevels="0", enableorderby="0",
                             referencescale="-1")
    cats = ET.SubElement(renderer, "categories")
    for index, (value, label) in enumerate(categories):
        ET.SubElement(cats, "category", render="true", symbol=str(index), value=value,
                      label=label, type="string")
    symbols = ET.SubElement(renderer, "symbols")
    for index, (colour, marker, size) in enumerate(looks):
        if geometry_type == 2:
            _fill_symbol(symbols, str(index), colour)
        else:
            _marker_symbol(symbols, str(index), colour, marker, size)
    if label_field:
        labeling = ET.SubElement(root, "labeling", type="simple")
        settings = ET.SubElement(labeling, "settings", calloutType="simple")
        style = ET.SubElement(settings, "text-style", fieldName=label_field, isExpression="0",
                              fontFamily=LABEL_FONT, fontSize="7", fontSizeUnit="Point",
                              textColor="30,30,30,255", textOpacity="1", fontWeight="50",
                              fontItalic="0", namedStyle="Book", multilineHeight="1")
        ET.SubElement(style, "text-buffer", bufferDraw="1", bufferSize="0.7",
                      bufferSizeUnits="MM", bufferColor="255,255,255,255",
                      bufferOpacity="0.85", bufferJoinStyle="128", bufferNoFill="1")
        ET.SubElement(settings, "placement", placement="6", dist="0.8", distUnits="MM",
                      predefinedPositionOrder="TR,TL,BR,BL,R,L,TSR,BSR",
                      priority="5", overlapHandling="PreventOverlap")
        ET.SubElement(settings, "rendering", obstacle="1", obstacleType="1",
                      displayAll="0", upsidedownLabels="0", labelPerPart="0",
                      scaleVisibility="0", drawLabels="1")
    ET.SubElement(root, "layerGeometryType").text = str(geometry_type)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def _site_categories(dated: bool | None = None) -> list[tuple[str, Mapping[str, str]]]:
    """Categories of sites in drawing order: the annex's, a date's, or every one (None).

    "autre" closes the annex's list, "fermee" a date's.
    """
    annex: list[tuple[str, Mapping[str, str]]] = [
        (k, v) for k, v in CATEGORY_STYLE.items() if k in ANNEX_CATEGORIES]
    annex.append(("autre", OTHER_CATEGORY))
    later: list[tuple[str, Mapping[str, str]]] = [
        (k, v) for k, v in CATEGORY_STYLE.items() if k in DATED_CATEGORIES]
    later.append((CATEGORY_CLOSED, CLOSED_CATEGORY))
    if dated is None:
        return [*annex[:-1], *later[:-1], annex[-1], later[-1]]
    return later if dated else annex


def _statuses(dated: bool | None = None) -> list[tuple[str, Mapping[str, str]]]:
    """Département statuses a file can hold: the annex's, a date's, or every one (None)."""
    allowed = (set(ANNEX_STATUSES) | set(DATED_STATUSES) if dated is None
               else set(DATED_STATUSES if dated else ANNEX_STATUSES))
    return [(k, v) for k, v in STATUS_STYLE.items() if k in allowed]


def departements_qml(*, dated: bool | None = None) -> str:
    """Return the QML style of the ``departements`` layer: categorized on ``statut``.

    Parameters
    ----------
    dated
        False: the annex's statuses only; True: a date's; None: every status.

    Returns
    -------
    str
        A QGIS QML document (newly covered in amber, covered in light blue-grey, not covered
        in very light grey; a date's statuses in the same colours as its map).
    """
    items = _statuses(dated)
    return _qml_document("statut", [(k, v["label"]) for k, v in items],
                         [(v["colour"], "", "") for _, v in items], 2, None)


def ecoles_qml(*, dated: bool | None = None) -> str:
    """Return the QML style of the ``ecoles`` layer: categorized on ``categorie``, labelled.

    Parameters
    ----------
    dated
        False: the annex's categories ("autre" included); True: a date's, closed schools
        included; None: every category.

    Returns
    -------
    str
        A QGIS QML document with the map's shapes and colours and labels on ``etiquette``.
    """
    items = _site_categories(dated)
    return _qml_document(
        "categorie", [(k, v["label"]) for k, v in items],
        [(v["colour"], v["marker"], "1.6" if k in _SMALL else "2.4") for k, v in items],
        0, "etiquette")


def distance_classes(thresholds_km: Sequence[float]) -> list[tuple[float, float, str, str]]:
    """Return the classes of the reach layer's style: (lower, upper, French label, colour).

    One class up to each threshold, then one beyond the last (up to
    :data:`DISTANCE_CAP_KM`); colours from :data:`DISTANCE_COLOURS`, nearest in blue.
    """
    bounds = sorted(float(t) for t in thresholds_km)
    edges = [0.0, *bounds, DISTANCE_CAP_KM]
    n = len(edges) - 1
    last = len(DISTANCE_COLOURS) - 1
    picks = [round(i * last / (n - 1)) if n > 1 else 0 for i in range(n)]
    out = []
    for i in range(n):
        low, high = edges[i], edges[i + 1]
        if i == 0:
            label = f"à moins de {high:g} km"
        elif i == n - 1:
            label = f"plus de {low:g} km"
        else:
            label = f"de {low:g} à {high:g} km"
        out.append((low, high, label.replace(".", ","), DISTANCE_COLOURS[picks[i]]))
    return out


def communes_qml(thresholds_km: Sequence[float], *, field: str = "distance_km") -> str:
    """Return the QML style of the ``communes_acces`` layer: graduated on the distance.

    Parameters
    ----------
    thresholds_km
        The reach thresholds: class bounds.
    field
        The distance column (``distance_km``, or ``distance_route_estimee_km`` for a road
        estimate).

    Returns
    -------
    str
        A QGIS QML document: small dots, pale yellow near a school to dark brown far from
        one. A commune of a territory without any site (distance NULL) falls in no class and
        is not drawn.
    """
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology|Labeling",
                      labelsEnabled="0")
    renderer = ET.SubElement(root, "renderer-v2", type="graduatedSymbol", attr=field,
                             graduatedMethod="GraduatedColor", forceraster="0",
                             symbollevels="0", enableorderby="0", referencescale="-1")
    ranges = ET.SubElement(renderer, "ranges")
    symbols = ET.SubElement(renderer, "symbols")
    for index, (low, high, label, colour) in enumerate(distance_classes(thresholds_km)):
        ET.SubElement(ranges, "range", render="true", symbol=str(index), lower=f"{low:.6f}",
                      upper=f"{high:.6f}", label=label)
        # Small dots without outline under the schools' larger, outlined symbols.
        _marker_symbol(symbols, str(index), colour, "o", "0.9", outline=False)
    ET.SubElement(renderer, "classificationMethod", id="Fixed")
    ET.SubElement(root, "layerGeometryType").text = "0"
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def _sld_document(layer: str, rules: list[ET.Element]) -> str:
    ET.register_namespace("se", _SE)
    ET.register_namespace("ogc", _OGC)
    ET.register_namespace("", _SLD)
    ET.register_namespace("xsi", _XSI)
    root = ET.Element(f"{{{_SLD}}}StyledLayerDescriptor", {
        "version": "1.1.0",
        f"{{{_XSI}}}schemaLocation":
            "http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/"
            "StyledLayerDescriptor.xsd"})
    named = ET.SubElement(root, f"{{{_SLD}}}NamedLayer")
    ET.SubElement(named, f"{{{_SE}}}Name").text = layer
    user = ET.SubElement(named, f"{{{_SLD}}}UserStyle")
    ET.SubElement(user, f"{{{_SE}}}Name").text = layer
    fts = ET.SubElement(user, f"{{{_SE}}}FeatureTypeStyle")
    fts.extend(rules)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
        root, encoding="unicode") + "\n"


def _rule(field: str, value: str, label: str) -> ET.Element:
    rule = ET.Element(f"{{{_SE}}}Rule")
    ET.SubElement(rule, f"{{{_SE}}}Name").text = value
    desc = ET.SubElement(rule, f"{{{_SE}}}Description")
    ET.SubElement(desc, f"{{{_SE}}}Title").text = label
    flt = ET.SubElement(rule, f"{{{_OGC}}}Filter")
    equal = ET.SubElement(flt, f"{{{_OGC}}}PropertyIsEqualTo")
    ET.SubElement(equal, f"{{{_OGC}}}PropertyName").text = field
    ET.SubElement(equal, f"{{{_OGC}}}Literal").text = value
    return rule


def _svg_param(parent: ET.Element, tag: str, name: str, value: str) -> None:
    ET.SubElement(parent, f"{{{_SE}}}{tag}", name=name).text = value


def departements_sld(*, dated: bool | None = None) -> str:
    """Return the SLD 1.1 style of the ``departements`` layer (same colours as the QML).

    Parameters
    ----------
    dated
        As in :func:`departements_qml`.

    Returns
    -------
    str
        An OGC Symbology Encoding document.
    """
    rules = []
    for value, style in _statuses(dated):
        rule = _rule("statut", value, style["label"])
        poly = ET.SubElement(rule, f"{{{_SE}}}PolygonSymbolizer")
        fill = ET.SubElement(poly, f"{{{_SE}}}Fill")
        _svg_param(fill, "SvgParameter", "fill", style["colour"])
        stroke = ET.SubElement(poly, f"{{{_SE}}}Stroke")
        _svg_param(stroke, "SvgParameter", "stroke", DEPARTEMENT_OUTLINE)
        _svg_param(stroke, "SvgParameter", "stroke-width", "0.5")
        rules.append(rule)
    return _sld_document("departements", rules)


def ecoles_sld(*, dated: bool | None = None) -> str:
    """Return the SLD 1.1 style of the ``ecoles`` layer (same shapes and colours, labels).

    Parameters
    ----------
    dated
        As in :func:`ecoles_qml`.

    Returns
    -------
    str
        An OGC Symbology Encoding document.
    """
    rules = []
    for value, style in _site_categories(dated):
        rule = _rule("categorie", value, style["label"])
        point = ET.SubElement(rule, f"{{{_SE}}}PointSymbolizer")
        graphic = ET.SubElement(point, f"{{{_SE}}}Graphic")
        mark = ET.SubElement(graphic, f"{{{_SE}}}Mark")
        ET.SubElement(mark, f"{{{_SE}}}WellKnownName").text = _SHAPES[style["marker"]][1]
        fill = ET.SubElement(mark, f"{{{_SE}}}Fill")
        _svg_param(fill, "SvgParameter", "fill", style["colour"])
        stroke = ET.SubElement(mark, f"{{{_SE}}}Stroke")
        _svg_param(stroke, "SvgParameter", "stroke", MARKER_OUTLINE)
        _svg_param(stroke, "SvgParameter", "stroke-width", "1")
        ET.SubElement(graphic, f"{{{_SE}}}Size").text = "6" if value in _SMALL else "9"
        text = ET.SubElement(rule, f"{{{_SE}}}TextSymbolizer")
        label = ET.SubElement(text, f"{{{_SE}}}Label")
        ET.SubElement(label, f"{{{_OGC}}}PropertyName").text = "etiquette"
        font = ET.SubElement(text, f"{{{_SE}}}Font")
        _svg_param(font, "SvgParameter", "font-family", LABEL_FONT)
        _svg_param(font, "SvgParameter", "font-size", "10")
        halo = ET.SubElement(text, f"{{{_SE}}}Halo")
        ET.SubElement(halo, f"{{{_SE}}}Radius").text = "2"
        halo_fill = ET.SubElement(halo, f"{{{_SE}}}Fill")
        _svg_param(halo_fill, "SvgParameter", "fill", "#FFFFFF")
        text_fill = ET.SubElement(text, f"{{{_SE}}}Fill")
        _svg_param(text_fill, "SvgParameter", "fill", "#1E1E1E")
        rules.append(rule)
    return _sld_document("ecoles", rules)


def communes_sld(thresholds_km: Sequence[float], *, field: str = "distance_km") -> str:
    """Return the SLD 1.1 style of the ``communes_acces`` layer (same classes as the QML).

    Parameters
    ----------
    thresholds_km, field
        As in :func:`communes_qml`.

    Returns
    -------
    str
        An OGC Symbology Encoding document, one rule per distance class.
    """
    rules = []
    for index, (low, high, label, colour) in enumerate(distance_classes(thresholds_km)):
        rule = ET.Element(f"{{{_SE}}}Rule")
        ET.SubElement(rule, f"{{{_SE}}}Name").text = label
        desc = ET.SubElement(rule, f"{{{_SE}}}Description")
        ET.SubElement(desc, f"{{{_SE}}}Title").text = label
        flt = ET.SubElement(rule, f"{{{_OGC}}}Filter")
        both = ET.SubElement(flt, f"{{{_OGC}}}And")
        above = ET.SubElement(both, f"{{{_OGC}}}PropertyIsGreaterThanOrEqualTo" if index == 0
                              else f"{{{_OGC}}}PropertyIsGreaterThan")
        ET.SubElement(above, f"{{{_OGC}}}PropertyName").text = field
        ET.SubElement(above, f"{{{_OGC}}}Literal").text = f"{low:g}"
        below = ET.SubElement(both, f"{{{_OGC}}}PropertyIsLessThanOrEqualTo")
        ET.SubElement(below, f"{{{_OGC}}}PropertyName").text = field
        ET.SubElement(below, f"{{{_OGC}}}Literal").text = f"{high:g}"
        point = ET.SubElement(rule, f"{{{_SE}}}PointSymbolizer")
        graphic = ET.SubElement(point, f"{{{_SE}}}Graphic")
        mark = ET.SubElement(graphic, f"{{{_SE}}}Mark")
        ET.SubElement(mark, f"{{{_SE}}}WellKnownName").text = "circle"
        fill = ET.SubElement(mark, f"{{{_SE}}}Fill")
        _svg_param(fill, "SvgParameter", "fill", colour)
        ET.SubElement(graphic, f"{{{_SE}}}Size").text = "4"
        rules.append(rule)
    return _sld_document("communes_acces", rules)

