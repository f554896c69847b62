"""The README's analyst questions run as written, from a repository root after `make map`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from cli import main

#: Every test here reads a full build of the real registry: the full tier only.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- analyst-questions -->\n```sh\n(.*?)\n```\n<!-- /analyst-questions -->",
                   re.S)


def readme_lines() -> list[str]:
    """The command lines of the README's block of analyst questions (comments left out)."""
    found = BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md: the block of analyst questions is missing"
    return [ln for ln in found.group(1).splitlines() if ln.strip() and not ln.startswith("#")]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository root as `make map` leaves it: data/processed written, .venv beside."""
    folder = tmp_path_factory.mktemp("depot")
    result = CliRunner().invoke(main, ["join", str(ROOT / "data/raw/ecoles.csv"),
                                       "--processed-dir", str(folder / "data/processed")])
    assert result.exit_code == 0, result.output
    (folder / ".venv").symlink_to(sys.prefix)
    return folder


def run(line: str, root: Path) -> str:
    done = subprocess.run(["bash", "-c", line], cwd=root, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, f"{line}\n{done.stderr}"
    return done.stdout.strip()


def test_there_are_three_one_line_questions() -> None:
    lines = readme_lines()
    assert len(lines) == 3
    assert all("data/processed/" in ln for ln in lines)


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 command")
def test_the_questions_answer_what_the_data_says(root: Path) -> None:
    region, far, next_school = (run(line, root) for line in readme_lines())
    gpkg = root / "data/processed/couverture.gpkg"
    # The same answers, computed another way.
    sites = pyogrio.read_dataframe(gpkg, layer="ecoles", read_geometry=False)
    counts = sites["nom_region"].value_counts()
    assert region == f"{counts.index[0]}|{counts.iloc[0]}"
    assert counts.iloc[0] > counts.iloc[1]  # one answer, not a tie
    communes = pyogrio.read_dataframe(gpkg, layer="communes_acces", read_geometry=False)
    beyond = communes[~(communes["distance_km"] <= 45)].groupby("departement")["jeunes_0_19"]
    top = beyond.sum().sort_values(ascending=False)
    assert far.split("|")[0] == top.index[0] and int(far.split("|")[2]) == int(top.iloc[0])
    picks = pd.read_csv(root / "data/processed/ou_ensuite.csv", dtype=str)
    assert f"'code': '{picks.loc[0, 'code']}'" in next_school
    assert "'rang': '1'" in next_school


def test_the_answers_quoted_in_the_readme(root: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    answers = text.split("<!-- /analyst-questions -->")[1].split("\n\n")[1]
    assert "Auvergne-Rhône-Alpes (12 sites)" in answers
    deps = pyogrio.read_dataframe(root / "data/processed/couverture.gpkg", layer="departements",
                                  read_geometry=False).set_index("code")
    gironde = int(deps.loc["33", "jeunes_0_19"] - deps.loc["33", "jeunes_45km"])
    assert f"Gironde ({gironde:,} young people beyond 45 km)" in answers
    assert "Ambarès-et-Lagrave (33003)" in answers
