"""A throwaway PostgreSQL cluster for the tests and benchmarks: initdb in a temporary folder,
a server on a free loopback port, removed on stop. The server refuses to run as root, so as
root it runs as an unprivileged user (``verbatim-test`` if it exists, else ``nobody``)."""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

HOW_TO = (
    "PostgreSQL tests need the server binaries (initdb, pg_ctl): apt-get install postgresql "
    "(Debian), or put a PostgreSQL bin folder in VERBATIM_PG_BIN"
)


def server_bin() -> Path | None:
    explicit = os.environ.get("VERBATIM_PG_BIN")
    if explicit:
        return Path(explicit) if (Path(explicit) / "pg_ctl").exists() else None
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    which = shutil.which("pg_ctl")
    return Path(which).resolve().parent if which else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        self.bin = bin_dir
        self.durable = durable  # False: no fsync (tests); True: as a server would (benchmarks)
        self.root = Path(tempfile.mkdtemp(prefix="verbatim-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            user = "verbatim-test"
            try:
                pwd.getpwnam(user)
            except KeyError:
                user = "nobody"
            entry = pwd.getpwnam(user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._prefix = ["runuser", "-u", user, "--"]

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._prefix, *args], cwd=self.root, check=True, capture_output=True, text=True
        )

    def start(self) -> None:
        try:
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions",
            )  # fmt: skip
            options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            options += "-c max_connections=200"
            if not self.durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                "-l", str(self.root / "server.log"), "-w", "-t", "60", "start",
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{tail}") from None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A URL to a fresh, empty place for Verbatim's tables: its own schema, first on the
        search path (CREATE SCHEMA takes milliseconds; CREATE DATABASE a quarter second)."""
        import psycopg

        name = f"t{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.url()}?options=-csearch_path%3D{name}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(*, durable: bool = False) -> Iterator[Cluster]:
    bin_dir = server_bin()
    if bin_dir is None:
        raise FileNotFoundError(HOW_TO)
    cluster = Cluster(bin_dir, durable=durable)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
