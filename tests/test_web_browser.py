"""The press page in a real browser: Debian's Chromium driven by Playwright, network cut.

Skipped where Chromium or Playwright is missing (``make test`` on a bare machine); CI installs
both (``.ci/run``). Never downloads a browser: it runs the one at ``$ECOLES_MAP_CHROMIUM`` or
``/usr/bin/chromium``. Set ``ECOLES_MAP_SCREENSHOTS`` to a folder to keep the screenshots at
320, 768 and 1280 px for a person to look at. Marked ``browser``: ``pytest -m "not browser"``
is the fast tier.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import config
from pipeline.outputs import web
from pipeline.outputs.maps.texts import page_note

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ECOLES_MAP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: Flags for a headless Chromium that talks to nobody: as root it needs --no-sandbox.
FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


def _missing(reason: str) -> None:
    """Skip, unless CI said the browser must be there (``ECOLES_MAP_REQUIRE_BROWSER=1``)."""
    if os.environ.get("ECOLES_MAP_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and ECOLES_MAP_REQUIRE_BROWSER=1")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        from playwright import sync_api
    except ImportError:
        _missing("Playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def annex_page(tmp_path_factory) -> Path:
    from pipeline.run import prepare, snapshot

    annex = snapshot(prepare(config.DEFAULT_REGISTRY))
    html = web.render_page(
        annex.map, alt_text=annex.alt_text,
        sites=web.site_records(annex.sites.to_dict("records")), note=page_note(),
        downloads=[web.Download("les données", "ecoles.csv", 16_300)])
    path = tmp_path_factory.mktemp("page") / "ecoles-de-production-2021.html"
    path.write_text(html, encoding="utf-8")
    return path


class Visit:
    """A page opened with every request recorded and every outside one refused."""

    def __init__(self, browser, url: str, *, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.page.wait_for_load_state("load")

    def _route(self, route) -> None:
        self.requests.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    def focused(self) -> dict[str, str]:
        return self.page.evaluate("""() => { const e = document.activeElement;
            return {tag: e.tagName, id: e.id, cls: e.getAttribute('class') || '',
                    label: e.getAttribute('aria-label') || ''}; }""")

    def shown_tooltips(self) -> list[str]:
        return self.page.evaluate("""() => Array.from(document.querySelectorAll(
            '.infobulle')).filter(e => !e.hidden && e.offsetWidth > 0).map(e => e.id)""")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, annex_page) -> Iterator[Visit]:
    v = Visit(browser, annex_page.as_uri())
    yield v
    v.close()


def test_only_the_page_is_requested_and_nothing_fails(visit, annex_page):
    visit.page.wait_for_timeout(200)
    assert visit.requests == [annex_page.as_uri()]
    assert visit.errors == []


def test_tab_reaches_every_site_and_shows_its_tooltip(visit):
    sites = visit.page.evaluate(
        "Array.from(document.querySelectorAll('a.site')).map(a => a.id)")
    seen: dict[str, list[str]] = {}
    for _ in range(len(sites) + 20):
        visit.page.keyboard.press("Tab")
        now = visit.focused()
        if now["tag"] == "TABLE" or "defilement" in now["cls"]:
            break
        if "site" in now["cls"].split():
            assert now["label"], now
            seen[now["id"]] = visit.shown_tooltips()
    assert sorted(seen) == sorted(sites)
    for site_id, shown in seen.items():
        assert shown == ["ib-" + site_id.removeprefix("carte-")], site_id


def test_escape_hides_the_tooltip_and_enter_goes_to_the_row(visit):
    visit.page.focus("#carte-dunkerque")
    assert visit.shown_tooltips() == ["ib-dunkerque"]
    visit.page.keyboard.press("Escape")
    assert visit.shown_tooltips() == []
    assert visit.focused()["id"] == "carte-dunkerque"  # Escape closes, focus stays
    visit.page.keyboard.press("Enter")
    assert visit.focused() == {"tag": "TR", "id": "site-dunkerque", "cls": "vue", "label": ""}
    assert visit.page.locator("#site-dunkerque").is_visible()


def test_hover_shows_site_and_departement_tooltips(visit):
    visit.page.hover("#carte-dunkerque", force=True)
    assert visit.shown_tooltips() == ["ib-dunkerque"]
    tooltip = visit.page.locator("#ib-dunkerque")
    assert "Dunkerque" in tooltip.inner_text() and "Nord (59)" in tooltip.inner_text()
    # The tooltip stays while the pointer moves onto it (WCAG 1.4.13: hoverable).
    box = tooltip.bounding_box()
    visit.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=4)
    visit.page.wait_for_timeout(500)
    assert visit.shown_tooltips() == ["ib-dunkerque"]
    # A département: pointer on the Cantal, which holds no site.
    cantal = visit.page.locator("#dep-15").bounding_box()
    visit.page.mouse.move(cantal["x"] + cantal["width"] / 2, cantal["y"] + cantal["height"] / 2,
                          steps=2)
    assert visit.shown_tooltips() == ["ib-dep"]
    assert visit.page.locator("#ib-dep").inner_text().startswith("Cantal (15)")


def test_arrow_keys_walk_the_departements(visit):
    visit.page.focus("#dep-01")
    assert visit.shown_tooltips() == ["ib-dep"]
    visit.page.keyboard.press("ArrowRight")
    visit.page.keyboard.press("ArrowRight")
    now = visit.focused()
    assert now["id"] == "dep-03" and now["label"].startswith("Allier (03)")
    assert visit.page.locator("#ib-dep").inner_text() == now["label"]
    visit.page.keyboard.press("End")
    assert visit.focused()["id"] == "dep-95"
    # One Tab stop: the list remembers the last département.
    stops = "#panneau-carte-metropole [role=option][tabindex='0']"
    assert visit.page.locator(stops).count() == 1


def test_table_sorts_by_a_column(visit):
    visit.page.click("th:has-text('Commune') button")
    first = visit.page.locator("tbody tr").first.locator("td").first.inner_text()
    assert visit.page.get_attribute("th:has-text('Commune')", "aria-sort") == "ascending"
    assert first == "Angers"
    visit.page.click("th:has-text('Commune') button")
    assert visit.page.get_attribute("th:has-text('Commune')", "aria-sort") == "descending"


def test_csp_blocks_an_injected_outside_image(visit):
    blocked = visit.page.evaluate("""() => new Promise(resolve => {
        document.addEventListener('securitypolicyviolation', e => resolve(e.blockedURI));
        const img = document.createElement('img');
        img.src = 'https://example.org/pixel.png';
        document.body.appendChild(img);
        setTimeout(() => resolve(null), 2000);
    })""")
    assert blocked == "https://example.org/pixel.png"
    assert not any(r.startswith("https://") for r in visit.requests)


def test_axe_finds_no_serious_or_critical_violation(visit):
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _missing("axe-playwright-python is not installed (pip install -e '.[test]')")
    results = Axe().run(visit.page)
    serious = [(v["id"], v["impact"], len(v["nodes"])) for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == []


@pytest.mark.parametrize("width", [320, 768, 1280])
def test_no_horizontal_scroll_and_a_screenshot(browser, annex_page, width):
    v = Visit(browser, annex_page.as_uri(), width=width)
    try:
        widths = v.page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert widths[0] <= widths[1]
        # The map fits the width, and its markers keep a visible size.
        svg = v.page.locator("#panneau-carte-metropole").bounding_box()
        assert svg["width"] <= width
        marker = v.page.locator("#carte-dunkerque use").bounding_box()
        assert marker["width"] >= 6
        folder = os.environ.get("ECOLES_MAP_SCREENSHOTS")
        png = v.page.screenshot(full_page=True,
                                path=str(Path(folder) / f"page-{width}.png") if folder else None)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert v.errors == []
    finally:
        v.close()


@pytest.fixture(scope="module")
def history_page(tmp_path_factory) -> Path:
    import datetime as dt

    from pipeline.run import dated_snapshot, prepare

    prepared = prepare(config.DEFAULT_REGISTRY, openings_path=config.DEFAULT_OPENINGS)
    pages = []
    for day in (config.ANNEX_DATE, dt.date(2025, 12, 31)):
        dated = dated_snapshot(prepared, day)
        pages.append(web.DatedPage(
            day, dated.map, dated.alt_text, web.site_records(dated.sites.to_dict("records")),
            config.map_stem("a4", day) + ".html", web.history_figures(day, dated.counts)))
    path = tmp_path_factory.mktemp("history") / "historique.html"
    path.write_text(web.render_history_page(pages, note=page_note(pages[-1].day)),
                    encoding="utf-8")
    return path


def test_history_date_control_by_keyboard(browser, history_page):
    v = Visit(browser, history_page.as_uri())
    try:
        assert v.errors == [] and v.requests == [history_page.as_uri()]

        def shown(selector: str) -> int:
            return v.page.evaluate(f"""Array.from(document.querySelectorAll('{selector}'))
                .filter(e => getComputedStyle(e).display !== 'none' &&
                             !e.closest('.cache')).length""")

        latest = shown("a.site")
        v.page.focus("#date-1")
        v.page.keyboard.press("ArrowLeft")  # radio group: arrows change the date
        assert v.page.is_checked("#date-0")
        annex = shown("a.site")
        assert annex != latest
        assert annex == v.page.locator("a.site[id$='-0']").count()  # the annex's sites only
        assert v.page.get_attribute("tr[data-ligne='0']", "aria-current") == "true"
        assert v.page.inner_text("#annonce").startswith("Écoles de production au 23 novembre")
        # Tab from the control reaches a site of the shown date, with its tooltip.
        v.page.keyboard.press("Tab")
        v.page.keyboard.press("Tab")
        now = v.focused()
        assert "site" in now["cls"] and now["id"].endswith("-0"), now
        assert v.shown_tooltips() == ["ib-dep"]
        assert axe_serious(v.page) == []
        assert v.errors == []
    finally:
        v.close()


def axe_serious(page) -> list[tuple[str, str, int]]:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _missing("axe-playwright-python is not installed (pip install -e '.[test]')")
    results = Axe().run(page)
    return [(v["id"], v["impact"], len(v["nodes"])) for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


def test_iframe_snippet_takes_the_height_of_the_page(browser, annex_page):
    host = annex_page.parent / "hote.html"
    host.write_text("<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>Hôte"
                    "</title></head><body><main><p>Page d'un ministère</p>"
                    + web.embed_snippet(annex_page.name, height=300)
                    + "</main></body></html>", encoding="utf-8")
    v = Visit(browser, host.as_uri(), width=768)
    try:
        frame = v.page.locator("iframe[data-ecoles-map]")
        assert frame.get_attribute("title") == "Carte des écoles de production"
        v.page.wait_for_function(
            "document.querySelector('iframe[data-ecoles-map]').offsetHeight > 1000")
        inner = v.page.frame_locator("iframe[data-ecoles-map]")
        assert inner.locator("a.site").count() > 0
        assert v.errors == []
    finally:
        v.close()
