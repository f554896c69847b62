"""Hardening, round two: hostile text, encodings, inputs that are not files, bad values, full disk.

Every refusal is checked for a message naming the file, the line and the column, exit status 1,
no traceback, and earlier outputs left byte for byte as they were (see ``test_hardening.py``).
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import logging
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from cli import main
from pipeline.errors import SourceDataError
from pipeline.run import load_openings, load_registry
from pipeline.sources.csvfile import read_csv_records
from pipeline.sources.labelfile import read_label_overrides
from pipeline.steps.geocode import fold_name
from tests.conftest import GOOD_ROWS, HEADER
from tests.test_hardening import Snapshot, assert_intact, earlier, run_pipeline
from tests.test_hardening import assert_refused as _assert_refused

__all__ = ["earlier"]  # the fixture, shared with test_hardening.py

ROW = ("{id},{nom},{commune},{departement},oui,,,{metier},2020,{confiance},"
       "https://example.org/{id},{note}")


def row(rid: str, *, nom: str = "Projet", commune: str = "Vaulx-en-Velin",
        departement: str = "69", metier: str = "usinage", confiance: str = "haute",
        note: str = "") -> str:
    return ROW.format(id=rid, nom=nom, commune=commune, departement=departement,
                      metier=metier, confiance=confiance, note=note)


@pytest.fixture
def previous(tmp_path: Path) -> Snapshot:
    """An earlier ``registre.csv`` that a refused ``ingest`` must leave as it was."""
    out = tmp_path / "out" / "registre.csv"
    out.parent.mkdir()
    out.write_bytes(b"earlier good registre.csv\n")
    return {out: out.read_bytes()}


def ingest(registry: Path, snapshot: Snapshot | Path) -> Result:
    out = next(iter(snapshot)) if isinstance(snapshot, dict) else snapshot
    return CliRunner().invoke(main, ["ingest", str(registry), "-o", str(out)])


def assert_refused(result: Result, *fragments: str) -> None:
    """As in test_hardening.py, and the refusal is the CLI's, not an escaped exception."""
    _assert_refused(result, *fragments)
    assert isinstance(result.exception, SystemExit), result.exception


def read_written_csv(path: Path) -> list[dict[str, str]]:
    # Bytes, not read_text: universal newlines would turn a lone CR into a line end.
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


# --- 1. Control characters and NUL, anywhere in the file -----------------------------------------
@pytest.mark.parametrize("char", ["\x01", "\x1b", "\x7f", "\x85", "\x00"],
                         ids=["SOH", "ESC", "DEL", "C1-NEL", "NUL"])
def test_control_character_is_refused_with_line_and_column(
        char: str, write_registry: Callable[..., Path], previous: Snapshot) -> None:
    registry = write_registry([GOOD_ROWS[0], GOOD_ROWS[1], row("x", nom=f"Projet{char}X")])
    result = ingest(registry, previous)
    assert_refused(result, f"{registry}:4", "colonne 'nom'", f"U+{ord(char):04X}")
    assert_intact(previous)


def test_nul_far_into_the_file_is_refused(write_registry: Callable[..., Path],
                                          previous: Snapshot) -> None:
    rows = [row(f"s{i}", nom=f"École numéro {i}") for i in range(1200)]
    rows[1100] = row("s1100", nom="École\x00cachée")
    registry = write_registry(rows)
    assert registry.read_bytes().index(b"\x00") > 65536
    result = ingest(registry, previous)
    assert_refused(result, f"{registry}:1102", "colonne 'nom'", "U+0000")
    assert_intact(previous)


def test_control_character_in_a_multiline_cell_names_its_own_line(
        write_registry: Callable[..., Path], previous: Snapshot) -> None:
    registry = write_registry([GOOD_ROWS[0], row("x", nom='"Ligne une\nLigne\x1b deux"')])
    result = ingest(registry, previous)
    assert_refused(result, f"{registry}:4", "colonne 'nom'", "U+001B")
    assert_intact(previous)


