"""The Makefile: a graph of files that follows the code, and never reinstalls on `make -B`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p.relative_to(ROOT) for p in (ROOT / "pipeline").rglob("*.py"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("make") is None, reason="needs make"),
    pytest.mark.skipif(sys.prefix == sys.base_prefix,
                       reason="needs the project's virtual environment"),
]


def make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project whose outputs the tests may write, on this environment."""
    root = tmp_path_factory.mktemp("project")
    for name in ("Makefile", "pyproject.toml", "cli.py"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("pipeline", "data/raw", "requirements", "scripts"):
        shutil.copytree(ROOT / folder, root / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".venv").symlink_to(sys.prefix)
    built = make("-s", "map", cwd=root)
    assert built.returncode == 0, built.stderr
    return root


@pytest.mark.parametrize("module", MODULES, ids=str)
def test_touching_any_module_rebuilds_the_map(module: Path) -> None:
    dry = make("-n", "-W", str(module), "map")
    assert dry.returncode == 0, dry.stderr
    assert "ecoles-map build" in dry.stdout, f"{module} does not rebuild the map"


def test_a_second_make_map_does_nothing(tree: Path) -> None:
    assert make("-q", "map", cwd=tree).returncode == 0  # -q: exit 0 when all is up to date
    again = make("map", cwd=tree)
    assert "ecoles-map" not in again.stdout


def test_make_b_rebuilds_the_same_bytes_and_installs_nothing(tree: Path) -> None:
    outputs = sorted(p for folder in ("data/processed", "maps")
                     for p in (tree / folder).glob("*.*"))
    before = {p: p.read_bytes() for p in outputs}
    forced = make("-B", "map", cwd=tree)
    assert forced.returncode == 0, forced.stderr
    assert "ecoles-map build" in forced.stdout
    for word in ("pip", "installing", "venv"):
        assert word not in forced.stderr.lower(), forced.stderr
    assert {p: p.read_bytes() for p in outputs} == before


def test_failed_make_map_keeps_the_previous_outputs(tree: Path) -> None:
    """make must not delete the outputs of a failed build: the CLI already kept them intact."""
    outputs = sorted(p for folder in ("data/processed", "maps")
                     for p in (tree / folder).glob("*.*"))
    before = {p: p.read_bytes() for p in outputs}
    assert len(before) == 12
    registry = tree / "data/raw/ecoles.csv"
    good = registry.read_text(encoding="utf-8")
    registry.write_text(good.replace(",Flers,61,", ",Flers,6X,"), encoding="utf-8")
    try:
        failed = make("-s", "map", cwd=tree)
        assert failed.returncode != 0
        assert "value '6X'" in failed.stderr
        assert {p: p.read_bytes() for p in outputs} == before
    finally:
        registry.write_text(good, encoding="utf-8")
