import sqlite3
import threading

import pytest

from bot.store import MIGRATIONS, SettingError, Store, StoreError, parse_setting


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "db" / "verbatim.sqlite3") as s:
        yield s


def test_defaults_update_and_restart(tmp_path):
    path = tmp_path / "v.sqlite3"
    with Store(path) as store:
        assert store.settings(1).allowed_channels == [] and store.settings(1).results is None
        store.update_settings(1, 42, results=5, allowed_channels=[7, 8])
        assert store.settings(2).results is None  # another server is untouched
    with Store(path) as again:  # a restart loses nothing
        assert again.settings(1).results == 5 and again.settings(1).allowed_channels == [7, 8]
        (entry,) = again.audit(1)
        assert entry.action == "settings.set" and entry.user_id == 42
        assert '"results": 5' in (entry.detail or "")


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("allowed_channels", "<#123456> <#234567>", [123456, 234567]),
        ("allowed_channels", "123456, 234567", [123456, 234567]),
        ("allowed_channels", "none", []),
        ("admin_roles", "<@&345678>", [345678]),
        ("public_by_default", "Yes", True),
        ("public_by_default", "off", False),
        ("public_by_default", "default", None),
        ("results", "4", 4),
        ("audit_channel", "<#987654>", 987654),
        ("audit_channel", "none", None),
    ],
)
def test_parse_setting(key, raw, value):
    assert parse_setting(key, raw) == value


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("colour", "red", "unknown setting 'colour'"),
        ("allowed_channels", "#general", "allowed_channels"),
        ("public_by_default", "maybe", "public_by_default: true or false"),
        ("results", "many", "results: a whole number"),
        ("audit_channel", "here", "audit_channel"),
    ],
)
def test_bad_settings_name_the_key(key, raw, message):
    with pytest.raises(SettingError, match=message):
        parse_setting(key, raw)


def test_invalid_values_are_refused_and_nothing_is_written(store):
    store.update_settings(1, 42, results=3)
    with pytest.raises(SettingError, match="results"):
        store.update_settings(1, 42, results=0)
    assert store.settings(1).results == 3
    assert len(store.audit(1)) == 1


def test_audit_is_newest_first_and_per_server(store):
    store.record("corpus.add", guild_id=1, user_id=2, doc_id="a", sha256="0" * 64)
    store.record("corpus.remove", guild_id=1, user_id=2, doc_id="a")
    store.record("corpus.add", guild_id=None, user_id=None, doc_id="op")
    assert [e.action for e in store.audit(1)] == ["corpus.remove", "corpus.add"]
    assert [e.doc_id for e in store.audit(None)] == ["op"]
    assert store.audit(1, limit=1)[0].action == "corpus.remove"


def test_migrations_and_newer_databases(tmp_path):
    path = tmp_path / "v.sqlite3"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer Verbatim"):
        Store(path)


def test_concurrent_writers_all_land(store):
    errors = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                store.update_settings(n, n, results=1 + i % 10)
                store.record("corpus.add", guild_id=n, user_id=n, doc_id=f"d{i}")
        except Exception as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(len(store.audit(n, limit=1000)) == 100 for n in range(1, 9))


def test_a_failure_mid_transaction_keeps_the_previous_value(store, monkeypatch):
    store.update_settings(1, 42, results=3)
    import bot.store as module

    def boom(*args, **kwargs):
        raise RuntimeError("crash while writing the audit row")

    monkeypatch.setattr(module.Store, "_insert_audit", boom)
    with pytest.raises(RuntimeError):
        store.update_settings(1, 42, results=9)
    monkeypatch.undo()
    assert store.settings(1).results == 3


def test_mentions_of_the_wrong_kind_are_refused():
    with pytest.raises(SettingError, match="allowed_channels: give channel mentions"):
        parse_setting("allowed_channels", "<@&345678>")
    with pytest.raises(SettingError, match="admin_roles: give role mentions"):
        parse_setting("admin_roles", "<#123456>")
    with pytest.raises(SettingError, match="audit_channel"):
        parse_setting("audit_channel", "<@&345678>")
    assert parse_setting("allowed_channels", "<#123456> 123456") == [123456]


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "verbatim.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="is not a Verbatim database"):
        Store(path)
