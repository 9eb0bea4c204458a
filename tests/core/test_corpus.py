from pathlib import Path

import pytest

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
    }
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
