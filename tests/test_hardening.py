"""Hardening: wrong places, broken boundaries, unwritable folders, no network.

Each case checks a clear message (file, line, value), a non-zero exit, and that the outputs
of an earlier good run are byte-identical afterwards with no temporary file left beside them.
Registry encodings, separators, junk and duplicates are in ``test_bad_input.py``; damaged IGN
caches and archives (fetched again, or deleted with a clear error) are in ``test_online.py``
(``test_damaged_cache_is_fetched_again``, ``test_damaged_archive_is_deleted_with_a_clear_error``)
and not repeated here; only their combination with a network that is down is.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import urllib3.util.connection
from click.testing import CliRunner, Result

from cli import main
from pipeline.config import EMBEDDED_DEPARTEMENTS
from pipeline.errors import BoundaryError, NetworkError, SourceDataError
from pipeline.sources.inputs import read_departements
from tests.conftest import GOOD_ROWS

HAS_BUILD = "build" in main.commands
PROCESSED = ("couverture.gpkg", "ecoles.csv", "ecoles.md", "rapprochement.md")
MAPS = ("ecoles-de-production-2021.png", "ecoles-de-production-2021.svg",
        "ecoles-de-production-2021.txt")
COMMANDS = ["join", pytest.param("build", marks=pytest.mark.skipif(
    not HAS_BUILD, reason="the build command is not in cli.py yet"))]


# --- Earlier outputs, and the check that a failed run left them alone --------------------------
Snapshot = dict[Path, bytes]


@pytest.fixture
def earlier(tmp_path: Path) -> Snapshot:
    """Outputs of an earlier good run in ``processed/`` and ``maps/`` (distinct bytes each)."""
    snapshot: Snapshot = {}
    for folder, names in (("processed", PROCESSED), ("maps", MAPS)):
        (tmp_path / folder).mkdir()
        for name in names:
            path = tmp_path / folder / name
            path.write_bytes(f"earlier good {name}\n".encode())
            snapshot[path] = path.read_bytes()
    return snapshot


def assert_intact(snapshot: Snapshot) -> None:
    """Every earlier output has its bytes, and no other file (temporary) sits beside them."""
    for path, data in snapshot.items():
        assert path.read_bytes() == data, f"{path} was changed by a failed run"
    for folder in {p.parent for p in snapshot}:
        expected = {p.name for p in snapshot if p.parent == folder}
        assert {p.name for p in folder.iterdir()} == expected, f"files left in {folder}"


def run_pipeline(command: str, registry: Path, root: Path) -> Result:
    """Run ``join`` or ``build`` writing into ``root/processed`` (and ``root/maps``)."""
    if command == "join":
        args = ["join", str(registry), "--processed-dir", str(root / "processed")]
    else:
        args = ["build", str(registry), "--processed-dir", str(root / "processed"),
                "--maps-dir", str(root / "maps"), "--jobs", "1"]
    return CliRunner().invoke(main, args)


def assert_refused(result: Result, *fragments: str) -> None:
    """Exit status 1, a message holding every fragment, no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"


# --- Places that do not exist or are in the wrong département ----------------------------------
BAD_ROW = "x,Projet X,{commune},{departement},oui,,,usinage,2020,haute,https://example.org/x,"


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("commune", "departement", "expected"), [
    ("Nulle-Part-sur-Rien", "69", ["'Nulle-Part-sur-Rien'", "introuvable"]),
    ("Lyon", "99", ["'99'", "pas un code de département français", "'departement'"]),
    # Flers exists in 61, 62 and 80: the message names them rather than guessing.
    ("Flers", "14", ["'Flers'", "département 14", "Flers (61)", "Flers (62)", "Flers (80)"]),
    ("Compiègne", "02", ["'Compiègne'", "département 02", "Compiègne (60)"]),
])
def test_wrong_place_is_refused_and_nothing_is_written(
        command: str, commune: str, departement: str, expected: list[str],
        write_registry: Callable[..., Path], tmp_path: Path, earlier: Snapshot) -> None:
    registry = write_registry([GOOD_ROWS[0], BAD_ROW.format(commune=commune,
                                                            departement=departement)])
    result = run_pipeline(command, registry, tmp_path)
    assert_refused(result, f"{registry}:3", *expected)
    assert_intact(earlier)


