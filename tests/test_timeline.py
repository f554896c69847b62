"""Coverage over time: the history command, its maps, GIF, chart and GeoPackage; --as-of."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from cli import main
from pipeline.outputs.maps.chart import plot_timeline
from pipeline.outputs.maps.save import write_gif
from pipeline.run import GIF_NAME
from pipeline.steps.history import FIRST_SCHOOL_SQL, counts_over_time
from tests.conftest import HEADER
from tests.test_history import OPENING_ROWS, OPENINGS_HEADER, REGISTRY_ROWS, csv_records

pytestmark = pytest.mark.slow

DATES = ["2021-11-23", "2021-12-31", "2022-12-31", "2023-12-31", "2024-12-31"]


def write_inputs(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    registry = folder / "ecoles.csv"
    registry.write_text("\n".join([HEADER, *REGISTRY_ROWS, ""]), encoding="utf-8")
    openings = folder / "ouvertures.csv"
    openings.write_text("\n".join([OPENINGS_HEADER, *OPENING_ROWS, ""]), encoding="utf-8")
    return registry, openings


def run_history(tmp: Path, name: str) -> Path:
    registry, openings = write_inputs(tmp / "raw")
    out = tmp / name / "historique"  # the maps go to <maps-dir>/historique
    result = CliRunner().invoke(main, [
        "history", str(registry), "--openings", str(openings), "--preset", "social",
        "--until", "2024-06-30", "--maps-dir", str(tmp / name), "--processed-dir", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def history_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("history")
    return run_history(tmp, "a"), run_history(tmp, "b")


def legend_text(svg: str) -> str:
    """The SVG's text, lines joined by spaces (legend entries are wrapped)."""
    return " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))


def test_history_writes_dated_maps_gif_chart_and_reconciliation(history_run):
    out, _ = history_run
    names = {p.name for p in out.iterdir()}
    for day in DATES:
        for ext in ("png", "svg", "txt"):
            assert f"ecoles-de-production-{day}.{ext}" in names
    assert {GIF_NAME, "ecoles-de-production-evolution.png", "ecoles-de-production-evolution.svg",
            "rapprochement-historique.md", "historique.gpkg"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    with Image.open(out / GIF_NAME) as gif:
        assert gif.n_frames == len(DATES)
        assert gif.info["loop"] == 0
        assert gif.width == 1200  # social-card frames keep their size (and text sizes)
    for day in DATES:
        with Image.open(out / f"ecoles-de-production-{day}.png") as png:
            assert png.size == (1200, 630)


def test_dated_map_title_and_legend_follow_the_date(history_run):
    out, _ = history_run
    svg = (out / "ecoles-de-production-2022-12-31.svg").read_text(encoding="utf-8")
    # Title: the date; subtitle: the registry's count (4 open: boisard, otech, fask,
    # lendemain; ephemere opened 2022-09, etincelle 2022-12) and the published count nearest
    # that date, with its own date.
    # (The social card: its short texts.)
    assert "Écoles de production au 31 décembre 2022" in legend_text(svg)
    assert "6 écoles dans le registre ; 56 selon le réseau au 31 décembre 2022" in legend_text(
        svg)
    assert "3 écoles ouvertes depuis" in legend_text(svg)
    assert 'id="laureats-annonces' in svg  # Vire still announced
    annex = (out / "ecoles-de-production-2021-11-23.svg").read_text(encoding="utf-8")
    assert "0 écoles ouvertes depuis" in legend_text(annex)
    assert "42 selon le réseau au 23 novembre 2021" in legend_text(annex)
    # 31 December 2024: the nearest published figure is after it (14 February 2025: 71),
    # not the one of October 2023.
    late = (out / "ecoles-de-production-2024-12-31.svg").read_text(encoding="utf-8")
    assert "71 selon le réseau au 14 février 2025" in legend_text(late)


def test_history_outputs_are_byte_identical_on_rerun(history_run):
    first, second = history_run
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_first_school_of_the_aisne_is_one_sql_line(history_run):
    out, _ = history_run
    with sqlite3.connect(out / "historique.gpkg") as con:
        first = con.execute(FIRST_SCHOOL_SQL, {"departement": "02"}).fetchall()
        kind = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = "
                           "'couverture_historique'").fetchone()
        columns = {r[1]: r[2] for r in con.execute("PRAGMA table_info(couverture_historique)")}
        ecoles = {r[1]: r[2] for r in con.execute("PRAGMA table_info(ecoles)")}
        closed = con.execute("SELECT categorie, date_fermeture FROM ecoles "
                             "WHERE id = 'ephemere'").fetchone()
    assert first == [("2022-12-31", "2022-12-01")]
    assert kind == ("attributes",)
    assert columns["date"] == columns["premiere_ouverture"] == "DATE"
    assert ecoles["date_ouverture"] == ecoles["date_fermeture"] == "DATE"
    assert closed == ("fermee", "2024-06-01")


