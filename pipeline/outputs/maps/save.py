"""Saving figures with deterministic bytes: the maps and the chart as PNG and SVG, the GIF.

Same figure, same bytes: the PNG has no timestamp or software chunk, the SVG a fixed hash
salt and no date. Every file is written atomically.

The map's SVG is reshaped for designers (:func:`svg_for_designers`): the figure's top-level
groups become Inkscape layers with French names, and each département's path, each site's
marker, label and leader line carries its id itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline.basemap import Basemap
from pipeline.errors import RenderError
from pipeline.outputs.files import atomic_path
from pipeline.outputs.maps.mapdata import MapData

_SVG_SALT: Final = "ecoles-map"
_CHART_SALT: Final = "ecoles-map-evolution"
#: GIF frames: width in pixels (a social post shows about 1000 px), time per frame, and a
#: longer pause on the last one before the loop starts again.
GIF_WIDTH: Final = 960
#: Frames up to this wide (the social card, the square) keep their size in the GIF, and so
#: their text sizes; wider ones (the slide) are brought down to :data:`GIF_WIDTH`.
GIF_MAX_WIDTH: Final = 1200
#: A frame holds a map and a six-line legend: 3 s to read it, and longer on the last.
GIF_FRAME_MS: Final = 3000
GIF_LAST_FRAME_MS: Final = 6000
#: zlib level of the PNG: 3 encodes the A4 map in 0.17 s for 1.25 MB, where matplotlib's
#: 6 takes 0.28 s for 1.18 MB (RGB; RGBA at 6 was 0.47 s and 1.31 MB); 1 and 2 are no
#: faster, 8 and 9 take 0.5 and 1.3 s to save another 2 % (benchmarks/bench_render.py).
PNG_COMPRESS_LEVEL: Final = 3


def _png_bytes_to(fig: Figure, path: str | os.PathLike[str], dpi: float) -> None:
    """Draw ``fig`` once on its Agg canvas and write it as an RGB PNG with Pillow.

    matplotlib would encode the RGBA buffer at zlib level 6; the map has a white background,
    so RGB loses nothing (print wants RGB anyway) and level :data:`PNG_COMPRESS_LEVEL`
    encodes it in about 60 % of the time for 5 % more bytes. Only the pHYs chunk (the
    resolution) is written: no time, no software, so the same figure gives the same bytes.
    """
    from PIL import Image  # a dependency of matplotlib

    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(fig)
    original = fig.dpi
    try:
        if dpi != original:
            fig.dpi = dpi
        # Unhinted glyphs: at these sizes (≥ 20 px, or 300 dpi) hinting shows nowhere, and
        # laying out text unhinted takes half the time.
        with mpl.rc_context({"text.hinting": "none"}):
            canvas.draw()
        width, height = canvas.get_width_height(physical=True)
        rgba = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA",
                                0, 1)
        rgb = rgba.convert("RGB")
    finally:
        if fig.dpi != original:
            fig.dpi = original
    rgb.save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL,
             dpi=(round(dpi), round(dpi)))


# --- SVG for designers -------------------------------------------------------------------
_SVG_NS: Final = "http://www.w3.org/2000/svg"
_XLINK_NS: Final = "http://www.w3.org/1999/xlink"
INKSCAPE_NS: Final = "http://www.inkscape.org/namespaces/inkscape"
_NAMESPACES: Final = {
    "xlink": _XLINK_NS, "inkscape": INKSCAPE_NS,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "cc": "http://creativecommons.org/ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
}
_G = f"{{{_SVG_NS}}}g"
#: Groups whose one element takes their id (``<path id="departement-75">``).
_OWN_ID: Final = re.compile(r"(departement|site|renvoi|etiquette|nom|lien|emprise|cadre)-")
#: Prefix of the transient groups :class:`pipeline.outputs.maps.render.HaloText` opens around
#: a text that has a halo.
HALO_GROUP: Final = "halo--"


def svg_for_designers(svg: bytes, layers: Mapping[str, str], *, halo: float) -> bytes:
    """Reshape a map's SVG so that designers find what they expect in Inkscape or Illustrator.

    - The figure's top-level groups whose id is a key of ``layers`` become Inkscape layers
      (``inkscape:groupmode="layer"``, ``inkscape:label`` the French name), children of the
      root, in the figure's drawing order; the white page is the layer ``fond``.
    - A group holding one element gives it its id: each département is one
      ``<path id="departement-<code>">``, each site one ``<use id="site-<id>">``, each leader
      line one ``<path id="renvoi-<id>">``, each one-line label one
      ``<text id="etiquette-<id>">`` (a label on two lines stays a group of two texts).
    - A text drawn with a halo gets it as a white stroke painted under its fill
      (``paint-order: stroke``), so the halo follows the text when it is edited.

    Parameters
    ----------
    svg
        The SVG as matplotlib wrote it.
    layers
        Layer ids → French names.
    halo
        Width of the halo stroke, in SVG units (points).

    Returns
    -------
    bytes
        The new SVG, UTF-8, deterministic.
    """
    root = ET.fromstring(svg)
    defs = root.find(f"{{{_SVG_NS}}}defs")
    figure = next((g for g in root.findall(_G) if g.get("id", "").startswith("figure")), None)
    if figure is None or defs is None:
        return svg
    root.remove(figure)
    for child in list(figure):
        gid = child.get("id", "")
        if gid.startswith("patch"):
            child.set("id", "fond")
            _layer(child, "Fond")
        elif gid in layers:
            _layer(child, layers[gid])
        root.append(child)
    _reshape(root, defs, halo)
    out = ['<?xml version="1.0" encoding="utf-8" standalone="no"?>\n']
    _write(root, out, top=True)
    out.append("\n")
    return "".join(out).encode()


def _name(qualified: str) -> str:
    """``{uri}local`` → ``prefix:local`` with our prefixes (the SVG's namespace is default)."""
    if not qualified.startswith("{"):
        return qualified
    uri, local = qualified[1:].split("}", 1)
    if uri == _SVG_NS:
        return local
    prefix = next(p for p, u in _NAMESPACES.items() if u == uri)
    return f"{prefix}:{local}"


def _write(element: ET.Element, out: list[str], *, top: bool = False) -> None:
    """Serialise ``element`` with fixed prefixes.

    ElementTree's own prefixes are process-wide and other writers (the QGIS styles) change
    them, so the SVG is written here, the same way in every process.
    """
    out.append(f"<{_name(element.tag)}")
    if top:
        out.append(f' xmlns="{_SVG_NS}"')
        out += [f' xmlns:{p}="{u}"' for p, u in _NAMESPACES.items()]
    for key, value in element.attrib.items():
        out.append(f' {_name(key)}="{_escape(value, attribute=True)}"')
    if not len(element) and not element.text:
        out.append("/>")
    else:
        out.append(">")
        if element.text:
            out.append(_escape(element.text))
        for child in element:
            _write(child, out)
        out.append(f"</{_name(element.tag)}>")
    if element.tail:
        out.append(_escape(element.tail))


def _escape(text: str, *, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;")
    return text


def _layer(group: ET.Element, label: str) -> None:
    group.set(f"{{{INKSCAPE_NS}}}groupmode", "layer")
    group.set(f"{{{INKSCAPE_NS}}}label", label)


def _reshape(parent: ET.Element, defs: ET.Element, halo: float) -> None:
    """Unwrap one-element groups onto their element, halo texts, recursively."""
    for index, child in enumerate(list(parent)):
        if child.tag != _G:
            continue
        gid = child.get("id", "")
        if gid.startswith(HALO_GROUP):
            for text in child.iter(f"{{{_SVG_NS}}}text"):
                text.set("style", text.get("style", "") + f"; stroke: #ffffff; stroke-width: "
                         f"{halo:g}; stroke-linejoin: round; paint-order: stroke")
            inner = list(child)
            parent.remove(child)
            for k, element in enumerate(inner):
                parent.insert(index + k, element)
            _reshape(parent, defs, halo)  # the unwrapped groups are looked at again
            return
        _reshape(child, defs, halo)
        if not _OWN_ID.match(gid):
            continue
        for sub in child.findall(f"{{{_SVG_NS}}}defs"):  # markers' shapes: to the top
            child.remove(sub)
            defs.extend(list(sub))
        # A marker sits in an anonymous group of its own: look through it.
        inner = list(child)
        while len(inner) == 1 and inner[0].tag == _G and not inner[0].attrib:
            inner = list(inner[0])
        if len(inner) == 1:
            element = inner[0]
            element.set("id", gid)
            parent.remove(child)
            parent.insert(index, element)


def save_map(fig: Figure, png_path: str | os.PathLike[str] | None,
             svg_path: str | os.PathLike[str] | None, *, dpi: float | None = None) -> None:
    """Write the map as PNG and SVG, atomically, with deterministic bytes.

    The PNG is RGB (no alpha: the background is white) with its resolution in the file;
    each format is drawn exactly once (Agg for the PNG, the SVG renderer for the SVG).

    Parameters
    ----------
    fig
        A figure from :func:`plot_coverage`.
    png_path, svg_path
        Destinations; None skips that format.
    dpi
        PNG resolution; default the figure's (the preset's exact pixel size).

    Raises
    ------
    RenderError
        If a file cannot be written.
    """
    try:
        if png_path is not None:
            with atomic_path(png_path) as tmp:
                _png_bytes_to(fig, tmp, dpi or fig.dpi)
        if svg_path is not None:
            buffer = io.BytesIO()
            with mpl.rc_context({"svg.hashsalt": _SVG_SALT, "svg.fonttype": "none",
                                 "svg.id": "carte"}):
                fig.savefig(buffer, format="svg", metadata={"Date": None})
            from pipeline.outputs.maps.render import HALO_PT, LAYERS

            svg = svg_for_designers(buffer.getvalue(), LAYERS, halo=HALO_PT)
            with atomic_path(svg_path) as tmp:
                Path(tmp).write_bytes(svg)
    except OSError as exc:
        raise RenderError(f"impossible d'écrire la carte : {exc}") from exc


#: A4 in inches (210 × 297 mm): the PDF's pages, whatever the figure's rounding to pixels.
_A4_INCHES: Final = (210 / 25.4, 297 / 25.4)
PDF_TITLE: Final = "Écoles de production : carte de l'annexe du communiqué du 23 novembre 2021"


#: Tables of a font that a PDF never reads: the viewer places glyphs where the content
#: stream says (matplotlib lays the text out itself), so substitution, positioning and
#: kerning tables are dead weight, and subsetting them is most of the cost of writing.
_LAYOUT_TABLES: Final = ("GSUB", "GPOS", "GDEF", "kern", "JSTF", "BASE", "MATH")


@contextlib.contextmanager
def _lean_font_subsets() -> Iterator[None]:
    """While writing a PDF, embed font subsets without their layout tables.

    Subsetting DejaVu Sans with its layout tables takes 0.16 s a font, without them 0.04 s.
    fontTools' ``load_font`` is wrapped so that the options it gets drop those tables; the
    text still maps to Unicode (ToUnicode) and stays selectable and searchable.
    """
    try:
        from fontTools import subset
    except ImportError:  # matplotlib then embeds as it can
        yield
        return
    original = subset.load_font

    def load_font(path: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        options.drop_tables = [*options.drop_tables,
                               *(t for t in _LAYOUT_TABLES if t not in options.drop_tables)]
        return original(path, options, *args, **kwargs)

    subset.load_font = load_font
    try:
        yield
    finally:
        subset.load_font = original


def save_pdf(figures: Sequence[Figure], path: str | os.PathLike[str], *,
             title: str = PDF_TITLE, subject: str | None = None) -> None:
    """Write figures as the pages of one print PDF, atomically, with deterministic bytes.

    Vector, RGB (no CMYK conversion: the printer applies its own profile), fonts embedded
    as TrueType (Type 42, subset: text stays selectable and searchable), no creation date;
    a figure within 1 mm of A4 is printed at exactly A4.

    Parameters
    ----------
    figures
        The pages, in order: e.g. :func:`pipeline.outputs.maps.projects.print_pages`.
    path
        Destination ``.pdf``.
    title, subject
        Document metadata (French).

    Raises
    ------
    RenderError
        If there is no page or the file cannot be written.
    """
    from matplotlib.backends.backend_pdf import PdfPages

    if not figures:
        raise RenderError("aucune page à imprimer : dessinez d'abord la carte")
    metadata = {"Title": title, "Subject": subject or "Carte et liste des projets",
                "Creator": "ecoles-map", "CreationDate": None, "ModDate": None}
    buffer = io.BytesIO()
    try:
        # ps.fonttype too: matplotlib sizes the PDF's font subsets from it (42: one subset
        # per font, where 3 would split a font every 256 characters and subset it twice).
        with mpl.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42, "pdf.compression": 6}), \
                _lean_font_subsets(), PdfPages(buffer, metadata=metadata) as pdf:
            for fig in figures:
                width, height = (float(v) for v in fig.get_size_inches())
                a4 = (abs(width - _A4_INCHES[0]) < 1 / 25.4
                      and abs(height - _A4_INCHES[1]) < 1 / 25.4)
                if a4:
                    fig.set_size_inches(_A4_INCHES[0], _A4_INCHES[1], forward=False)
                try:
                    pdf.savefig(fig)
                finally:
                    if a4:
                        fig.set_size_inches(width, height, forward=False)
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(buffer.getvalue())
    except OSError as exc:
        raise RenderError(f"impossible d'écrire le PDF : {exc}") from exc


def save_chart(fig: Figure, png_path: str | os.PathLike[str],
               svg_path: str | os.PathLike[str]) -> None:
    """Write the chart as PNG and SVG, atomically, with deterministic bytes.

    Parameters
    ----------
    fig
        From :func:`plot_timeline`.
    png_path, svg_path
        Destinations.

    Raises
    ------
    RenderError
        If a file cannot be written.
    """
    try:
        with mpl.rc_context({"svg.hashsalt": _CHART_SALT, "svg.fonttype": "none"}):
            with atomic_path(png_path) as tmp:
                fig.savefig(tmp, format="png", metadata={"Software": None})
            with atomic_path(svg_path) as tmp:
                fig.savefig(tmp, format="svg", metadata={"Date": None})
    except OSError as exc:
        raise RenderError(f"impossible d'écrire le graphique : {exc}") from exc


def brand_colours() -> list[str]:
    """Return the colours a GIF must hold exactly: every category's, fill's, text and page.

    Returns
    -------
    list of str
        ``#RRGGBB``, in a fixed order, without repeats.
    """
    from pipeline import config
    from pipeline.outputs.maps.render import (
        EDGE_COLOUR,
        LEADER_COLOUR,
        SOURCE_COLOUR,
        TEXT_COLOUR,
    )

    colours = ["#FFFFFF", TEXT_COLOUR, SOURCE_COLOUR, EDGE_COLOUR, LEADER_COLOUR]
    colours += [v["colour"] for v in config.CATEGORY_STYLE.values()]
    colours += [v["colour"] for v in config.STATUS_STYLE.values()]
    return list(dict.fromkeys(c.upper() for c in colours))


def _shared_palette(images: Sequence[Any], exact: Sequence[str]) -> list[tuple[int, int, int]]:
    """One palette for every frame: the exact colours first, then the frames' commonest."""
    from PIL import Image

    exact_rgb = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in exact]
    # The frames side by side, quantised once: the palette of the animation as a whole.
    strip = Image.new("RGB", (sum(im.width for im in images), max(im.height for im in images)))
    x = 0
    for im in images:
        strip.paste(im, (x, 0))
        x += im.width
    adaptive = strip.quantize(colors=256 - len(exact_rgb), method=Image.Quantize.MEDIANCUT,
                              dither=Image.Dither.NONE)
    flat = adaptive.getpalette() or []
    rest = [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat) - 2, 3)]
    exact_triples = [(r, g, b) for r, g, b in exact_rgb]
    return list(dict.fromkeys([*exact_triples, *rest]))[:256]


