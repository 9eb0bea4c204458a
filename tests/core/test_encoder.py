"""The contextual sentence encoder: unit vectors, the same for the same text however it is
asked, meaning over wording, and any length of text accepted."""

import numpy as np

from bot.core import encoder


def test_vectors_are_unit_length_and_repeatable():
    texts = ["Officers failed to obtain statements from victims.", "No.", "…", ""]
    first = encoder.encode(texts)
    assert first.shape == (4, encoder.DIMENSIONS) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-3)
    encoder.forget()
    again = np.stack([encoder.embed(t) for t in reversed(texts)])[::-1]
    assert np.array_equal(first, again)  # one at a time or together, cached or not


def test_meaning_counts_over_shared_words():
    job, dismissed, promoted, car = encoder.encode(
        ["He lost his job.", "He was dismissed.", "He was promoted.", "He bought a car."]
    )
    assert job @ dismissed > job @ promoted > job @ car


def test_a_text_longer_than_the_model_reads_is_cut_not_refused():
    long = " ".join(["The canal froze solid in the winter of 1963."] * 200)
    assert np.isclose(np.linalg.norm(encoder.embed(long)), 1.0, atol=1e-3)