def test_control_characters_are_refused_in_label_offsets_too(tmp_path: Path) -> None:
    path = tmp_path / "etiquettes.csv"
    path.write_text("id,dx,dy\nboisard,1,2\nvire\x07,3,4\n", encoding="utf-8")
    with pytest.raises(SourceDataError) as err:
        read_label_overrides(path)
    assert f"{path}:3" in str(err.value) and "U+0007" in str(err.value)


@pytest.mark.parametrize("command", ["join", "build"])
@pytest.mark.parametrize("bad", [
    row("x", nom="Projet\x1b[31mX"),
    row("x", nom="Projet d'@cole"),
    row("x").replace(",2020,", ",2019-02-30,"),
    row("x").replace(",2020,", f",{dt.date.today().year + 1}-09,"),
], ids=["escape", "latin-1-byte", "no-such-day", "future"])
def test_hostile_registry_leaves_earlier_outputs_intact(
        command: str, bad: str, write_registry: Callable[..., Path], tmp_path: Path,
        earlier: Snapshot) -> None:
    registry = write_registry([GOOD_ROWS[0], bad])
    registry.write_bytes(registry.read_bytes().replace(b"d'@cole", b"d'\xe9cole"))
    assert_refused(run_pipeline(command, registry, tmp_path), f"{registry}:3", "colonne")
    assert_intact(earlier)


# --- 1. Spreadsheet formulas in the CSVs the pipeline writes -------------------------------------
FORMULAS = {
    "nom": '=HYPERLINK("https://evil.example","clic")',
    "metier": "+cmd|' /C calc'!A0",
    "note": "@SUM(1+1)",
}


def formula_registry(write_registry: Callable[..., Path]) -> Path:
    quoted = {k: '"' + v.replace('"', '""') + '"' for k, v in FORMULAS.items()}
    return write_registry([GOOD_ROWS[0], GOOD_ROWS[2],
                           row("formule", nom=quoted["nom"], metier=quoted["metier"],
                               note=quoted["note"])])


@pytest.mark.slow
def test_formula_cells_are_neutralised_in_ecoles_and_registre_csv(
        write_registry: Callable[..., Path], tmp_path: Path) -> None:
    registry = formula_registry(write_registry)
    assert run_pipeline("join", registry, tmp_path).exit_code == 0
    assert ingest(registry, tmp_path / "registre.csv").exit_code == 0
    for path in (tmp_path / "processed" / "ecoles.csv", tmp_path / "registre.csv"):
        rows = {r["id"]: r for r in read_written_csv(path)}
        for column, value in FORMULAS.items():
            if column in rows["formule"]:  # ecoles.csv has no note
                assert rows["formule"][column] == "'" + value, (path, column)
        assert not any(cell.startswith(("=", "+", "@")) for r in rows.values()
                       for cell in r.values())
    # Plain numbers stay numbers: Vire lies west of Greenwich.
    sites = {r["id"]: r for r in read_written_csv(tmp_path / "processed" / "ecoles.csv")}
    assert sites["vire"]["longitude"].startswith("-0.")


def test_registre_csv_is_ingested_again_unchanged(write_registry: Callable[..., Path],
                                                  tmp_path: Path) -> None:
    registry = formula_registry(write_registry)
    first, second = tmp_path / "registre.csv", tmp_path / "registre-2.csv"
    assert ingest(registry, first).exit_code == 0
    assert ingest(first, second).exit_code == 0
    assert second.read_bytes() == first.read_bytes()
    again = load_registry(first)
    assert again.set_index("id").loc["formule", "nom"] == FORMULAS["nom"]
    pd.testing.assert_frame_equal(again, load_registry(registry))


def test_readme_documents_the_formula_guard() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "OWASP" in readme and "=HYPERLINK" in readme


