"""The annex outputs' bytes, pinned: any change of a map or table is a deliberate, reviewed one.

``tests/checksums.json`` holds the sha256 of every file ``make map`` writes, built in the
locked environment (``requirements/run.txt``). This test builds them again and compares. When
a change of the registry, the code or a pinned version changes them on purpose, look at the
new outputs, then record them::

    .venv/bin/python tests/test_checksums.py --update
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECORD = Path(__file__).with_name("checksums.json")

pytestmark = pytest.mark.slow


def build(folder: Path) -> dict[str, str]:
    """Build the annex as ``make map`` does, into ``folder``; sha256 of every file written."""
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, ["-q", "build", str(ROOT / "data/raw/ecoles.csv"),
                                       "--processed-dir", str(folder / "data/processed"),
                                       "--maps-dir", str(folder / "maps"), "--jobs", "1"])
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_annex_outputs_have_the_recorded_bytes(tmp_path: Path) -> None:
    recorded = json.loads(RECORD.read_text(encoding="utf-8"))
    built = build(tmp_path)
    changed = sorted(name for name in {*recorded, *built}
                     if recorded.get(name) != built.get(name))
    assert not changed, (
        f"outputs changed: {', '.join(changed)}. If on purpose, look at them, then run "
        "`.venv/bin/python tests/test_checksums.py --update`")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_checksums.py --update")
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        sums = build(Path(tmp))
    RECORD.write_text(json.dumps(sums, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{RECORD.relative_to(ROOT)}: {len(sums)} files")
