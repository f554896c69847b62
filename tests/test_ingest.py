from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from pipeline.errors import SourceDataError
from pipeline.run import load_registry
from pipeline.steps.ingest import normalize_departement
from tests.conftest import GOOD_ROWS, HEADER


def problems_of(path) -> list[str]:
    with pytest.raises(SourceDataError) as info:
        load_registry(path)
    return [str(p) for p in info.value.problems]


def test_valid_registry_is_typed(write_registry):
    sites = load_registry(write_registry(GOOD_ROWS))
    assert list(sites["id"]) == ["boisard", "otech", "vire"]
    assert sites["existante_2021"].tolist() == [True, True, False]
    assert pd.isna(sites.loc[0, "ami_2021"])
    assert sites.loc[1, "sources"] == "https://example.org/b | https://example.org/c"


@pytest.mark.parametrize(("raw", "code"), [
    ("1", "01"), ("01", "01"), ("2a", "2A"), ("2B", "2B"), (" 971 ", "971"), ("75", "75"),
    ("20", None), ("975", None), ("96", None), ("abc", None), ("", None), ("0", None),
])
def test_normalize_departement(raw, code):
    assert normalize_departement(raw) == code


@pytest.mark.parametrize(("row", "line_fragment"), [
    ("x,Nom,Lyon,69,oui,,,,,haute,,", "colonne 'sources' valeur '': vide"),
    ("x,Nom,,69,oui,,,,,haute,https://e.org,", "colonne 'commune' valeur '': vide"),
    ("x,Nom,Lyon,20,oui,,,,,haute,https://e.org,", "colonne 'departement' valeur '20'"),
    ("x,Nom,Lyon,6 9,oui,,,,,haute,https://e.org,", "colonne 'departement' valeur '6 9'"),
    ("x,Nom,Lyon,69,peut-être,,,,,haute,https://e.org,", "colonne 'existante_2021'"),
    ("x,Nom,Lyon,69,oui,subvention,,,,haute,https://e.org,",
     "colonne 'ami_2021' valeur 'subvention'"),
    ("x,Nom,Lyon,69,oui,,,,,certaine,https://e.org,", "colonne 'confiance' valeur 'certaine'"),
    ("x,Nom,Lyon,69,oui,,,,2021-13,haute,https://e.org,", "colonne 'ouverture' valeur '2021-13'"),
    ("x,Nom,Lyon,69,oui,,,,,haute,www.e.org,", "colonne 'sources' valeur 'www.e.org'"),
    ("X Y,Nom,Lyon,69,oui,,,,,haute,https://e.org,", "colonne 'id' valeur 'X Y'"),
])
def test_each_bad_value_is_reported_with_file_line_column(write_registry, row, line_fragment):
    path = write_registry([*GOOD_ROWS, row])
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:5:")
    assert line_fragment in problems[0]


def test_all_problems_reported_in_one_run(write_registry):
    path = write_registry([
        *GOOD_ROWS,
        "boisard,Doublon,Lyon,69,oui,,,,,haute,https://e.org,",
        "y,Nom,,999,maybe,,,,,,https://e.org,",
    ])
    problems = problems_of(path)
    assert any(":5:" in p and "identifiant en double, déjà utilisé ligne 2" in p for p in problems)
    assert sum(":6:" in p for p in problems) == 4  # commune, departement, existante, confiance


def test_missing_and_unknown_columns(write_registry):
    header = HEADER.replace("confiance", "fiabilite")
    problems = problems_of(write_registry(GOOD_ROWS, header=header))
    assert any("colonne 'confiance'" in p and "absente" in p for p in problems)
    assert any("colonne 'fiabilite'" in p and "inconnue" in p for p in problems)


def test_spreadsheet_export_semicolon_latin1_crlf_bom(write_registry, tmp_path):
    rows = [r.replace(",", ";") for r in GOOD_ROWS]
    latin = write_registry(rows, header=HEADER.replace(",", ";"), encoding="cp1252",
                           newline="\r\n")
    sites = load_registry(latin)
    assert sites.loc[1, "commune"] == "Compiègne"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + "\n".join([HEADER, *GOOD_ROWS]).encode())
    assert load_registry(bom)["id"].tolist() == ["boisard", "otech", "vire"]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "vide"),
    (HEADER.encode() + b"\n", "aucune ligne"),
    (b"\x00\x01junk" * 1000, "octets NUL"),
])
def test_unusable_files(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(SourceDataError, match=message):
        load_registry(path)


def test_cli_ingest_lists_problems_and_writes_nothing(write_registry, tmp_path):
    path = write_registry([*GOOD_ROWS, "x,Nom,,69,oui,,,,,haute,,"])
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["ingest", str(path), "-o", str(out)])
    assert result.exit_code == 1
    assert f"{path}:5: colonne 'commune'" in result.output
    assert f"{path}:5: colonne 'sources'" in result.output
    assert not out.exists()


def test_cli_ingest_writes_clean_copy_and_reconciliation(write_registry, tmp_path):
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["ingest", str(write_registry(GOOD_ROWS)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "écoles existantes" in result.output and "2 / 42" in result.output
    assert pd.read_csv(out, dtype=str)["departement"].tolist() == ["69", "60", "14"]
