import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.answers import Answerer, AnswerSettings, QuestionError
from bot.core.index import SearchIndex
from bot.core.models import Document, DocumentMeta, Quote, QuoteIntegrityError, verify_quote
from bot.core.question import answer_type, clean

WORDS = [
    "police",
    "report",
    "children",
    "officer",
    "Rotherham",
    "the",
    "of",
    "1,400",
    "survivor’s",
    "failed",
    "«quote»",
    "**bold**",
    "@everyone",
    "x",
]


def make_docs(texts: list[str]) -> list[Document]:
    return [
        Document(id=f"doc-{i}", text=t, meta=DocumentMeta(title=f"Doc {i}"))
        for i, t in enumerate(texts)
    ]


text_strategy = (
    st.lists(
        st.one_of(st.sampled_from(WORDS), st.sampled_from([". ", "! ", "\n", "\n\n", ", ", " "])),
        min_size=1,
        max_size=120,
    )
    .map(" ".join)
    .filter(str.strip)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(text_strategy, min_size=1, max_size=5),
    st.lists(st.sampled_from([*WORDS, "France", "capital"]), min_size=1, max_size=6),
)
def test_every_quote_is_an_exact_slice_of_its_document(texts, question_words):
    docs = make_docs(texts)
    answerer = Answerer(SearchIndex.build(docs), AnswerSettings(min_confidence=0.0))
    question = " ".join(question_words)
    if not clean(question):  # only a mention: nothing to ask
        with pytest.raises(QuestionError):
            answerer.answer(question)
        return
    answer = answerer.answer(question)
    by_id = {d.id: d for d in docs}
    for cited in answer.results:
        for quote in [cited.quote, *cited.also_in]:
            doc = by_id[quote.doc_id]
            assert quote.text == doc.text[quote.start : quote.end]
            assert quote.text == quote.text.strip() and quote.text
            for s, e in answerer.highlights(quote):
                assert 0 <= s < e <= len(quote.text)


def test_quotes_are_built_only_from_checked_slices():
    doc = make_docs(["Officers failed the children."])[0]
    quote = Quote.from_document(doc, 0, 8, paragraph=1)
    assert quote.text == "Officers"
    with pytest.raises(QuoteIntegrityError):
        Quote.from_document(doc, 5, 500, paragraph=1)
    forged = quote.model_copy(update={"text": "Officers did nothing wrong"})
    with pytest.raises(QuoteIntegrityError):
        verify_quote(forged, doc)


def test_answers_the_question_with_the_tightest_sentence(answerer):
    answer = answerer.answer("When was Operation Linden launched?")
    assert answer.answered
    top = answer.results[0].quote
    assert top.text.startswith("Operation Linden was launched in 2014")
    assert top.doc_id == "rotherham-cse-fashion-accessory"
    assert top.paragraph == 7 and "Linden" in top.matched_terms  # "Read More" lines count


def test_abstains_on_questions_the_corpus_does_not_answer(answerer):
    answer = answerer.answer("What is the capital of France?")
    assert not answer.answered and answer.results == []
    assert answer.unmatched_terms == answer.absent_terms == ["capital", "France"]
    assert answer.missing_note == "Not in the corpus: capital, France"


def test_same_claim_in_two_documents_is_grouped_as_corroboration(answerer):
    answer = answerer.answer("girls in Rotherham older Asian boyfriend fashion accessory")
    first = answer.results[0]
    docs = {first.quote.doc_id, *(q.doc_id for q in first.also_in)}
    assert docs == {"rotherham-cse-fashion-accessory", "shocking-police-failures-rotherham"}
    assert len(answer.results) == len({c.quote.text for c in answer.results})


def test_repeated_captions_are_not_quoted_twice(answerer):
    answer = answerer.answer("police vans outside Rotherham police station", k=5)
    texts = [c.quote.text for c in answer.results]
    assert len(texts) == len(set(texts))


@pytest.mark.parametrize(
    ("question", "message"),
    [("   ", "The question is empty"), ("x" * 501, "the limit is 500")],
)
def test_bad_questions_get_a_clear_error(answerer, question, message):
    with pytest.raises(QuestionError, match=message):
        answerer.answer(question)


def test_a_question_of_only_stopwords_is_not_answered(answerer):
    answer = answerer.answer("what is it and who did it?")
    assert not answer.answered and answer.unmatched_terms == []


