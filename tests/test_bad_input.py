"""Bad-input suite: each case gets a clear message, a non-zero exit, and no clobbered output."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import GOOD_ROWS, HEADER


def run_ingest(registry: Path, out: Path):
    return CliRunner().invoke(main, ["ingest", str(registry), "-o", str(out)])


@pytest.fixture
def previous_output(tmp_path: Path) -> Path:
    """An output from an earlier good run, which a failed run must leave untouched."""
    out = tmp_path / "out" / "registre.csv"
    out.parent.mkdir()
    out.write_text("earlier good output\n", encoding="utf-8")
    return out


def assert_untouched(out: Path) -> None:
    assert out.read_text(encoding="utf-8") == "earlier good output\n"
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name], "temporary file left"


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "vide"),
    (HEADER.encode() + b"\n", "aucune ligne"),
    (HEADER.encode() + b"\r\n\r\n", "aucune ligne"),
    (b"\x00\xff" * 1024, "octets NUL"),
    (bytes(range(128, 256)) * 64, "ni en UTF-8 ni en Windows-1252"),
    (b"lorem ipsum;dolor sit\namet;consectetur\n" * 500, "n'est pas celui d'un registre"),
    (b"x" * (10 * 1024 * 1024), "plus de 5 Mo"),
    ((HEADER + "\n" + GOOD_ROWS[0] + "\n" + GOOD_ROWS[0]).encode(), "identifiant en double"),
    ((HEADER + '\nx,"unterminated,Lyon,69\n').encode(), "problème"),
])
def test_bad_registry_fails_cleanly(tmp_path, previous_output, content, expected):
    registry = tmp_path / "ecoles.csv"
    registry.write_bytes(content)
    result = run_ingest(registry, previous_output)
    assert result.exit_code == 1
    assert expected in result.output
    assert str(registry) in result.output
    assert "Traceback" not in result.output
    assert_untouched(previous_output)


@pytest.mark.parametrize(("encoding", "newline", "sep", "bom"), [
    ("utf-8", "\r\n", ",", False),
    ("utf-8", "\n", ",", True),
    ("utf-8", "\n", ";", False),
    ("cp1252", "\r\n", ";", False),
    ("latin-1", "\n", "\t", False),
])
def test_spreadsheet_variants_are_accepted(tmp_path, encoding, newline, sep, bom):
    text = newline.join([HEADER.replace(",", sep), *(r.replace(",", sep) for r in GOOD_ROWS)])
    registry = tmp_path / "ecoles.csv"
    registry.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    out = tmp_path / "registre.csv"
    result = run_ingest(registry, out)
    assert result.exit_code == 0, result.output
    assert "Compiègne" in out.read_text(encoding="utf-8")


def test_missing_registry_file(tmp_path, previous_output):
    result = run_ingest(tmp_path / "nope.csv", previous_output)
    assert result.exit_code == 1
    assert "nope.csv" in result.output and "introuvable" in result.output
    assert_untouched(previous_output)


def test_unwritable_output_folder(write_registry, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder is expected")
    result = run_ingest(write_registry(GOOD_ROWS), blocker / "registre.csv")
    assert result.exit_code == 1
    assert "impossible d'écrire dans" in result.output and str(blocker) in result.output
    assert blocker.read_text() == "a file where a folder is expected"


@pytest.mark.parametrize("content", [
    b"",
    HEADER.encode() + b"\n",
    b"x" * (10 * 1024 * 1024),
    (HEADER + "\n" + GOOD_ROWS[0] + "\n" + GOOD_ROWS[0]).encode(),
], ids=["empty", "header-only", "10MB-junk", "duplicate-id"])
def test_bad_registry_leaves_every_build_output_intact(tmp_path, content):
    if "build" not in main.commands:
        pytest.skip("the build command is not in cli.py yet")
    registry = tmp_path / "ecoles.csv"
    registry.write_bytes(content)
    earlier = {}
    for folder, names in (("processed", ("couverture.gpkg", "ecoles.csv", "registre.csv")),
                          ("maps", ("ecoles-de-production-2021.png",
                                    "ecoles-de-production-2021.svg"))):
        for name in names:
            path = tmp_path / folder / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(f"earlier {name}\n".encode())
            earlier[path] = path.read_bytes()
    result = CliRunner().invoke(main, ["build", str(registry), "--processed-dir",
                                       str(tmp_path / "processed"), "--maps-dir",
                                       str(tmp_path / "maps")])
    assert result.exit_code == 1
    assert str(registry) in result.output and "Traceback" not in result.output
    assert {p: p.read_bytes() for p in earlier} == earlier
    for folder in ("processed", "maps"):
        assert all(not p.name.startswith(".") for p in (tmp_path / folder).iterdir())
