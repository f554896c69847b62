"""The press page: one self-contained, accessible HTML file per map, and a page over time.

:func:`render_page` turns a :class:`~pipeline.outputs.maps.mapdata.MapData` (what the print
map shows), its alternative text, one :class:`SiteRecord` per site and the files published
beside it (:class:`Download`) into one HTML document: the map as inline SVG drawn from the
print map's own frames (:mod:`pipeline.outputs.maps.frames`: Lambert-93, overseas insets,
zooms; same colours and shapes), every site a keyboard-focusable link with a French name and a
tooltip, every département a named option of a keyboard list, the legend with counts, the
reconstruction note and source line, the data table and the download links.
:func:`render_history_page` puts the dated maps on one page, switched by a date control, with
their counts beside them.

What the page guarantees, and the tests check:

- **Nothing from outside.** No script, style, font, image or frame comes from anywhere: the
  styles and the script are inline, and a Content-Security-Policy admits exactly those two
  (by their sha256) and ``data:`` images, nothing else. It works from ``file://`` and from any
  static host. Links to the sources are plain links, opened only when the reader follows them.
- **Keyboard and screen readers.** Sites are links (Tab; Enter moves to the site's row of the
  table); départements are options of a list (one Tab stop per frame, arrow keys); tooltips
  open on hover and focus, stay while hovered, close with Escape. The map's description is the
  alternative text; the table holds everything the map shows. Where sites crowd, the zooms of
  the frames and the table are the equivalents of the small targets.
- **No State design system, no Marianne font**: the page uses the system's sans-serif fonts.
- **Deterministic bytes**: the same inputs give the same file (no date, no random id).

The module imports neither pandas nor matplotlib.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import numpy as np
import shapely

from pipeline import config
from pipeline.errors import RenderError
from pipeline.french import french_date, french_month, join_french
from pipeline.outputs.maps.frames import MARKER_AREA, map_frames
from pipeline.outputs.maps.mapdata import MapData
from pipeline.outputs.maps.texts import CATEGORY_NAMES

# --- Inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteRecord:
    """What the page says of one site, in its tooltip and its table row.

    Parameters
    ----------
    id
        Registry id; it names the site's link (``carte-<id>``) and row (``site-<id>``).
    nom
        Name of the school or project.
    commune
        Commune as written in the registry.
    departement
        Département code ("01", "2A", "971"), the one the map places it in.
    categorie
        Drawing category (a key of :data:`pipeline.config.CATEGORY_STYLE`).
    metier
        Trades separated by ``;`` as in the registry, or "".
    ouverture
        Opening as written ("1882", "2021-09", "2022-01-15"), or "".
    sources
        URLs of the sources.
    confiance
        "haute", "moyenne" or "basse" (or "").
    libelle
        The place shown on the annex when it is not the commune ("O'Tech"), or "".
    """

    id: str
    nom: str
    commune: str
    departement: str
    categorie: str
    metier: str = ""
    ouverture: str = ""
    sources: tuple[str, ...] = ()
    confiance: str = ""
    libelle: str = ""


def _text(value: object) -> str:
    """Return a table cell as text: missing values (None, NaN, NaT, pandas' NA) become ""."""
    if value is None:
        return ""
    try:
        if value != value:  # NaN and NaT are not equal to themselves
            return ""
    except TypeError:  # pandas.NA refuses to be a truth value
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def site_records(rows: Iterable[Mapping[str, object]]) -> list[SiteRecord]:
    """Build the page's site records from table rows (e.g. ``sites.to_dict("records")``).

    Parameters
    ----------
    rows
        One mapping per site with the registry's columns (``id``, ``nom``, ``commune``,
        ``departement``, ``metier``, ``ouverture``, ``confiance``, ``sources`` as
        " | "-separated URLs, ``libelle_annexe``), ``categorie``, and optionally
        ``departement_spatial`` (preferred to ``departement``) and ``date_ouverture`` (a
        dated map's opening, preferred to ``ouverture``). The rows of the coverage
        GeoDataFrame, of a dated coverage, or of ``ecoles.csv`` all work.

    Returns
    -------
    list of SiteRecord
        In the order of ``rows``.
    """
    records = []
    for row in rows:
        sources = tuple(s.strip() for s in _text(row.get("sources")).split("|") if s.strip())
        records.append(SiteRecord(
            id=_text(row.get("id")),
            nom=_text(row.get("nom")),
            commune=_text(row.get("commune")),
            departement=_text(row.get("departement_spatial")) or _text(row.get("departement")),
            categorie=_text(row.get("categorie")),
            metier=_text(row.get("metier")),
            ouverture=_text(row.get("date_ouverture")) or _text(row.get("ouverture")),
            sources=sources,
            confiance=_text(row.get("confiance")),
            libelle=_text(row.get("libelle_annexe")),
        ))
    return records


@dataclass(frozen=True)
class Download:
    """A file published beside the page, offered as a download link.

    Parameters
    ----------
    label
        What it is, as the link says it after "Télécharger": "la carte", "les données".
    href
        Its address relative to the page ("ecoles-de-production-2021.png",
        "../data/processed/ecoles.csv").
    size
        Its size in bytes (the file written by the same publish).
    """

    label: str
    href: str
    size: int


#: How the link names a file's format, by extension.
_FORMATS: Final[dict[str, tuple[str, str]]] = {
    "png": ("PNG", "image/png"),
    "svg": ("SVG", "image/svg+xml"),
    "pdf": ("PDF", "application/pdf"),
    "csv": ("CSV", "text/csv"),
    "gpkg": ("GeoPackage", "application/geopackage+sqlite3"),
    "md": ("Markdown", "text/markdown"),
    "txt": ("texte", "text/plain"),
    "gif": ("GIF", "image/gif"),
    "html": ("HTML", "text/html"),
}


def french_size(size: int) -> str:
    """Return a file size as French prose: "850 octets", "16 ko", "1,3 Mo".

    Parameters
    ----------
    size
        Bytes.

    Returns
    -------
    str
        Decimal units (1 ko = 1,000 octets), rounded to what a reader compares: whole
        kilo-octets, tenths of mega-octets.
    """
    if size < 1000:
        return f"{size}\u00a0octet{'s' if size > 1 else ''}"
    if size < 999_500:
        return f"{round(size / 1000)}\u00a0ko"
    return f"{size / 1_000_000:.1f}\u00a0Mo".replace(".", ",")


# --- Texts of the page ------------------------------------------------------------------------
#: Registry ids are slugs (pipeline.steps.ingest); they name elements of the page.
_ID: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MONTH: Final = re.compile(r"^(\d{4})-(\d{2})$")
_DAY: Final = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def _category_name(key: str) -> str:
    return CATEGORY_NAMES.get(key, key)


def _capitalised(text: str) -> str:
    """Return ``text`` with its first letter upper-cased ("l'AMI" stays "l'AMI")."""
    return text[:1].upper() + text[1:]


def _lowered(text: str) -> str:
    """Return ``text`` with its first letter lower-cased, the rest untouched."""
    return text[:1].lower() + text[1:]


def _trades(metier: str) -> str:
    return join_french([t.strip() for t in metier.split(";") if t.strip()])


def site_name(site: SiteRecord) -> str:
    """Return the French accessible name of a site's marker.

    Parameters
    ----------
    site
        The site.

    Returns
    -------
    str
        Commune, then the annex's place when it differs, the trades and the category:
        "Dunkerque – Usinage, lauréat AMI ingénierie", "Compiègne – O'Tech, usinage et
        chaudronnerie, lauréat AMI investissement".
    """
    category = _category_name(site.categorie)
    trade = _trades(site.metier)
    if site.libelle and site.libelle.casefold() != site.commune.casefold():
        return ", ".join(p for p in (f"{site.commune} – {site.libelle}", trade, category) if p)
    if trade:
        return f"{site.commune} – {_capitalised(trade)}, {category}"
    return f"{site.commune}, {category}"


def _opening(text: str) -> str:
    """Return an opening as written in the registry as French prose ("septembre 2021")."""
    if match := _DAY.match(text):
        return french_date(dt.date(*(int(g) for g in match.groups())))
    if (match := _MONTH.match(text)) and 1 <= int(match.group(2)) <= 12:
        return french_month(int(match.group(1)), int(match.group(2)))
    return text or "non renseignée"


def _status_text(statut: str) -> str:
    """Return a département status as a phrase ("département non couvert")."""
    style = config.STATUS_STYLE.get(statut)
    return _lowered(style["label"]) if style else statut


def _sites_phrase(n: int) -> str:
    return "aucun site sur la carte" if n == 0 else f"{n} site{'s' if n > 1 else ''} sur la carte"


def _host(url: str) -> str:
    """Return the readable name of a source link: its host without "www."."""
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


def _safe_url(url: str) -> bool:
    """Tell whether a URL may become a link (never ``javascript:`` or ``data:``)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# --- SVG geometry -----------------------------------------------------------------------------
#: The print map's preset whose frames the page shows.
FRAMES_PRESET: Final = "a4"
#: Width of the main frame in SVG units; the small frames are this narrow. Markers and text
#: are sized in units at this width and kept at a constant size on screen by the script.
_MAIN_WIDTH: Final = 1000.0
_SMALL_WIDTH: Final = 300.0
#: Marker width at the reference scale (CSS px), and the area factors of the print map's
#: shapes, so that circle, triangle and square look the same size.
_MARKER_WIDTH: Final = 10.0
#: Radius of the invisible hit area around a marker: a 24 px target (WCAG 2.5.8).
_TARGET_RADIUS: Final = 12.0


def _marker_path(shape: str) -> str:
    """Return the SVG path of a marker shape centred on 0,0 (matplotlib's "o", "^", "s")."""
    half = _MARKER_WIDTH * math.sqrt(MARKER_AREA.get(shape, 1.0)) / 2
    h = _num(half)
    if shape == "D":  # a square turned a quarter, as matplotlib's "D"
        r = _num(half * math.sqrt(2))
        return f"M0 -{r}L{r} 0L0 {r}L-{r} 0z"
    if shape == "^":
        return f"M0 -{h}L{h} {h}H-{h}z"
    if shape == "s":
        return f"M-{h} -{h}H{h}V{h}H-{h}z"
    return f"M-{h} 0a{h} {h} 0 1 0 {_num(2 * half)} 0a{h} {h} 0 1 0 -{_num(2 * half)} 0z"


def _num(value: float) -> str:
    """Format a coordinate with one decimal, as short as SVG allows ("12.3", "-.5", "4")."""
    text = f"{value:.1f}".removesuffix(".0")
    if text == "-0":
        return "0"
    if text.startswith("0."):
        return text[1:]
    if text.startswith("-0."):
        return "-" + text[2:]
    return text


def _tenths(n: int) -> str:
    """Format an integer count of tenths as an SVG number: 123 -> "12.3", -5 -> "-.5"."""
    sign = "-" if n < 0 else ""
    whole, tenth = divmod(abs(n), 10)
    if tenth == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole or ''}.{tenth}"


def _join_numbers(numbers: Iterable[str]) -> str:
    """Join the numbers of a path, separated only where needed (a minus separates)."""
    out: list[str] = []
    for number in numbers:
        if out and not number.startswith("-"):
            out.append(" ")
        out.append(number)
    return "".join(out)


@dataclass(frozen=True)
class _Panel:
    """One frame of the map as the page draws it, in SVG units of its own ``<svg>``.

    ``departements`` and ``sites`` index the fields of the MapData; their geometries and
    points are already projected into the frame's CRS (metres).
    """

    name: str
    kind: str
    title: str | None
    crs: str
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    departements: np.ndarray
    geometries: np.ndarray
    sites: np.ndarray
    xy: np.ndarray
    width: float
    extent: tuple[float, float, float, float] | None = None

    @property
    def scale(self) -> float:
        """Return the SVG units per metre."""
        return self.width / (self.xlim[1] - self.xlim[0])

    @property
    def height(self) -> float:
        return (self.ylim[1] - self.ylim[0]) * self.scale

    @property
    def span(self) -> float:
        """Return the width of the frame on the ground (metres)."""
        return self.xlim[1] - self.xlim[0]

    def to_svg(self, xy: np.ndarray) -> np.ndarray:
        """Convert projected coordinates (n × 2) to SVG units (y down)."""
        out = np.empty_like(np.asarray(xy, dtype=float))
        out[:, 0] = (xy[:, 0] - self.xlim[0]) * self.scale
        out[:, 1] = (self.ylim[1] - xy[:, 1]) * self.scale
        return out

    def path(self, geometry: object) -> str:
        """Return the SVG path of a (multi)polygon: absolute start, relative steps in tenths."""
        window = shapely.box(self.xlim[0], self.ylim[0], self.xlim[1], self.ylim[1])
        if not shapely.within(geometry, window):
            margin = 0.02 * self.span
            geometry = shapely.clip_by_rect(geometry, self.xlim[0] - margin,
                                            self.ylim[0] - margin, self.xlim[1] + margin,
                                            self.ylim[1] + margin)
        parts: list[str] = []
        polygons = shapely.get_parts(geometry)
        for ring in shapely.get_rings(polygons):
            tenths = np.rint(self.to_svg(shapely.get_coordinates(ring)) * 10).astype(np.int64)
            keep = np.ones(len(tenths), dtype=bool)
            keep[1:] = np.any(tenths[1:] != tenths[:-1], axis=1)
            tenths = tenths[keep]
            if len(tenths) > 1 and np.array_equal(tenths[0], tenths[-1]):
                tenths = tenths[:-1]  # "z" closes the ring
            if len(tenths) < 3:
                continue  # smaller than a tenth of a pixel
            steps = np.diff(tenths, axis=0).ravel()
            parts.append(f"M{_join_numbers(_tenths(int(v)) for v in tenths[0])}l"
                         f"{_join_numbers(_tenths(int(v)) for v in steps)}z")
        return "".join(parts)


# --- Style and script (inline; the CSP admits exactly these by their hash) -------------------
#: The page's style, after the generated fill rules. System fonts only: the page bundles and
#: loads none, and inherits nothing it does not have.
_CSS: Final = """\
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",\
"Liberation Sans",Arial,sans-serif;line-height:1.5;color:#1e1e1e;background:#fff;\
-webkit-text-size-adjust:100%;text-size-adjust:100%}
*,*::before,*::after{box-sizing:border-box}
body{margin:0}
main{max-width:76rem;margin:0 auto;padding:1rem}
h1{font-size:clamp(1.2rem,1rem + 1.5vw,1.6rem);line-height:1.25;margin:.5rem 0 1rem}
h2{font-size:1.2rem;line-height:1.3;margin:2rem 0 .75rem}
p,ul,dl{margin:0 0 .75rem}
a{color:#000091;text-underline-offset:.15em}
a:focus-visible,button:focus-visible,input:focus-visible+label,[tabindex]:focus-visible,\
.defilement:focus-visible{outline:3px solid #000091;outline-offset:2px}
.evitement{position:absolute;left:.5rem;top:-4rem;background:#fff;padding:.5rem;z-index:3}
.evitement:focus{top:.5rem}
.vh{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);\
clip-path:inset(50%);white-space:nowrap}
.carte{margin:0}
.carte figcaption{margin-top:.75rem}
.carte-cadre{position:relative;display:grid;gap:.75rem;grid-template-columns:minmax(0,1fr)}
.zooms{display:grid;gap:.5rem;align-content:start}
.outremer{display:grid;gap:.5rem;grid-template-columns:repeat(auto-fill,minmax(8.5rem,1fr));\
align-items:start}
.encart{margin:0;border:1px solid #1e1e1e;min-width:0}
.outremer svg.panneau{max-height:11rem}
.encart-nom{margin:0;padding:.1rem .4rem;font-size:.875rem;font-weight:700;line-height:1.3}
@media (min-width:62rem){.carte-cadre.avec-zoom{grid-template-columns:minmax(0,5fr) \
minmax(0,3fr)}.outremer{grid-column:1/-1;grid-template-columns:repeat(5,minmax(0,1fr))}}
svg.panneau{display:block;width:100%;height:auto;max-height:85vh;overflow:hidden}
.dep{stroke:#7f8790;stroke-width:.5px;vector-effect:non-scaling-stroke;fill-rule:evenodd}
.dep:focus{outline:none}
.contour{fill:none;stroke:#1e1e1e;stroke-width:2.5px;vector-effect:non-scaling-stroke;\
pointer-events:none}
.emprise{fill:none;stroke:#1e1e1e;stroke-width:1px;stroke-dasharray:4 3;\
vector-effect:non-scaling-stroke;pointer-events:none}
.echelle text{font-size:calc(12px*var(--k,1));fill:#1e1e1e}
.echelle rect{fill:#1e1e1e}
.m{transform:scale(var(--km,1))}
.cible{transform:scale(var(--k,1))}
.m use,use.m,.symbole use{stroke:#fff;stroke-width:1px}
.cible{fill:transparent}
.anneau{fill:none;stroke:none}
.site:focus{outline:none}
.site:hover .anneau,.site:focus .anneau{stroke:#1e1e1e;stroke-width:2.5px}
.infobulle{position:absolute;z-index:2;max-width:min(22rem,100%);background:#fff;\
border:1px solid #1e1e1e;box-shadow:0 2px 6px rgba(0,0,0,.25);padding:.5rem .75rem;\
font-size:.875rem;line-height:1.4}
.infobulle[hidden]{display:none}
.infobulle p{margin:0 0 .25rem;font-weight:700}
.infobulle dl{display:grid;grid-template-columns:auto 1fr;gap:0 .5rem;margin:0}
.infobulle dt{color:#555}
.infobulle dd{margin:0;overflow-wrap:anywhere}
.aide{font-size:.875rem;color:#3a3a3a;margin-top:.5rem}
.legende{list-style:none;padding:0}
.legende li{display:flex;gap:.6rem;align-items:flex-start;margin:0 0 .4rem}
.symbole{flex:none;width:1.25rem;height:1.25rem;margin-top:.1rem}
.note,.sources{font-size:.9rem}
.sources{color:#3a3a3a}
.telechargements{padding-left:1.25rem}
.defilement{overflow-x:auto;max-width:100%;position:relative}
table{border-collapse:collapse;font-size:.875rem;min-width:100%}
caption{text-align:left;font-weight:700;padding:0 0 .5rem}
th,td{border-bottom:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{border-bottom:2px solid #1e1e1e;white-space:nowrap}
th button{font:inherit;font-weight:700;color:inherit;background:none;border:0;padding:0;\
cursor:pointer;text-decoration:underline dotted}
th[aria-sort=ascending] button::after{content:" \\25B2" / ""}
th[aria-sort=descending] button::after{content:" \\25BC" / ""}
tbody th{font-weight:600}
tr.vue{background:#fff3d6}
tr:focus{outline:3px solid #000091;outline-offset:-3px}
.categorie{display:inline-flex;gap:.35rem;align-items:center}
.categorie .symbole{width:1rem;height:1rem;margin:0}
.dates{border:0;margin:0 0 1rem;padding:0;display:flex;flex-wrap:wrap;gap:.4rem}
.dates legend{font-weight:700;padding:0;margin-bottom:.4rem;width:100%}
.dates input{position:absolute;opacity:0;width:1px;height:1px}
.dates label{display:inline-block;border:1px solid #000091;color:#000091;padding:.3rem .6rem;\
cursor:pointer;min-height:24px}
.dates input:checked+label{background:#000091;color:#fff}
.dates input:focus-visible+label{outline:3px solid #000091;outline-offset:2px}
.cache{display:none}
.titre-date{font-size:1.1rem;font-weight:700;margin:0 0 .75rem}
tr[aria-current=true]{background:#eef0fb;font-weight:600}
"""

#: The page's behaviour: marker sizes, tooltips, keyboard list of départements, the link from a
#: site to its row, table sorting, the date control of the history page, the iframe height.
#: Listeners sit on the document, never on SVG elements (Chromium makes those focusable).
_JS: Final = """\
(function () {
  "use strict";
  var d = document, each = function (list, f) { Array.prototype.forEach.call(list, f); };
  var cadre = d.querySelector(".carte-cadre"), bulleDep = d.getElementById("ib-dep");
  var ouverte = null, minuteur = 0;

  function tailles() {
    each(d.querySelectorAll("svg.panneau"), function (s) {
      var r = s.getBoundingClientRect(), v = s.viewBox.baseVal;
      if (r.width > 0 && r.height > 0) {
        // Units per CSS pixel; markers shrink a little on narrow screens, targets do not.
        var k = Math.max(v.width / r.width, v.height / r.height);
        var main = cadre.getBoundingClientRect().width;
        s.style.setProperty("--k", k.toFixed(3));
        s.style.setProperty("--km", (k * Math.min(1, Math.max(0.7, main / 800))).toFixed(3));
      }
    });
  }
  function hauteur() {
    if (window.parent !== window) {
      window.parent.postMessage({ecolesMapHauteur: d.documentElement.scrollHeight}, "*");
    }
  }
  function contour(el) {
    var c = el && el.ownerSVGElement && el.ownerSVGElement.querySelector(".contour");
    each(d.querySelectorAll(".contour"), function (u) { u.removeAttribute("d"); });
    if (c) { c.setAttribute("d", el.getAttribute("d")); }
  }
  function cacher() {
    clearTimeout(minuteur);
    if (ouverte) { ouverte.hidden = true; ouverte = null; }
    contour(null);
  }
  function plusTard() { clearTimeout(minuteur); minuteur = setTimeout(cacher, 400); }
  function montrer(bulle, r) {
    clearTimeout(minuteur);
    if (ouverte && ouverte !== bulle) { ouverte.hidden = true; }
    ouverte = bulle;
    bulle.hidden = false;
    var c = cadre.getBoundingClientRect(), w = bulle.offsetWidth, h = bulle.offsetHeight;
    var x = Math.max(0, Math.min((r.left + r.right) / 2 - c.left - w / 2, c.width - w));
    var y = r.top - c.top - h - 8;
    if (r.top - h - 8 < 0) { y = r.bottom - c.top + 8; }
    bulle.style.left = Math.round(x) + "px";
    bulle.style.top = Math.round(y) + "px";
  }
  function cible(t) { return t && t.closest ? t.closest("[data-site],[data-dep]") : null; }
  function afficher(el, e) {
    if (el.hasAttribute("data-site")) {
      var cle = el.getAttribute("data-site"), b = d.getElementById("ib-" + cle);
      if (!b) {
        var a = d.getElementById("carte-" + cle);
        b = bulleDep;
        b.textContent = a ? a.getAttribute("aria-label") : "";
      }
      montrer(b, el.getBoundingClientRect());
      contour(null);
      return;
    }
    var p = d.getElementById("dep-" + el.getAttribute("data-dep"));
    bulleDep.textContent = p ? p.getAttribute("aria-label") : "";
    montrer(bulleDep, e && e.clientX ? {left: e.clientX, right: e.clientX, top: e.clientY,
      bottom: e.clientY} : el.getBoundingClientRect());
    contour(el);
  }
  if (cadre) {
    cadre.addEventListener("pointerover", function (e) {
      var el = cible(e.target);
      if (el) { afficher(el, e); } else if (ouverte && ouverte.contains(e.target)) {
        clearTimeout(minuteur);
      }
    });
    cadre.addEventListener("pointerout", function (e) {
      var to = e.relatedTarget;
      if (to && ouverte && ouverte.contains(to)) { return; }
      if (to && cible(to) && cible(to) === cible(e.target)) { return; }
      plusTard();
    });
    cadre.addEventListener("focusin", function (e) {
      var el = cible(e.target);
      if (el) { afficher(el); }
    });
    cadre.addEventListener("focusout", function (e) {
      if (!(e.relatedTarget && ouverte && ouverte.contains(e.relatedTarget))) { cacher(); }
    });
  }
  d.addEventListener("keydown", function (e) {
    if ((e.key === "Escape" || e.key === "Esc") && ouverte) { cacher(); e.preventDefault(); }
    var t = e.target;
    if (!t.getAttribute || t.getAttribute("role") !== "option") { return; }
    var opts = t.parentNode.querySelectorAll("[role=option]");
    var i = Array.prototype.indexOf.call(opts, t), j = i;
    if (e.key === "ArrowRight" || e.key === "ArrowDown") { j = Math.min(i + 1, opts.length - 1); }
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") { j = Math.max(i - 1, 0); }
    else if (e.key === "Home") { j = 0; } else if (e.key === "End") { j = opts.length - 1; }
    else { return; }
    e.preventDefault();
    if (j !== i) {
      t.setAttribute("tabindex", "-1");
      t.removeAttribute("aria-selected");
      opts[j].setAttribute("tabindex", "0");
      opts[j].setAttribute("aria-selected", "true");
      opts[j].focus();
    }
  });
  d.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a.site");
    var href = a ? a.getAttribute("href") || "" : "";
    var row = href.charAt(0) === "#" ? d.getElementById(href.slice(1)) : null;
    if (!row) { return; }
    e.preventDefault();
    cacher();
    each(d.querySelectorAll("tr.vue"), function (r) { r.classList.remove("vue"); });
    row.classList.add("vue");
    row.scrollIntoView({block: "center"});
    row.focus({preventScroll: true});
  });

  var table = d.querySelector("table[data-triable]");
  if (table && window.Intl) {
    var ordre = new Intl.Collator("fr", {numeric: true, sensitivity: "base"});
    var tetes = table.tHead.rows[0].cells;
    each(tetes, function (th, n) {
      var b = d.createElement("button");
      b.type = "button";
      while (th.firstChild) { b.appendChild(th.firstChild); }
      th.appendChild(b);
      b.addEventListener("click", function () {
        var monte = th.getAttribute("aria-sort") !== "ascending";
        each(tetes, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", monte ? "ascending" : "descending");
        var corps = table.tBodies[0], lignes = Array.prototype.slice.call(corps.rows);
        var cle = function (r) {
          var c = r.cells[n];
          return c.getAttribute("data-tri") || c.textContent;
        };
        lignes.sort(function (x, y) {
          var v = ordre.compare(cle(x), cle(y));
          return monte ? v : -v;
        });
        lignes.forEach(function (r) { corps.appendChild(r); });
      });
    });
  }

  var dates = d.querySelectorAll("input[name=date]");
  var statuts = cadre && cadre.getAttribute("data-statuts");
  statuts = statuts ? JSON.parse(statuts) : [];
  function choisir(i) {
    each(d.querySelectorAll("[data-s]"), function (p) {
      var s = p.getAttribute("data-s").charAt(i);
      p.setAttribute("class", "dep s" + s);
      if (p.getAttribute("role") === "option") {
        p.setAttribute("aria-label", p.getAttribute("data-nom") + " : " + statuts[+s]);
      }
    });
    each(d.querySelectorAll("[data-date]"), function (g) {
      g.classList.toggle("cache", g.getAttribute("data-date") !== String(i));
    });
    var annonce = d.getElementById("annonce");
    var titre = d.querySelector(".titre-date[data-date='" + i + "']");
    if (annonce && titre) { annonce.textContent = titre.textContent; }
    each(d.querySelectorAll("tr[data-ligne]"), function (r) {
      if (r.getAttribute("data-ligne") === String(i)) { r.setAttribute("aria-current", "true"); }
      else { r.removeAttribute("aria-current"); }
    });
    cacher();
    tailles();
  }
  each(dates, function (input) {
    input.addEventListener("change", function () { choisir(+input.value); });
  });

  function maj() { tailles(); hauteur(); }
  if (window.ResizeObserver) { new ResizeObserver(maj).observe(d.body); }
  else { window.addEventListener("resize", maj); }
  maj();
})();
"""


def _fill_rules() -> str:
    """Return the CSS fills of the statuses and categories, from the print map's styles."""
    rules = [f".s{i}{{fill:{style['colour']}}}"
             for i, style in enumerate(config.STATUS_STYLE.values())]
    rules += [f".c{i}{{fill:{style['colour']}}}"
              for i, style in enumerate(config.CATEGORY_STYLE.values())]
    return "\n".join(rules) + "\n"


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def content_security_policy(css: str, js: str) -> str:
    """Return the page's Content-Security-Policy: its own inline style and script, nothing else.

    Parameters
    ----------
    css, js
        The exact text of the page's ``<style>`` and ``<script>`` elements.

    Returns
    -------
    str
        ``default-src 'none'`` (no fetch, font, frame, media or connection of any origin),
        the style and the script admitted by their sha256, ``data:`` images only (the empty
        icon that keeps browsers from asking a server for ``/favicon.ico``), and no ``<base>``
        nor form target.
    """
    return (f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; "
            "img-src data:; base-uri 'none'; form-action 'none'")


# --- The map as SVG panels --------------------------------------------------------------------
#: French spacing: no line break before ":" ";" "!" "?" "»" nor after "«".
_SPACING: Final = ((" :", "\u00a0:"), (" ;", "\u202f;"), (" !", "\u202f!"), (" ?", "\u202f?"),
                   ("« ", "«\u00a0"), (" »", "\u00a0»"))


def _e(text: object) -> str:
    """Escape text for HTML content and attribute values, with French spacing."""
    out = str(text)
    for plain, fixed in _SPACING:
        out = out.replace(plain, fixed)
    return html.escape(out, quote=True)


def _panels(data: MapData) -> list[_Panel]:
    """Return the frames of the print map, each as a panel of its own ``<svg>``, main first.

    The frames are those of the print map's :data:`FRAMES_PRESET` (same windows, CRS,
    outlines and sites); the page lays them out itself (the main frame, then the zooms and
    insets in a grid that wraps on narrow screens) and names them in HTML, so an inset's
    window is cut to its outlines instead of keeping the room the print map gives its name.
    """
    frames = map_frames(data, FRAMES_PRESET, map_only=True)
    panels = []
    for frame in frames.frames:
        xlim, ylim = frame.xlim, frame.ylim
        if frame.kind in ("inset", "strip") and frame.content is not None:
            x0, y0, x1, y1 = frame.content
            pad = 0.06 * max(x1 - x0, y1 - y0)
            xlim, ylim = (x0 - pad, x1 + pad), (y0 - pad, y1 + pad)
        panels.append(_Panel(
            name=frame.name, kind=frame.kind, title=frame.title, crs=frame.crs,
            xlim=(float(xlim[0]), float(xlim[1])), ylim=(float(ylim[0]), float(ylim[1])),
            departements=np.asarray(frame.departement_index, dtype=int),
            geometries=np.asarray(frame.departement_geometries, dtype=object),
            sites=np.asarray(frame.site_index, dtype=int),
            xy=np.asarray(frame.site_xy, dtype=float).reshape(-1, 2),
            width=_MAIN_WIDTH if frame.kind == "main" else _SMALL_WIDTH,
            extent=frame.extent_on_main))
    return panels


@dataclass(frozen=True)
class _Mark:
    """A site as one layer of the page draws it: where, how, and what it is called."""

    key: str  # element ids: carte-<key>, ib-<key>; data-site
    index: int  # in the MapData
    category: int  # index in CATEGORY_STYLE
    shape: str
    name: str
    href: str


def _primary_departements(panels: Sequence[_Panel]) -> dict[int, int]:
    """Tell which panel carries the focusable instance of each département.

    The widest frame that shows it (the main frame, or its overseas inset); its copies in the
    zooms are drawn, and answer the pointer, but are not in the Tab order. (A site, likewise,
    is focusable in the most detailed frame that shows it: :meth:`_Layer.primary`.)
    """
    dep_panel: dict[int, int] = {}
    for p, panel in enumerate(panels):
        for i in panel.departements.tolist():
            if i not in dep_panel or panel.span > panels[dep_panel[i]].span:
                dep_panel[i] = p
    return dep_panel


def _marker_defs() -> str:
    shapes = sorted({style["marker"] for style in config.CATEGORY_STYLE.values()})
    return "<defs>" + "".join(
        f'<path id="{_shape_id(shape)}" d="{_marker_path(shape)}"/>' for shape in shapes
    ) + "</defs>"


#: Ids of the marker shapes in the page, by matplotlib marker.
_SHAPE_IDS: Final = {"o": "m-rond", "^": "m-triangle", "s": "m-carre", "D": "m-losange"}


def _shape_id(shape: str) -> str:
    return _SHAPE_IDS.get(shape, "m-rond")


def _symbol(category: str) -> str:
    """Return a marker as a small inline image (legend, table), hidden from screen readers."""
    keys = list(config.CATEGORY_STYLE)
    style = config.CATEGORY_STYLE[category]
    return (f'<svg class="symbole" viewBox="-8 -8 16 16" aria-hidden="true" focusable="false">'
            f'<use href="#{_shape_id(style["marker"])}" class="c{keys.index(category)}"/></svg>')


def _swatch(statut: str) -> str:
    keys = list(config.STATUS_STYLE)
    return ('<svg class="symbole" viewBox="0 0 16 16" aria-hidden="true" focusable="false">'
            f'<rect class="dep s{keys.index(statut)}" x="1" y="3" width="14" height="10"/></svg>')


def _scale_bar(panel: _Panel) -> str:
    """Draw a 100 km bar in the lower-left corner of the main frame (not of the insets)."""
    length = 100_000 * panel.scale
    x, y = 0.04 * panel.width, panel.height - 0.05 * panel.height
    return (f'<g class="echelle" aria-hidden="true"><rect x="{_num(x)}" y="{_num(y)}" '
            f'width="{_num(length)}" height="4"/><text x="{_num(x + length / 2)}" '
            f'y="{_num(y - 6)}" text-anchor="middle">100 km</text></g>')


def _zoom_windows(panels: Sequence[_Panel]) -> str:
    """Draw the dashed outline, on the main frame, of the window each zoom shows."""
    main = panels[0]
    rects = []
    for panel in panels[1:]:
        if panel.extent is None:
            continue
        x0, y0, x1, y1 = panel.extent
        (a, b), (c, d) = main.to_svg(np.array([[x0, y1], [x1, y0]]))
        rects.append(f'<rect class="emprise" x="{_num(a)}" y="{_num(b)}" '
                     f'width="{_num(c - a)}" height="{_num(d - b)}"/>')
    return f'<g aria-hidden="true">{"".join(rects)}</g>' if rects else ""


def _site_layer(panel_index: int, marks: Sequence[_Mark], where: Mapping[int, np.ndarray],
                site_panel: Mapping[int, int], *, key_suffix: str = "") -> tuple[str, str]:
    """Draw the sites of one layer in one panel: (focusable links, decorative copies).

    ``where`` gives the SVG position of each site (index of the MapData) in this panel.
    """
    links: list[str] = []
    copies: list[str] = []
    for mark in marks:
        if mark.index not in where:
            continue
        x, y = where[mark.index]
        at = f'transform="translate({_num(x)} {_num(y)})"'
        use = f'<use href="#{_shape_id(mark.shape)}" class="c{mark.category}"/>'
        if site_panel.get(mark.index) == panel_index:
            links.append(
                f'<a class="site" id="carte-{mark.key}{key_suffix}" href="{_e(mark.href)}" '
                f'data-site="{mark.key}{key_suffix}" {at} aria-label="{_e(mark.name)}"'
                + (f' aria-describedby="ib-{mark.key}"' if not key_suffix else "")
                + f'><circle class="cible" r="{_num(_TARGET_RADIUS)}"/><g class="m">{use}'
                f'<circle class="anneau" r="8.5"/></g></a>')
        else:
            copies.append(f'<g data-site="{mark.key}{key_suffix}" {at}>'
                          f'<use href="#{_shape_id(mark.shape)}" class="m c{mark.category}"/>'
                          "</g>")
    return "".join(links), "".join(copies)


@dataclass(frozen=True)
class _Layer:
    """The sites of one map (one date) over the panels: their marks and their positions."""

    marks: Sequence[_Mark]
    #: Per panel, SVG position of each site shown there (index of the MapData -> x, y).
    where: Sequence[Mapping[int, np.ndarray]]

    def primary(self, panels: Sequence[_Panel]) -> dict[int, int]:
        """Return the panel of each site's focusable instance: the most detailed one."""
        best: dict[int, int] = {}
        for p, positions in enumerate(self.where):
            for i in positions:
                if i not in best or panels[p].span < panels[best[i]].span:
                    best[i] = p
        return best


def _own_layer(panels: Sequence[_Panel], marks: Sequence[_Mark]) -> _Layer:
    """Return the layer of the sites the panels were laid out with."""
    where = [dict(zip(panel.sites.tolist(), panel.to_svg(panel.xy), strict=True))
             if len(panel.xy) else {} for panel in panels]
    return _Layer(marks, where)


def _dep_layer(panel_index: int, panel: _Panel, data: MapData, dep_panel: Mapping[int, int],
               *, classes: Sequence[str], labels: Sequence[str],
               per_date: Sequence[str] | None = None) -> str:
    """Draw the départements of one panel: a keyboard list of the focusable ones, then copies.

    ``classes`` and ``labels`` are per département of the MapData; ``per_date`` (history
    page) the index of each date's status class, one character per date.
    """
    order = np.argsort(panel.departements, kind="stable")
    options: list[str] = []
    copies: list[str] = []
    for k in order.tolist():
        i = int(panel.departements[k])
        code = data.departement_codes[i]
        d = panel.path(panel.geometries[k])
        if not d:
            continue
        dated = (f' data-s="{per_date[i]}" data-nom="{_e(data.departement_noms[i])} ({code})"'
                 if per_date is not None else "")
        if dep_panel.get(i) == panel_index:
            first = not options
            options.append(
                f'<path id="dep-{code}" class="dep {classes[i]}" role="option" '
                f'tabindex="{0 if first else -1}"' + (' aria-selected="true"' if first else "")
                + f' aria-label="{_e(labels[i])}" data-dep="{code}"{dated} d="{d}"/>')
        else:
            copies.append(f'<path id="dep-{code}-{panel.name}" class="dep {classes[i]}" '
                          f'data-dep="{code}"{dated} d="{d}"/>')
    out = ""
    if copies:
        out += f'<g aria-hidden="true">{"".join(copies)}</g>'
    if options:
        name = ("Départements de France métropolitaine et de Corse" if panel_index == 0
                else f"Département : {panel.title or panel.name}")
        out += (f'<g role="listbox" aria-label="{_e(name)}" aria-describedby="aide-carte">'
                f'{"".join(options)}</g>')
    return out + '<path class="contour" aria-hidden="true"/>'


def _map_html(data: MapData, panels: Sequence[_Panel], layers: Sequence[_Layer], *,
              classes: Sequence[str], labels: Sequence[str], tooltips: str,
              per_date: Sequence[str] | None = None, current: int = 0,
              statuses: Sequence[str] = ()) -> str:
    """Draw the map: the main panel, the small panels (zooms, insets) and the tooltips.

    With several ``layers`` (history page), each is a group ``data-date=<n>``, all but
    ``current`` hidden.
    """
    dep_panel = _primary_departements(panels)
    primaries = [layer.primary(panels) for layer in layers]
    parts: list[str] = []
    zooms: list[str] = []
    small: list[str] = []
    for p, panel in enumerate(panels):
        links: list[str] = []
        copies: list[str] = []
        for n, layer in enumerate(layers):
            suffix = f"-{n}" if len(layers) > 1 else ""
            link, copy = _site_layer(p, layer.marks, layer.where[p], primaries[n],
                                     key_suffix=suffix)
            if len(layers) > 1:
                hidden = "" if n == current else " cache"
                link = f'<g class="date{hidden}" data-date="{n}">{link}</g>' if link else ""
                copy = f'<g class="date{hidden}" data-date="{n}">{copy}</g>' if copy else ""
            links.append(link)
            copies.append(copy)
        svg = (f'<svg class="panneau" id="panneau-{panel.name}" viewBox="0 0 '
               f'{_num(panel.width)} {_num(panel.height)}" role="group" ')
        inner = _dep_layer(p, panel, data, dep_panel, classes=classes, labels=labels,
                           per_date=per_date)
        if p == 0:
            inner = _marker_defs() + inner + _zoom_windows(panels) + _scale_bar(panel)
        if any(copies):
            inner += f'<g aria-hidden="true">{"".join(copies)}</g>'
        inner += f'<g class="sites">{"".join(links)}</g>'
        if p == 0:
            parts.append(f'{svg}aria-label="France métropolitaine et Corse">{inner}</svg>')
            continue
        zoom = panel.kind == "zoom"
        title = _e(panel.title or panel.name) + (" (zoom)" if zoom else "")
        (zooms if zoom else small).append(
            f'<div class="encart"><p class="encart-nom" id="nom-{panel.name}">{title}</p>'
            f'{svg}aria-labelledby="nom-{panel.name}">{inner}</svg></div>')
    statuts = (f" data-statuts=\"{_e(json.dumps(list(statuses), ensure_ascii=False))}\""
               if statuses else "")
    layout = "carte-cadre avec-zoom" if zooms else "carte-cadre"
    return (f'<div class="{layout}"{statuts}>{"".join(parts)}'
            + (f'<div class="zooms">{"".join(zooms)}</div>' if zooms else "")
            + f'<div class="outremer">{"".join(small)}</div>'
            f'<div class="infobulle" role="tooltip" id="ib-dep" hidden></div>{tooltips}</div>')


# --- The page ---------------------------------------------------------------------------------
def _link(url: str, *, focusable: bool = True) -> str:
    if not _safe_url(url):
        return _e(url)
    tab = "" if focusable else ' tabindex="-1"'
    return (f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer"{tab}>'
            f'{_e(_host(url))}<span class="vh"> (nouvelle fenêtre)</span></a>')


def _links(urls: Sequence[str], *, focusable: bool = True) -> str:
    return ", ".join(_link(u, focusable=focusable) for u in urls) or "non renseignées"


def _check_sites(data: MapData, sites: Sequence[SiteRecord]) -> dict[str, SiteRecord]:
    """Return the record of every site of the map by id; refuse what the page cannot name."""
    by_id = {s.id: s for s in sites}
    missing = [i for i in data.site_ids if i not in by_id]
    if missing:
        raise RenderError(
            f"{len(missing)} site(s) of the map have no record for the page: "
            f"{', '.join(missing[:10])}; pass site_records() of the same coverage")
    bad = [i for i in data.site_ids if not _ID.match(i)]
    if bad:
        raise RenderError(
            f"site id(s) {', '.join(map(repr, bad[:10]))} cannot name an element of the page; "
            "ids are lower-case letters and digits joined by hyphens, as the registry wants")
    return by_id


def _departement_labels(data: MapData) -> list[str]:
    counts: dict[str, int] = {}
    for code in data.site_departements:
        counts[code] = counts.get(code, 0) + 1
    return [f"{nom} ({code}) : {_status_text(statut)} ; {_sites_phrase(counts.get(code, 0))}"
            for code, nom, statut in zip(data.departement_codes, data.departement_noms,
                                         data.departement_statuts, strict=True)]


def _status_classes(statuts: Sequence[str]) -> list[str]:
    keys = list(config.STATUS_STYLE)
    return [f"s{keys.index(s)}" for s in statuts]


def _site_order(data: MapData, records: Mapping[str, SiteRecord]) -> list[int]:
    """Return the drawing and Tab order of the sites.

    By category as on the print map (laureates on top), then as the table (département,
    name, id).
    """
    keys = list(config.CATEGORY_STYLE)

    def key(i: int) -> tuple[int, str, str, str]:
        r = records[data.site_ids[i]]
        return (keys.index(data.site_categories[i]), data.site_departements[i],
                r.nom.casefold(), r.id)

    return sorted(range(len(data.site_ids)), key=key)


def _marks(data: MapData, records: Mapping[str, SiteRecord], *,
           href: str = "") -> list[_Mark]:
    keys = list(config.CATEGORY_STYLE)
    names = [site_name(records[i]) for i in data.site_ids]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    marks = []
    for i in _site_order(data, records):
        site_id = data.site_ids[i]
        name = names[i] if seen[names[i]] == 1 else f"{names[i]} ({records[site_id].nom})"
        cat = data.site_categories[i]
        marks.append(_Mark(key=site_id, index=i, category=keys.index(cat),
                           shape=config.CATEGORY_STYLE[cat]["marker"], name=name,
                           href=f"{href}#site-{site_id}"))
    return marks


def _departement_names(data: MapData) -> dict[str, str]:
    return dict(zip(data.departement_codes, data.departement_noms, strict=True))


def _tooltip(site: SiteRecord, departement: str) -> str:
    rows = [("Commune", _e(site.commune)), ("Département", _e(departement)),
            ("Métier", _e(_capitalised(_trades(site.metier)) or "non renseigné")),
            ("Catégorie", _e(_category_name(site.categorie))),
            ("Ouverture", _e(_opening(site.ouverture))),
            ("Sources", _links(site.sources, focusable=False))]
    return (f'<div class="infobulle" role="tooltip" id="ib-{site.id}" hidden><p>{_e(site.nom)}'
            "</p><dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl></div>")


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    items = []
    for key, text in entries:
        symbol = _symbol(key) if key in config.CATEGORY_STYLE else _swatch(key)
        items.append(f"<li>{symbol}<span>{_e(text)}</span></li>")
    return f'<ul class="legende">{"".join(items)}</ul>'


def _downloads(downloads: Sequence[Download]) -> str:
    if not downloads:
        return ""
    items = []
    for item in downloads:
        ext = item.href.rsplit(".", 1)[-1].lower() if "." in item.href else ""
        fmt, mime = _FORMATS.get(ext, (ext.upper() or "fichier", ""))
        kind = f' type="{mime}"' if mime else ""
        items.append(f'<li><a href="{_e(item.href)}" download{kind}>Télécharger '
                     f"{_e(item.label)} ({fmt} – {french_size(item.size)})</a></li>")
    return ('<h2 id="telecharger">Télécharger la carte et les données</h2>'
            f'<ul class="telechargements">{"".join(items)}</ul>')


_HELP_HISTORY: Final = ("Au clavier : les flèches changent la date choisie ; Tab passe d'un "
                        "site à l'autre et Entrée ouvre sa fiche dans la carte détaillée de "
                        "cette date ; Échap ferme l'info-bulle.")
_HELP: Final = ("Au clavier : Tab passe d'un site à l'autre et Entrée mène à sa ligne du "
                "tableau ; dans une liste de départements, les flèches passent d'un "
                "département à l'autre ; Échap ferme l'info-bulle. Le tableau des sites, "
                "plus bas, donne tout ce que montre la carte.")


def _table(data: MapData, records: Mapping[str, SiteRecord]) -> str:
    names = _departement_names(data)
    keys = list(config.CATEGORY_STYLE)
    order = sorted(range(len(data.site_ids)), key=lambda i: (
        data.site_departements[i], records[data.site_ids[i]].nom.casefold(),
        data.site_ids[i]))
    rows = []
    for i in order:
        site = records[data.site_ids[i]]
        code = data.site_departements[i]
        cat = data.site_categories[i]
        rows.append(
            f'<tr id="site-{site.id}" tabindex="-1"><th scope="row">{_e(site.nom)}</th>'
            f"<td>{_e(site.commune)}</td>"
            f'<td data-tri="{code}">{_e(names.get(code, code))} ({code})</td>'
            f"<td>{_e(_capitalised(_trades(site.metier)))}</td>"
            f'<td data-tri="{keys.index(cat)}"><span class="categorie">{_symbol(cat)}'
            f"{_e(_category_name(cat))}</span></td>"
            f'<td data-tri="{_e(site.ouverture or "9999")}">{_e(_opening(site.ouverture))}</td>'
            f"<td>{_e(site.confiance)}</td><td>{_links(site.sources)}</td></tr>")
    headers = ("École ou projet", "Commune", "Département", "Métier", "Catégorie", "Ouverture",
               "Confiance", "Sources")
    sort = ' aria-sort="ascending"'
    head = "".join(f'<th scope="col"{sort if h == "Département" else ""}>{h}</th>'
                   for h in headers)
    return (f'<h2 id="tableau">Les {len(rows)} sites de la carte</h2>'
            '<div class="defilement" role="region" aria-labelledby="tableau" tabindex="0">'
            f'<table data-triable><caption>Un site par ligne ; activer un en-tête trie le '
            f"tableau</caption><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
            "</table></div>")


def _document(*, title: str, description: str, body: str,
              skip: tuple[str, str] = ("#tableau", "Aller au tableau des sites")) -> str:
    css = _fill_rules() + _CSS
    return (
        "<!DOCTYPE html>\n"
        '<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="'
        f'{_e(content_security_policy(css, _JS))}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_e(title)}</title>\n"
        f'<meta name="description" content="{_e(description)}">\n'
        '<link rel="icon" href="data:,">\n'
        f"<style>{css}</style>\n</head>\n<body>\n"
        f'<a class="evitement" href="{skip[0]}">{_e(skip[1])}</a>\n'
        f"<main>\n{body}\n</main>\n<script>{_JS}</script>\n</body>\n</html>\n")


def render_page(data: MapData, *, alt_text: str, sites: Sequence[SiteRecord],
                note: str, downloads: Sequence[Download] = (),
                history_href: str | None = None) -> str:
    """Return the press page of one map: a self-contained HTML document.

    Parameters
    ----------
    data
        What the map shows (:func:`pipeline.outputs.maps.mapdata.map_data`, or a dated
        map's data): its frames, title, legend (with counts) and source line.
    alt_text
        The map's description (:func:`pipeline.outputs.maps.texts.alt_text` or
        :func:`~pipeline.outputs.maps.texts.dated_alt_text`), shown above the map and given
        to it as its accessible description.
    sites
        One record per site of ``data`` (:func:`site_records`); others are ignored.
    note
        How the map was made (:func:`pipeline.outputs.maps.texts.page_note`).
    downloads
        Files published with the page, in the order offered; their sizes are given, as they
        are written by the same publish.
    history_href
        Address of the page over time, linked from this one when given.

    Returns
    -------
    str
        The document (UTF-8 text, ending with a newline); the same inputs give the same
        text.

    Raises
    ------
    RenderError
        If a site of the map has no record, or an id that cannot name an element.
    """
    records = _check_sites(data, sites)
    panels = _panels(data)
    names = _departement_names(data)
    tooltips = "".join(_tooltip(records[i], f"{names.get(c, c)} ({c})")
                       for i, c in zip(data.site_ids, data.site_departements, strict=True))
    carte = _map_html(data, panels, [_own_layer(panels, _marks(data, records))],
                      classes=_status_classes(data.departement_statuts),
                      labels=_departement_labels(data), tooltips=tooltips)
    history = (f'<p><a href="{_e(history_href)}">Voir la carte à d\'autres dates, depuis le '
               f"23 novembre 2021</a></p>" if history_href else "")
    body = (f'<h1 id="titre-carte">{_e(data.title)}</h1>\n'
            '<figure class="carte" aria-labelledby="titre-carte" '
            f'aria-describedby="description-carte">{carte}<figcaption>'
            f'<p id="description-carte">{_e(alt_text.strip())}</p>'
            f'<p class="aide" id="aide-carte">{_e(_HELP)}</p></figcaption></figure>\n'
            f'<h2 id="legende">Légende</h2>{_legend(data.legend)}\n'
            f'<p class="note">{_e(note)}</p><p class="sources">{_e(data.source_line)}</p>'
            f"{history}\n{_downloads(downloads)}\n{_table(data, records)}")
    return _document(title=data.title, description=alt_text.strip(), body=body)


# --- The page over time ---------------------------------------------------------------------
@dataclass(frozen=True)
class DatedPage:
    """One date of the page over time: its map and the page of that date.

    Parameters
    ----------
    day
        The date.
    data
        Its map data (a dated :class:`pipeline.run.Snapshot`'s ``map``), with the title,
        legend and source line of that date.
    alt_text
        Its description (:func:`pipeline.outputs.maps.texts.dated_alt_text`).
    sites
        Its site records (:func:`site_records` of that date's coverage).
    href
        Address of that date's own page (:func:`render_page`), relative to the page over time.
    figures
        The counts shown beside the map, as (heading, value) pairs: :func:`history_figures`.
    """

    day: dt.date
    data: MapData
    alt_text: str
    sites: Sequence[SiteRecord]
    href: str
    figures: tuple[tuple[str, str], ...]


def history_figures(day: dt.date, counts: Mapping[str, int]) -> tuple[tuple[str, str], ...]:
    """Return the counts a date shows beside its map, as (heading, value) pairs.

    Parameters
    ----------
    day
        The date.
    counts
        From :func:`pipeline.steps.history.dated_counts`.

    Returns
    -------
    tuple of (str, str)
        Schools open in the registry, of which opened since the annex, laureates announced,
        départements covered, and the network's published size nearest that day (before or
        after it, with its own date), the figure the map's subtitle quotes.
    """
    published = config.nearest_published(day)
    return (
        ("Écoles ouvertes (registre)", str(counts["ecoles_ouvertes"])),
        ("dont ouvertes depuis le 23 novembre 2021", str(counts["ouvertes_depuis_annexe"])),
        ("Lauréats annoncés, pas encore ouverts", str(counts["laureats_annonces"])),
        ("Départements couverts",
         str(counts["couvert_avant_annexe"] + counts["couvert_depuis_annexe"])),
        ("Selon le réseau", f"{published.ecoles} ({published.libelle})" if published else "–"),
    )


def _dated_layer(panels: Sequence[_Panel], data: MapData, marks: Sequence[_Mark]) -> _Layer:
    """Place the sites of another date in the panels of the page (matched by frame name)."""
    frames = {f.name: f for f in map_frames(data, FRAMES_PRESET, map_only=True).frames}
    where: list[dict[int, np.ndarray]] = []
    for panel in panels:
        frame = frames.get(panel.name)
        if frame is None or frame.crs != panel.crs or not len(frame.site_index):
            where.append({})
            continue
        xy = np.asarray(frame.site_xy, dtype=float).reshape(-1, 2)
        inside = ((xy[:, 0] >= panel.xlim[0]) & (xy[:, 0] <= panel.xlim[1])
                  & (xy[:, 1] >= panel.ylim[0]) & (xy[:, 1] <= panel.ylim[1]))
        index = np.asarray(frame.site_index, dtype=int)[inside]
        where.append(dict(zip(index.tolist(), panel.to_svg(xy[inside]), strict=True)))
    return _Layer(marks, where)


def render_history_page(pages: Sequence[DatedPage], *, note: str,
                        title: str = "Les écoles de production depuis le 23 novembre 2021",
                        downloads: Sequence[Download] = ()) -> str:
    """Return the page over time: the dated maps on one map, switched by a date control.

    The outlines are drawn once; each date has its département fills, its sites (named
    links to that date's own page and row), its title, legend and description, and its
    counts in a table beside the map. The control is a group of radio buttons (Tab to it,
    arrow keys to change the date); the latest date is shown first, and without a script.

    Parameters
    ----------
    pages
        The dates, oldest first; their départements must be the same.
    note
        How the maps were made (:func:`pipeline.outputs.maps.texts.page_note` of the last
        date).
    title
        Heading of the page.
    downloads
        Files offered with it (the GIF, the chart, the history GeoPackage...).

    Returns
    -------
    str
        The document; the same inputs give the same text.

    Raises
    ------
    RenderError
        If there is no date, the dates' départements differ, a site has no record, or there
        are more statuses than the page can switch.
    """
    if not pages:
        raise RenderError("erreur interne : la page dans le temps demande au moins une date")
    base = pages[-1]
    current = len(pages) - 1
    for page in pages:
        if page.data.departement_codes != base.data.departement_codes:
            raise RenderError(f"la carte du {page.day.isoformat()} n'a pas les départements de "
                              f"celle du {base.day.isoformat()} ; dessinez toutes les dates sur "
                              "les mêmes limites")
    # A département's statuses over time are written one digit per date: each status the
    # pages use must be one of the first ten styles (the coverage statuses are).
    keys = list(config.STATUS_STYLE)
    beyond = sorted({s for page in pages for s in page.data.departement_statuts
                     if keys.index(s) > 9})
    if beyond:
        raise RenderError(f"erreur interne : la page dans le temps ne sait pas basculer les "
                          f"statuts {', '.join(beyond)}")
    panels = _panels(base.data)
    layers = []
    for page in pages:
        records = _check_sites(page.data, page.sites)
        layers.append(_dated_layer(panels, page.data,
                                   _marks(page.data, records, href=page.href)))
    per_date = ["".join(str(keys.index(page.data.departement_statuts[i])) for page in pages)
                for i in range(len(base.data.departement_codes))]
    data = base.data
    labels = [f"{nom} ({code}) : {_status_text(statut)}"
              for code, nom, statut in zip(data.departement_codes, data.departement_noms,
                                           data.departement_statuts, strict=True)]
    carte = _map_html(data, panels, layers, classes=_status_classes(data.departement_statuts),
                      labels=labels, tooltips="", per_date=per_date, current=current,
                      statuses=[_status_text(k) for k in keys])

    def hidden(n: int) -> str:
        return "" if n == current else " cache"

    radios = "".join(
        f'<input type="radio" name="date" id="date-{n}" value="{n}"'
        + (" checked" if n == current else "")
        + f'><label for="date-{n}">{_e(french_date(page.day))}</label>'
        for n, page in enumerate(pages))
    titles = "".join(f'<p class="titre-date{hidden(n)}" data-date="{n}">{_e(page.data.title)}'
                     "</p>" for n, page in enumerate(pages))
    descriptions = "".join(f'<p class="{hidden(n).strip()}" data-date="{n}">'
                           f"{_e(page.alt_text.strip())}</p>" for n, page in enumerate(pages))
    descriptions = descriptions.replace(' class=""', "")
    legends = "".join(_legend(page.data.legend).replace(
        '<ul class="legende">', f'<ul class="legende{hidden(n)}" data-date="{n}">', 1)
        for n, page in enumerate(pages))
    headings = [h for h, _ in base.figures]
    rows = "".join(
        f'<tr data-ligne="{n}"' + (' aria-current="true"' if n == current else "")
        + f'><th scope="row"><a href="{_e(page.href)}">{_e(french_date(page.day))}</a></th>'
        + "".join(f"<td>{_e(v)}</td>" for _, v in page.figures) + "</tr>"
        for n, page in enumerate(pages))
    table = ('<h2 id="chiffres">Les chiffres à chaque date</h2>'
             '<div class="defilement" role="region" aria-labelledby="chiffres" tabindex="0">'
             "<table><caption>Une date par ligne ; la date affichée est mise en évidence ; "
             "chaque date mène à sa carte détaillée</caption><thead><tr>"
             '<th scope="col">Date</th>'
             + "".join(f'<th scope="col">{_e(h)}</th>' for h in headings)
             + f"</tr></thead><tbody>{rows}</tbody></table></div>")
    body = (f'<h1 id="titre-carte">{_e(title)}</h1>\n'
            f'<fieldset class="dates"><legend>Date de la carte</legend>{radios}</fieldset>\n'
            f'{titles}<p class="vh" id="annonce" aria-live="polite"></p>\n'
            '<figure class="carte" aria-labelledby="titre-carte" '
            f'aria-describedby="description-carte">{carte}<figcaption>'
            f'<div id="description-carte">{descriptions}</div>'
            f'<p class="aide" id="aide-carte">{_e(_HELP_HISTORY)}</p></figcaption></figure>\n'
            f'<h2 id="legende">Légende</h2>{legends}\n{table}\n'
            f'<p class="note">{_e(note)}</p><p class="sources">{_e(data.source_line)}</p>\n'
            f"{_downloads(downloads)}")
    return _document(title=title, description=base.alt_text.strip(), body=body,
                     skip=("#chiffres", "Aller aux chiffres de chaque date"))


# --- Embedding --------------------------------------------------------------------------------
#: Optional script for the host page: it sets each embedded map's iframe to the height its
#: page reports (the page posts ``{ecolesMapHauteur: <px>}`` to its parent when it resizes).
RESIZE_SCRIPT: Final = """\
<script>
addEventListener("message", function (e) {
  var h = e.data && e.data.ecolesMapHauteur;
  if (typeof h !== "number" || !(h > 0)) { return; }
  document.querySelectorAll("iframe[data-ecoles-map]").forEach(function (f) {
    if (f.contentWindow === e.source) { f.style.height = Math.ceil(h) + "px"; }
  });
});
</script>
"""


def embed_snippet(src: str, *, title: str = "Carte des écoles de production",
                  height: int = 1400, resize: bool = True) -> str:
    """Return the HTML a host page pastes to embed the page in an ``<iframe>``.

    Parameters
    ----------
    src
        Address of the page as the host serves it.
    title
        The iframe's title (RGAA 2.1: every frame has one), in French.
    height
        Height in CSS pixels before the page reports its own.
    resize
        Append :data:`RESIZE_SCRIPT`, which fits the iframe to the page's height.

    Returns
    -------
    str
        The ``<iframe>`` element (full width, no border, lazy-loaded), then the script.
    """
    frame = (f'<iframe data-ecoles-map src="{_e(src)}" title="{_e(title)}" '
             f'style="width:100%;height:{int(height)}px;border:0" loading="lazy"></iframe>\n')
    return frame + (RESIZE_SCRIPT if resize else "")
