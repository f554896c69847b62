"""Tests of the offline geocoder: tricky names, homonyms, the real registry, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from cli import main
from pipeline.errors import GeocodingError
from pipeline.schema import GEOCODED_COLUMNS
from pipeline.sources.csvfile import read_csv_records
from pipeline.sources.embedded import read_gazetteer
from pipeline.sources.inputs import read_departements
from pipeline.steps.geocode import count_statuses, fold_name, geocode_sites, geocoding_problems

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gazetteer() -> pd.DataFrame:
    return read_gazetteer()


def geocode_one(gazetteer: pd.DataFrame, commune: str, departement: str = "") -> pd.Series:
    sites = pd.DataFrame({"commune": [commune], "departement": [departement]})
    return geocode_sites(sites, gazetteer).iloc[0]


# (input name, département as typed, expected code_insee, expected nom_commune)
RESOLVED = [
    # accents, case, abbreviations, ligatures
    ("Evreux", "27", "27229", "Évreux"),
    ("EVREUX", "27", "27229", "Évreux"),
    ("évreux", "", "27229", "Évreux"),
    ("St-Etienne", "42", "42218", "Saint-Étienne"),
    ("ST ETIENNE", "42", "42218", "Saint-Étienne"),
    ("St. Étienne", "42", "42218", "Saint-Étienne"),
    ("Ste-Foy-lès-Lyon", "69", "69202", "Sainte-Foy-lès-Lyon"),
    ("Sainte Foy les Lyon", "69", "69202", "Sainte-Foy-lès-Lyon"),
    ("Oeuilly", "02", "02565", "Œuilly"),
    ("OEUILLY", "51", "51410", "Œuilly"),
    ("Compiegne", "60", "60159", "Compiègne"),
    ("Vaulx en Velin", "69", "69256", "Vaulx-en-Velin"),
    # articles, hyphens, apostrophes
    ("Le Petit-Quevilly", "76", "76498", "Le Petit-Quevilly"),
    ("Petit-Quevilly", "76", "76498", "Le Petit-Quevilly"),
    ("Petit Quevilly (Le)", "76", "76498", "Le Petit-Quevilly"),
    ("petit quevilly", "", "76498", "Le Petit-Quevilly"),
    ("L'Haÿ-les-Roses", "94", "94038", "L'Haÿ-les-Roses"),
    ("L’Hay les Roses", "94", "94038", "L'Haÿ-les-Roses"),
    ("Hay-les-Roses", "94", "94038", "L'Haÿ-les-Roses"),
    ("Roche-sur-Yon (La)", "85", "85191", "La Roche-sur-Yon"),
    ("Le Mans", "72", "72181", "Le Mans"),
    # old names of merged communes: current commune's code, the old place's name
    ("Vire", "14", "14762", "Vire"),
    ("Beaumesnil", "27", "27049", "Beaumesnil"),
    ("Château-Gontier", "53", "53062", "Château-Gontier"),
    ("Chateau Gontier", "53", "53062", "Château-Gontier"),
    ("Cherbourg-Octeville", "50", "50129", "Cherbourg-Octeville"),
    ("Annecy-le-Vieux", "74", "74010", "Annecy-le-Vieux"),
    # municipal arrondissements keep their own code
    ("Lyon 9e", "69", "69389", "Lyon 9e Arrondissement"),
    ("Lyon 9e Arrondissement", "", "69389", "Lyon 9e Arrondissement"),
    ("Lyon 9ème arrondissement", "69", "69389", "Lyon 9e Arrondissement"),
    ("Paris 15e", "75", "75115", "Paris 15e Arrondissement"),
    ("Paris 1er", "", "75101", "Paris 1er Arrondissement"),
    ("Marseille 15e Arrondissement", "13", "13215", "Marseille 15e Arrondissement"),
    ("Paris", "75", "75056", "Paris"),
    # département codes as people type them; Corsica
    ("Bourg-en-Bresse", "1", "01053", "Bourg-en-Bresse"),
    ("Bourg-en-Bresse", "01", "01053", "Bourg-en-Bresse"),
    ("Ajaccio", "2a", "2A004", "Ajaccio"),
    ("Bastia", "2B", "2B033", "Bastia"),
    ("Porto-Vecchio", "2A", "2A247", "Porto-Vecchio"),
    # the five overseas départements
    ("Pointe-à-Pitre", "971", "97120", "Pointe-à-Pitre"),
    ("Pointe a Pitre", "971", "97120", "Pointe-à-Pitre"),
    ("Fort-de-France", "972", "97209", "Fort-de-France"),
    ("Cayenne", "973", "97302", "Cayenne"),
    ("Saint-Laurent-du-Maroni", "973", "97311", "Saint-Laurent-du-Maroni"),
    ("Saint-Denis", "974", "97411", "Saint-Denis"),
    ("Le Port", "974", "97407", "Le Port"),
    ("Mamoudzou", "976", "97611", "Mamoudzou"),
    # homonyms made unique by the département (in the column or in parentheses)
    ("Flers", "61", "61169", "Flers"),
    ("Flers", "62", "62337", "Flers"),
    ("Flers (80)", "", "80314", "Flers"),
    # a current commune and a commune déléguée of the same name: the current one wins
    ("Annecy", "74", "74010", "Annecy"),
    ("Annecy", "", "74010", "Annecy"),
    # former names, absorbed without a commune déléguée or renamed: the current commune's
    # code, name and point, inside the département given
    ("Courcouronnes", "91", "91228", "Évry-Courcouronnes"),
    ("COURCOURONNES", "91", "91228", "Évry-Courcouronnes"),
    ("Evry", "91", "91228", "Évry-Courcouronnes"),
    ("Évry-Petit-Bourg", "91", "91228", "Évry-Courcouronnes"),
    ("Cherbourg", "50", "50129", "Cherbourg-en-Cotentin"),
    ("Beaumont", "62", "62427", "Hénin-Beaumont"),
    ("Vire", "46", "46336", "Vire-sur-Lot"),
    # ... while a current commune of that name elsewhere is found without a département
    ("Évry", "", "89162", "Évry"),
    ("Évry", "89", "89162", "Évry"),
]


@pytest.mark.parametrize(("commune", "departement", "code", "nom"), RESOLVED)
def test_tricky_names_resolve(gazetteer: pd.DataFrame, commune: str, departement: str,
                              code: str, nom: str) -> None:
    row = geocode_one(gazetteer, commune, departement)
    assert row["statut_geocodage"] == "ok", row["methode"]
    assert (row["code_insee"], row["nom_commune"]) == (code, nom)
    assert np.isfinite(row["longitude"]) and np.isfinite(row["latitude"])


def test_delegated_commune_gets_its_own_point_and_says_so(gazetteer: pd.DataFrame) -> None:
    vire = geocode_one(gazetteer, "Vire", "14")
    vire_normandie = geocode_one(gazetteer, "Vire Normandie", "14")
    assert vire["code_insee"] == vire_normandie["code_insee"] == "14762"
    assert vire["methode"] == "nom exact, commune déléguée de Vire Normandie"
    assert vire_normandie["methode"] == "nom exact"
    # The old town of Vire is north of the chief town point of Vire Normandie.
    assert (vire["longitude"], vire["latitude"]) != (
        vire_normandie["longitude"], vire_normandie["latitude"])
    annecy_le_vieux = geocode_one(gazetteer, "Annecy-le-Vieux", "74")
    assert annecy_le_vieux["methode"] == "nom exact, commune déléguée d'Annecy"
    lyon9 = geocode_one(gazetteer, "Lyon 9e", "69")
    assert lyon9["methode"] == "nom normalisé, arrondissement municipal de Lyon"
    assert geocode_one(gazetteer, "Petit-Quevilly", "76")["methode"] == "nom sans article"


@pytest.mark.parametrize(("commune", "departement", "statut", "hint"), [
    ("Flers", "", "ambigu", "61169 Flers (61), 62337 Flers (62), 80314 Flers (80)"),
    ("Saint-Denis", "", "ambigu", "97411 Saint-Denis (974)"),
    ("Beaumesnil", "", "ambigu", "14054 Beaumesnil (14), 27049 Beaumesnil (27)"),
    ("Oeuilly", "", "ambigu", "02565 Œuilly (02), 51410 Œuilly (51)"),
    ("Grenoble", "69", "introuvable", "trouvée ailleurs : Grenoble (38)"),
    ("Nulle-Part-sur-Mer", "", "introuvable", "aucune commune de ce nom"),
    ("Paris", "99", "introuvable", "département inconnu : '99'"),
    ("Paris", "20", "introuvable", "département inconnu : '20'"),
    ("", "75", "introuvable", "nom de commune vide"),
    ("Lyon 21e", "69", "introuvable", "aucune commune de ce nom"),
    # a former name matches only inside its département, and only when it leads to one
    # current commune; without a département it is not matched
    ("Courcouronnes", "77", "introuvable",
     "ancien nom d'une commune d'un autre département : Courcouronnes, aujourd'hui "
     "Évry-Courcouronnes (91)"),
    ("Courcouronnes", "", "introuvable", "indiquez le département"),
    ("Évry", "77", "introuvable", "trouvée ailleurs : Évry (89)"),
    ("Beaumont", "84", "ambigu",
     "84014 Beaumont-de-Pertuis (84), 84015 Beaumont-du-Ventoux (84)"),
    ("Le Cloître", "29", "ambigu", "29033 Le Cloître-Pleyben (29), "
     "29034 Le Cloître-Saint-Thégonnec (29)"),
])
def test_unresolved_names_are_reported_never_guessed(
        gazetteer: pd.DataFrame, commune: str, departement: str, statut: str, hint: str) -> None:
    row = geocode_one(gazetteer, commune, departement)
    assert row["statut_geocodage"] == statut
    assert hint in row["methode"]
    assert pd.isna(row["code_insee"]) and pd.isna(row["nom_commune"])
    assert np.isnan(row["longitude"]) and np.isnan(row["latitude"])


@pytest.mark.parametrize(("typed", "key"), [
    ("ST-ETIENNE", "saint etienne"),
    ("Œuilly", "oeuilly"),
    ("Petit Quevilly (Le)", "le petit quevilly"),
    ("L'Haÿ-les-Roses", "l hay les roses"),
    ("Paris 1er Arrondissement", "paris 1"),
    ("Marseille 07", "marseille 7"),
    ("  Saint  Denis ", "saint denis"),
])
def test_fold_name(typed: str, key: str) -> None:
    assert fold_name(typed) == key


def test_input_is_not_mutated_and_columns_are_added(gazetteer: pd.DataFrame) -> None:
    sites = pd.DataFrame({"id": ["a", "b"], "commune": ["Caen", "Flers"],
                          "departement": ["14", np.nan]})
    before = sites.copy()
    out = geocode_sites(sites, gazetteer)
    pd.testing.assert_frame_equal(sites, before)
    assert list(out.columns) == ["id", "commune", "departement", *GEOCODED_COLUMNS]
    assert out["statut_geocodage"].tolist() == ["ok", "ambigu"]
    assert count_statuses(out) == {"ok": 1, "ambigu": 1, "introuvable": 0}


def test_no_departement_column_and_custom_column_names(gazetteer: pd.DataFrame) -> None:
    sites = pd.DataFrame({"ville": ["Quimper", "Flers"], "dep": ["29", "80"]})
    out = geocode_sites(sites, gazetteer, commune_column="ville", departement_column="dep")
    assert out["code_insee"].tolist() == ["29232", "80314"]
    out = geocode_sites(sites[["ville"]], gazetteer, commune_column="ville")
    assert out["statut_geocodage"].tolist() == ["ok", "ambigu"]


def test_missing_commune_column_is_a_geocoding_error(gazetteer: pd.DataFrame) -> None:
    with pytest.raises(GeocodingError, match="pas de colonne 'commune'"):
        geocode_sites(pd.DataFrame({"ville": ["Caen"]}), gazetteer)


def test_problems_carry_file_line_and_value(gazetteer: pd.DataFrame) -> None:
    sites = pd.DataFrame({"commune": ["Caen", "Flers", "Atlantis"],
                          "departement": ["14", "", ""]})
    problems = geocoding_problems(geocode_sites(sites, gazetteer), path="sites.csv",
                                  lines=[2, 5, 9])
    assert [(p.line, p.value) for p in problems] == [(5, "Flers"), (9, "Atlantis")]
    assert str(problems[0]).startswith("sites.csv:5: colonne 'commune' valeur 'Flers': ambigu")
    assert "département" in problems[0].message
    shared = geocode_sites(pd.DataFrame({"commune": ["Beaumont"], "departement": ["84"]}),
                           gazetteer)
    (problem,) = geocoding_problems(shared)
    assert problem.message.endswith("écrivez le nom de la commune actuelle")


@pytest.mark.slow
def test_gazetteer_is_complete_and_consistent(gazetteer: pd.DataFrame) -> None:
    places = gazetteer[gazetteer["type"] != "ANCIEN"]
    assert 37_000 < len(places) < 38_500
    assert not places.duplicated(["code", "type"]).any()
    assert set(gazetteer["type"]) == {"COM", "COMD", "COMA", "ARM", "ANCIEN"}
    assert gazetteer["departement"].nunique() == 101
    com = gazetteer[gazetteer["type"] == "COM"]
    assert (com["code_parent"] == "").all()
    others = gazetteer[gazetteer["type"] != "COM"]
    assert others["code_parent"].isin(set(com["code"])).all()
    assert gazetteer[["longitude", "latitude"]].notna().all().all()
    assert (places["evenement"] == "").all()
    # Every official name is found again, in its département, as itself.
    names = places.rename(columns={"nom": "commune"})
    out = geocode_sites(names, gazetteer)
    assert (out["statut_geocodage"] == "ok").all()
    assert (out["nom_commune"] == out["commune"]).all()


@pytest.mark.slow
def test_former_names_point_to_current_communes(gazetteer: pd.DataFrame) -> None:
    former = gazetteer[gazetteer["type"] == "ANCIEN"]
    assert 3_000 < len(former) < 4_000
    events = r"(fusion|changement de nom) (19[4-9]\d|20[0-2]\d)"
    assert former["evenement"].str.fullmatch(events).all()
    com = gazetteer[gazetteer["type"] == "COM"].set_index("code")
    parents = com.loc[former["code_parent"]]
    # in the current commune's département, at its point
    assert (former["departement"].to_numpy() == parents["departement"].to_numpy()).all()
    assert (former["longitude"].to_numpy() == parents["longitude"].to_numpy()).all()
    # one row per (name, département, current commune); none a current place answers
    assert not former.duplicated(["cle", "departement", "code_parent"]).any()
    current = set(zip(gazetteer.loc[gazetteer["type"] != "ANCIEN", "cle"],
                      gazetteer.loc[gazetteer["type"] != "ANCIEN", "departement"], strict=True))
    assert not any(pair in current for pair in zip(former["cle"], former["departement"],
                                                   strict=True))
    # Each former name resolves in its département, or is ambiguous there: never guessed.
    # (Typed exactly, "Géus" and "Geüs" (64) are told apart; "Geus" is ambiguous.)
    out = geocode_sites(former.rename(columns={"nom": "commune"}), gazetteer)
    shared = former.groupby(["nom", "departement"])["code_parent"].transform("nunique") > 1
    assert former.groupby(["cle", "departement"])["code_parent"].nunique().gt(1).sum() >= 20
    assert geocode_one(gazetteer, "Geus", "64")["statut_geocodage"] == "ambigu"
    assert (out.loc[~shared.to_numpy(), "statut_geocodage"] == "ok").all()
    assert (out.loc[~shared.to_numpy(), "code_insee"].to_numpy()
            == former.loc[~shared, "code_parent"].to_numpy()).all()
    assert (out.loc[shared.to_numpy(), "statut_geocodage"] == "ambigu").all()


def test_former_name_says_what_happened(gazetteer: pd.DataFrame) -> None:
    row = geocode_one(gazetteer, "Courcouronnes", "91")
    assert row["methode"] == "nom exact, ancien nom (fusion 2019) d'Évry-Courcouronnes"
    evry = geocode_one(gazetteer, "Évry-Courcouronnes", "91")
    assert (row["longitude"], row["latitude"]) == (evry["longitude"], evry["latitude"])
    renamed = geocode_one(gazetteer, "Evry Petit Bourg", "91")
    assert renamed["methode"] == ("nom normalisé, ancien nom (changement de nom 1965) "
                                  "d'Évry-Courcouronnes")
    # A commune déléguée still answers with its own point, before any former name.
    assert geocode_one(gazetteer, "Vire", "14")["methode"].endswith("déléguée de Vire Normandie")


def tiny_gazetteer(*rows: tuple[str, str, str, str, str, str]) -> pd.DataFrame:
    """Rows (code, type, nom, departement, code_parent, evenement) with made-up points."""
    frame = pd.DataFrame(rows, columns=["code", "type", "nom", "departement", "code_parent",
                                        "evenement"])
    frame["population"] = pd.array([None] * len(frame), dtype="Int64")
    frame["longitude"] = [2.0 + i / 10 for i in range(len(frame))]
    frame["latitude"] = 48.0
    return frame


def test_former_name_rule_on_a_tiny_gazetteer() -> None:
    gazetteer = tiny_gazetteer(
        ("91001", "COM", "Neuville-Grande", "91", "", ""),
        ("91002", "COM", "Autre-Ville", "91", "", ""),
        ("91003", "ANCIEN", "Petiteville", "91", "91001", "fusion 2019"),
        ("91004", "ANCIEN", "Le Hameau", "91", "91001", "fusion 2016"),
        ("91005", "ANCIEN", "Le Hameau", "91", "91002", "fusion 1973"),
        ("77001", "COM", "Petiteville", "77", "", ""),
    )
    sites = pd.DataFrame({"commune": ["Petiteville", "Petiteville", "Petiteville", "Hameau",
                                      "Neuville-Grande"],
                          "departement": ["91", "77", "", "91", "91"]})
    out = geocode_sites(sites, gazetteer)
    assert out["statut_geocodage"].tolist() == ["ok", "ok", "ok", "ambigu", "ok"]
    assert out["code_insee"].tolist()[:3] == ["91001", "77001", "77001"]
    assert out.loc[0, "nom_commune"] == "Neuville-Grande"
    assert out.loc[0, "methode"] == "nom exact, ancien nom (fusion 2019) de Neuville-Grande"
    assert out.loc[0, "longitude"] == gazetteer.loc[2, "longitude"]  # the row's point
    assert "91001 Neuville-Grande (91), 91002 Autre-Ville (91)" in out.loc[3, "methode"]
    # The former-name table answers the online geocoder with the same rule.
    from pipeline.steps.geocode import former_names

    assert [f.code_insee for f in former_names("PETITEVILLE", "91", gazetteer)] == ["91001"]
    assert former_names("Petiteville", "92", gazetteer) == []
    assert [f.code_insee for f in former_names("Hameau", "91", gazetteer)] == ["91001",
                                                                               "91002"]
    assert former_names("Petiteville", "91", gazetteer)[0].description == (
        "ancien nom (fusion 2019) de Neuville-Grande")


@pytest.mark.slow
def test_every_gazetteer_point_lies_in_its_departement(gazetteer: pd.DataFrame) -> None:
    # The build moves the few points that simplification left outside (Saint-Malo): both
    # embedded files agree, so no site lands at sea in the join step.
    departements = read_departements()[0].set_index("code")
    polygons = departements.geometry.loc[gazetteer["departement"]].to_numpy()
    points = shapely.points(gazetteer["longitude"].to_numpy(), gazetteer["latitude"].to_numpy())
    assert shapely.contains(polygons, points).all()


def test_registry_resolves_inside_declared_departements(gazetteer: pd.DataFrame) -> None:
    records, _ = read_csv_records(ROOT / "data" / "raw" / "ecoles.csv")
    out = geocode_sites(records, gazetteer)
    assert (out["statut_geocodage"] == "ok").all(), out.loc[
        out["statut_geocodage"] != "ok", ["commune", "departement", "methode"]]
    departements = read_departements()[0].set_index("code")
    polygons = departements.geometry.loc[out["departement"]].to_numpy()
    points = shapely.points(out["longitude"].to_numpy(), out["latitude"].to_numpy())
    outside = out.loc[~shapely.contains(polygons, points), ["commune", "departement"]]
    assert outside.empty, outside


@pytest.mark.slow
def test_geocoding_every_commune_name(gazetteer: pd.DataFrame) -> None:
    """Every current commune name resolves (the speed is measured by make bench)."""
    names = pd.DataFrame({"commune": gazetteer.loc[gazetteer["type"] == "COM", "nom"]})
    out = geocode_sites(names, gazetteer)
    assert len(out) > 34_000
    assert out["statut_geocodage"].isin(["ok", "ambigu"]).all()


# --- CLI ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_geocode_writes_everything_and_lists_unresolved(tmp_path: Path) -> None:
    source = tmp_path / "sites.csv"
    source.write_text("nom;commune;departement\n"
                      "École A;Lyon 9e;69\n"
                      "École B;Flers;\n"
                      "\n"
                      "École C;Atlantis;29\n"
                      "École D;St-Etienne;42\n", encoding="utf-8")
    target = tmp_path / "out" / "geocoded.csv"
    result = CliRunner().invoke(main, ["geocode", str(source), str(target)])
    assert result.exit_code == 1, result.output
    assert "ok 2, ambigu 1, introuvable 1" in result.stderr
    assert f"{source}:3: colonne 'commune' valeur 'Flers': ambigu" in result.stderr
    assert f"{source}:5: colonne 'commune' valeur 'Atlantis': introuvable" in result.stderr
    written = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert list(written.columns) == ["nom", "commune", "departement", *GEOCODED_COLUMNS]
    assert written["code_insee"].tolist() == ["69389", "", "", "42218"]
    assert written["nom"].tolist() == ["École A", "École B", "École C", "École D"]
    first = target.read_bytes()
    CliRunner().invoke(main, ["geocode", str(source), str(target)])
    assert target.read_bytes() == first


def test_cli_geocode_all_ok_exits_zero(tmp_path: Path) -> None:
    source = tmp_path / "sites.csv"
    source.write_text("commune\nPetit Quevilly (Le)\nMamoudzou\n", encoding="utf-8")
    target = tmp_path / "geocoded.csv"
    result = CliRunner().invoke(main, ["-q", "geocode", str(source), str(target)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert pd.read_csv(target, dtype=str)["code_insee"].tolist() == ["76498", "97611"]


def test_cli_geocode_reports_missing_column_and_file(tmp_path: Path) -> None:
    source = tmp_path / "sites.csv"
    source.write_text("ville\nCaen\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["geocode", str(source), str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    assert "pas de colonne 'commune'" in result.stderr
    assert not (tmp_path / "o.csv").exists()
    result = CliRunner().invoke(main, ["geocode", str(tmp_path / "absent.csv"),
                                       str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    assert "fichier introuvable" in result.stderr


@pytest.mark.slow
def test_embedded_keys_match_fold_name():
    """The gazetteer's precomputed keys must follow fold_name; rebuild the data if not."""
    from pipeline.schema import GAZETTEER_KEY_COLUMN as KEY_COLUMN

    gazetteer = read_gazetteer()
    assert KEY_COLUMN in gazetteer.columns
    stale = [(n, k) for n, k in zip(gazetteer["nom"], gazetteer[KEY_COLUMN], strict=True)
             if fold_name(n) != k]
    assert stale == [], f"run scripts/build_embedded.py: {stale[:5]}"


@pytest.mark.slow
def test_filtered_and_full_index_agree(monkeypatch):
    """Few names index only their candidate rows; many index all: same answers either way."""
    import pipeline.steps.geocode as geocode
    from pipeline.run import load_registry

    sites = load_registry("data/raw/ecoles.csv")
    tricky = pd.DataFrame({"commune": ["Flers", "ST-ETIENNE", "Petit Quevilly (Le)", "Vire",
                                       "Lyon 9e", "Oeuilly", "Nowhere"],
                           "departement": ["", "42", "76", "14", "", "", ""]})
    gazetteer = read_gazetteer()
    filtered = [geocode_sites(frame, gazetteer) for frame in (sites, tricky)]
    monkeypatch.setattr(geocode, "_FILTER_UP_TO", 0)
    full = [geocode_sites(frame, gazetteer) for frame in (sites, tricky)]
    for a, b in zip(filtered, full, strict=True):
        pd.testing.assert_frame_equal(a, b)
