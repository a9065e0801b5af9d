"""Safe file access: outputs replaced atomically (never written through a link), files told
apart by identity (device, inode), inputs read only when they are regular files."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class OutputWriteError(ValueError):
    """An output file could not be written; the message names the file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: cannot write ({reason})")
        self.path = Path(path)
        self.reason = reason


def file_identity(path: str | Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the file ``path`` names (links followed); None if there is none."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def regular_file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a regular file (missing, dangling or looping link,
    directory, FIFO, device...), or None when it is one."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return "dangling symbolic link"
        if exc.errno == errno.ENOENT:
            return "no such file"
        return exc.strerror or type(exc).__name__
    if stat.S_ISDIR(mode):
        return "is a directory, not an image file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO, not a regular file"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return None


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder to write to; on success it is renamed
    over ``path`` (a link there is replaced, never written through). Any failure raises
    :class:`OutputWriteError` naming ``path``; the temporary file is removed."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # 0o666 less the umask, as a plain open() would create it.
        os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as exc:
        raise OutputWriteError(path, exc.strerror or str(exc)) from exc
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise OutputWriteError(path, exc.strerror or str(exc)) from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> None:
    """``write(temporary)`` then rename it over ``path`` (see :func:`replacing`)."""
    with replacing(path) as temporary:
        write(temporary)


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it."""
    write_atomically(path, lambda temporary: temporary.write_text(text))