# --- 1. Markdown and HTML in names -----------------------------------------------------------
@pytest.mark.slow
def test_markdown_and_html_in_names_are_escaped(write_registry: Callable[..., Path],
                                                tmp_path: Path) -> None:
    registry = write_registry([
        GOOD_ROWS[0],
        row("html", nom="<img src=x onerror=alert(1)>", confiance="basse"),
        row("lien", nom="**Gras** [clic](https://evil.example)", metier="a | b",
            confiance="basse"),
        row("titre", nom="# Titre", metier="`code`"),
    ])
    assert run_pipeline("join", registry, tmp_path).exit_code == 0
    md = (tmp_path / "processed" / "ecoles.md").read_text(encoding="utf-8")
    assert "<img" not in md.replace("\\<img", "")
    assert "\\<img src=x onerror=alert(1)\\>" in md
    assert "\\*\\*Gras\\*\\* \\[clic\\](https://evil.example)" in md
    assert "| \\# Titre |" in md and "\\`code\\`" in md
    table = [line for line in md.splitlines() if line.startswith("| ")]
    cells = {line.replace("\\|", "").count("|") for line in table}
    assert cells == {8}, table  # every row keeps its 7 columns
    reconciliation = (tmp_path / "processed" / "rapprochement.md").read_text(encoding="utf-8")
    assert "- `html` : \\<img src=x onerror=alert(1)\\>" in reconciliation
    assert "\\*\\*Gras\\*\\*" in reconciliation and "<img" not in reconciliation.replace(
        "\\<img", "")


# --- 1. Line breaks inside quoted cells ------------------------------------------------------
def test_line_breaks_in_quoted_cells_are_quoted_and_keep_later_line_numbers(
        write_registry: Callable[..., Path], tmp_path: Path) -> None:
    registry = write_registry([
        GOOD_ROWS[0],
        row("crlf", nom='"Ligne A\r\nsuite"'),
        row("cr", nom='"Ligne B\rsuite"'),
        row("lf", nom='"Ligne C\nsuite"'),
        row("faux", departement="99"),
    ])
    # Lines: header 1, boisard 2, crlf 3-4, cr 5-6, lf 7-8, faux 9.
    assert_refused(ingest(registry, tmp_path / "r.csv"), f"{registry}:9:", "'99'")
    data = registry.read_bytes()
    fixed = tmp_path / "sans-faux.csv"
    fixed.write_bytes(data[:data.index(b"faux,")])
    out = tmp_path / "registre.csv"
    assert ingest(fixed, out).exit_code == 0
    names = {r["id"]: r["nom"] for r in read_written_csv(out)}
    assert names == {"boisard": "École Boisard", "crlf": "Ligne A\nsuite",
                     "cr": "Ligne B\nsuite", "lf": "Ligne C\nsuite"}
    # The written registry, with a bad row appended, reports that row at its own line.
    data = out.read_bytes()
    bad = tmp_path / "registre-plus.csv"
    bad.write_bytes(data + row("faux", departement="99").encode() + b"\n")
    line = data.count(b"\n") + 1
    assert_refused(ingest(bad, tmp_path / "r2.csv"), f"{bad}:{line}:", "'99'")


# --- 2. Encodings --------------------------------------------------------------------------
def test_stray_latin1_byte_in_a_utf8_file_is_reported_at_its_line(
        write_registry: Callable[..., Path], previous: Snapshot) -> None:
    registry = write_registry([*GOOD_ROWS, row("x", nom="Projet d'@cole")])
    registry.write_bytes(registry.read_bytes().replace(b"d'@cole", b"d'\xe9cole"))
    result = ingest(registry, previous)
    assert_refused(result, f"{registry}:5", "colonne 'nom'", "0xE9", "pas de l'UTF-8 valide",
                   "enregistrez le fichier en UTF-8")
    assert_intact(previous)


def test_whole_file_windows_1252_is_still_accepted(write_registry: Callable[..., Path],
                                                   tmp_path: Path) -> None:
    # 0x9C is "œ" in Windows-1252 (a C1 control in Latin-1): it must not be refused.
    registry = write_registry([*GOOD_ROWS, row("x", nom="Cœur d'ouvrage")], encoding="cp1252")
    out = tmp_path / "registre.csv"
    assert ingest(registry, out).exit_code == 0
    assert "Cœur d'ouvrage" in out.read_text(encoding="utf-8")


