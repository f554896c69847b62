"""Publishing a set all or nothing: a failure or a kill at any rename leaves the old set whole."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import pipeline.outputs.files as files
from cli import main
from pipeline.errors import PipelineError
from pipeline.outputs.files import Staging, recover, staged_outputs

REGISTRY = Path("data/raw/ecoles.csv")
OPENINGS = Path("data/raw/ouvertures.csv")


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones included), by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


# --- The transaction, on small files -----------------------------------------------------------
def stage(staging: Staging, folder: Path, names: list[str], text: str) -> None:
    for name in names:
        staging.path(folder / name).write_text(f"{text} {name}")


def test_a_set_across_two_folders_is_published_whole(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with staged_outputs() as staging:
        stage(staging, a, ["1", "2"], "old")
        stage(staging, b, ["3"], "old")
    with staged_outputs() as staging:
        stage(staging, a, ["1", "2"], "new")
        stage(staging, b, ["3", "4"], "new")
    assert tree(tmp_path) == {"a/1": b"new 1", "a/2": b"new 2", "b/3": b"new 3",
                              "b/4": b"new 4"}


@pytest.mark.parametrize("failing", [1, 2, 3, 4])
def test_a_failure_at_any_rename_puts_the_whole_old_set_back(tmp_path, monkeypatch, failing):
    a, b = tmp_path / "a", tmp_path / "b"
    with staged_outputs() as staging:
        stage(staging, a, ["1", "2"], "old")
        stage(staging, b, ["3"], "old")
    before = tree(tmp_path)
    calls = []
    real = files._rename

    def rename(src, dst):
        calls.append(dst)
        if len(calls) == failing:
            raise OSError(28, "No space left on device", str(dst))
        real(src, dst)

    monkeypatch.setattr(files, "_rename", rename)
    with pytest.raises(PipelineError, match="remis en place"), staged_outputs() as staging:
        stage(staging, a, ["1", "2"], "new")
        stage(staging, b, ["3", "4"], "new")  # 4 is new: it must not survive either
    assert tree(tmp_path) == before


def test_a_folder_in_place_of_a_target_refuses_before_any_rename(tmp_path):
    with staged_outputs() as staging:
        stage(staging, tmp_path, ["1"], "old")
    (tmp_path / "2").mkdir()
    with pytest.raises(PipelineError, match="dossier porte le nom"), \
            staged_outputs() as staging:
        stage(staging, tmp_path, ["1", "2"], "new")
    assert (tmp_path / "1").read_text() == "old 1" and (tmp_path / "2").is_dir()


def test_a_missing_staged_output_is_refused(tmp_path):
    with pytest.raises(PipelineError, match="non produits"), staged_outputs() as staging:
        staging.path(tmp_path / "never-written.txt")


def test_a_live_run_is_never_cleaned_up_even_with_a_pid_that_does_not_exist_here(tmp_path):
    """A run in another PID namespace: its PID means nothing here, its lock does."""
    live = tmp_path / ".staging-999999999"
    live.mkdir()
    (live / "half.png").write_bytes(b"half")
    fd = os.open(live / files.LOCK_NAME, os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                              stdin=subprocess.PIPE, pass_fds=(fd,))
    os.close(fd)  # only the other process holds the lock now
    try:
        recover(tmp_path)
        assert (live / "half.png").exists()
    finally:
        holder.communicate(b"")
    recover(tmp_path)  # its run is gone: the folder goes too
    assert not live.exists()


def test_an_unlocked_folder_of_a_dead_run_is_removed(tmp_path):
    stale = tmp_path / ".staging-dead"
    stale.mkdir()
    (stale / files.LOCK_NAME).touch()
    (stale / "half.png").write_bytes(b"half")
    recover(tmp_path)
    assert not stale.exists()


# --- Every command that writes a set ---------------------------------------------------------
def join_args(root: Path) -> list[str]:
    return ["join", str(REGISTRY), "--processed-dir", str(root / "p")]


def build_args(root: Path) -> list[str]:
    return ["build", str(REGISTRY), "--processed-dir", str(root / "p"), "--maps-dir",
            str(root / "m"), "--jobs", "1"]


def render_args(root: Path) -> list[str]:
    return ["render", str(root / "source" / "couverture.gpkg"), "--preset", "a4",
            "--preset", "social", "--maps-dir", str(root / "m"), "--jobs", "1"]


def history_args(root: Path) -> list[str]:
    return ["history", str(REGISTRY), "--openings", str(OPENINGS), "--until", "2021-12-31",
            "--preset", "social", "--processed-dir", str(root / "p"), "--maps-dir",
            str(root / "m"), "--jobs", "1"]


COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "join": join_args, "build": build_args, "render": render_args, "history": history_args}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A coverage GeoPackage for render to draw."""
    root = tmp_path_factory.mktemp("source")
    result = CliRunner().invoke(main, ["join", str(REGISTRY), "--processed-dir",
                                       str(root / "source")])
    assert result.exit_code == 0, result.output
    return root / "source" / "couverture.gpkg"


