"""The embedded table of régions (COG): complete, consistent, pinned."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline import config
from pipeline.errors import SourceDataError
from pipeline.sources.embedded import read_regions


def test_embedded_regions_match_the_cog() -> None:
    regions = read_regions()
    assert len(regions) == 101 and regions["code_region"].nunique() == 18
    by_name = regions.groupby("nom_region")["departement"].apply(tuple).to_dict()
    assert by_name == {name: tuple(sorted(codes)) for name, codes in config.REGIONS.items()}
    assert regions.set_index("departement").loc["2A", ["code_region", "nom_region"]].tolist() \
        == ["94", "Corse"]
    product = config.sources()["products"]["regions_csv"]
    assert hashlib.sha256(config.EMBEDDED_REGIONS.read_bytes()).hexdigest() == product["sha256"]
    assert product["derived_from"] == ["etalab_decoupage_administratif_6_0_0"]


def test_read_regions_refuses_an_incomplete_table(tmp_path: Path) -> None:
    bad = tmp_path / "regions.csv"
    bad.write_text("departement,code_region,nom_region\n01,84,Auvergne-Rhône-Alpes\n",
                   encoding="utf-8")
    with pytest.raises(SourceDataError, match="régions"):
        read_regions(bad)
    with pytest.raises(SourceDataError, match="introuvable"):
        read_regions(tmp_path / "absent.csv")
