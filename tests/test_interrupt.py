"""Interrupt safety: a build killed mid-run leaves the previous outputs, and the next completes.

``ecoles-map build`` runs in a subprocess (its own process group) on a 1,000-site synthetic
registry and is interrupted while it writes, that is once its hidden staging folder
(``.staging-*``, see :class:`pipeline.outputs.files.Staging`) has appeared:

- SIGINT to the whole group, as Ctrl-C in a terminal: the drawing workers ignore it, the
  build stops them and removes its staging folders;
- SIGKILL to the main process only, as the OOM killer does: its drawing workers notice
  they are orphaned and exit, and nothing cleans up.

Leftovers are thus only hidden ``.staging-*`` folders of the killed build, never visible
files; the next build removes them (their lock is free). A kill during the final renames is
in ``test_publish.py``.

In both cases the previous outputs must be byte-identical once every process of the group
has exited, and the next build must complete and leave no staging folder.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import main

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "ecoles-map"
PROCESSED = ("couverture.gpkg", "ecoles.csv", "ecoles.md", "rapprochement.md")
MAPS = ("ecoles-de-production-2021.png", "ecoles-de-production-2021.svg",
        "ecoles-de-production-2021.txt")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("build" not in main.commands,
                       reason="the build command is not in cli.py yet"),
    pytest.mark.skipif(not CLI.exists(), reason=f"{CLI} is not installed"),
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups"),
]


def _bench_module() -> object:
    """Import benchmarks/bench.py (not a package) for its synthetic registries."""
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid registry of 1,000 sites on real communes (slow enough to interrupt)."""
    bench = _bench_module()
    path = tmp_path_factory.mktemp("registry") / "registre-1000.csv"
    return bench.write_synthetic_registry(path, 1000)  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """``processed`` and ``maps`` holding the outputs of an earlier run (distinct bytes)."""
    processed, maps = tmp_path / "processed", tmp_path / "maps"
    for folder, names in ((processed, PROCESSED), (maps, MAPS)):
        folder.mkdir()
        for name in names:
            (folder / name).write_bytes(f"earlier good {name}\n".encode())
    return processed, maps


def snapshot(*folders: Path) -> dict[Path, bytes]:
    """Bytes of every visible file in ``folders``."""
    return {p: p.read_bytes() for f in folders for p in sorted(f.iterdir())
            if not p.name.startswith(".")}


def hidden(*folders: Path) -> list[str]:
    """Names of the hidden entries (staging folders, temporary files) in ``folders``."""
    return sorted(p.name for f in folders for p in f.iterdir() if p.name.startswith("."))


def build_command(registry: Path, processed: Path, maps: Path) -> list[str]:
    return [str(CLI), "-q", "build", str(registry), "--processed-dir", str(processed),
            "--maps-dir", str(maps)]


@pytest.fixture
def group() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes started by a test; their process groups are killed at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for(proc: subprocess.Popen[bytes], pattern: str, *folders: Path,
             timeout: float = 15) -> None:
    """Return as soon as ``pattern`` matches in a folder; fail if the build ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(next(f.glob(pattern), None) for f in folders):
            return
        if proc.poll() is not None:
            pytest.fail(f"the build ended (status {proc.returncode}) before it could be "
                        "interrupted")
        time.sleep(0.002)
    pytest.fail(f"nothing matched {pattern} in {timeout} s")


#: When to interrupt: staging folders made (the fork of the PNG writer follows at once), or
#: a staged file being written (after the fork).
MOMENTS = {"at-fork": ".staging-*", "writing": ".staging-*/*"}

def wait_group_gone(pgid: int, timeout: float = 15) -> None:
    """Wait until every process of group ``pgid`` (orphaned children too) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    pytest.fail(f"processes of group {pgid} still running after {timeout} s")


@pytest.mark.parametrize(("sig", "whole_group", "moment"), [
    pytest.param(signal.SIGINT, True, "writing", id="SIGINT-group-writing"),
    pytest.param(signal.SIGINT, True, "at-fork", id="SIGINT-group-at-fork"),
    pytest.param(signal.SIGKILL, False, "writing", id="SIGKILL-main-process-writing"),
])
def test_interrupted_build_changes_nothing_and_next_build_completes(
        sig: signal.Signals, whole_group: bool, moment: str, registry: Path,
        folders: tuple[Path, Path], group: list[subprocess.Popen[bytes]]) -> None:
    processed, maps = folders
    before = snapshot(processed, maps)
    proc = subprocess.Popen(build_command(registry, processed, maps), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    group.append(proc)
    wait_for(proc, MOMENTS[moment], processed, maps)
    if whole_group:
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)
    assert proc.wait(timeout=15) != 0, "the interrupted build must fail"
    wait_group_gone(proc.pid)

    assert snapshot(processed, maps) == before
    # Leftovers may only be the killed build's hidden staging folders (after SIGKILL: no
    # code runs then); the next run finds them unlocked and removes them.
    left = hidden(processed, maps)
    assert all(name.startswith(".staging-") for name in left), left
    assert sig == signal.SIGKILL or not left, left

    done = subprocess.run(build_command(registry, processed, maps), cwd=ROOT,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert hidden(processed, maps) == [], "the next build must remove stale staging folders"
    after = snapshot(processed, maps)
    assert {p.name for p in after} >= {*PROCESSED, *MAPS}
    assert all(after[p] != before[p] for p in before), "every output must be rebuilt"
    assert after[maps / MAPS[0]].startswith(b"\x89PNG\r\n\x1a\n")
    assert after[processed / "couverture.gpkg"].startswith(b"SQLite format 3\x00")
    assert b"site-01000" in after[processed / "ecoles.csv"]