def test_history_geopackage_holds_the_reach_over_time(history_run):
    out, _ = history_run
    with sqlite3.connect(out / "historique.gpkg") as con:
        kind = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = "
                           "'acces_historique'").fetchone()
        france = con.execute("SELECT date, nb_sites, part_jeunes_30km FROM acces_historique "
                             "WHERE perimetre = 'france' ORDER BY date").fetchall()
        types = {r[1]: r[2] for r in con.execute("PRAGMA table_info(acces_historique)")}
        communes = con.execute("SELECT count(*) FROM communes_acces").fetchone()
        last = con.execute("SELECT count(*) FROM communes_acces WHERE ecole_proche IN "
                           "(SELECT id FROM ecoles WHERE NOT ouverte)").fetchone()
    assert kind == ("attributes",)
    assert [d for d, _, _ in france] == ["2021-11-23", "2021-12-31", "2022-12-31",
                                         "2023-12-31", "2024-12-31"]
    assert [n for _, n, _ in france] == [3, 4, 6, 7, 6]  # the open sites of each date
    # More open sites reach more young people (until the school of Laval closes in 2024).
    assert all(a <= b for (_, _, a), (_, _, b) in itertools.pairwise(france[:4]))
    assert types["date"] == "DATE"
    assert communes == (34875,) and last == (0,)