def _to_palette(rgb: Any, palette: Sequence[tuple[int, int, int]]) -> Any:
    """Map every pixel to its nearest palette colour, exactly (a colour in it maps to itself).

    Pillow's own mapping looks colours up in a coarse cache, which turned the page's white
    into #FCFCFC; here each distinct colour of the frame is matched once, in full precision.
    """
    import numpy as np
    from PIL import Image

    pixels = np.asarray(rgb, dtype=np.int32)
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    distinct, inverse = np.unique(packed.ravel(), return_inverse=True)
    colours = np.column_stack([(distinct >> 16) & 255, (distinct >> 8) & 255, distinct & 255])
    table = np.asarray(palette, dtype=np.int32)
    d = ((colours[:, None, :] - table[None, :, :]) ** 2).sum(axis=2)
    index = d.argmin(axis=1).astype(np.uint8)[inverse].reshape(packed.shape)
    image = Image.fromarray(index, mode="P")
    image.putpalette([v for c in palette for v in c] + [0] * (3 * (256 - len(palette))))
    return image


def write_gif(frames: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str], *,
              width: int | None = None, frame_ms: int = GIF_FRAME_MS,
              last_frame_ms: int = GIF_LAST_FRAME_MS,
              exact_colours: Sequence[str] | None = None) -> Path:
    """Chain PNG maps into a looping animated GIF, atomically and deterministically.

    Every frame uses one palette, shared by all, that holds the brand colours exactly
    (:func:`brand_colours`): the red of a triangle and the amber of a newly covered
    département are the same on every frame and in the legend. No dithering: flat map
    colours stay flat.

    Parameters
    ----------
    frames
        PNG files, in order; all of the same size.
    path
        Destination ``.gif``.
    width
        Width of the GIF in pixels (height keeps the ratio); None keeps the frames' own
        width up to :data:`GIF_MAX_WIDTH`, else :data:`GIF_WIDTH`.
    frame_ms, last_frame_ms
        Time each frame shows, and the last one before the loop restarts.
    exact_colours
        ``#RRGGBB`` colours the palette holds exactly (default :func:`brand_colours`).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    RenderError
        If there is no frame or the frames differ in size.
    """
    from PIL import Image

    if not frames:
        raise RenderError("aucune carte à animer : dessinez au moins une date")
    rgbs = []
    size = None
    for frame in frames:
        with Image.open(frame) as img:
            if size is not None and img.size != size:
                raise RenderError(f"{frame} : {img.size[0]}×{img.size[1]} px, mais la "
                                  f"première image fait {size[0]}×{size[1]} ; dessinez toutes "
                                  "les dates dans le même cadre")
            size = img.size
            w = width or (img.size[0] if img.size[0] <= GIF_MAX_WIDTH else GIF_WIDTH)
            height = round(img.size[1] * w / img.size[0])
            rgb = img.convert("RGB")
            if (w, height) != img.size:
                rgb = rgb.resize((w, height), Image.Resampling.LANCZOS)
            rgbs.append(rgb)
    palette = _shared_palette(rgbs, exact_colours or brand_colours())
    images = [_to_palette(rgb, palette) for rgb in rgbs]
    durations = [frame_ms] * (len(images) - 1) + [last_frame_ms]
    buffer = io.BytesIO()
    # The palette given to the writer is the GIF's global one; without it, Pillow repeats a
    # local copy in every frame after the first.
    flat = bytes(v for colour in palette for v in colour)
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=durations, loop=0, optimize=False, disposal=1, palette=flat)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return Path(path)


