"""The press page, without a browser: structure, names, table, CSP, no outside resource, bytes."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from pipeline import config
from pipeline.errors import RenderError
from pipeline.outputs import web
from pipeline.outputs.maps.texts import page_note

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
#: SVG elements written self-closed.
SVG_VOID = {"path", "use", "circle", "rect"}


class Tree(HTMLParser):
    """Every element with its attributes and ancestors; checks that tags nest and close."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.elements: list[tuple[str, dict[str, str], tuple[str, ...]]] = []
        self.errors: list[str] = []
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}, tuple(self.stack)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SVG_VOID and tag not in VOID:
            self.errors.append(f"<{tag}/> self-closed")
        self.elements.append((tag, {k: v or "" for k, v in attrs}, tuple(self.stack)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack:
            self.text.setdefault(self.stack[-1], []).append(data)

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a, _ in self.elements if (tag is None or t == tag)
                and all(a.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())]


def parse(page: str) -> Tree:
    tree = Tree()
    tree.feed(page)
    tree.close()
    return tree


@pytest.fixture(scope="module")
def annex():
    from pipeline.run import prepare, snapshot

    return snapshot(prepare(config.DEFAULT_REGISTRY))


@pytest.fixture(scope="module")
def page_inputs(annex):
    return {
        "data": annex.map,
        "alt_text": annex.alt_text,
        "sites": web.site_records(annex.sites.to_dict("records")),
        "note": page_note(),
        "downloads": [web.Download("la carte", "ecoles-de-production-2021.png", 1_250_000),
                      web.Download("les données", "../data/processed/ecoles.csv", 16_300),
                      web.Download("la couverture", "../data/processed/couverture.gpkg",
                                   884_700)],
    }


@pytest.fixture(scope="module")
def page(page_inputs) -> str:
    return web.render_page(**page_inputs)


@pytest.fixture(scope="module")
def tree(page) -> Tree:
    return parse(page)


@pytest.mark.slow
def test_page_parses_with_unique_ids(tree):
    assert not tree.errors
    assert not tree.stack
    ids = [a["id"] for _, a, _ in tree.elements if "id" in a]
    assert len(ids) == len(set(ids))
    html_tag = tree.find("html")[0]
    assert html_tag["lang"] == "fr"


@pytest.mark.slow
def test_one_focusable_named_link_per_site(tree, page_inputs):
    data = page_inputs["data"]
    links = tree.find("a", class_="site")
    assert sorted(a["data-site"] for a in links) == sorted(data.site_ids)
    tooltips = {a["id"]: a for a in tree.find("div", role="tooltip")}
    ids = {a["id"] for _, a, _ in tree.elements if "id" in a}
    for link in links:
        assert link["href"] == f"#site-{link['data-site']}"
        assert link["href"][1:] in ids
        assert link["aria-label"]
        assert tooltips[link["aria-describedby"]]
    names = {a["aria-label"] for a in links}
    assert len(names) == len(links)
    assert "Dunkerque – Usinage, lauréat AMI ingénierie" in names
    assert "Compiègne – O'Tech, usinage et chaudronnerie, lauréat AMI investissement" in names


@pytest.mark.slow
def test_one_table_row_per_site_with_headers(tree, page_inputs):
    data = page_inputs["data"]
    rows = [a for t, a, anc in tree.elements if t == "tr" and "tbody" in anc]
    assert sorted(r["id"] for r in rows) == sorted(f"site-{i}" for i in data.site_ids)
    assert all(r["tabindex"] == "-1" for r in rows)
    headers = [a for t, a, anc in tree.elements if t == "th" and "thead" in anc]
    assert len(headers) == 8 and all(h["scope"] == "col" for h in headers)
    assert len(tree.find("th", scope="row")) == len(rows)
    assert tree.find("table")[0].get("data-triable") == ""


@pytest.mark.slow
def test_every_departement_is_one_named_option(tree, page_inputs):
    data = page_inputs["data"]
    options = tree.find("path", role="option")
    assert sorted(o["data-dep"] for o in options) == sorted(data.departement_codes)
    aisne = next(o for o in options if o["data-dep"] == "02")
    assert aisne["aria-label"].startswith(
        "Aisne (02)\u00a0: département nouvellement couvert par une école de production "
        "suite à l'AMI")
    # One Tab stop per list: the first option of each.
    for listbox in tree.find("g", role="listbox"):
        assert listbox["aria-label"]
    assert len([o for o in options if o["tabindex"] == "0"]) == len(tree.find("g", role="listbox"))


@pytest.mark.slow
def test_legend_note_and_source_line_come_from_the_data(page, page_inputs):
    data = page_inputs["data"]
    for _, entry in data.legend:
        assert web._e(entry) in page
    assert web._e(data.source_line) in page
    assert web._e(page_inputs["note"]) in page
    assert "Écoles de production existantes (42" in page  # the count, from the data


@pytest.mark.slow
def test_download_links_say_format_and_size(tree, page):
    links = tree.find("a", download="")
    assert [a["href"] for a in links] == ["ecoles-de-production-2021.png",
                                           "../data/processed/ecoles.csv",
                                           "../data/processed/couverture.gpkg"]
    assert "Télécharger les données (CSV – 16\u00a0ko)" in page
    assert "Télécharger la carte (PNG – 1,2\u00a0Mo)" in page
    assert "Télécharger la couverture (GeoPackage – 885\u00a0ko)" in page


def _csp(tree: Tree) -> dict[str, list[str]]:
    metas = tree.find("meta", http_equiv="Content-Security-Policy")
    assert len(metas) == 1
    policy = {}
    for directive in metas[0]["content"].split(";"):
        name, *values = directive.split()
        policy[name] = values
    return policy


@pytest.mark.slow
def test_csp_forbids_every_other_origin(tree, page):
    policy = _csp(tree)
    assert policy["default-src"] == ["'none'"]
    assert policy["img-src"] == ["data:"]
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'none'"]
    allowed = [v for values in policy.values() for v in values]
    for value in allowed:
        assert value in ("'none'", "data:") or re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", value)
    # The hashes are those of the page's own style and script, and there is one of each.
    style = re.findall(r"<style>(.*?)</style>", page, re.S)
    script = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(style) == 1 and len(script) == 1
    assert page.count("<script") == 1 and page.count("<style") == 1

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert policy["style-src"] == [digest(style[0])]
    assert policy["script-src"] == [digest(script[0])]
    # The policy comes first in <head>, before anything that could load.
    head = page[:page.index("</head>")]
    assert head.index("Content-Security-Policy") < head.index("<style>")
    assert head.index("<meta charset") < head.index("Content-Security-Policy")


@pytest.mark.slow
def test_no_outside_resource_is_referenced(tree, page):
    for tag, attrs, _ancestors in tree.elements:
        assert tag not in ("img", "iframe", "object", "embed", "video", "audio", "image",
                           "foreignobject", "base", "form")
        assert "style" not in attrs  # inline styles would need 'unsafe-inline'
        assert not any(k.startswith("on") for k in attrs)  # nor would event attributes
        for key in ("src", "srcset", "poster", "data", "xlink:href", "action"):
            assert key not in attrs
        if "href" in attrs and tag != "a":
            value = attrs["href"]
            assert value.startswith("#") or value == "data:,", (tag, value)
        if tag == "a":
            assert not attrs["href"].lower().startswith(("javascript:", "data:", "//"))
    assert not re.search(r"url\(|@import|@font-face", page)
    # Web addresses appear only as link targets (the sources), never as resources.
    hrefs = {a["href"] for a in tree.find("a")}
    for url in re.findall(r"https?://[^\s\"'<>]+", page):
        assert url in hrefs or web._e(url) in {web._e(h) for h in hrefs}


@pytest.mark.slow
def test_no_state_design_system_or_marianne_font(page):
    lowered = page.lower()
    assert "marianne" not in lowered
    assert "dsfr" not in lowered


@pytest.mark.slow
def test_same_inputs_same_bytes_under_one_megabyte(page, page_inputs):
    assert web.render_page(**page_inputs) == page
    assert len(page.encode("utf-8")) < 1_000_000


@pytest.mark.slow
def test_every_site_needs_a_record(page_inputs):
    inputs = dict(page_inputs)
    inputs["sites"] = page_inputs["sites"][1:]
    with pytest.raises(RenderError, match="no record"):
        web.render_page(**inputs)


@pytest.mark.slow
def test_hostile_texts_are_escaped_and_only_web_links_are_links(page_inputs):
    sites = list(page_inputs["sites"])
    first = sites[0]
    sites[0] = web.SiteRecord(
        id=first.id, nom='<script>alert("x")</script>', commune=first.commune,
        departement=first.departement, categorie=first.categorie, metier="a & b",
        sources=("javascript:alert(1)", "https://example.org/a?b=1&c=2"))
    page = web.render_page(**{**page_inputs, "sites": sites})
    tree = parse(page)
    assert not tree.errors
    assert page.count("<script") == 1
    assert not any(a["href"].startswith("javascript:") for a in tree.find("a"))
    assert "https://example.org/a?b=1&amp;c=2" in page


def test_site_records_read_table_rows():
    rows = [{"id": "a", "nom": "A", "commune": "Lyon 9e Arrondissement", "departement": "69",
             "departement_spatial": float("nan"), "categorie": "existante",
             "metier": "usinage; bois", "ouverture": "2021-09", "confiance": "haute",
             "sources": "https://example.org/a | https://example.org/b",
             "libelle_annexe": None}]
    (site,) = web.site_records(rows)
    assert site.departement == "69" and site.sources == ("https://example.org/a",
                                                         "https://example.org/b")
    assert web.site_name(site) == "Lyon 9e Arrondissement – Usinage et bois, école existante"
    assert web._opening(site.ouverture) == "septembre 2021"
    assert web._opening("2022-01-01") == "1er janvier 2022"
    assert web._opening("") == "non renseignée"


@pytest.mark.parametrize(("size", "text"), [
    (1, "1\u00a0octet"), (850, "850\u00a0octets"), (16_300, "16\u00a0ko"),
    (884_700, "885\u00a0ko"), (999_600, "1,0\u00a0Mo"), (1_250_000, "1,2\u00a0Mo"),
    (12_345_678, "12,3\u00a0Mo")])
def test_french_size(size, text):
    assert web.french_size(size) == text


def test_path_encoding_is_exact_in_tenths():
    assert web._num(12.34) == "12.3" and web._num(-0.46) == "-.5" and web._num(4.0) == "4"
    assert web._num(0.04) == "0" and web._num(-0.04) == "0"
    assert web._tenths(123) == "12.3" and web._tenths(-5) == "-.5" and web._tenths(40) == "4"
    assert web._join_numbers(["1", "-2", ".5", "3"]) == "1-2 .5 3"


@pytest.mark.slow
def test_web_module_imports_neither_pandas_nor_matplotlib():
    code = ("import sys; import pipeline.outputs.web; "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'geopandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


# --- The page over time -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def history_pages():
    import datetime as dt

    from pipeline.run import dated_snapshot, prepare

    prepared = prepare(config.DEFAULT_REGISTRY, openings_path=config.DEFAULT_OPENINGS)
    pages = []
    for day in (config.ANNEX_DATE, dt.date(2023, 12, 31), dt.date(2025, 12, 31)):
        dated = dated_snapshot(prepared, day)
        pages.append(web.DatedPage(
            day, dated.map, dated.alt_text, web.site_records(dated.sites.to_dict("records")),
            config.map_stem("a4", day) + ".html", web.history_figures(day, dated.counts)))
    return pages


@pytest.mark.slow
def test_history_page_switches_dates_with_counts(history_pages):
    page = web.render_history_page(history_pages, note=page_note(history_pages[-1].day))
    tree = parse(page)
    assert not tree.errors and len(page.encode()) < 1_000_000
    radios = tree.find("input", type="radio")
    assert [r["value"] for r in radios] == ["0", "1", "2"]
    assert "checked" in radios[-1]
    # Each date: its sites (links to that date's page and row), legend, title, description.
    for n, dated in enumerate(history_pages):
        links = [a for t, a, anc in tree.elements if t == "a" and "site" in a.get("class", "")
                 and a["id"].endswith(f"-{n}")]
        assert sorted(a["data-site"] for a in links) == sorted(
            f"{i}-{n}" for i in dated.data.site_ids)
        assert all(a["href"].startswith(dated.href + "#site-") for a in links)
        assert len([a for a in tree.find(data_date=str(n)) if "legende" in a.get("class", "")]) == 1
    # Départements carry one status per date.
    options = tree.find("path", role="option")
    assert all(len(o["data-s"]) == len(history_pages) for o in options)
    # The counts table: a row per date, the shown one current.
    rows = [a for t, a, _ in tree.elements if t == "tr" and "data-ligne" in a]
    assert [r.get("aria-current") for r in rows] == [None, None, "true"]
    assert "Selon le réseau" in page and "77 (10 novembre 2025)" in page
    # The page quotes the published figure the map's subtitle quotes, for every date.
    for dated in history_pages:
        quoted = dict(dated.figures)["Selon le réseau"]
        if quoted != "–":
            number, when = quoted.split(" (", 1)
            assert f"en annonçait {number} le {when[:-1]}" in dated.data.subtitle
    assert web.render_history_page(history_pages, note="n") == web.render_history_page(
        history_pages, note="n")
