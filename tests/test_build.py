"""The build command: every output from one process, published together, deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from pipeline.outputs.files import staged_outputs

REGISTRY = Path("data/raw/ecoles.csv")
OUTPUTS = ("p/couverture.gpkg", "p/ecoles.csv", "p/ecoles.md", "p/rapprochement.md",
           "p/registre.csv", "p/acces_departements.csv", "p/communes_les_plus_eloignees.csv",
           "p/ou_ensuite.csv", "m/ecoles-de-production-2021.png",
           "m/ecoles-de-production-2021.svg", "m/ecoles-de-production-2021.pdf",
           "m/ecoles-de-production-2021.txt", "m/ecoles-de-production-2021.html",
           "m/acces-30km-2021.png", "m/acces-30km-2021.svg", "m/acces-30km-2021.pdf",
           "m/acces-30km-2021.txt")

pytestmark = pytest.mark.slow


def build(tmp: Path, *extra: str, registry: Path = REGISTRY):
    return CliRunner().invoke(main, ["build", str(registry), "--processed-dir", str(tmp / "p"),
                                     "--maps-dir", str(tmp / "m"), *extra])


def snapshot(tmp: Path) -> dict[str, bytes]:
    return {name: (tmp / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("build")
    result = build(tmp)
    assert result.exit_code == 0, result.output
    return tmp


def test_build_writes_every_output_and_reconciles(built):
    for name in OUTPUTS:
        assert (built / name).stat().st_size > 0, name
    # Nothing else is left behind: no staging folder, no temporary file.
    assert sorted(p.name for p in (built / "p").iterdir()) == sorted(
        Path(n).name for n in OUTPUTS if n.startswith("p/"))
    assert sorted(p.name for p in (built / "m").iterdir()) == sorted(
        Path(n).name for n in OUTPUTS if n.startswith("m/"))


def test_build_is_byte_identical_serial_or_forked(built, tmp_path):
    result = build(tmp_path, "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert snapshot(tmp_path) == snapshot(built)


def test_render_draws_the_reach_map_from_the_geopackage_as_build_did(built, tmp_path):
    """``render`` reads the reach columns back: the same reach map, byte for byte."""
    result = CliRunner().invoke(main, ["render", str(built / "p/couverture.gpkg"),
                                       "--maps-dir", str(tmp_path), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    for ext in ("svg", "pdf", "txt"):
        name = f"acces-30km-2021.{ext}"
        assert (tmp_path / name).read_bytes() == (built / "m" / name).read_bytes(), name
    alt = (tmp_path / "acces-30km-2021.txt").read_text(encoding="utf-8")
    assert "En France, 50\u00a0% des jeunes" in alt and "Paris (100\u00a0%)" in alt


def test_registre_equals_ingest_output(built, tmp_path):
    out = tmp_path / "registre.csv"
    result = CliRunner().invoke(main, ["ingest", str(REGISTRY), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (built / "p/registre.csv").read_bytes()


def test_failed_build_leaves_previous_outputs(built, tmp_path):
    bad = tmp_path / "ecoles.csv"
    text = REGISTRY.read_text(encoding="utf-8").replace(",Flers,61,", ",Flers,,", 1)
    bad.write_text(text, encoding="utf-8")
    result = build(built, registry=bad)
    assert result.exit_code == 1
    assert "departement" in result.output and str(bad) in result.output
    # The outputs of the good build are still there, byte for byte, and nothing was staged.
    test_build_writes_every_output_and_reconciles(built)


def test_staging_publishes_all_or_nothing(tmp_path):
    target = tmp_path / "out" / "a.txt"
    target.parent.mkdir()
    target.write_text("old")
    with pytest.raises(RuntimeError), staged_outputs() as staging:
        staging.path(target).write_text("new")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]
    with staged_outputs() as staging:
        staging.path(target).write_text("new")
        staging.path(tmp_path / "out" / "b.txt").write_text("b")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt", "b.txt"]


def test_build_as_of_annex_date_is_the_annex(built, tmp_path):
    result = build(tmp_path, "--as-of", "2021-11-23")
    assert result.exit_code == 0, result.output
    assert snapshot(tmp_path) == snapshot(built)


def test_build_as_of_another_date_names_outputs_after_it(tmp_path):
    result = build(tmp_path, "--as-of", "2024-12-31", "--jobs", "1")
    assert result.exit_code == 0, result.output
    maps = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert maps == [f"acces-30km-2024-12-31.{x}" for x in ("pdf", "png", "svg", "txt")] + [
        f"ecoles-de-production-2024-12-31.{x}" for x in ("html", "pdf", "png", "svg", "txt")]
    alt = (tmp_path / "m" / "ecoles-de-production-2024-12-31.txt").read_text(encoding="utf-8")
    assert "31 décembre 2024" in alt
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [
        "acces_departements-2024-12-31.csv", "communes_les_plus_eloignees-2024-12-31.csv",
        "couverture-2024-12-31.gpkg", "ecoles-2024-12-31.csv", "ou_ensuite-2024-12-31.csv",
        "rapprochement-2024-12-31.md"]


def test_build_as_of_a_date_leaves_the_annex_outputs_intact(built):
    before = snapshot(built)
    result = build(built, "--as-of", "2024-06-30")
    assert result.exit_code == 0, result.output
    assert snapshot(built) == before
    assert (built / "p" / "couverture-2024-06-30.gpkg").is_file()
    assert (built / "m" / "ecoles-de-production-2024-06-30.png").is_file()
    for name in ("couverture-2024-06-30.gpkg", "ecoles-2024-06-30.csv",
                 "rapprochement-2024-06-30.md", "acces_departements-2024-06-30.csv",
                 "communes_les_plus_eloignees-2024-06-30.csv", "ou_ensuite-2024-06-30.csv"):
        (built / "p" / name).unlink()
    for ext in ("png", "svg", "pdf", "txt", "html"):
        (built / "m" / f"ecoles-de-production-2024-06-30.{ext}").unlink()
    for ext in ("png", "svg", "pdf", "txt"):
        (built / "m" / f"acces-30km-2024-06-30.{ext}").unlink()


@pytest.mark.parametrize("value", ["2019-02-30", "2021-11-22", "2999-01-01", "31/12/2024"])
def test_as_of_outside_the_annex_and_today_is_a_usage_error(tmp_path, value):
    result = build(tmp_path, "--as-of", value)
    assert result.exit_code == 2
    assert "--as-of" in result.output and "Traceback" not in result.output
    assert not tmp_path.joinpath("p").exists()


@pytest.mark.parametrize("option", [["--edition", "1999"], ["--preset", "poster"],
                                    ["--geocoder", "google"], ["--boundaries", "nowhere.gpkg"],
                                    ["--jobs", "0"]])
def test_bad_option_values_are_usage_errors_before_any_work(tmp_path, option):
    result = build(tmp_path, *option)
    assert result.exit_code == 2, result.output
    assert option[0] in result.output
    assert not tmp_path.joinpath("p").exists()


def test_build_with_cached_ign_boundaries_needs_no_network(built, tmp_path, monkeypatch):
    """--boundaries ign reads the cache when it holds the edition (here: a copy made offline)."""
    import urllib3

    from pipeline.config import EMBEDDED_DEPARTEMENTS

    def refuse(*args, **kwargs):
        raise AssertionError("no request expected: the edition is cached")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    cached = tmp_path / "cache" / "ign" / "departements-2021.gpkg"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(EMBEDDED_DEPARTEMENTS.read_bytes())
    result = build(tmp_path, "--boundaries", "ign", "--edition", "2021",
                   "--cache-dir", str(tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m/ecoles-de-production-2021.png").is_file()


def test_build_online_with_network_down_fails_cleanly(built, tmp_path, monkeypatch):
    import urllib3

    def refuse(address, *args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    before = snapshot(built)
    for option in (["--geocoder", "online"], ["--boundaries", "ign"]):
        result = build(built, *option, "--cache-dir", str(tmp_path / "cache"))
        assert result.exit_code == 1
        assert "embedded" in result.output and "Traceback" not in result.output
    assert snapshot(built) == before


def test_cli_and_build_import_no_heavy_library():
    """The build forks before importing pandas or matplotlib; --help must stay instant."""
    import subprocess
    import sys

    code = ("import sys, cli, pipeline.run, pipeline.sources.inputs\n"
            "import pipeline.outputs.maps.mapdata\n"
            "cli._reach((30.0, 45.0), None, 10)  # the reach options, as build parses them\n"
            "heavy = [m for m in ('pandas', 'geopandas', 'matplotlib', 'pyogrio', 'requests')"
            " if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_geocode_command_online_with_network_down(tmp_path, monkeypatch):
    import urllib3

    def refuse(address, *args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    table = tmp_path / "communes.csv"
    table.write_text("commune,departement\nFlers,61\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["geocode", str(table), str(out), "--geocoder", "online",
                                       "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 1
    assert "geo.api.gouv.fr" in result.output and "--geocoder embedded" in result.output
    assert not out.exists()


def test_download_bar_draws_on_stderr_and_is_silent_with_quiet(capsys):
    import click

    import cli

    with click.Context(cli.main) as ctx:
        ctx.meta["quiet"] = False
        update = cli._download_bar()
        assert update is not None
        for done in (0, 40_000, 100_000):
            update(done, 100_000)
    assert "téléchargement IGN" in capsys.readouterr().err
    with click.Context(cli.main) as ctx:
        ctx.meta["quiet"] = True
        assert cli._download_bar() is None
