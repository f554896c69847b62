"""Tests of the reports (reconciliation, table behind the map) and of the join command."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from pipeline.outputs.tables import sites_markdown, sites_table, yes_no
from pipeline.schema import TABLE_COLUMNS
from pipeline.steps.join import mark_coverage
from pipeline.steps.report import reconcile
from tests.conftest import GOOD_ROWS
from tests.test_join import site, sites_frame, squares

OUTPUTS = ("couverture.gpkg", "ecoles.csv", "ecoles.md", "rapprochement.md", "registre.csv",
           "acces_departements.csv", "communes_les_plus_eloignees.csv", "ou_ensuite.csv")


def small_coverage() -> tuple[pd.DataFrame, pd.DataFrame]:
    cov = mark_coverage(sites_frame(
        site("b", "2A", 0.5, 1.5, existing=True, metier="bois | fer"),
        site("a", "01", 0.5, 0.5, existing=True),
        site("c", "02", 1.5, 0.5, ami="ingenierie", libelle="Dunkerque"),
    ), squares())
    return cov.sites, cov.departements


def test_sites_table_columns_order_and_values() -> None:
    sites, _ = small_coverage()
    table = sites_table(sites)
    assert tuple(table.columns) == TABLE_COLUMNS
    assert table["id"].tolist() == ["a", "c", "b"]  # by département: 01, 02, 2A
    assert table["existante_2021"].tolist() == ["oui", "non", "oui"]
    assert table.loc[1, "etiquette"] == "Dunkerque Usinage"


def test_sites_markdown_lists_new_departements_and_every_site() -> None:
    sites, deps = small_coverage()
    text = sites_markdown(sites, deps)
    new_section = text.split("## Départements nouvellement couverts")[1].split("##")[0]
    assert new_section.strip() == "- Dép 02 (02)"
    rows = [ln for ln in text.splitlines() if ln.startswith("| Dép")]
    assert [r.split(" | ")[1] for r in rows] == ["École a", "École c", "École b"]
    assert "bois \\| fer" in text  # pipes escaped, the table keeps its columns
    assert all(r.count(" | ") == 6 for r in rows)
    assert "lauréat AMI ingénierie" in text


def test_reconcile_names_new_departements() -> None:
    sites, deps = small_coverage()
    rec = reconcile(sites, deps)
    assert rec.new_departements == [("02", "Dép 02")]
    assert "Dép 02 (02)" in rec.text()
    line = next(ln for ln in rec.lines if ln.key == "nouvellement_couverts")
    assert (line.counted, line.official, line.matches) == (1, 13, False)
    assert "| départements nouvellement couverts | 13 | 1 | -12 |" in rec.markdown()


@pytest.mark.slow
def test_join_command_writes_every_output(tmp_path: Path,
                                          write_registry: Callable[..., Path]) -> None:
    registry = write_registry(GOOD_ROWS)
    out = tmp_path / "out" / "couverture.gpkg"
    result = CliRunner().invoke(main, ["join", str(registry), "--processed-dir",
                                       str(out.parent)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(OUTPUTS)
    assert (out.parent / "ecoles.csv").read_bytes().startswith(b"\xef\xbb\xbfid,nom,commune")
    assert "Rapprochement" in result.stderr
    with sqlite3.connect(out) as con:
        rows = con.execute("SELECT id, departement_spatial, categorie FROM ecoles "
                           "ORDER BY fid").fetchall()
        statuses = dict(con.execute("SELECT code, statut FROM departements").fetchall())
    assert rows == [("boisard", "69", "existante"), ("otech", "60", "investissement"),
                    ("vire", "14", "ingenierie")]
    assert len(statuses) == 101
    assert statuses["14"] == "nouvellement_couvert"
    assert statuses["60"] == statuses["69"] == "deja_couvert"
    assert statuses["75"] == "non_couvert"


def test_join_command_refuses_unknown_commune(tmp_path: Path,
                                             write_registry: Callable[..., Path]) -> None:
    registry = write_registry([*GOOD_ROWS, GOOD_ROWS[2].replace("vire,", "nulle,", 1)
                               .replace(",Vire,14,", ",Nulleville-sur-Rien,14,")])
    out = tmp_path / "out" / "couverture.gpkg"
    result = CliRunner().invoke(main, ["join", str(registry), "--processed-dir",
                                       str(out.parent)])
    assert result.exit_code == 1
    assert "Nulleville-sur-Rien" in result.stderr and ":5:" in result.stderr
    assert not out.parent.exists()


def test_join_command_refuses_site_outside_its_departement(
        tmp_path: Path, write_registry: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.steps.geocode

    real = pipeline.steps.geocode.geocode_sites

    def misplaced(sites: pd.DataFrame, gazetteer: pd.DataFrame) -> pd.DataFrame:
        out = real(sites, gazetteer)
        out.loc[out["id"].eq("vire"), ["longitude", "latitude"]] = [2.35, 48.85]  # Paris
        return out

    monkeypatch.setattr(pipeline.steps.geocode, "geocode_sites", misplaced)
    registry = write_registry(GOOD_ROWS)
    out = tmp_path / "out" / "couverture.gpkg"
    result = CliRunner().invoke(main, ["join", str(registry), "--processed-dir",
                                       str(out.parent)])
    assert result.exit_code == 1
    assert ":4: colonne 'departement' valeur '14'" in result.stderr
    assert "est dans le département 75" in result.stderr
    assert not out.parent.exists()


def test_registre_csv_is_ingested_again_unchanged(tmp_path: Path,
                                                  write_registry: Callable[..., Path]) -> None:
    """Yes/no as the registry writes them (oui/non), in registre.csv as in ecoles.csv."""
    first, again = tmp_path / "registre.csv", tmp_path / "registre-2.csv"
    for source, target in ((write_registry(GOOD_ROWS), first), (first, again)):
        result = CliRunner().invoke(main, ["ingest", str(source), "-o", str(target)])
        assert result.exit_code == 0, result.output
    assert again.read_bytes() == first.read_bytes()
    lines = first.read_text(encoding="utf-8").splitlines()
    assert [ln.split(",")[4] for ln in lines] == ["existante_2021", "oui", "oui", "non"]
    assert yes_no([True, False, 1, 0]) == ["oui", "non", "oui", "non"]