def seed(root: Path, source: Path) -> None:
    """Put the GeoPackage render draws in ``root``."""
    (root / "source").mkdir(parents=True, exist_ok=True)
    (root / "source" / "couverture.gpkg").write_bytes(source.read_bytes())


def previous_set(root: Path, command: str, source: Path) -> dict[str, bytes]:
    """Run ``command`` once, then make every file it wrote recognisably old."""
    seed(root, source)
    result = CliRunner().invoke(main, COMMANDS[command](root))
    assert result.exit_code == 0, result.output
    for path in [*(root / "p").glob("*"), *(root / "m").rglob("*")]:
        if path.is_file():
            path.write_bytes(b"old " + path.name.encode())
    return tree(root)


def renames_of(command: str, root: Path, source: Path,
               monkeypatch: pytest.MonkeyPatch) -> int:
    """How many files a run of ``command`` publishes."""
    seed(root, source)
    calls = []
    real = files._rename

    def count(src, dst):
        calls.append(dst)
        real(src, dst)

    monkeypatch.setattr(files, "_rename", count)
    assert CliRunner().invoke(main, COMMANDS[command](root)).exit_code == 0
    monkeypatch.setattr(files, "_rename", real)
    return len(calls)


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_failure_at_each_publish_rename_leaves_the_whole_old_set(
        command, source, tmp_path, monkeypatch):
    count = renames_of(command, tmp_path / "count", source, monkeypatch)
    assert count >= 3
    root = tmp_path / "run"
    before = previous_set(root, command, source)
    real = files._rename
    for failing in range(1, count + 1):
        calls = []

        def rename(src, dst, _failing=failing, _calls=calls):
            _calls.append(dst)
            if len(_calls) == _failing:
                raise OSError(5, "Input/output error", str(dst))
            real(src, dst)

        monkeypatch.setattr(files, "_rename", rename)
        result = CliRunner().invoke(main, COMMANDS[command](root))
        assert result.exit_code == 1, result.output
        assert "remis en place" in result.output and "Traceback" not in result.output
        assert tree(root) == before, f"{command}: rename {failing} of {count}"


KILLER = """
import os, signal, sys
import pipeline.outputs.files as files
at, calls, real = int(os.environ["KILL_AT_RENAME"]), [], files._rename
def rename(src, dst):
    calls.append(dst)
    if len(calls) == at:
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
files._rename = rename
sys.argv = ["ecoles-map", *sys.argv[1:]]
import cli
cli.run()
"""


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_kill_during_publish_is_undone_by_the_next_run(command, source, tmp_path,
                                                         monkeypatch):
    count = renames_of(command, tmp_path / "count", source, monkeypatch)
    root = tmp_path / "run"
    before = previous_set(root, command, source)
    at = count // 2 + 1  # some files already renamed, others not
    proc = subprocess.run([sys.executable, "-c", KILLER, *COMMANDS[command](root)[0:]],
                          env={**os.environ, "KILL_AT_RENAME": str(at)}, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == -9, proc.stderr
    after_kill = tree(root)
    assert any(".staging-" in name for name in after_kill), "the journal should be left"
    for folder in {root / "p", root / "m", root / "m" / "historique"}:
        if folder.is_dir():
            recover(folder)
    assert tree(root) == before
    result = CliRunner().invoke(main, COMMANDS[command](root))  # and the next run completes
    assert result.exit_code == 0, result.output
    assert not any(".staging-" in name for name in tree(root))
