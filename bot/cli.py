"""The command line: ``verbatim`` (or ``python -m bot``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from bot.config import Config, ConfigError, find_config, load_config
from bot.core.answers import Answerer, QuestionError, check_question, prepare
from bot.core.corpus import CorpusError, load_folder
from bot.core.evaluate import evaluate, load_question_set
from bot.core.library import Library, OpenCorpus, open_corpus
from bot.core.models import Answer, Document, DocumentMeta, Quote
from bot.store import Store, StoreError

PROGRESS_MIN_DOCUMENTS = 200  # a build over this many documents shows a progress bar ...
PROGRESS_AFTER_SECONDS = 1.0  # ... as does any build still running after this long
NO_ANSWER = "No passage in the corpus answers that."


class CliError(Exception):
    """A one-line message for the user; exits non-zero without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return int(args.handler(args, out) or 0)
    except BrokenPipeError:  # the reader went away (`verbatim corpus list | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (CliError, ConfigError, CorpusError, QuestionError, ValueError, OSError) as exc:
        say(err, "error:", str(exc) or type(exc).__name__)
        return 2 if isinstance(exc, QuestionError) else 1
    except KeyboardInterrupt:
        return 130


def say(console: Console, label: str, message: str, style: str = "bold red") -> None:
    """One line: a styled label, then ``message`` as plain text (never read as markup)."""
    console.print(Text.assemble((label, style), " ", message.replace("\n", " ")))


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", type=Path, help="config file (default: $VERBATIM_CONFIG, ./config.toml)"
    )
    common.add_argument("--corpus", type=Path, help="corpus folder (default: the bundled corpus)")

    parser = argparse.ArgumentParser(
        prog="verbatim",
        description="Answers questions only with verbatim, cited passages from a corpus.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = sub.add_parser("ask", parents=[common], help="answer questions with cited quotes")
    ask.add_argument(
        "questions",
        nargs="+",
        metavar="QUESTION",
        help="one question per argument; - reads lines from stdin",
    )
    ask.add_argument("--json", action="store_true", help="one JSON object per question per line")
    ask.add_argument("-k", type=int, default=None, help="number of quotes (default: config)")
    ask.set_defaults(handler=cmd_ask)

    index = sub.add_parser("index", parents=[common], help="build or refresh the index cache")
    index.set_defaults(handler=cmd_index)

    sources = sub.add_parser("sources", parents=[common], help="list the corpus documents")
    sources.set_defaults(handler=cmd_sources)

    check = sub.add_parser("check", parents=[common], help="validate the config and the corpus")
    check.set_defaults(handler=cmd_check)

    ev = sub.add_parser(
        "eval", parents=[common], help="score a question set (hit@1, hit@3, abstention)"
    )
    ev.add_argument(
        "file", type=Path, help="TOML question set ([[question]] text, expect / answerable)"
    )
    ev.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    ev.set_defaults(handler=cmd_eval)
    corpus = sub.add_parser("corpus", help="add, remove or list documents of a collection folder")
    csub = corpus.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")
    add = csub.add_parser(
        "add", parents=[common], help="add .txt, .md, .html or .pdf files, or web pages by URL"
    )
    add.add_argument("files", nargs="+", metavar="FILE_OR_URL")
    add.add_argument("--to", type=Path, help="collection folder (default: the corpus folder)")
    for field in ("title", "publisher", "published", "url"):
        add.add_argument(f"--{field}", help=f"the document's {field} (overrides the file's)")
    add.set_defaults(handler=cmd_corpus_add)
    remove = csub.add_parser("remove", parents=[common], help="remove documents by id")
    remove.add_argument("ids", nargs="+", metavar="ID")
    remove.add_argument("--from", dest="to", type=Path, help="collection folder")
    remove.set_defaults(handler=cmd_corpus_remove)
    listing = csub.add_parser("list", parents=[common], help="list a collection folder")
    listing.add_argument("folder", nargs="?", type=Path)
    listing.set_defaults(handler=cmd_corpus_list)

    db = sub.add_parser("db", help="the database: migrate, export, import")
    dsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbopts = argparse.ArgumentParser(add_help=False, parents=[common])
    dbopts.add_argument(
        "--database",
        help="postgresql://… or sqlite:///path (default: $VERBATIM_DATABASE_URL, the config)",
    )
    migrate = dsub.add_parser("migrate", parents=[dbopts], help="bring the schema up to date")
    migrate.set_defaults(handler=cmd_db_migrate)
    export = dsub.add_parser(
        "export", parents=[dbopts], help="write settings, documents and audit as JSON lines"
    )
    export.add_argument("file", type=Path, help="the dump to write ('-': standard output)")
    export.set_defaults(handler=cmd_db_export)
    load = dsub.add_parser("import", parents=[dbopts], help="load a dump into a new database")
    load.add_argument(
        "file", type=Path, help="a dump from 'verbatim db export' ('-': standard input)"
    )
    load.set_defaults(handler=cmd_db_import)

    cfg = sub.add_parser("config", help="print the example configuration")
    cfg.add_argument("action", choices=["example"], help="example: every setting, commented")
    cfg.set_defaults(handler=cmd_config)

    run = sub.add_parser("run", parents=[common], help="start the Discord bot ($DISCORD_TOKEN)")
    run.set_defaults(handler=cmd_run)

    sync = sub.add_parser("sync", parents=[common], help="sync slash commands to Discord")
    sync.add_argument(
        "--global", dest="globally", action="store_true", help="sync globally, not to guild_ids"
    )
    sync.set_defaults(handler=cmd_sync)
    return parser


# -- shared ------------------------------------------------------------------------------


def _config(args: argparse.Namespace) -> Config:
    return load_config(find_config(args.config))


def _open(args: argparse.Namespace, out: Console, config: Config | None = None) -> OpenCorpus:
    config = config or _config(args)
    folder = args.corpus or config.corpus.path
    if folder is not None and not folder.is_dir():
        raise CliError(f"corpus folder not found: {folder}")
    bar: Progress | None = None
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        nonlocal bar
        slow = time.monotonic() - started > PROGRESS_AFTER_SECONDS
        if total < PROGRESS_MIN_DOCUMENTS and not slow:
            return
        if bar is None:
            bar = Progress(console=Console(stderr=True), transient=True)
            bar.start()
            bar.add_task("indexing", total=total)
        bar.update(bar.task_ids[0], completed=done)

    try:
        opened = open_corpus(
            folder, config.index, config.answers, config.corpus.cache_dir, progress
        )
    finally:
        if bar is not None:
            bar.stop()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for issue in opened.loaded.issues:
        say(err, "warning:", str(issue), "yellow")
    if not opened.loaded.documents:
        unusable = " (the files there could not be used: see the warnings)"
        raise CliError(
            f"no documents in {opened.folder}: add .md, .txt, .html or .pdf files"
            + (unusable if opened.loaded.issues else "")
        )
    return opened


# -- commands ----------------------------------------------------------------------------


def cmd_ask(args: argparse.Namespace, out: Console) -> int:
    questions = list(args.questions)
    if questions == ["-"]:
        questions = [line for line in sys.stdin.read().splitlines() if line.strip()]
    if args.k is not None and not 1 <= args.k <= 25:
        raise CliError("-k must be between 1 and 25")
    config = _config(args)
    for q in questions:
        check_question(q, config.answers)
    opened = _open(args, out, config)
    for q in questions:
        answer = opened.answerer.answer(q, k=args.k)
        if args.json:
            out.print_json(data=answer_json(answer), indent=None, highlight=False)
        else:
            print_answer(out, opened.answerer, answer)
    return 0


def answer_json(answer: Answer) -> dict[str, object]:
    def quote(q: Quote) -> dict[str, object]:
        exclude = {"collection", "author", "page"} if not q.page else {"collection"}
        exclude |= {k for k in ("page_label", "section", "retrieved") if getattr(q, k) is None}
        return q.model_dump(mode="json", exclude=exclude)

    return {
        "question": answer.question,
        "answered": answer.answered,
        "quotes": [
            {**quote(c.quote), "also_in": [quote(o) for o in c.also_in]} for c in answer.results
        ],
        "unmatched_terms": answer.unmatched_terms,
        "absent_terms": answer.absent_terms,
        "confidence": answer.confidence,
        "timings": {
            "search_ms": round(answer.timings.search_ms, 3),
            "total_ms": round(answer.timings.total_ms, 3),
        },
    }


def _highlighted(answerer: Answerer, quote: Quote) -> Text:
    text = Text(quote.text)
    for s, e in answerer.highlights(quote):
        text.stylize("bold yellow", s, e)
    return text


def print_answer(out: Console, answerer: Answerer, answer: Answer) -> None:
    out.print(Text.assemble(("Q: ", "bold"), answer.question))
    if not answer.answered:
        out.print(Text(NO_ANSWER, style="bold"))
        if answer.missing_note:
            out.print(Text(answer.missing_note, style="dim"))
        out.print()
        return
    for n, cited in enumerate(answer.results, 1):
        q = cited.quote
        out.print(Text.assemble((f"{n}. ", "bold"), "“", _highlighted(answerer, q), "”"))
        out.print(Text(f"   — {q.attribution}", style="cyan"))
        out.print(
            Text(
                f"   {q.doc_id} [{q.start}:{q.end}] · matched: {', '.join(q.matched_terms)}",
                style="dim",
            )
        )
        for other in cited.also_in:
            out.print(Text(f"   also in: {other.attribution}", style="green"))
            out.print(Text.assemble("     “", _highlighted(answerer, other), "”"))
    if answer.missing_note:
        out.print(Text(answer.missing_note, style="dim"))
    out.print()


def cmd_index(args: argparse.Namespace, out: Console) -> int:
    opened = _open(args, out)
    index = opened.answerer.index
    state = "up to date (loaded from cache)" if opened.from_cache else "built"
    out.print(
        f"Index {state}: {len(index.documents)} documents, {len(index):,} passages, "
        f"{len(index.bm25.terms):,} terms."
    )
    return 0


def cmd_sources(args: argparse.Namespace, out: Console) -> int:
    opened = _open(args, out)
    docs = opened.answerer.index.documents
    table = Table(title=Text(f"Corpus: {opened.folder}"))
    table.add_column("id", no_wrap=True, min_width=max((len(d.id) for d in docs), default=2))
    for name in ("title", "publisher", "published", "chars"):
        table.add_column(name)
    for doc in docs:
        m = doc.meta
        cells = (doc.id, doc.title, m.publisher or "", str(m.published or ""), f"{len(doc.text):,}")
        table.add_row(*(Text(c) for c in cells))
    out.print(table)
    return 0


def cmd_check(args: argparse.Namespace, out: Console) -> int:
    config = _config(args)
    opened = _open(args, out, config)
    docs = opened.loaded.documents
    issues = opened.loaded.issues
    out.print(Text(f"config: {find_config(args.config) or 'defaults'} ok"))
    out.print(
        Text(f"corpus: {opened.folder}: {len(docs)} documents loaded, {len(issues)} with errors")
    )
    return 1 if issues or not docs else 0


def cmd_eval(args: argparse.Namespace, out: Console) -> int:
    questions = load_question_set(args.file)
    opened = _open(args, out)
    prepare()  # (what the first question would load is not its time)
    report = evaluate(opened.answerer.answer, questions)
    n_ans = sum(q.answerable for q in questions.question)
    title = Text(f"{args.file} ({len(questions.question)} questions)")
    table = Table("metric", "value", title=title)
    table.add_row(f"hit@1 ({n_ans} answerable)", f"{report.hit_at(1):.3f}")
    table.add_row("hit@3", f"{report.hit_at(3):.3f}")
    table.add_row("MRR@3", f"{report.mrr:.3f}")
    table.add_row(
        f"abstention ({len(questions.question) - n_ans} unanswerable)", f"{report.abstention:.3f}"
    )
    for kind in sorted({q.kind for q in questions.question if not q.answerable and q.kind}):
        n = sum(q.kind == kind for q in questions.question)
        table.add_row(f"  of which {kind} ({n})", f"{report.refused(kind):.3f}")
    table.add_row("false abstention", f"{report.false_abstention:.3f}")
    table.add_row("ms / question", f"{report.mean_ms:.2f}")
    out.print(table)
    if args.verbose:
        for o in report.outcomes:
            ok = (o.rank == 1) if o.question.answerable else not o.answered
            if not ok:
                got = (o.first_quote or "(no answer)")[:100]
                out.print(Text(f"miss: {o.question.text}\n  rank={o.rank} got: {got}", style="dim"))
    return 0


def _collection_folder(args: argparse.Namespace, config: Config, folder: Path | None) -> Path:
    folder = folder or args.corpus or config.corpus.path
    if folder is None:
        raise CliError("name the collection folder (--to/--from, or --corpus)")
    return folder


def _audit(
    store: Store, action: str, folder: Path, doc: Document, detail: str | None = None
) -> None:
    """Record an operator's change in the audit log (no server, no user)."""
    store.record(
        action,
        guild_id=None,
        user_id=None,
        collection=str(folder),
        doc_id=doc.id,
        sha256=doc.sha256,
        detail=detail,
    )


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    """The metadata options given; checked once, before any file is read."""
    given = {k: getattr(args, k) for k in ("title", "publisher", "published", "url")}
    given = {k: v for k, v in given.items() if v}
    one_each = [k for k in ("title", "url") if k in given]
    if one_each and len(args.files) > 1:
        raise CliError(
            f"--{one_each[0]} names a single document, but {len(args.files)} files were "
            "given: add them one at a time"
        )
    try:
        DocumentMeta.model_validate(given)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise CliError(f"--{problem['loc'][0]}: {problem['msg']}") from None
    return given


def cmd_corpus_add(args: argparse.Namespace, out: Console) -> int:
    from bot.core.collection import add_extracted
    from bot.core.fetch import extract_url, is_url
    from bot.core.ingest import ExtractionWorker, IngestError

    config = _config(args)
    folder = _collection_folder(args, config, args.to)
    overrides = _overrides(args)
    folder.mkdir(parents=True, exist_ok=True)
    known = list(load_folder(folder, cache_dir=config.corpus.cache_dir).documents)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    failed = 0
    with (
        open_store(config) as store,
        ExtractionWorker(config.uploads) as worker,
        Progress(console=err, transient=True, disable=len(args.files) < 2) as bar,
    ):
        task = bar.add_task("adding", total=len(args.files))
        for name in args.files:
            try:
                if is_url(name):
                    extracted = extract_url(name, config.uploads, worker.extract)
                    hint = urlsplit(name).path.rstrip("/").rsplit("/", 1)[-1] or "page"
                else:
                    path = Path(name)
                    extracted = worker.extract(path.name, path.read_bytes())
                    hint = path.name
                doc = add_extracted(
                    folder,
                    extracted,
                    collection=folder.name,
                    name_hint=hint,
                    overrides=overrides,
                    taken={d.id for d in known},
                    known=known,
                )
            except (OSError, IngestError, ValueError) as exc:
                failed += 1
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                say(bar.console, "not added:", f"{name}: {reason}")
            else:
                known.append(doc)
                _audit(store, "corpus.add", folder, doc, detail=name)
                out.print(Text(f"added {doc.id}: {doc.title} ({len(doc.text):,} characters)"))
            bar.advance(task)
    return 1 if failed else 0


def cmd_corpus_remove(args: argparse.Namespace, out: Console) -> int:
    from bot.core.collection import remove_document

    config = _config(args)
    folder = _collection_folder(args, config, args.to)
    if not folder.is_dir():
        raise CliError(f"collection folder not found: {folder}")
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    missing = 0
    docs = {d.id: d for d in load_folder(folder, cache_dir=config.corpus.cache_dir).documents}
    with open_store(config) as store:
        for doc_id in args.ids:
            doc = docs.get(doc_id)
            if doc is None or not remove_document(folder, doc_id):
                missing += 1
                say(err, "no document", f"{doc_id!r} in {folder}")
                continue
            _audit(store, "corpus.remove", folder, doc)
            out.print(Text(f"removed {doc_id}"))
    return 1 if missing else 0


def cmd_corpus_list(args: argparse.Namespace, out: Console) -> int:
    config = _config(args)
    folder = _collection_folder(args, config, args.folder)
    if not folder.is_dir():
        raise CliError(f"collection folder not found: {folder}")
    loaded = load_folder(folder, cache_dir=config.corpus.cache_dir)
    for doc in loaded.documents:
        print(f"{doc.id}\t{doc.title}\t{len(doc.text):,} characters")  # tab-separated
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for issue in loaded.issues:
        say(err, "warning:", str(issue), "yellow")
    return 1 if loaded.issues else 0


def example_config() -> str:
    """The commented example configuration, installed with the package (or the checkout's)."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "config.example.toml", package.parent / "config.example.toml"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise CliError("the example configuration is not installed")


def cmd_config(args: argparse.Namespace, out: Console) -> int:
    sys.stdout.write(example_config())
    return 0


def _token() -> str:
    token = os.environ.get("DISCORD_TOKEN", "").strip()
    if not token:
        raise CliError("set the DISCORD_TOKEN environment variable to the bot's token")
    return token


def cmd_run(args: argparse.Namespace, out: Console) -> int:
    import aiohttp
    import discord

    from bot.chat.client import VerbatimBot
    from bot.chat.logs import log_event, setup_logging

    config = _config(args)
    token = _token()
    library, store = open_library(config, args.corpus)
    setup_logging()
    log_event("storage", **store.describe())
    bot = VerbatimBot(config.discord, library.answerer_for, library=library, store=store)
    try:
        bot.run(token, log_handler=None)
    except discord.LoginFailure:
        raise CliError("Discord refused the token in DISCORD_TOKEN") from None
    except (OSError, aiohttp.ClientError) as exc:
        raise CliError(f"cannot reach Discord: {exc}") from None
    return 0


def open_library(config: Config, corpus: Path | None = None) -> tuple[Library, Store]:
    """The bot's collections (loaded, indexes built or read from the cache) and database."""
    specs = config.collection_specs()
    if corpus is not None:
        specs[0] = specs[0].model_copy(update={"path": corpus})
    for spec in specs:
        if spec.path is not None and not spec.path.is_dir():
            raise CliError(f"collection {spec.name!r}: folder not found: {spec.path}")
    store = open_store(config)
    library = Library(
        specs,
        store,
        config.index,
        config.answers,
        config.corpus.cache_dir,
        config.uploads,
    )
    library.load()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for coll in library.collections():
        for issue in coll.issues:
            say(err, "warning:", str(issue), "yellow")
    return library, store


def open_store(config: Config, database: str | None = None) -> Store:
    """The configured database (or ``database``), migrated to this release's schema."""
    try:
        return Store(
            database or config.storage.target, legacy_servers_dir=config.storage.servers_dir
        )
    except StoreError as exc:
        raise CliError(str(exc)) from None


DUMP_FORMAT = {"format": "verbatim-dump", "version": 1}


def cmd_db_migrate(args: argparse.Namespace, out: Console) -> int:
    with open_store(_config(args), args.database) as store:
        before, after = store.migrated
    state = f"schema {before} -> {after}" if before != after else f"up to date (schema {after})"
    out.print(f"{store.where}: {state}", highlight=False)
    return 0


def cmd_db_export(args: argparse.Namespace, out: Console) -> int:
    import json

    counts: dict[str, int] = {}
    with open_store(_config(args), args.database) as store:
        stream = sys.stdout if str(args.file) == "-" else None
        target = stream or args.file.open("w", encoding="utf-8")
        try:
            target.write(json.dumps(DUMP_FORMAT) + "\n")
            for record in store.dump():
                target.write(json.dumps(record, ensure_ascii=False) + "\n")
                counts[record["kind"]] = counts.get(record["kind"], 0) + 1
        except BrokenPipeError:  # e.g. `| head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        finally:
            if stream is None:
                target.close()
    summary = _counts(counts)
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"exported {summary} from {store.where}"
    )
    return 0


