"""Shared state: per-server settings, servers' own documents and the audit log, in the
embedded SQLite file (default) or a PostgreSQL server (``[storage] database_url``)."""

from bot.store.backends import StoreError, redact
from bot.store.schema import LATEST
from bot.store.settings import SETTING_KEYS, GuildSettings, SettingError, parse_setting
from bot.store.store import AuditEntry, DocumentExists, ServerData, Store

__all__ = [
    "LATEST",
    "SETTING_KEYS",
    "AuditEntry",
    "DocumentExists",
    "GuildSettings",
    "ServerData",
    "SettingError",
    "Store",
    "StoreError",
    "parse_setting",
    "redact",
]