def test_ambiguous_commune_without_departement_column(tmp_path: Path) -> None:
    # The registry requires a département; any CSV given to `geocode` may lack it.
    table = tmp_path / "villes.csv"
    table.write_text("nom,commune\nA,Lyon\nB,Flers\n", encoding="utf-8")
    out = tmp_path / "out" / "villes-geocodees.csv"
    result = CliRunner().invoke(main, ["geocode", str(table), str(out)])
    assert_refused(result, f"{table}:3", "'Flers'", "ambigu", "61169", "62337", "80314",
                   "colonne 'departement'")
    # geocode writes the table even then (documented): complete, the ambiguous row flagged.
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert written["statut_geocodage"].tolist() == ["ok", "ambigu"]
    assert written.loc[1, "code_insee"] == ""
    assert [p.name for p in out.parent.iterdir()] == [out.name]


@pytest.fixture(scope="module")
def swapped_boundaries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded départements with the codes of Rhône (69) and Isère (38) swapped."""
    departements = read_departements()[0]
    codes = departements["code"].replace({"69": "38", "38": "69"})
    path = tmp_path_factory.mktemp("boundaries") / "departements.gpkg"
    departements.assign(code=codes).to_file(path, layer="departements")
    return path


def test_site_outside_its_declared_departement(swapped_boundaries: Path,
                                               write_registry: Callable[..., Path]) -> None:
    from pipeline.run import prepare
    from pipeline.sources.inputs import Sources

    registry = write_registry(GOOD_ROWS)
    with pytest.raises(SourceDataError) as err:
        prepare(registry, sources=Sources(boundaries=swapped_boundaries))
    message = str(err.value)
    assert f"{registry}:2" in message and "'69'" in message
    assert "'boisard'" in message and "est dans le département 38" in message
    assert "hors de leur département déclaré" in message


# --- Damaged boundaries files -------------------------------------------------------------------
def damaged(kind: str, folder: Path) -> Path:
    """A copy of the embedded GeoPackage truncated or overwritten, or another broken file."""
    original = EMBEDDED_DEPARTEMENTS.read_bytes()
    if kind.startswith("truncated"):
        data = original[: int(len(original) * float(kind.split()[1]))]
    elif kind.startswith("page"):
        # One 4 kB page overwritten, the size unchanged: a disk or copy error.
        at = int(len(original) * float(kind.split()[1])) // 4096 * 4096
        data = original[:at] + b"\xde\xad" * 2048 + original[at + 4096:]
    elif kind == "empty":
        data = b""
    else:
        data = b'{"type": "FeatureCollection", "features": [{"type": "Feat'
    path = folder / ("departements.geojson" if kind == "geojson" else "departements.gpkg")
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", [
    "truncated 0.1", "truncated 0.5", "truncated 0.99", "empty", "geojson", "page 0.6",
    "page 0.2", "page 0.5",
])
def test_damaged_boundaries_file_raises_boundary_error(kind: str, tmp_path: Path) -> None:
    path = damaged(kind, tmp_path)
    with pytest.raises(BoundaryError) as err:
        read_departements(path)
    assert str(path) in str(err.value)


def test_damaged_boundaries_file_leaves_earlier_outputs(
        tmp_path: Path, earlier: Snapshot, write_registry: Callable[..., Path]) -> None:
    from pipeline.run import prepare
    from pipeline.sources.inputs import Sources

    with pytest.raises(BoundaryError):
        prepare(write_registry(GOOD_ROWS),
                sources=Sources(boundaries=damaged("truncated 0.5", tmp_path)))
    assert_intact(earlier)


# --- Output folders that cannot be written ------------------------------------------------------
@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A regular file where a folder is expected (permissions do not stop root)."""
    path = tmp_path / "not-a-folder"
    path.write_text("a file where a folder is expected\n")
    return path


@pytest.mark.slow
def test_join_into_unwritable_folder(write_registry: Callable[..., Path], blocker: Path
                                     ) -> None:
    result = run_pipeline("join", write_registry(GOOD_ROWS), blocker / "sub")
    assert_refused(result, "impossible d'écrire dans", str(blocker))
    assert blocker.read_text() == "a file where a folder is expected\n"


