"""Chains the steps for the CLI: read inputs, run ingest → geocode → join, in memory."""

from __future__ import annotations

import os

import pandas as pd

from pipeline.ingest import validate_registry
from pipeline.io import read_csv_records


def load_registry(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate the registry CSV at ``path``.

    Parameters
    ----------
    path
        Registry file (UTF-8 or Latin-1, ``,`` or ``;`` separated).

    Returns
    -------
    pandas.DataFrame
        The validated registry (see :func:`pipeline.ingest.validate_registry`).
    """
    records, lines = read_csv_records(path)
    return validate_registry(records, lines=lines, source=str(path))
