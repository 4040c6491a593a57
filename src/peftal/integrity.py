"""Checks that turn damaged files and full disks into one clear line instead of a traceback.

SQLite reports a damaged page only when a query happens to read it, possibly hours into a study;
:func:`check_sqlite` runs SQLite's own ``quick_check`` on open, so a damaged store is named before
anything is resumed or written. :func:`os_error_message` gives the one line for the I/O faults
a user can fix (full disk, read-only folder, missing folder).
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from peftal.errors import UsageError

# Codes of sqlite3.Error.sqlite_errorcode (Python >= 3.11), named as in sqlite3.h.
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_NOTADB = 10, 11, 13, 26
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


def check_sqlite(path: Path) -> None:
    """Raise :class:`UsageError` naming ``path`` if it exists and is not a sound SQLite database.

    Opens the file read-only (nothing is created or changed) and runs ``PRAGMA quick_check``,
    which reads every page: a header that is not SQLite's and pages damaged mid-file both fail.
    """
    path = Path(path)
    if not path.is_file():
        return
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as error:
        raise UsageError(f"{path}: cannot open the database ({error})") from None
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as error:
        raise damaged(path, error) from None
    finally:
        db.close()
    problems = [row[0] for row in rows if row[0] != "ok"]
    if problems:
        raise UsageError(f"{path} is damaged (SQLite integrity check: {problems[0]}); restore it from "
                         "a backup or remove it to start afresh")


def damaged(path: Path, error: sqlite3.DatabaseError) -> UsageError:
    """The user error for a database that SQLite cannot read."""
    return UsageError(f"{path} is damaged or not a SQLite database ({error}); restore it from a "
                      "backup or remove it to start afresh")


def is_disk_full(error: BaseException) -> bool:
    """True for a full disk (or quota), from the OS or from SQLite."""
    if isinstance(error, OSError):
        return error.errno in _DISK_FULL
    return isinstance(error, sqlite3.Error) and getattr(error, "sqlite_errorcode", None) == SQLITE_FULL


def cannot_store(error: BaseException) -> bool:
    """True for a write the storage refused: a full disk, or SQLite's I/O error (which is what a
    full disk gives when even the WAL index cannot grow)."""
    code = getattr(error, "sqlite_errorcode", None)
    return is_disk_full(error) or (isinstance(error, sqlite3.Error) and code is not None
                                   and code & 0xFF == SQLITE_IOERR)


def os_error_message(error: BaseException) -> str | None:
    """One line for an I/O fault the user can fix, or ``None`` for any other error (a bug)."""
    if is_disk_full(error):
        where = f" writing {error.filename}" if getattr(error, "filename", None) else ""
        return f"the disk is full{where}; free some space and run the command again"
    if cannot_store(error):
        return f"a database could not be written ({error}); is the disk full or failing?"
    if isinstance(error, sqlite3.DatabaseError) and getattr(error, "sqlite_errorcode", None) in (
            SQLITE_CORRUPT, SQLITE_NOTADB):
        return f"a database is damaged ({error}); restore it from a backup or remove it"
    if isinstance(error, OSError) and error.errno in _NOT_WRITABLE:
        return f"cannot write {error.filename or 'a file'}: {error.strerror} (choose a writable folder)"
    if isinstance(error, OSError) and error.errno == errno.ENOENT and error.filename:
        return f"{error.filename}: no such file or folder"
    return None


def check_writable_folder(folder: Path, option: str) -> None:
    """Refuse a folder that cannot be created or written, before anything is written.

    Walks up to the nearest existing ancestor and asks the OS whether it may be written into
    (root passes ``os.access`` everywhere except on a read-only file system, which is also caught).
    """
    import os

    folder = Path(folder).expanduser()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {folder}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK) or _read_only_fs(existing):
        raise UsageError(f"{option} {folder}: {existing} is not writable; choose another folder")


def _read_only_fs(folder: Path) -> bool:
    import os

    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
