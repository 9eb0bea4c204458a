from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.corpus import CorpusError, default_corpus_dir, load_folder

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


def test_default_corpus_keeps_the_seed_articles_byte_for_byte():
    docs = {d.id: d for d in load_folder(default_corpus_dir()).documents}
    pairs = {
        "rotherham-cse-fashion-accessory": "000_8c20d70819a09139.txt",
        "shocking-police-failures-rotherham": "001_af41515f7306771f.txt",
    }
    for doc_id, seed in pairs.items():
        doc = docs[doc_id]
        # The seed is the title line, a blank line, then the text exactly as we store it.
        original = (doc.meta.title + "\n\n" + doc.text).encode("utf-8")
        if SEEDS.is_dir():
            assert original == (SEEDS / seed).read_bytes()
        assert doc.text.startswith(("South Yorkshire Police officers", "·5-min read"))
    assert docs["shocking-police-failures-rotherham"].meta.publisher == "Yahoo News UK"
    assert str(docs["rotherham-cse-fashion-accessory"].meta.published) == "2022-06-22"


def write(folder: Path, name: str, data: str | bytes) -> None:
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def test_bad_files_are_reported_with_path_and_line_and_skipped(tmp_path):
    write(tmp_path, "good.md", "---\ntitle: Good\n---\nSome text.")
    write(tmp_path, "yaml.md", "---\ntitle: Bad\nurl: [unclosed\n---\ntext")
    write(tmp_path, "toml.md", '+++\ntitle = "T"\npublished = 2022-13-45\n+++\ntext')
    write(tmp_path, "key.md", "---\ntitle: T\ntilte: typo\n---\ntext")
    write(tmp_path, "empty.txt", "  \n")
    write(tmp_path, "binary.txt", b"caf\xe9 au lait")
    write(tmp_path, "nobody.md", "---\ntitle: Only meta\n---\n\n")
    write(tmp_path, "Bad Name.txt", "text")
    write(tmp_path, "date.md", "---\ntitle: D\npublished: 2024-13-45\n---\ntext")
    loaded = load_folder(tmp_path)
    assert [d.id for d in loaded.documents] == ["good"]
    issues = {Path(i.path).name: i for i in loaded.issues}
    assert set(issues) == {
        "yaml.md",
        "toml.md",
        "key.md",
        "empty.txt",
        "binary.txt",
        "nobody.md",
        "Bad Name.txt",
        "date.md",
    }
    assert issues["date.md"].line == 3 and "'published'" in issues["date.md"].message
    assert issues["yaml.md"].line == 3 and "YAML" in issues["yaml.md"].message
    assert issues["toml.md"].line == 3
    assert issues["key.md"].line == 3 and "tilte" in issues["key.md"].message
    assert "empty" in issues["empty.txt"].message
    assert "UTF-8" in issues["binary.txt"].message and issues["binary.txt"].line == 1
    assert "no text" in issues["nobody.md"].message
    assert str(issues["key.md"]).startswith(str(tmp_path / "key.md") + ":3: ")


def test_duplicate_ids_are_refused(tmp_path):
    write(tmp_path, "a.md", "---\nid: same\n---\nOne.")
    write(tmp_path, "b.md", "---\nid: same\n---\nTwo.")
    loaded = load_folder(tmp_path)
    assert len(loaded.documents) == 1
    assert "duplicate document id 'same'" in loaded.issues[0].message


def test_body_is_kept_exactly(tmp_path):
    body = "  Leading space\r\nCRLF line\n\n\nTrailing  \n"
    write(tmp_path, "x.md", '+++\ntitle = "X"\n+++\n' + body)
    (doc,) = load_folder(tmp_path).documents
    assert doc.text == body


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_folder(tmp_path / "nope")


def test_html_and_pdf_dropped_into_the_folder_are_extracted_and_cached(tmp_path, monkeypatch):
    from bot.core.ingest import ExtractionWorker, IngestError
    from tests.core.test_ingest import CHAPTERS, DOCBOOK, make_report

    folder, cache = tmp_path / "c", tmp_path / "cache"
    folder.mkdir()
    write(folder, "Annual Report.pdf", make_report())
    write(folder, "ch02.html", DOCBOOK)
    write(folder, "broken.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 4)
    write(folder, "notes.txt", "Plain notes.")
    loaded = load_folder(folder, cache_dir=cache)
    docs = {d.id: d for d in loaded.documents}
    assert set(docs) == {"annual-report", "ch02", "notes"}
    assert [h for _, h in docs["annual-report"].sections] == CHAPTERS
    assert docs["annual-report"].page_labels == ("i", "1", "2", "3")
    assert docs["ch02"].meta.title == "Chapter 2. Packages"
    assert [Path(i.path).name for i in loaded.issues] == ["broken.pdf"]
    assert "PDF" in loaded.issues[0].message
    assert len(list((cache / "extracted").glob("*.json"))) == 2

    def no_parsing(self, filename, data):
        raise IngestError("parsed again")

    monkeypatch.setattr(ExtractionWorker, "extract", no_parsing)
    again = load_folder(folder, cache_dir=cache)
    assert [d.text for d in again.documents] == [d.text for d in loaded.documents]
    assert [Path(i.path).name for i in again.issues] == ["broken.pdf"]  # reported, once


def test_the_same_text_in_two_files_is_loaded_once(tmp_path):
    write(tmp_path, "a.txt", "The canal froze.")
    write(tmp_path, "b.md", "---\ntitle: Copy\n---\nThe canal froze.")
    loaded = load_folder(tmp_path)
    assert [d.id for d in loaded.documents] == ["a"]
    assert loaded.issues[0].message == f"the same text as {tmp_path / 'a.txt'}: not loaded twice"


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(min_size=1).filter(lambda t: t.strip()),
    labels=st.lists(st.text(min_size=1, max_size=8).filter(str.strip), min_size=1, max_size=4),
    headings=st.lists(st.text(min_size=1, max_size=40), max_size=3),
)
def test_stored_documents_read_back_exactly_with_their_layout(text, labels, headings):
    """Quotes are slices of the stored text: storing an extraction and loading it back
    gives the same text, page offsets, printed labels and sections."""
    from bot.core.collection import document_bytes
    from bot.core.corpus import parse_document
    from bot.core.ingest import Extracted
    from bot.core.models import DocumentMeta

    starts = tuple(sorted(i * len(text) // len(labels) for i in range(len(labels))))
    sections = tuple((i * len(text) // (len(headings) or 1), h) for i, h in enumerate(headings))
    extracted = Extracted(
        text=text,
        page_starts=starts,
        page_labels=tuple(labels),
        sections=sections or None,
        kind="pdf",
    )
    doc = parse_document(document_bytes(text, DocumentMeta(), extracted), "d", "c", None)
    assert doc.text == text
    assert doc.page_starts == starts and doc.page_labels == extracted.page_labels
    assert doc.sections == extracted.sections
