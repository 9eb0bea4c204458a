import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.segment import SegmentSettings, paragraphs, passages, sentences


def spans(text, units):
    return [text[u.start : u.end] for u in units]


def test_lines_are_paragraphs_unless_hard_wrapped():
    text = "·5-min read\nPolice vans outside.\n\nA wrapped line that\ncontinues here.\nNext one."
    assert spans(text, paragraphs(text)) == [
        "·5-min read",
        "Police vans outside.",
        "A wrapped line that\ncontinues here.",
        "Next one.",
    ]
    assert [u.paragraph for u in paragraphs(text)] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "want",
    [
        ["Dr. Jay wrote it.", "Prof. A. Jay said: “It failed.”", "Then 1,400 were named.", "(PA)"],
        ["The population amounted to ca. 2 million.", "Costs rose approx. 3% (cf. Table 2)."],
        ["5.9.4. Orphaning a package"],
        ["2. Move the hard disk to another computer.", "Then boot it."],
        ["It rose in 2014.", "3 were named."],
    ],
)
def test_sentences_respect_abbreviations_and_quotes(want):
    text = " ".join(want)
    assert [text[s:e] for s, e in sentences(text, 0, len(text))] == want


def test_short_paragraphs_join_the_next_passage():
    text = "Read More\n\nRead More\n\n" + "A long paragraph about the report. " * 5
    out = passages(text, SegmentSettings(min_passage_chars=60))
    assert len(out) == 1 and out[0].start == 0 and out[0].paragraph == 1


def test_long_paragraphs_split_at_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(100))
    out = passages(text, SegmentSettings(max_passage_chars=200))
    assert len(out) > 5
    assert all(u.end - u.start <= 200 for u in out)
    assert all(text[u.start : u.end].endswith(".") for u in out)


@given(st.text(alphabet=st.sampled_from("ab .!?\n\n“”’'ÄŁ1,"), max_size=400))
def test_units_are_trimmed_ordered_slices(text):
    previous_end = 0
    for unit in passages(text, SegmentSettings(min_passage_chars=5, max_passage_chars=100)):
        piece = text[unit.start : unit.end]
        assert piece and piece == piece.strip()
        assert unit.start >= previous_end
        previous_end = unit.end
        for s, e in sentences(text, unit.start, unit.end):
            assert unit.start <= s < e <= unit.end
            assert text[s:e] == text[s:e].strip()