@pytest.mark.slow
def test_render_into_unwritable_folder(write_registry: Callable[..., Path], tmp_path: Path,
                                       blocker: Path) -> None:
    gpkg = tmp_path / "c" / "couverture.gpkg"
    assert CliRunner().invoke(main, ["join", str(write_registry(GOOD_ROWS)), "--processed-dir",
                                     str(gpkg.parent)]).exit_code == 0
    result = CliRunner().invoke(main, ["render", str(gpkg), "--maps-dir", str(blocker / "maps")])
    assert_refused(result, str(blocker))
    assert blocker.read_text() == "a file where a folder is expected\n"


@pytest.mark.slow
@pytest.mark.skipif(not HAS_BUILD, reason="the build command is not in cli.py yet")
@pytest.mark.parametrize("unwritable", ["--maps-dir", "--processed-dir"])
def test_build_is_all_or_nothing_when_one_folder_is_unwritable(
        unwritable: str, write_registry: Callable[..., Path], tmp_path: Path, blocker: Path,
        earlier: Snapshot) -> None:
    folders = {"--processed-dir": tmp_path / "processed", "--maps-dir": tmp_path / "maps"}
    folders[unwritable] = blocker / "sub"
    args = ["build", str(write_registry(GOOD_ROWS)), "--jobs", "1"]
    for option, folder in folders.items():
        args += [option, str(folder)]
    result = CliRunner().invoke(main, args)
    assert_refused(result, str(blocker))
    # The other folder keeps the earlier outputs: the build writes all of them or none.
    assert_intact({p: b for p, b in earlier.items() if p.parent in folders.values()})


# --- Network down, for every online path --------------------------------------------------------
@pytest.fixture
def network_down(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """Refuse every TCP connection that urllib3 (so requests, contextily) opens; log them.

    Caches go to an empty temporary folder, so nothing is answered from a real cache.
    """
    attempts: list[str] = []

    def refuse(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        attempts.append(f"{address[0]}:{address[1]}")
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    monkeypatch.setenv("ECOLES_MAP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    yield attempts


@pytest.mark.parametrize("edition", ["2021", "latest"])
def test_ign_boundaries_with_network_down(network_down: list[str], edition: str,
                                          tmp_path: Path) -> None:
    with pytest.raises(NetworkError) as err:
        read_departements("ign", edition=edition)
    assert "data.geopf.fr" in str(err.value) and "--boundaries embedded" in str(err.value)
    assert network_down == ["data.geopf.fr:443"]  # refused at once: no retry
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert leftovers == []


def test_damaged_ign_cache_with_network_down(network_down: list[str], tmp_path: Path) -> None:
    cached = tmp_path / "cache" / "ign" / "departements-2021.gpkg"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(EMBEDDED_DEPARTEMENTS.read_bytes()[:5000])
    with pytest.raises(NetworkError, match="--boundaries embedded"):
        read_departements("ign", edition="2021")
    assert network_down == ["data.geopf.fr:443"]


def test_online_geocoder_with_network_down(network_down: list[str]) -> None:
    from pipeline.sources.geoapi import geocode_online

    with pytest.raises(NetworkError, match="--geocoder embedded") as err:
        geocode_online(pd.DataFrame({"commune": ["Flers"], "departement": ["61"]}))
    assert "geo.api.gouv.fr" in str(err.value)
    assert network_down == ["geo.api.gouv.fr:443"]


@pytest.mark.slow
def test_plan_ign_basemap_with_network_down(network_down: list[str], tmp_path: Path,
                                            write_registry: Callable[..., Path],
                                            earlier: Snapshot) -> None:
    gpkg = tmp_path / "c" / "couverture.gpkg"
    assert CliRunner().invoke(main, ["join", str(write_registry(GOOD_ROWS)), "--processed-dir",
                                     str(gpkg.parent)]).exit_code == 0
    result = CliRunner().invoke(main, ["render", str(gpkg), "--basemap", "plan-ign",
                                       "--maps-dir", str(tmp_path / "maps"), "--jobs", "1"])
    assert_refused(result, "Plan IGN", "sans --basemap", "Aucune carte n'a été écrite")
    assert network_down and all(a.endswith(":443") for a in network_down)
    assert_intact(earlier)