@pytest.mark.slow
def test_commune_names_are_normalised_before_matching(write_registry: Callable[..., Path],
                                                      tmp_path: Path) -> None:
    assert fold_name("Vi\u200bre") == fold_name("Vire") == "vire"
    assert fold_name("Compie\u0300gne") == fold_name("Compiègne")
    assert fold_name("Saint\u00a0Étienne") == fold_name("Saint\u202fÉtienne") == "saint etienne"
    registry = write_registry([
        row("nfd", commune="Compie\u0300gne", departement="60"),
        row("nbsp", commune="Vaulx-en\u00a0Velin"),
        row("zwsp", commune="Vi\u200bre", departement="14"),
    ])
    assert run_pipeline("join", registry, tmp_path).exit_code == 0
    sites = {r["id"]: r for r in read_written_csv(tmp_path / "processed" / "ecoles.csv")}
    assert {k: v["code_insee"] for k, v in sites.items()} == {
        "nfd": "60159", "nbsp": "69256", "zwsp": "14762"}
    assert sites["nfd"]["commune"] == "Compiègne"  # NFC, as typed on a French keyboard
    assert sites["zwsp"]["commune"] == "Vire" and sites["nbsp"]["commune"] == "Vaulx-en Velin"


# --- 3. Inputs that are not files ----------------------------------------------------------------
def _registry_reader(path: Path, folder: Path) -> str:
    with pytest.raises(SourceDataError) as err:
        load_registry(path)
    return str(err.value)


def _openings_reader(path: Path, folder: Path) -> str:
    registry = load_registry(_good_registry(folder))
    with pytest.raises(SourceDataError) as err:
        load_openings(path, registry)
    return str(err.value)


def _labels_reader(path: Path, folder: Path) -> str:
    with pytest.raises(SourceDataError) as err:
        read_label_overrides(path)
    return str(err.value)


