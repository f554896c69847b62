"""Texts of the maps: labels that name their place, honest legends, alt texts per format."""

from __future__ import annotations

import pytest

from pipeline import config
from pipeline.outputs.maps.mapdata import map_data
from pipeline.outputs.maps.texts import (
    alt_text,
    annex_label,
    place_name,
    short_legend_entries,
    site_label,
)
from pipeline.schema import DEPARTEMENT_CODES
from tests.test_render import make_departements, make_sites


@pytest.mark.parametrize(("label", "place", "expected"), [
    ("EPB Usinage", "Besançon", "Besançon – EPB Usinage"),  # a school's name: place first
    ("Châteaubriand Bois", "Châteaubriant", "Châteaubriant Bois"),  # the annex's misspelling
    ("Lyon Usinage", "Lyon 9e Arrondissement", "Lyon Usinage"),
    ("Fask Academy Textile", "Marseille 15e Arrondissement",
     "Marseille – Fask Academy Textile"),
    ("Lanne - Tarbes Chaudronnerie", "Lanne", "Lanne - Tarbes Chaudronnerie"),
    ("Cognac Chaudronnerie", "Châteaubernard", "Châteaubernard – Cognac Chaudronnerie"),
    ("Saint-Etienne Construction", "Saint-Étienne", "Saint-Etienne Construction"),
    ("Lens Automobile", "Lens", "Lens Automobile"),
    ("Lille Industrie", "", "Lille Industrie"),
])
def test_every_label_names_its_place(label, place, expected):
    assert site_label(label, place) == expected


def test_annex_labels_verbatim():
    assert annex_label("Châteaubriand", "Châteaubriant", "bois") == "Châteaubriand Bois"
    assert annex_label("EPB", "Besançon", "usinage") == "EPB Usinage"
    assert annex_label(None, "Lyon 9e Arrondissement", "usinage; chaudronnerie") == (
        "Lyon Usinage et chaudronnerie")
    assert place_name("Marseille 1er Arrondissement") == "Marseille"


def test_map_data_labels_by_default_and_verbatim():
    sites = make_sites()
    sites["commune"] = ["Quimper", "Lille", "Roubaix", "Lens", "Lyon 9e Arrondissement",
                        "Vaulx-en-Velin", "Villeurbanne", "Marseille 15e Arrondissement",
                        "Toulouse", "Strasbourg", "Stains", "Lieusaint", "Kourou", "Ajaccio"]
    sites["libelle_annexe"] = [None, None, "EPICC", None, None, None, None, "Fask Academy",
                               None, None, "Iron Academy", None, None, None]
    sites["metier"] = "usinage"
    deps = make_departements()
    default = dict(zip(map_data(sites, deps).site_ids,
                       map_data(sites, deps).site_etiquettes, strict=True))
    assert default["roubaix"] == "Roubaix – EPICC Textile"
    assert default["marseille"] == "Marseille – Fask Academy Textile"
    assert default["lyon"] == "Lyon Usinage"
    verbatim = map_data(sites, deps, verbatim_labels=True)
    annex = dict(zip(verbatim.site_ids, verbatim.site_etiquettes, strict=True))
    assert annex["roubaix"] == "EPICC Usinage" and annex["stains"] == "Iron Academy Usinage"
    assert annex["lyon"] == "Lyon Usinage"
    # The places name the zooms.
    assert verbatim.site_communes[verbatim.site_ids.index("lyon")] == "Lyon 9e Arrondissement"


def test_short_legend_is_one_short_line_per_entry():
    entries = short_legend_entries(make_sites(), make_departements())
    assert [k for k, _ in entries] == ["existante", "ingenierie", "investissement",
                                       config.STATUS_NEW, config.STATUS_COVERED]
    assert entries[0][1] == "10 écoles existantes, dont 4 lauréates"
    assert all(len(text) <= 40 for _, text in entries)
    data = map_data(make_sites(), make_departements())
    assert data.texts(short=True).legend == tuple(entries)
    assert data.texts().legend == data.legend
    assert data.short is not None and len(data.short.title) < len(data.title)
    # A custom legend has no short version unless given one.
    custom = map_data(make_sites(), make_departements(), legend=[("existante", "x")])
    assert custom.short is None and custom.texts(short=True).legend == (("existante", "x"),)


@pytest.mark.parametrize("preset", ["a4", "slide", "social", "square"])
def test_alt_text_per_format(preset):
    text = alt_text(make_sites(), make_departements(), preset=preset, zooms=["Lyon"])
    assert text.endswith("\n") and "\n" not in text[:-1]
    limit = {"a4": 1000, "slide": 700, "social": 280, "square": 280}[preset]
    assert len(text) <= limit
    if preset in ("social", "square"):
        assert "10 écoles de production existantes" in text and "7 projets" in text
    else:
        assert "Zoom sur Lyon" in text and "reconstituée" in text
        assert ("Bas-Rhin" in text) is (preset == "a4")


def test_projects_by_region():
    sites = make_sites()
    sites["commune"] = sites["id"].str.title()
    sites["nom"] = "École " + sites["id"]
    sites["metier"] = "usinage; chaudronnerie"
    rows = map_data(sites, make_departements()).projects
    assert len(rows) == 7  # 3 ingénierie + 4 investissement
    assert [r.region for r in rows] == sorted(
        (r.region for r in rows), key=lambda r: r.replace("Î", "I"))
    (quimper,) = [r for r in rows if r.place == "Quimper"]
    assert (quimper.region, quimper.support, quimper.trade, quimper.existing) == (
        "Bretagne", "ingenierie", "usinage et chaudronnerie", False)


def test_every_departement_is_in_one_region():
    assert set(config.REGION_OF_DEPARTEMENT) == set(DEPARTEMENT_CODES)
    assert sum(len(c) for c in config.REGIONS.values()) == len(DEPARTEMENT_CODES) == 101