def test_search_is_thread_safe(answerer):
    from concurrent.futures import ThreadPoolExecutor

    questions = ["fashion accessory", "Operation Linden", "47 officers", "capital of France"] * 25
    expected = [answerer.answer(q).model_dump(exclude={"timings"}) for q in questions]
    with ThreadPoolExecutor(8) as pool:
        got = list(
            pool.map(lambda q: answerer.answer(q).model_dump(exclude={"timings"}), questions)
        )
    assert got == expected


def test_quantity_questions_prefer_spans_with_numbers(answerer):
    top = answerer.answer("How many officers were investigated?").results[0].quote
    assert top.text.startswith("Of the 47 officers investigated")


def test_unknown_names_mean_the_corpus_does_not_cover_it(answerer):
    answer = answerer.answer("How many children were abused in the Telford scandal?")
    assert not answer.answered and "Telford" in answer.unmatched_terms


def test_unknown_word_falls_back_to_corpus_terms_sharing_its_stem(answerer):
    # "disciplined" (stem "disciplin") is not in the corpus; "disciplinary" extends its stem.
    answer = answerer.answer("Who was disciplined?")
    assert answer.answered
    quote = answer.results[0].quote
    assert "could not face disciplinary proceedings" in quote.text
    assert [quote.text[s:e] for s, e in answerer.highlights(quote)] == ["disciplinary"]


def test_discord_mentions_are_not_part_of_the_question(answerer):
    plain = answerer.answer("How many officers were investigated?")
    for asked in (
        "<@1234567890> How many officers were investigated?",
        "@Verbatim how many officers were investigated?",
        "How many officers <#42> were investigated <@&7>?",
        "@everyone how many officers were investigated? @here",
    ):
        answer = answerer.answer(asked)
        assert "@" not in answer.question and "<" not in answer.question
        assert [c.quote.start for c in answer.results] == [c.quote.start for c in plain.results]
    top = answerer.answer("@Verbatim how many officers were investigated?").results[0].quote
    assert top.text.startswith("Of the 47 officers investigated")


def test_accents_typos_and_irregular_forms_find_the_passage():
    docs = make_docs(
        [
            "Antonín Dvořák wrote the New World Symphony in 1893 while living in New York.",
            "The lighthouse keeper logged every storm. The canal froze in 1963.",
        ]
    )
    answerer = Answerer(SearchIndex.build(docs))
    for question, expected in [
        ("When did Dvorak write the New World Symphony?", "Dvořák wrote"),
        ("What did the lighthose keeper log?", "lighthouse keeper"),  # a typo
        ("When did the canal freeze?", "canal froze"),  # an irregular form
    ]:
        answer = answerer.answer(question)
        assert answer.answered, question
        assert expected in answer.results[0].quote.text


def test_refusal_names_only_the_words_the_corpus_lacks(answerer):
    answer = answerer.answer("How many children were abused in the Telford scandal?")
    assert not answer.answered
    assert answer.absent_terms == ["Telford"]
    assert answer.missing_note == "Not in the corpus: Telford"


def test_the_missing_note_says_where_words_were_not_found():
    from bot.core.models import Answer, Timings

    t = Timings(search_ms=0, total_ms=0)
    refused = Answer(question="q", answered=False, unmatched_terms=["hours"], timings=t)
    assert refused.missing_note == "Not in the closest passage: hours"
    absent = refused.model_copy(update={"absent_terms": ["Telford"]})
    assert absent.missing_note == "Not in the corpus: Telford"
    shown = Answer(question="q", answered=True, unmatched_terms=["hours"], timings=t)
    assert shown.missing_note == "Not in these quotes: hours"
    assert Answer(question="q", answered=False, timings=t).missing_note is None


def test_a_document_added_twice_is_not_its_own_corroboration():
    text = "The inspectors found that the hospital failed nine wards in 2019."
    docs = [*make_docs([text]), Document(id="copy", text=text, meta=DocumentMeta(title="Copy"))]
    answer = Answerer(SearchIndex.build(docs)).answer("Which wards did the hospital fail?")
    assert answer.answered and answer.results[0].also_in == []
    assert len(answer.results) == 1


def test_cut_off_teasers_are_never_quoted(answerer):
    for question in ("What did the police chief say?", "Police chief pledges driving"):
        for cited in answerer.answer(question, k=5).results:
            for quote in (cited.quote, *cited.also_in):
                assert not quote.text.rstrip().endswith(("...", "…")), quote.text