def cmd_db_import(args: argparse.Namespace, out: Console) -> int:
    import json

    try:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
        lines = text.splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.file}: cannot read: {exc}") from None
    try:
        header = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError:
        header = None
    if header != DUMP_FORMAT:
        raise CliError(f"{args.file}:1: not a dump written by 'verbatim db export'")

    def records() -> Iterator[tuple[int, dict[str, object]]]:
        for number, line in enumerate(lines[1:], 2):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CliError(f"{args.file}:{number}: not JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                raise CliError(f"{args.file}:{number}: not a record")
            yield number, record

    with open_store(_config(args), args.database) as store:
        try:
            counts = store.restore(records())
        except StoreError as exc:
            raise CliError(f"{args.file}: {exc}; nothing was imported") from None
    out.print(f"imported {_counts(counts)} into {store.where}", highlight=False)
    return 0


def _counts(counts: dict[str, int]) -> str:
    return (
        f"{counts.get('settings', 0)} server settings, {counts.get('document', 0)} documents, "
        f"{counts.get('audit', 0)} audit entries"
    )


def cmd_sync(args: argparse.Namespace, out: Console) -> int:
    import asyncio

    import aiohttp
    import discord

    from bot.chat.client import VerbatimBot

    config = _config(args)
    token = _token()
    guilds = [] if args.globally else config.discord.guild_ids

    library, store = open_library(config, args.corpus)

    async def sync() -> list[str]:
        bot = VerbatimBot(config.discord, library.answerer_for, library=library, store=store)
        async with bot:
            await bot.login(token)
            lines = []
            if not guilds:
                synced = await bot.tree.sync()
                lines.append(f"globally: {', '.join(c.name for c in synced)}")
            for gid in guilds:
                guild = discord.Object(gid)
                bot.tree.copy_global_to(guild=guild)
                synced = await bot.tree.sync(guild=guild)
                lines.append(f"guild {gid}: {', '.join(c.name for c in synced)}")
            return lines

    try:
        lines = asyncio.run(sync())
    except discord.LoginFailure:
        raise CliError("Discord refused the token in DISCORD_TOKEN") from None
    except discord.HTTPException as exc:
        raise CliError(f"Discord refused the sync: {exc}") from None
    except (OSError, aiohttp.ClientError) as exc:
        raise CliError(f"cannot reach Discord: {exc}") from None
    for line in lines:
        out.print(Text(f"synced {line}"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
