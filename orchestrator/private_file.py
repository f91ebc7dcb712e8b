"""Files only this user may have written: caches whose content runs as code when loaded (a pickle, marshal'd
code objects), so they are read only when this user owns them and nobody else can write them, and written
owner-only (0600, in a 0700 folder) by an atomic rename. Every failure is "no file": a cache only saves time."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def read_private(path: Path) -> bytes | None:
    """The file's bytes, or None: missing, unreadable, not a regular file (a symlink is not followed), not
    this user's, or writable by group or others."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return f.read()
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)


def write_private(path: Path, data: bytes, parents: bool = False) -> bool:
    """Write `data` to `path` (0600) through a temporary file beside it and a rename, so a reader sees the
    old file or the new one whole; `parents`: create missing folders above it too. False if it failed
    (a read-only folder, a full disk): nothing is left behind."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(mode=0o700, parents=parents, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True