def test_history_takes_the_reach_options(tmp_path):
    registry, openings = write_inputs(tmp_path / "raw")
    result = CliRunner().invoke(main, [
        "history", str(registry), "--openings", str(openings), "--until", "2021-12-31",
        "--reach-km", "20", "--detour", "1.2", "--maps-dir", str(tmp_path / "m"),
        "--processed-dir", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "p" / "historique.gpkg") as con:
        columns = [r[1] for r in con.execute("PRAGMA table_info(acces_historique)")]
        method = con.execute("SELECT DISTINCT methode_distance, facteur_detour FROM "
                             "acces_historique").fetchall()
    assert "part_jeunes_20km" in columns and "part_jeunes_30km" not in columns
    assert method == [("estimation_route", 1.2)]


def test_reconciliation_names_dates_with_missing_schools(history_run):
    out, _ = history_run
    text = (out / "rapprochement-historique.md").read_text(encoding="utf-8")
    assert "| 31 décembre 2022 | 56 | 6 | -50 |" in text
    assert "- 31 décembre 2022 : 50 école(s) publiée(s) absente(s) du registre" in text
    assert "lieu_different" in text


def test_join_as_of_the_annex_is_the_default_output(tmp_path):
    registry, openings = write_inputs(tmp_path / "raw")
    runner = CliRunner()
    plain = runner.invoke(main, ["join", str(registry), "--processed-dir", str(tmp_path / "a")])
    dated = runner.invoke(main, ["join", str(registry), "--as-of", "2021-11-23", "--openings",
                                 str(openings), "--processed-dir", str(tmp_path / "b")])
    assert plain.exit_code == 0 and dated.exit_code == 0, plain.output + dated.output
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_join_and_render_at_another_date(tmp_path):
    registry, openings = write_inputs(tmp_path / "raw")
    runner = CliRunner()
    result = runner.invoke(main, ["join", str(registry), "--as-of", "2023-12-31", "--openings",
                                  str(openings), "--processed-dir", str(tmp_path / "j")])
    assert result.exit_code == 0, result.output
    gpkg = tmp_path / "j" / "couverture-2023-12-31.gpkg"
    assert sorted(p.name for p in (tmp_path / "j").iterdir()) == sorted([
        gpkg.name, "ecoles-2023-12-31.csv", "rapprochement-2023-12-31.md",
        "acces_departements-2023-12-31.csv", "communes_les_plus_eloignees-2023-12-31.csv",
        "ou_ensuite-2023-12-31.csv"])
    with sqlite3.connect(gpkg) as con:
        statut = dict(con.execute("SELECT code, statut FROM departements WHERE code IN "
                                  "('14', '21', '69')").fetchall())
        conde = con.execute("SELECT lieu_annonce, categorie FROM ecoles WHERE id = 'fil-conde'"
                            ).fetchone()
    assert statut == {"14": "couvert_depuis_annexe", "21": "couvert_depuis_annexe",
                      "69": "couvert_avant_annexe"}
    assert conde == ("Vire", "ouverte_depuis_annexe")
    result = runner.invoke(main, ["render", str(gpkg), "--preset", "social", "--maps-dir",
                                  str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    svg = (tmp_path / "m" / "ecoles-de-production-2023-12-31-social.svg").read_text()
    assert "Écoles de production au 31 décembre 2023" in legend_text(svg)


def test_render_draws_the_history_geopackage_at_its_last_date(history_run, tmp_path):
    out, _ = history_run
    result = CliRunner().invoke(main, ["render", str(out / "historique.gpkg"), "--preset",
                                       "social", "--maps-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    svg = (tmp_path / "ecoles-de-production-2024-12-31-social.svg").read_text()
    assert "Écoles de production au 31 décembre 2024" in legend_text(svg)
    # The legend counts what is drawn, never 0 beside drawn points.
    assert "Écoles ouvertes au 23 novembre 2021 (0)" not in legend_text(svg)


def test_render_refuses_what_it_cannot_draw(history_run, tmp_path):
    import geopandas as gpd

    out, _ = history_run
    registry, _ = write_inputs(tmp_path / "raw")
    broken = tmp_path / "sans-categorie.gpkg"
    sites = gpd.read_file(out / "historique.gpkg", layer="ecoles")
    sites.drop(columns=["categorie"]).to_file(broken, layer="ecoles")
    gpd.read_file(out / "historique.gpkg", layer="departements").to_file(
        broken, layer="departements")
    unknown = tmp_path / "categorie-inconnue.gpkg"
    sites.assign(categorie="fantome").to_file(unknown, layer="ecoles")
    gpd.read_file(out / "historique.gpkg", layer="departements").to_file(
        unknown, layer="departements")
    for path, fragment in ((registry, "n'est pas un GeoPackage"),
                           (broken, "n'a pas la/les colonne(s) categorie"),
                           (unknown, "catégorie inconnue(s) fantome"),
                           (tmp_path / "absent.gpkg", "introuvable")):
        result = CliRunner().invoke(main, ["render", str(path), "--maps-dir",
                                           str(tmp_path / "maps")])
        assert result.exit_code == 1, result.output
        assert fragment in result.output and "Traceback" not in result.output
        assert not (tmp_path / "maps").exists()


def test_chart_draws_registry_and_published_counts():
    from pipeline.steps.ingest import validate_registry
    from pipeline.steps.openings import validate_openings

    registry = validate_registry(csv_records(REGISTRY_ROWS, HEADER))
    openings = validate_openings(csv_records(OPENING_ROWS, OPENINGS_HEADER), registry=registry,
                                 today=dt.date(2026, 1, 15))
    counts = counts_over_time(registry, openings)
    assert counts["date"].iloc[0] == pd.Timestamp("2021-11-23")
    assert counts.set_index("date").loc["2021-11-24", "ecoles_ouvertes"] == 4
    assert counts.set_index("date").loc["2024-06-01", "ecoles_ouvertes"] == 6  # ephemere closed
    fig = plot_timeline(counts)
    schools, deps = fig.get_axes()
    # Two units, two panels, each axis labelled with its unit.
    assert (schools.get_ylabel(), deps.get_ylabel()) == ("écoles", "départements")
    assert {ln.get_gid() for ln in schools.get_lines()} == {"ecoles-registre",
                                                             "ecoles-publiees"}
    assert {ln.get_gid() for ln in deps.get_lines()} == {"departements"}
    (published,) = [ln for ln in schools.get_lines() if ln.get_gid() == "ecoles-publiees"]
    assert list(published.get_ydata())[-1] == 77
    # Points, not a line: nothing was published between two figures.
    assert published.get_linestyle() == "None" and published.get_marker() == "x"
    # The symbols of the maps keep their meaning: no red triangle, no teal square here.
    markers = {ln.get_marker() for ax in (schools, deps) for ln in ax.get_lines()}
    assert not markers & {"^", "s"}
    # Sources in words, no file path.
    texts = " ".join(t.get_text().replace("\n", " ") for t in fig.texts)
    assert "registre ecoles-map" in texts and "Fondation TotalEnergies" in texts
    assert "data/raw" not in texts and ".csv" not in texts


def test_nearest_published_figure_before_or_after():
    from pipeline.config import nearest_published
    from pipeline.outputs.maps.texts import dated_subtitle, dated_title

    assert nearest_published(dt.date(2024, 12, 31)).ecoles == 71  # 14 Feb 2025, not Oct 2023
    assert nearest_published(dt.date(2022, 12, 31)).ecoles == 56
    assert nearest_published(dt.date(2021, 11, 23)).ecoles == 42
    assert dated_title(dt.date(2024, 12, 31)) == "Écoles de production au 31 décembre 2024"
    assert dated_subtitle(dt.date(2024, 12, 31), {"ecoles_ouvertes": 62}) == (
        "62 écoles ouvertes dans le registre ; le réseau en annonçait 71 le 14 février 2025")


def test_gif_frames_share_one_palette_with_the_exact_brand_colours(history_run):
    from pipeline import config
    from pipeline.outputs.maps.save import GIF_FRAME_MS, brand_colours

    out, _ = history_run
    brand = {"#000091", "#E1000F", "#00A0A0", "#FFC266"}
    assert brand <= set(brand_colours())
    legend = {config.CATEGORY_STYLE[k]["colour"] for k in ("ouverte", "annoncee")} | {
        config.STATUS_STYLE[k]["colour"] for k in ("couvert_avant_annexe",
                                                   "couvert_depuis_annexe", "annonce")}
    from PIL import GifImagePlugin

    # Frames keep their palette mode only while it is the first frame's: one shared palette.
    strategy = GifImagePlugin.LOADING_STRATEGY
    GifImagePlugin.LOADING_STRATEGY = (
        GifImagePlugin.LoadingStrategy.RGB_AFTER_DIFFERENT_PALETTE_ONLY)
    try:
        with Image.open(out / GIF_NAME) as gif:
            assert gif.n_frames == len(DATES)
            palette = gif.getpalette() or []
            entries = {"#{:02X}{:02X}{:02X}".format(*palette[i:i + 3])
                       for i in range(0, len(palette) - 2, 3)}
            assert set(brand_colours()) <= entries
            for k in range(gif.n_frames):
                gif.seek(k)
                assert gif.mode == "P", f"frame {k} has a palette of its own"
                assert gif.info["duration"] >= 3000 == GIF_FRAME_MS
                pixels = {"#{:02X}{:02X}{:02X}".format(*c)
                          for _, c in gif.convert("RGB").getcolors(1 << 20)}
                # Every colour of the legend is on every frame, exactly.
                assert legend | {"#FFFFFF"} <= pixels, (k, sorted(legend - pixels))
    finally:
        GifImagePlugin.LOADING_STRATEGY = strategy


def test_gif_refuses_frames_of_different_sizes(tmp_path):
    from pipeline.errors import RenderError

    for name, size in (("a.png", (40, 20)), ("b.png", (20, 40))):
        Image.new("RGB", size, "white").save(tmp_path / name)
    with pytest.raises(RenderError, match="même cadre"):
        write_gif([tmp_path / "a.png", tmp_path / "b.png"], tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()