#: Formats a map is saved in, and their file suffixes; the print preset also gets a PDF.
MAP_FORMATS: Final = ("png", "svg")
PRINT_PRESET: Final = "a4"


def map_formats(preset: str) -> tuple[str, ...]:
    """Return the formats a map of ``preset`` is saved in (PDF for the print preset)."""
    return (*MAP_FORMATS, "pdf") if preset == PRINT_PRESET else MAP_FORMATS


@dataclass(frozen=True)
class MapJob:
    """One drawing of a map and the files saved from it: its data, how to draw, where to write.

    Plain data, so that it can be drawn in another process. ``files`` pairs each format with
    its path, e.g. ``(("png", …), ("svg", …), ("pdf", …))``: the map is drawn once and saved
    in each (the PDF adds the list of projects after it).
    """

    data: MapData
    preset: str
    files: tuple[tuple[str, Path], ...]
    labels: bool | Literal["auto"] = "auto"
    label_overrides: Mapping[str, tuple[float, float]] | None = None
    basemap: Basemap | None = None
    font: str | None = None
    #: The PDF's document title (None: the annex's, :data:`PDF_TITLE`).
    pdf_title: str | None = None


def draw_and_save(job: MapJob) -> list[Path]:
    """Draw the map of ``job`` once and save each of its files; return their paths.

    The print PDF's first page is that same figure, saved with embedded fonts; the list of
    projects follows it.

    Raises
    ------
    RenderError
        If the map cannot be drawn or written, or a format is unknown.
    """
    from pipeline.outputs.maps.render import draw_map

    paths = dict(job.files)
    unknown = [fmt for fmt in paths if fmt not in map_formats(job.preset)]
    if unknown:
        raise RenderError(f"formats de carte inattendus {sorted(paths)} ; formats : "
                          f"{', '.join(map_formats(job.preset))}")
    fig = draw_map(job.data, preset=job.preset, labels=job.labels,
                   label_overrides=job.label_overrides, basemap=job.basemap, font=job.font)
    save_map(fig, paths.get("png"), paths.get("svg"))
    if "pdf" in paths:
        from pipeline.outputs.maps.projects import print_pages

        pages = print_pages(fig, job.data, font=job.font)
        save_pdf(pages, paths["pdf"], title=job.pdf_title or PDF_TITLE,
                 subject="Carte et liste des projets" if len(pages) > 1 else "Carte")
    return list(paths.values())
