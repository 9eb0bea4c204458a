import json
from typing import ClassVar

import pytest

from bot.cli import main


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("VERBATIM_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def test_ask_json_has_the_documented_shape(capsys):
    assert main(["ask", "--json", "When was Operation Linden launched?", "capital of France"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["answered"] is True and second["answered"] is False
    quote = first["quotes"][0]
    keys = {
        "text",
        "doc_id",
        "start",
        "end",
        "score",
        "title",
        "publisher",
        "published",
        "url",
        "paragraph",
        "matched_terms",
        "also_in",
    }
    assert keys <= set(quote)
    assert quote["text"].startswith("Operation Linden was launched in 2014")
    assert set(first["timings"]) >= {"search_ms"}
    assert second["unmatched_terms"] == ["capital", "France"]


def test_ask_pretty_output(capsys):
    assert main(["ask", "-k", "1", "What did Michael Lockwood say?"]) == 0
    out = capsys.readouterr().out
    assert "Michael Lockwood said in the report" in out
    assert (
        "— The shocking police failures exposed in Rotherham sex abuse probe, Yahoo News UK" in out
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", ""], "The question is empty"),
        (["ask", "x" * 600], "the limit is 500"),
        (["ask", "--corpus", "/nonexistent", "hello"], "corpus folder not found"),
        (["ask", "--config", "/nonexistent.toml", "hello"], "config file not found"),
        (["ask", "-k", "0", "hello"], "-k must be between 1 and 25"),
    ],
)
def test_errors_are_one_line_without_traceback(capsys, argv, message):
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_bad_config_names_file_line_and_key(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[answers]\nquotes = 3\nmin_confidence = 7\n")
    assert main(["check", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert f"{cfg}:3: answers.min_confidence" in err


def test_invalid_toml_names_the_line(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[bm25]\nk1 = = 2\n")
    assert main(["check", "--config", str(cfg)]) == 1
    assert f"{cfg}:2: invalid TOML" in capsys.readouterr().err


def test_token_in_config_file_is_refused(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[discord]\ntoken = "abc"\n')
    assert main(["check", "--config", str(cfg)]) == 1
    assert "DISCORD_TOKEN" in capsys.readouterr().err


def test_index_then_sources(capsys):
    assert main(["index"]) == 0
    assert "built" in capsys.readouterr().out
    assert main(["index"]) == 0
    assert "loaded from cache" in capsys.readouterr().out
    assert main(["sources"]) == 0
    assert "shocking-police-failures-rotherham" in capsys.readouterr().out


def test_eval_prints_metrics(capsys):
    from tests.conftest import DATA

    assert main(["eval", str(DATA / "dev_questions.toml")]) == 0
    out = capsys.readouterr().out
    assert "hit@1" in out and "hit@3" in out and "abstention" in out


def test_eval_reads_squad_style_json_and_reports_refusals_by_kind(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "canal.md").write_text("---\ntitle: Canal\n---\nThe canal froze in 1963.\n")
    questions = {
        "questions": [
            {"question": "When did the canal freeze?", "answers": ["1963"], "doc_id": "canal"},
            {"question": "Who painted the Mona Lisa?", "about": "art"},
        ]
    }
    path = tmp_path / "q.json"
    path.write_text(json.dumps(questions))
    assert main(["eval", "--corpus", str(corpus), str(path)]) == 0
    out = capsys.readouterr().out
    assert "hit@1 (1 answerable)" in out and "of which off-corpus (1)" in out
    assert "MRR@3" in out


def test_run_without_token_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert main(["run"]) == 1
    assert "DISCORD_TOKEN" in capsys.readouterr().err


def test_sync_registers_every_command_with_discord(monkeypatch, tmp_path, capsys):
    from tests.chat.discord_double import DoubleThread

    monkeypatch.setenv("DISCORD_TOKEN", "test-token")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with DoubleThread() as side:
        gid = side.double.guild.id
        cfg = tmp_path / "c.toml"
        cfg.write_text(f"[discord]\nguild_ids = [{gid}]\n")
        assert main(["sync", "--config", str(cfg)]) == 0
        synced = {c["name"] for c in side.double.commands[gid]}
    assert synced == {
        "ask",
        "search",
        "sources",
        "source",
        "help",
        "corpus",
        "settings",
        "Find sources",
        "Answer with sources",
    }
    assert f"synced guild {gid}: " in capsys.readouterr().out


def test_corpus_add_list_remove_for_operators(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    folder = tmp_path / "reports"
    page = tmp_path / "memo.html"
    page.write_text(
        "<html><head><title>Canal memo</title></head><body><article>"
        "<p>The canal froze solid in the winter of 1963, and barges waited for weeks.</p>"
        "<p>Ice breakers were brought in from the coast to clear the channel.</p>"
        "</article></body></html>"
    )
    assert (
        main(["corpus", "add", str(page), "--to", str(folder), "--publisher", "Canal Trust"]) == 0
    )
    assert "added canal-memo: Canal memo" in capsys.readouterr().out
    assert main(["corpus", "list", str(folder)]) == 0
    assert "canal-memo\tCanal memo" in capsys.readouterr().out
    assert main(["ask", "--corpus", str(folder), "What happened to the canal in winter?"]) == 0
    out = capsys.readouterr().out
    assert "The canal froze solid in the winter of 1963" in out and "Canal Trust" in out
    assert main(["corpus", "add", str(tmp_path / "missing.pdf"), "--to", str(folder)]) == 1
    assert main(["corpus", "remove", "canal-memo", "--from", str(folder)]) == 0
    assert main(["corpus", "remove", "canal-memo", "--from", str(folder)]) == 1
    assert not list(folder.glob("*.md"))


# --- operator traps: each one failed on the first release ----------------------------------


def _one_line_error(err: str, message: str) -> None:
    assert message in err and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1


@pytest.mark.parametrize(
    ("front", "where"),
    [
        ("title: [", "bad.md:2: malformed front matter"),
        ("title: Bad\npublished: 2024-13-45", "bad.md:3: front matter key 'published'"),
    ],
)
def test_a_bad_document_is_reported_and_only_it_is_skipped(tmp_path, capsys, front, where):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "bad.md").write_text(f"---\n{front}\n---\nCanals freeze.\n")
    (corpus / "ok.txt").write_text("The canal froze solid in the winter of 1963.\n")
    assert main(["check", "--corpus", str(corpus)]) == 1
    captured = capsys.readouterr()
    assert f"{corpus}/{where}" in captured.err
    assert "1 documents loaded, 1 with errors" in captured.out
    assert main(["ask", "--corpus", str(corpus), "When did the canal freeze?"]) == 0
    assert "winter of 1963" in capsys.readouterr().out
    assert main(["sources", "--corpus", str(corpus)]) == 0


def test_an_empty_corpus_says_why(tmp_path, capsys):
    corpus = tmp_path / "empty"
    corpus.mkdir()
    assert main(["check", "--corpus", str(corpus)]) == 1
    _one_line_error(capsys.readouterr().err, f"no documents in {corpus}")
    assert main(["ask", "--corpus", str(corpus), "When did the canal freeze?"]) == 1
    _one_line_error(capsys.readouterr().err, "no documents")


def test_brackets_in_names_and_metadata_are_shown_not_read_as_markup(tmp_path, capsys):
    folder = tmp_path / "c"
    page = tmp_path / "memo [draft].txt"
    page.write_text("The canal froze solid in the winter of 1963.\n")
    argv = ["corpus", "add", str(page), str(tmp_path / "gone [/x].txt"), "--to", str(folder)]
    assert main([*argv, "--publisher", "Trust [/x] [bold]"]) == 1
    captured = capsys.readouterr()
    assert f"not added: {tmp_path / 'gone [/x].txt'}: No such file" in captured.err
    assert "Traceback" not in captured.err
    assert main(["sources", "--corpus", str(folder)]) == 0
    assert "Trust [/x] [bold]" in capsys.readouterr().out
    assert main(["ask", "--corpus", str(folder), "When did the canal freeze?"]) == 0
    assert "Trust [/x] [bold]" in capsys.readouterr().out


def test_eval_on_a_missing_file_is_one_line(capsys):
    assert main(["eval", "missing.toml"]) == 1
    _one_line_error(capsys.readouterr().err, "missing.toml: cannot read question set")


@pytest.mark.parametrize("command", ["run", "sync"])
def test_run_and_sync_without_network_are_one_line(command, monkeypatch, tmp_path, capsys):
    import logging
    import socket

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # `run` installs its own
    monkeypatch.setattr(root, "level", root.level)

    from discord.http import Route

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    monkeypatch.setenv("DISCORD_TOKEN", "test-token")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert main([command]) == 1
    _one_line_error(capsys.readouterr().err, "cannot reach Discord")


def test_remove_accepts_every_id_list_shows(tmp_path, capsys):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "notes.txt").write_text("Plain text notes about the canal.\n")
    (folder / "memo.md").write_text("---\nid: canal-memo\n---\nThe canal froze.\n")
    assert main(["corpus", "list", str(folder)]) == 0
    listed = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert sorted(listed) == ["canal-memo", "notes"]
    assert main(["corpus", "remove", *listed, "--from", str(folder)]) == 0
    assert not list(folder.iterdir())


def test_the_same_document_is_not_added_twice(tmp_path, capsys):
    folder = tmp_path / "c"
    first, copy = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("The canal froze solid in the winter of 1963.\n")
    copy.write_bytes(first.read_bytes())
    assert main(["corpus", "add", str(first), str(copy), "--to", str(folder)]) == 1
    captured = capsys.readouterr()
    assert "added a: a" in captured.out
    assert f"not added: {copy}: this document is already in the corpus as 'a'" in captured.err
    assert main(["corpus", "add", str(copy), "--to", str(folder)]) == 1
    assert len(list(folder.iterdir())) == 1


def test_one_title_for_several_files_is_refused(tmp_path, capsys):
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    for n, path in enumerate(files):
        path.write_text(f"Document number {n}.\n")
    argv = ["corpus", "add", *map(str, files), "--to", str(tmp_path / "c"), "--title", "Memo"]
    assert main(argv) == 1
    _one_line_error(capsys.readouterr().err, "--title names a single document, but 2 files")
    assert not (tmp_path / "c").exists()
    bad = ["corpus", "add", str(files[0]), "--to", str(tmp_path / "c"), "--published", "2024-13-45"]
    assert main(bad) == 1
    _one_line_error(capsys.readouterr().err, "--published")


def test_adding_many_files_uses_one_parser_process(tmp_path, capsys, monkeypatch):
    from bot.core.ingest import ExtractionWorker

    starts = []
    original = ExtractionWorker._start
    monkeypatch.setattr(ExtractionWorker, "_start", lambda self: starts.append(original(self)))
    files = []
    for n in range(4):
        files.append(tmp_path / f"doc{n}.md")
        files[-1].write_text(f"---\ntitle: Doc {n}\n---\nThe canal froze in winter {n}.\n")
    assert main(["corpus", "add", *map(str, files), "--to", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out.count("added doc-") == 4
    assert len(starts) == 1


def test_the_example_config_is_complete_and_shipped(tmp_path, capsys):
    from bot.config import Config, load_config

    assert main(["config", "example"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "config.toml"
    path.write_text(text)
    assert load_config(path) == load_config(None).model_copy(update={})  # the defaults
    uncommented = "\n".join(line.lstrip("# ") for line in text.splitlines())
    for section, field in Config.model_fields.items():
        assert f"[{section}" in uncommented, section
        for key in getattr(field.annotation, "model_fields", {}):
            assert f"\n{key} =" in uncommented, f"{section}.{key}"


def test_a_pdf_dropped_into_the_corpus_is_quoted_with_section_and_page(tmp_path, capsys):
    from tests.core.test_ingest import make_report

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "report.pdf").write_bytes(make_report())
    assert (
        main(["ask", "--corpus", str(corpus), "-k", "1", "When did the canal freeze solid?"]) == 0
    )
    out = capsys.readouterr().out
    assert "The canal froze solid in the winter of 1963" in out
    assert "— report, §1 Winter on the canal, p. 1, ¶" in out
    assert main(["corpus", "list", str(corpus)]) == 0
    assert capsys.readouterr().out.startswith("report\treport\t")
    assert main(["corpus", "remove", "report", "--from", str(corpus)]) == 0
    assert not (corpus / "report.pdf").exists()


def test_a_reader_that_stops_early_gets_no_error(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "c"
    folder.mkdir()
    for n in range(3):
        (folder / f"doc{n}.txt").write_text(f"Document number {n}.\n")
    listing = subprocess.Popen(
        [sys.executable, "-m", "bot", "corpus", "list", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    listing.stdout.close()  # as `| head -0` does
    err = listing.stderr.read().decode()
    listing.wait(timeout=60)
    assert "error" not in err and "Traceback" not in err and "Exception" not in err, err


class _Bar:
    """Stands in for rich's progress bar, recording what it is told."""

    shown: ClassVar[list["_Bar"]] = []

    def __init__(self, **kwargs) -> None:
        self.total = self.completed = 0
        self.task_ids = [0]
        _Bar.shown.append(self)

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def add_task(self, name: str, total: int) -> int:
        self.total = total
        return 0

    def update(self, task: int, completed: int) -> None:
        self.completed = completed


def test_a_slow_index_build_shows_its_progress_and_a_quick_one_does_not(monkeypatch, tmp_path):
    import bot.cli as cli

    monkeypatch.setattr(cli, "Progress", _Bar)
    _Bar.shown = []
    assert main(["index"]) == 0  # two documents, built within the second
    assert _Bar.shown == []
    monkeypatch.setattr(cli, "PROGRESS_AFTER_SECONDS", -1.0)  # as if it were slow
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-cache"))  # built again
    assert main(["index"]) == 0
    (bar,) = _Bar.shown
    assert bar.total == 2 and bar.completed == 2
