"""The print PDF: A4, vector, fonts embedded as TrueType, text selectable, same bytes each run.

The checks use the tools a print shop or a press officer would (poppler's ``pdffonts``,
``pdfinfo``, ``pdftotext``); they are skipped where poppler-utils is not installed.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pipeline import config
from pipeline.errors import RenderError
from pipeline.outputs.maps.mapdata import map_data
from pipeline.outputs.maps.projects import draw_projects_pages, print_pages
from pipeline.outputs.maps.render import draw_map
from pipeline.outputs.maps.save import save_pdf
from tests.test_render import make_departements, make_sites

poppler = pytest.mark.skipif(shutil.which("pdffonts") is None,
                             reason="poppler-utils (pdffonts, pdfinfo, pdftotext) is not installed")


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.fixture(scope="module")
def data():
    sites = make_sites()
    sites["commune"] = sites["id"].str.title()
    sites["nom"] = "École " + sites["id"]
    sites["metier"] = "usinage"
    return map_data(sites, make_departements())


@pytest.fixture(scope="module")
def pdf(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "carte.pdf"
    save_pdf(print_pages(draw_map(data, preset="a4"), data), path)
    return path


@pytest.mark.slow
def test_two_builds_give_the_same_bytes(data, pdf, tmp_path):
    again = tmp_path / "again.pdf"
    save_pdf(print_pages(draw_map(data, preset="a4"), data), again)
    assert again.read_bytes() == pdf.read_bytes()
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert b"CreationDate" not in pdf.read_bytes()


@pytest.mark.slow
def test_no_page_is_refused(tmp_path):
    with pytest.raises(RenderError, match="aucune page"):
        save_pdf([], tmp_path / "vide.pdf")
    assert not (tmp_path / "vide.pdf").exists()


@pytest.mark.slow
@poppler
def test_every_font_is_embedded_as_truetype(pdf):
    lines = run("pdffonts", str(pdf)).splitlines()[2:]
    assert lines, "the PDF has fonts"
    for line in lines:
        columns = line.split()
        # name, type (CID TrueType), encoding, emb, sub, uni, object, id
        assert "TrueType" in line and "Type 3" not in line, line
        assert columns[-5] == "yes", f"not embedded: {line}"  # emb
        assert columns[-3] == "yes", f"no Unicode map: {line}"  # uni: searchable


@pytest.mark.slow
@poppler
def test_a4_pages_and_selectable_text(pdf):
    info = run("pdfinfo", str(pdf))
    assert "Pages:           2" in info
    assert "595.276 x 841.89 pts (A4)" in info
    assert "Title:           Écoles de production" in info
    first = run("pdftotext", "-f", "1", "-l", "1", str(pdf), "-")
    assert "projets soutenus par l'AMI" in first and "Roubaix – EPICC Textile" in first
    second = run("pdftotext", "-f", "2", "-l", "2", "-layout", str(pdf), "-")
    assert "Les 7 projets soutenus par l'AMI Écoles de production" in second
    for place in ("Quimper", "Roubaix", "Villeurbanne", "Marseille", "Strasbourg", "Stains",
                  "Kourou"):
        assert place in second, place
    assert "Bretagne" in second and "Ingénierie" in second and "Investissement" in second


@pytest.mark.slow
def test_the_annex_projects_fit_one_page():
    from pipeline.run import prepare, snapshot

    coverage = snapshot(prepare(config.DEFAULT_REGISTRY))
    data = map_data(coverage.sites, coverage.departements)
    assert len(data.projects) == 34
    (page,) = draw_projects_pages(data)
    from matplotlib.text import Text

    texts = [t.get_text() for t in page.findobj(Text)]
    assert "Les 34 projets soutenus par l'AMI Écoles de production" in texts
    regions = {r.region for r in data.projects}
    assert regions <= set(texts) and len(regions) == 12


def test_a_list_too_long_to_print_says_where_the_full_list_is():
    import dataclasses

    from matplotlib.text import Text

    from pipeline.outputs.maps.mapdata import ProjectRow
    from pipeline.outputs.maps.projects import MAX_PRINTED_PROJECTS
    from tests.test_render import make_departements, make_sites

    data = map_data(make_sites(), make_departements())
    row = ProjectRow("Bretagne", "29", "Quimper", "École", "usinage", "ingenierie", False)
    many = dataclasses.replace(data, projects=(row,) * (MAX_PRINTED_PROJECTS + 1))
    (page,) = draw_projects_pages(many)
    text = " ".join(t.get_text() for t in page.findobj(Text)).replace("\n", " ")
    assert f"Les {MAX_PRINTED_PROJECTS + 1} projets" in text and "ecoles.csv" in text
    assert "Quimper" not in text
    at_most = dataclasses.replace(data, projects=(row,) * MAX_PRINTED_PROJECTS)
    pages = draw_projects_pages(at_most)
    assert len(pages) > 1
    assert "Quimper" in {t.get_text() for t in pages[0].findobj(Text)}