def _good_registry(folder: Path) -> Path:
    path = folder / "bon-registre.csv"
    path.write_text("\n".join([HEADER, *GOOD_ROWS, ""]), encoding="utf-8")
    return path


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path (a Unix socket path is limited to about 100 bytes)."""
    with tempfile.TemporaryDirectory(prefix="em-") as folder:
        yield Path(folder)


def _make(kind: str, folder: Path, keep: list[socket.socket]) -> Path:
    path = folder / "entree.csv"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "symlink loop":
        path.symlink_to(folder / "boucle.csv")
        (folder / "boucle.csv").symlink_to(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        keep.append(server)
    else:  # a device
        return Path(kind)
    return path


@pytest.mark.parametrize("reader", [_registry_reader, _openings_reader, _labels_reader],
                         ids=["registry", "openings", "label-offsets"])
@pytest.mark.parametrize(("kind", "expected"), [
    ("fifo", "tube nommé"),
    ("folder", "dossier"),
    ("symlink loop", "boucle de liens symboliques"),
    ("socket", "socket"),
    ("/dev/null", "périphérique"),
    ("/dev/zero", "périphérique"),
], ids=["fifo", "folder", "symlink-loop", "socket", "dev-null", "dev-zero"])
def test_input_that_is_not_a_file_is_refused_at_once(
        kind: str, expected: str, reader: Callable[[Path, Path], str], short_dir: Path) -> None:
    keep: list[socket.socket] = []
    path = _make(kind, short_dir, keep)
    try:
        message = reader(path, short_dir)
    finally:
        for sock in keep:
            sock.close()
    assert str(path) in message and expected in message, message
    assert "pas un fichier ordinaire" in message or kind in {"folder", "symlink loop"}


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_ingest_of_a_fifo_or_a_device_ends_at_once(kind: str, short_dir: Path,
                                                   previous: Snapshot) -> None:
    path = _make(kind, short_dir, [])
    assert_refused(ingest(path, previous), str(path), "pas un fichier ordinaire")
    assert_intact(previous)


def test_size_limit_holds_on_what_is_read_not_on_stat(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "gros.csv"
    path.write_bytes(b"id,nom\n" + b"x,y\n" * (2 * 1024 * 1024))  # 8 MB
    real_stat, real_fstat = os.stat, os.fstat

    def lying(result: os.stat_result) -> os.stat_result:
        # Like /proc files and devices: a size of 0 whatever can be read.
        fields = list(result)
        fields[6] = 0
        return os.stat_result(fields)

    monkeypatch.setattr(os, "stat", lambda *a, **k: lying(real_stat(*a, **k)))
    monkeypatch.setattr(os, "fstat", lambda *a, **k: lying(real_fstat(*a, **k)))
    with pytest.raises(SourceDataError, match="plus de 5 Mo") as err:
        read_csv_records(path)
    assert str(path) in str(err.value)


# --- 4. Values -------------------------------------------------------------------------------
@pytest.mark.parametrize("ouverture", ["2019-02-30", "0000", "2019-00", "1700-05"])
def test_registry_opening_must_be_a_real_date(ouverture: str, write_registry: Callable[..., Path],
                                              previous: Snapshot) -> None:
    registry = write_registry([GOOD_ROWS[0], row("x").replace(",2020,", f",{ouverture},")])
    result = ingest(registry, previous)
    assert_refused(result, f"{registry}:3", "colonne 'ouverture'", f"'{ouverture}'")
    assert_intact(previous)


def test_existing_school_cannot_open_in_the_future(write_registry: Callable[..., Path],
                                                   previous: Snapshot, tmp_path: Path) -> None:
    year = dt.date.today().year + 2
    future = row("x").replace(",2020,", f",{year}-09,")
    result = ingest(write_registry([GOOD_ROWS[0], future]), previous)
    assert_refused(result, ":3:", "colonne 'ouverture'", f"'{year}-09'", "dans le futur")
    assert_intact(previous)
    # A laureate that is not open yet may announce its opening.
    planned = future.replace(",oui,,", ",non,ingenierie,")
    assert ingest(write_registry([GOOD_ROWS[0], planned]), tmp_path / "ok.csv").exit_code == 0


def test_label_offsets_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "etiquettes.csv"
    path.write_text("id,dx,dy\nboisard,250,-250\nvire,1e6,2\notech,3,-4000\n", encoding="utf-8")
    with pytest.raises(SourceDataError) as err:
        read_label_overrides(path)
    message = str(err.value)
    assert f"{path}:3: colonne 'dx' valeur '1e6'" in message
    assert f"{path}:4: colonne 'dy' valeur '-4000'" in message
    assert ":2:" not in message and "300 points" in message


def test_unknown_id_in_label_offsets_is_a_warning_naming_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "etiquettes.csv"
    path.write_text("id,dx,dy\nboisard,10,-8\nfantome,3,4\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        offsets = read_label_overrides(path, known_ids={"boisard", "vire"})
    assert offsets == {"boisard": (10.0, -8.0)}
    assert f"{path}:3" in caplog.text and "'fantome'" in caplog.text
    assert read_label_overrides(path) == {"boisard": (10.0, -8.0), "fantome": (3.0, 4.0)}


# --- 6. A full disk while writing the outputs --------------------------------------------------
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS])
def test_full_disk_while_writing_is_a_clear_message(
        code: int, write_registry: Callable[..., Path], previous: Snapshot,
        monkeypatch: pytest.MonkeyPatch) -> None:
    registry = write_registry(GOOD_ROWS)

    def full(self: Path, data: bytes) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Path, "write_bytes", full)
    result = ingest(registry, previous)
    out = next(iter(previous))
    assert_refused(result, str(out))
    assert {errno.ENOSPC: "disque plein", errno.EDQUOT: "quota",
            errno.EROFS: "lecture seule"}[code] in result.output
    assert_intact(previous)
