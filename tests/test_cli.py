import json

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


def test_check_fails_on_a_bad_document(tmp_path, capsys):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "ok.md").write_text("Fine text.")
    (corpus / "bad.md").write_text("---\ntitle: [\n---\ntext")
    assert main(["check", "--corpus", str(corpus)]) == 1
    captured = capsys.readouterr()
    assert "bad.md:2" in captured.err and "1 documents loaded, 1 with errors" in captured.out


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
