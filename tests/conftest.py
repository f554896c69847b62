"""Shared fixtures: tiny registries written in the tests themselves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

HEADER = ("id,nom,commune,departement,existante_2021,ami_2021,libelle_annexe,metier,"
          "ouverture,confiance,sources,note")

GOOD_ROWS = [
    "boisard,École Boisard,Vaulx-en-Velin,69,oui,,,métallerie,1882,haute,https://example.org/a,",
    "otech,O'Tech,Compiègne,60,oui,investissement,O'Tech,usinage,2021-09,haute,"
    "https://example.org/b | https://example.org/c,",
    "vire,Projet de Vire,Vire,14,non,ingenierie,Vire,textile,,moyenne,https://example.org/d,",
]


@pytest.fixture
def write_registry(tmp_path: Path) -> Callable[..., Path]:
    """Return a function writing a registry CSV from lines of text."""

    def write(rows: list[str], *, header: str = HEADER, name: str = "ecoles.csv",
              encoding: str = "utf-8", newline: str = "\n") -> Path:
        path = tmp_path / name
        path.write_bytes(newline.join([header, *rows, ""]).encode(encoding))
        return path

    return write
