"""Writing files whole, shared by the store and the outputs.

Every temporary file rsspage makes on its way to an atomic ``os.replace`` ends in
:data:`TMP_SUFFIX`, so that one left behind by a killed run is recognised and swept.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TMP_SUFFIX = ".rsspage-tmp"


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the descriptor ``fd`` (``os.write`` may write less)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_and_close(fd: int, data: bytes, *, durable: bool) -> None:
    """Write all of ``data`` to the new file ``fd``, fsync it when ``durable``, close it."""
    try:
        write_all(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Put ``data`` at ``path`` whole: a temporary beside it, fsync'ed when ``durable``, then
    ``os.replace``. An existing file keeps its permissions. Raises OSError; no temporary is left.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o666)
        write_and_close(fd, data, durable=durable)
        with contextlib.suppress(OSError):  # a new file keeps the umask's permissions
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
