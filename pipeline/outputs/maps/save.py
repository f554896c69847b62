"""Saving figures with deterministic bytes: the maps and the chart as PNG and SVG, the GIF.

Same figure, same bytes: the PNG has no timestamp or software chunk, the SVG a fixed hash
salt and no date. Every file is written atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline.errors import RenderError
from pipeline.outputs.files import atomic_path
from pipeline.outputs.maps.mapdata import MapData

_SVG_SALT: Final = "ecoles-map"
_CHART_SALT: Final = "ecoles-map-evolution"
#: GIF frames: width in pixels (a social post shows about 1000 px), time per frame, and a
#: longer pause on the last one before the loop starts again.
GIF_WIDTH: Final = 960
GIF_FRAME_MS: Final = 1500
GIF_LAST_FRAME_MS: Final = 4000
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
            with mpl.rc_context({"svg.hashsalt": _SVG_SALT, "svg.fonttype": "none",
                                 "svg.id": "carte"}), atomic_path(svg_path) as tmp:
                fig.savefig(tmp, format="svg", metadata={"Date": None})
    except OSError as exc:
        raise RenderError(f"cannot write the map: {exc}") from exc


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
        raise RenderError(f"cannot write the chart: {exc}") from exc


def write_gif(frames: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str], *,
              width: int = GIF_WIDTH, frame_ms: int = GIF_FRAME_MS,
              last_frame_ms: int = GIF_LAST_FRAME_MS) -> Path:
    """Chain PNG maps into a looping animated GIF, atomically and deterministically.

    Parameters
    ----------
    frames
        PNG files, in order; all of the same size.
    path
        Destination ``.gif``.
    width
        Width of the GIF in pixels (height keeps the ratio).
    frame_ms, last_frame_ms
        Time each frame shows, and the last one before the loop restarts.

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
        raise RenderError("no map to animate; render at least one date")
    images = []
    size = None
    for frame in frames:
        with Image.open(frame) as img:
            if size is not None and img.size != size:
                raise RenderError(f"{frame}: {img.size[0]}×{img.size[1]} px, but the first "
                                  f"frame is {size[0]}×{size[1]}; render all dates with the "
                                  "same preset")
            size = img.size
            height = round(img.size[1] * width / img.size[0])
            rgb = img.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
        # One adaptive palette per frame, no dithering: flat map colours stay flat.
        images.append(rgb.quantize(colors=128, method=Image.Quantize.MEDIANCUT,
                                   dither=Image.Dither.NONE))
    durations = [frame_ms] * (len(images) - 1) + [last_frame_ms]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=durations, loop=0, optimize=False, disposal=1)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return Path(path)


#: Formats a map is saved in, and their file suffixes.
MAP_FORMATS: Final = ("png", "svg")


@dataclass(frozen=True)
class MapJob:
    """One map file to draw and save: the map's data, how to draw it, where to write it.

    Plain data, so that it can be drawn in another process.
    """

    data: MapData
    preset: str
    fmt: str
    path: Path
    labels: bool | Literal["auto"] = "auto"
    label_overrides: Mapping[str, tuple[float, float]] | None = None
    basemap: str | None = None
    font: str | None = None


def draw_and_save(job: MapJob) -> Path:
    """Draw the map of ``job`` and save it in its format; return its path.

    Raises
    ------
    RenderError
        If the map cannot be drawn or written, or the format is unknown.
    """
    from pipeline.outputs.maps.render import draw_map

    if job.fmt not in MAP_FORMATS:
        raise RenderError(f"format de carte inconnu {job.fmt!r} ; formats : "
                          f"{', '.join(MAP_FORMATS)}")
    fig = draw_map(job.data, preset=job.preset, labels=job.labels,
                   label_overrides=job.label_overrides, basemap=job.basemap, font=job.font)
    save_map(fig, job.path if job.fmt == "png" else None,
             job.path if job.fmt == "svg" else None)
    return job.path
