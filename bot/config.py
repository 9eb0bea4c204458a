"""Configuration: a TOML file validated by pydantic. Every setting has a default, so no file
is needed; a bad file fails with its path, the key and the line."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.core.analysis import AnalysisSettings
from bot.core.answers import AnswerSettings
from bot.core.bm25 import BM25Settings
from bot.core.index import IndexSettings
from bot.core.ingest import IngestLimits
from bot.core.library import CollectionSpec
from bot.core.segment import SegmentSettings

CONFIG_ENV = "VERBATIM_CONFIG"
DATABASE_URL_ENV = "VERBATIM_DATABASE_URL"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, line and key."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "verbatim"


class CorpusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path | None = Field(default=None, description="corpus folder; unset: the default corpus")
    cache_dir: Path | None = Field(default_factory=default_cache_dir)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "verbatim"


class CollectionConfig(BaseModel):
    """An operator collection besides the default corpus."""

    model_config = ConfigDict(extra="forbid")

    path: Path
    guilds: list[int] = Field(
        default_factory=list, description="servers that answer from it; empty: every server"
    )


class StorageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="the SQLite database (settings, audit, servers' documents) lives here",
    )
    database_url: str | None = Field(
        default=None,
        description="postgresql://user:password@host/db to share state across machines; "
        f"${DATABASE_URL_ENV} overrides it; unset: SQLite in data_dir",
    )

    @property
    def servers_dir(self) -> Path:
        """Where releases before the documents table kept servers' documents (imported into
        the database on the first start of this one)."""
        return self.data_dir / "servers"

    @property
    def target(self) -> Path | str:
        """The database: $VERBATIM_DATABASE_URL, else database_url, else the SQLite file."""
        return os.environ.get(DATABASE_URL_ENV) or self.database_url or self.database

    @property
    def database(self) -> Path:
        return self.data_dir / "verbatim.sqlite3"


class DiscordConfig(BaseModel):
    """The bot. The token is read only from the environment variable ``DISCORD_TOKEN``."""

    model_config = ConfigDict(extra="forbid")

    application_id: int | None = Field(default=None, gt=0)
    guild_ids: list[int] = Field(
        default_factory=list, description="servers to sync commands to; empty: global"
    )
    public_by_default: bool = Field(
        default=False, description="answers visible to the channel unless public:false"
    )
    results: int = Field(default=3, ge=1, le=10, description="quotes per /ask answer")
    search_page_size: int = Field(default=4, ge=1, le=10)
    search_pages: int = Field(default=5, ge=1, le=25)
    cooldown_uses: int = Field(default=5, ge=1, description="questions a user may ask ...")
    cooldown_seconds: float = Field(default=30.0, ge=0.0, description="... per this many s")
    allowed_channels: list[int] = Field(
        default_factory=list, description="channels the bot answers in; empty: all"
    )
    log_questions: bool = Field(default=False, description="record question text in logs")
    follow_changes_seconds: float = Field(
        default=5.0,
        ge=0.0,
        description="SQLite: how often a process picks up other processes' corpus and "
        "settings changes (sharded deployments); 0: never. PostgreSQL: changes arrive as "
        "they are committed (LISTEN/NOTIFY), whatever this says",
    )
    search_threads: int = Field(
        default=2, ge=1, le=32, description="worker threads for searches (about one per core)"
    )
    http_connections: int = Field(
        default=64,
        ge=2,  # with 1, answers' edits fail on a closed connection (found by a test)
        le=1000,
        description="connections to Discord's API at once, besides acknowledgements "
        "(which have a pool of their own)",
    )
    upload_workers: int = Field(
        default=2, ge=1, le=16, description="uploads parsed at once, over all servers"
    )
    server_max_documents: int = Field(
        default=500, ge=1, description="documents a server's own collection may hold"
    )
    server_max_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, description="text a server's own collection may hold"
    )
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: list[int] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_token_in_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "token" in data:
            raise ValueError(
                "the token is never read from the config file: set DISCORD_TOKEN instead"
            )
        return data

    @model_validator(mode="after")
    def _shards(self) -> DiscordConfig:
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("shard_ids needs shard_count")
            if any(not 0 <= i < self.shard_count for i in self.shard_ids):
                raise ValueError("every shard id must be in 0 .. shard_count - 1")
        return self


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corpus: CorpusConfig = Field(default_factory=CorpusConfig)
    analysis: AnalysisSettings = AnalysisSettings()
    passages: SegmentSettings = SegmentSettings()
    bm25: BM25Settings = BM25Settings()
    answers: AnswerSettings = AnswerSettings()
    collections: dict[str, CollectionConfig] = Field(default_factory=dict)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    uploads: IngestLimits = IngestLimits()
    discord: DiscordConfig = DiscordConfig()

    @model_validator(mode="after")
    def _collection_names(self) -> Config:
        for name in self.collections:
            if name == "default" or name.startswith("server-") or not _NAME.match(name):
                raise ValueError(
                    f"collection name {name!r}: use lower-case letters, digits and '-' "
                    "('default' and 'server-…' are taken)"
                )
        return self

    def collection_specs(self) -> list[CollectionSpec]:
        """The default corpus, then the operator's other collections."""
        specs = [CollectionSpec(name="default", path=self.corpus.path)]
        for name, c in self.collections.items():
            specs.append(CollectionSpec(name=name, path=c.path, guilds=tuple(c.guilds)))
        return specs

    @property
    def index(self) -> IndexSettings:
        return IndexSettings(analysis=self.analysis, passages=self.passages, bm25=self.bm25)


def find_config(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    local = Path("config.toml")
    return local if local.is_file() else None


def load_config(path: Path | None) -> Config:
    """The config in ``path``, or the defaults when ``path`` is None."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    _resolve_paths(raw, path.parent)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc)
        line = _line_of(text, loc)
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"{where}: {key}: {err['msg']}") from None


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    """Relative paths in a config file are relative to the file."""
    tables = [(raw.get("corpus"), ("path", "cache_dir")), (raw.get("storage"), ("data_dir",))]
    collections = raw.get("collections")
    if isinstance(collections, dict):
        tables += [(c, ("path",)) for c in collections.values()]
    for table, keys in tables:
        if not isinstance(table, dict):
            continue
        for key in keys:
            value = table.get(key)
            if isinstance(value, str) and value and not Path(value).is_absolute():
                table[key] = str(base / value)


def _line_of(text: str, loc: list[str]) -> int | None:
    """Line of the key ``loc`` (e.g. ``["answers", "quotes"]``) in a TOML text."""
    lines = text.splitlines()
    section_start = 0
    if len(loc) > 1:
        header = re.compile(rf"^\s*\[\s*{re.escape(loc[0])}\s*\]")
        for i, line in enumerate(lines):
            if header.match(line):
                section_start = i
                break
    key = re.compile(rf"^\s*{re.escape(loc[-1])}\s*=")
    for i in range(section_start, len(lines)):
        if key.match(lines[i]):
            return i + 1
    header = re.compile(rf"^\s*\[\s*{re.escape(loc[0])}\s*\]")
    for i, line in enumerate(lines):
        if header.match(line):
            return i + 1
    return None