def test_links_to_other_pages_are_never_quoted(answerer):
    # the default corpus holds "Read more: <another article's headline>" lines
    assert any("Read more:" in d.text for d in answerer.index.documents)
    for question in ("Rotherham", "Did anyone get fired over the Rotherham scandal?"):
        for cited in answerer.answer(question, k=5).results:
            for quote in (cited.quote, *cited.also_in):
                assert not quote.text.startswith("Read more"), quote.text


def test_a_quote_may_reach_the_answer_in_the_next_paragraph():
    docs = make_docs(
        ["Inspectors published their report on the town's hospital.\n\nNine wards failed it."]
    )
    answer = Answerer(SearchIndex.build(docs), AnswerSettings(min_confidence=0.0)).answer(
        "How many wards failed the report on the hospital?"
    )
    assert answer.results[0].quote.text.endswith("Nine wards failed it.")
    assert answer.results[0].quote.text.startswith("Inspectors published")


def test_when_questions_prefer_a_date_and_how_many_a_quantity():
    docs = make_docs(
        [
            "The bridge opened to traffic after years of delay. "
            "The bridge opened in 1932 to great crowds.\n\n"
            "The bridge has 3 lanes for traffic. The bridge carries traffic across the bay."
        ]
    )
    answerer = Answerer(SearchIndex.build(docs), AnswerSettings(min_confidence=0.0))
    assert "1932" in answerer.answer("When did the bridge open?").results[0].quote.text
    assert "3 lanes" in answerer.answer("How many lanes of traffic?").results[0].quote.text


@pytest.mark.parametrize(
    "question, kind",
    [
        ("How much did the inquiry cost?", "money"),
        ("Operation Linden cost", "money"),
        ("What was the price of oil in 1974?", "money"),
        ("How much did the price of oil rise?", "money"),
        ("How much oil was sold?", "money"),
        ("How much oil was there?", "number"),
        ("When was the price raised?", "date"),
        ("Who paid for the report?", "entity"),
        ("What was the French colony called?", "entity"),
        ("What is the name of the cellist?", "entity"),
        ("Why did OPEC raise the price of oil to $5.11?", None),
        ("How did the king react when the Huguenots left?", None),
    ],
)
def test_the_question_says_what_kind_of_answer_it_wants(question, kind):
    assert answer_type(question) == kind


LONG = " in the long and closely argued report that the panel of inspectors published this week"


@pytest.mark.parametrize(
    "first, second, question, answer",
    [
        (  # a question about a cost wants an amount of money, not any number
            "The hospital inquiry cost the board 14 months of work",
            "Auditors said the final bill came to £6million",
            "How much did the hospital inquiry cost?",
            "£6million",
        ),
        (  # a number the question gives is not its answer
            "The three brothers were jailed after a trial at Sheffield Crown Court",
            "Together they will serve 19 years",
            "How long were the three brothers jailed?",
            "19 years",
        ),
    ],
)
def test_a_quote_reaches_the_next_sentence_for_the_kind_of_answer_asked(
    first, second, question, answer
):
    docs = make_docs([f"{first}{LONG}.\n\n{second}{LONG}."])
    answerer = Answerer(SearchIndex.build(docs), AnswerSettings(min_confidence=0.0))
    assert answer in answerer.answer(question).results[0].quote.text


def test_a_section_heading_is_never_a_quote():
    heading = "5.15.5. How long must a package be maintained when uploaded to stable-backports?"
    text = (
        f"{heading}\n\nAn upload to stable-backports implies a willingness to maintain the "
        "backported package for the duration of the stable suite, about 3 years.\n\n"
        "5.15.6. Uploads\n\nUploads are accepted every day."
    )
    doc = Document(
        id="manual",
        text=text,
        meta=DocumentMeta(title="Manual"),
        sections=((0, heading), (text.index("5.15.6."), "5.15.6. Uploads")),
    )
    answerer = Answerer(SearchIndex.build([doc]), AnswerSettings(min_confidence=0.0))
    answer = answerer.answer("How long must a package uploaded to stable-backports be maintained?")
    quotes = [c.quote for c in answer.results]
    assert quotes and quotes[0].text.startswith("An upload to stable-backports")
    assert all(heading not in q.text and "5.15.6" not in q.text for q in quotes)
    assert quotes[0].section == heading  # the heading is still shown, as the attribution
