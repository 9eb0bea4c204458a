import pytest

from bot.core.analysis import AnalysisSettings, Analyzer


def terms(text: str, **settings: object) -> list[str]:
    return Analyzer(AnalysisSettings(**settings)).terms(text)


def test_case_folding_stemming_and_stopwords():
    assert terms("The Officers were INVESTIGATING") == ["offic", "investig"]
    assert terms("officer investigated") == ["offic", "investig"]


def test_possessives_with_either_apostrophe():
    assert terms("the watchdog’s report") == terms("watchdog's report") == ["watchdog", "report"]
    assert terms("police’s") == terms("police")


def test_numbers_with_thousands_separators_match_both_ways():
    assert terms("around 1,400 children") == terms("around 1400 children")
    assert "1400" in terms("1,400")
    assert terms("1,400", fold_numbers=False) == ["1,400"]


def test_unicode_normalisation():
    # NFKC folds the full-width and ligature forms to plain letters.
    assert terms("ＲＯＴＨＥＲＨＡＭ") == terms("Rotherham")
    assert terms("ﬁnal") == terms("final")


def test_tokens_point_back_at_the_original_characters():
    text = "South Yorkshire Police’s 1,400 ‘fashion accessory’"
    analyzer = Analyzer()
    for tok in analyzer.tokens(text):
        assert analyzer.normalise(text[tok.start : tok.end]) == tok.term


def test_stopword_settings():
    assert terms("what is the report") == ["report"]
    assert "what" in terms("what is the report", stopwords=False)
    assert terms("report rotherham", extra_stopwords=("Rotherham",)) == ["report"]
    assert terms("who was there", keep_stopwords=("who",)) == ["who"]


def test_stemmer_and_lemmatizer_can_be_disabled():
    assert terms("officers froze", stemmer=None, lemmatizer=None) == ["officers", "froze"]
    assert terms("officers froze", stemmer=None) == ["officer", "freeze"]


def test_irregular_forms_and_superlatives_meet_their_lemma():
    assert terms("froze youngest children") == terms("freeze young child")


def test_accents_fold_unless_disabled():
    assert terms("Dvořák Müller café") == terms("Dvorak Muller cafe")
    assert terms("Dvořák", fold_accents=False) != terms("Dvorak", fold_accents=False)


def test_unknown_lemmatizer_language_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown lemmatizer language 'xx'"):
        AnalysisSettings(lemmatizer="xx")


def test_query_words_keep_surface_forms_once():
    words = Analyzer().query_words("Officers? officer! Rotherham")
    assert words == [("Officers", "offic"), ("Rotherham", "rotherham")]
