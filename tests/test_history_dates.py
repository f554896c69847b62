"""Dates as precise as they are known: precision_ouverture, and a first opening that never
contradicts the status (issue 13, item 5)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipeline import config
from pipeline.config import ANNEX_DATE
from pipeline.run import load_registry, read_openings
from pipeline.schema import COVERED_BEFORE, DATE_PRECISIONS, PRECISION_AT_LATEST
from pipeline.steps.history import coverage_as_of, coverage_history, history_dates, sites_as_of
from pipeline.steps.ingest import validate_registry
from pipeline.steps.openings import validate_openings
from tests.conftest import HEADER
from tests.test_history import OPENINGS_HEADER, TODAY, csv_records

REGISTRY_ROWS = [
    # Loire-Atlantique as in the real registry: its schools of 2021 have no date.
    "briace,Briacé,Le Landreau,44,oui,,,agriculture,,haute,https://e.org/a,",
    "icam-nantes,Icam Nantes,Carquefou,44,oui,,,usinage,,haute,https://e.org/b,",
    "boisard,École Boisard,Vaulx-en-Velin,69,oui,,,métallerie,1882,haute,https://e.org/c,",
    "lyon-2,Seconde école,Lyon 9e Arrondissement,69,oui,,,bois,2019-10,haute,https://e.org/d,",
    # An existing school dated after the annex by a later source: capped at the annex.
    "tardive,École tardive,Compiègne,60,oui,,,usinage,2021,basse,https://e.org/e,",
    "vire,Projet de Vire,Vire,14,non,ingenierie,Vire,textile,,moyenne,https://e.org/f,",
]
OPENING_ROWS = [
    "montoir,EPAN,Montoir-de-Bretagne,44,2022-09,,,usinage,haute,https://e.org/g,",
    "fil-conde,Fil en Normandie,Condé-en-Normandie,14,2023,,vire,textile,haute,"
    "https://e.org/h,",
    "ephemere,École éphémère,Laval,53,2022-09-05,2024-06,,usinage,haute,https://e.org/i,",
]


@pytest.fixture(scope="module")
def registry() -> pd.DataFrame:
    return validate_registry(csv_records(REGISTRY_ROWS, HEADER))


@pytest.fixture(scope="module")
def openings(registry: pd.DataFrame) -> pd.DataFrame:
    return validate_openings(csv_records(OPENING_ROWS, OPENINGS_HEADER), registry=registry,
                             today=TODAY)


def test_each_date_keeps_its_precision(registry, openings) -> None:
    sites = sites_as_of(registry, openings, dt.date(2025, 12, 31)).set_index("id")
    got = {i: (None if pd.isna(sites.at[i, "date_ouverture"])
               else sites.at[i, "date_ouverture"].date().isoformat(),
               None if pd.isna(sites.at[i, "precision_ouverture"])
               else sites.at[i, "precision_ouverture"]) for i in sites.index}
    assert got == {
        "briace": (None, None),
        "icam-nantes": (None, None),
        "boisard": ("1882-12-31", "annee"),  # a year: counted from its last day, and said so
        "lyon-2": ("2019-10-01", "mois"),
        "tardive": (ANNEX_DATE.isoformat(), PRECISION_AT_LATEST),  # capped: an upper bound
        "montoir": ("2022-09-01", "mois"),
        "fil-conde": ("2023-12-31", "annee"),
        "ephemere": ("2022-09-05", "jour"),
    }
    assert sites.at["ephemere", "precision_fermeture"] == "mois"
    assert pd.isna(sites.at["montoir", "precision_fermeture"])
    announced = sites_as_of(registry, openings, dt.date(2022, 12, 31)).set_index("id")
    assert pd.isna(announced.at["vire", "precision_ouverture"])


def test_a_department_covered_before_the_annex_never_first_opens_after_it(
        registry, openings) -> None:
    cov = coverage_as_of(sites_as_of(registry, openings, dt.date(2024, 12, 31)))
    row = cov.set_index("departement").loc["44"]
    assert row["statut"] == COVERED_BEFORE
    # Not 2022-09-01 (Montoir): the undated schools were open on 23 November 2021.
    assert row["premiere_ouverture"] == pd.Timestamp(ANNEX_DATE)
    assert row["precision_premiere_ouverture"] == PRECISION_AT_LATEST
    lyon = cov.set_index("departement").loc["69"]
    assert (lyon["premiere_ouverture"], lyon["precision_premiere_ouverture"]) == (
        pd.Timestamp("1882-12-31"), "annee")
    calvados = cov.set_index("departement").loc["14"]
    assert calvados["precision_premiere_ouverture"] == "annee"
    nothing = cov.set_index("departement").loc["01"]
    assert pd.isna(nothing["premiere_ouverture"]) and pd.isna(
        nothing["precision_premiere_ouverture"])


def test_history_table_carries_the_precision(registry, openings) -> None:
    table = coverage_history(registry, openings, [ANNEX_DATE, dt.date(2023, 12, 31)])
    rows = table[table["departement"] == "44"]
    assert rows["premiere_ouverture"].tolist() == [ANNEX_DATE.isoformat()] * 2
    assert rows["precision_premiere_ouverture"].tolist() == [PRECISION_AT_LATEST] * 2


@pytest.mark.slow
def test_no_contradiction_in_the_real_files() -> None:
    """Every département covered before the annex, at every date, first opened by then."""
    registry = load_registry(config.DEFAULT_REGISTRY)
    openings, _ = read_openings(config.DEFAULT_OPENINGS, registry, today=TODAY)
    for day in history_dates(openings):
        cov = coverage_as_of(sites_as_of(registry, openings, day))
        before = cov[cov["statut"] == COVERED_BEFORE]
        assert (before["premiere_ouverture"] <= pd.Timestamp(ANNEX_DATE)).all(), day
        assert set(cov["precision_premiere_ouverture"].dropna()) <= set(DATE_PRECISIONS)
        covered = cov[cov["nb_ecoles_ouvertes"] > 0]
        assert covered["premiere_ouverture"].notna().all(), day
        assert (covered["premiere_ouverture"] <= pd.Timestamp(day)).all(), day
