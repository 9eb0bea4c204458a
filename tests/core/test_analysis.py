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


def test_stemmer_can_be_disabled():
    assert terms("officers", stemmer=None) == ["officers"]


def test_query_words_keep_surface_forms_once():
    words = Analyzer().query_words("Officers? officer! Rotherham")
    assert words == [("Officers", "offic"), ("Rotherham", "rotherham")]
