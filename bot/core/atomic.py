"""Atomic file writes: a temp file in the same folder, fsync, rename, fsync of the folder.
A crash leaves the old file or the new one, never a torn one; temp files start with ".tmp-"."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".tmp-"


def write_atomic(path: Path, write: Callable[[BinaryIO], object] | bytes) -> None:
    """Replace ``path`` with what ``write`` writes (or with the given bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(write, bytes):
                fh.write(write)
            else:
                write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_temp_files(folder: Path) -> int:
    """Remove temp files left by a crash mid-write; returns how many."""
    if not folder.is_dir():
        return 0
    stale = list(folder.glob(TEMP_PREFIX + "*"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
