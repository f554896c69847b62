"""The Makefile: a graph of files that follows the code, and never reinstalls on `make -B`."""

from __future__ import annotations

import os
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
    # ENV_RUN=: : the copy's .venv is this environment; it must never install into it (that
    # would point the editable install at the copy). scripts/venv.sh is tested apart below.
    return subprocess.run(["make", "ENV_RUN=:", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, check=False)


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


def test_make_b_rebuilds_the_same_bytes(tree: Path) -> None:
    outputs = sorted(p for folder in ("data/processed", "maps")
                     for p in (tree / folder).glob("*.*"))
    before = {p: p.read_bytes() for p in outputs}
    forced = make("-B", "map", cwd=tree)
    assert forced.returncode == 0, forced.stderr
    assert "ecoles-map build" in forced.stdout
    assert {p: p.read_bytes() for p in outputs} == before


def test_make_b_touches_the_environment_only_through_scripts_venv() -> None:
    dry = subprocess.run(["make", "-B", "-n", "map", "test"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=False)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert any("scripts/venv.sh run" in line for line in lines)
    assert not [line for line in lines if " pip " in line or "-m venv" in line]


FAKE_PYTHON = """#!/bin/sh
# Stands for the venv's python: records every call, hashes like the real one.
echo "$@" >> "$(dirname "$0")/calls"
if [ "$1" = "-c" ]; then exec {python} "$@"; fi
"""


@pytest.mark.parametrize("stamp_matches", [True, False])
def test_venv_script_installs_only_when_the_lock_changed(tmp_path: Path,
                                                         stamp_matches: bool) -> None:
    """With a valid stamp, nothing runs: this is what `make -B` relies on."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable))
    fake.chmod(0o755)
    digest = subprocess.run(
        [sys.executable, "-c", "import hashlib, sys; h = hashlib.sha256()\n"
         "for n in sys.argv[1:]: h.update(open(n, 'rb').read())\nprint(h.hexdigest())",
         "requirements/run.txt", "pyproject.toml"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    (venv / ".installed-run").write_text((digest if stamp_matches else "old") + "\n")
    run = subprocess.run(["scripts/venv.sh", "run"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=False,
                         env={**os.environ, "VENV": str(venv), "PYTHON": sys.executable})
    calls = (venv / "bin" / "calls").read_text() if (venv / "bin" / "calls").exists() else ""
    if stamp_matches:
        assert run.returncode == 0, run.stderr
        assert calls == "" and "installing" not in run.stderr
    else:
        assert "-m pip install" in calls and "--require-hashes" in calls


def test_failed_make_map_keeps_the_previous_outputs(tree: Path) -> None:
    """make must not delete the outputs of a failed build: the CLI already kept them intact."""
    outputs = sorted(p for folder in ("data/processed", "maps")
                     for p in (tree / folder).glob("*.*"))
    before = {p: p.read_bytes() for p in outputs}
    assert len(before) == 17
    registry = tree / "data/raw/ecoles.csv"
    good = registry.read_text(encoding="utf-8")
    registry.write_text(good.replace(",Flers,61,", ",Flers,6X,"), encoding="utf-8")
    try:
        failed = make("-s", "map", cwd=tree)
        assert failed.returncode != 0
        assert "valeur '6X'" in failed.stderr
        assert {p: p.read_bytes() for p in outputs} == before
    finally:
        registry.write_text(good, encoding="utf-8")
