"""A real PostgreSQL for the tests (issue 14), from Debian's ``postgresql`` package.

Started once per test worker on a temporary data folder, reachable only through a Unix socket
in that folder (``listen_addresses = ''``: no TCP port at all), as the ``postgres`` system
user when the tests run as root (the server refuses to run as root), with ``trust``
authentication for that socket alone; stopped and removed at the end. Each test gets a
database of its own (:meth:`Server.database`), so tests never see each other's rows.

``scripts/test`` installs the package when it is missing (like chromium); where it cannot be
installed the tests that need it skip, saying why (:func:`unavailable`).

Durability is turned off (``fsync``, ``synchronous_commit``, ``full_page_writes``): the data
folder is thrown away, and a SIGKILL of a worker process (the client) does not depend on it.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from itertools import count
from pathlib import Path

#: The system user the server runs as when the tests run as root (Debian's package makes it).
SYSTEM_USER = "postgres"
START_TIMEOUT = 60
_DATABASES = count(1)


def bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: Debian keeps them under
    ``/usr/lib/postgresql/<major>/bin`` (the newest major wins), off ``PATH``; else ``PATH``."""
    def major(folder: Path) -> int:
        return int(folder.parent.name) if folder.parent.name.isdigit() else 0

    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True):
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    return None


def unavailable() -> str | None:
    """Why the tests cannot have a PostgreSQL here (None: they can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    if bindir() is None:
        return ("PostgreSQL's server is not installed (Debian: apt-get install postgresql; "
                "scripts/test does it when run as root)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return f"running as root and there is no {SYSTEM_USER!r} user to run the server as"
    return None


class Server:
    """One PostgreSQL server on a temporary folder (see the module docstring)."""

    def __init__(self) -> None:
        self._bin = bindir()
        if self._bin is None:
            raise RuntimeError(unavailable() or "no PostgreSQL")
        self._user = SYSTEM_USER if os.geteuid() == 0 else None
        # As root, in /tmp: a TMPDIR of root's own (mode 700) would be closed to the server.
        self.folder = Path(tempfile.mkdtemp(prefix="rsspage-pg-",
                                            dir="/tmp" if self._user else None))
        self.data = self.folder / "data"
        self.socket_dir = self.folder  # the server's socket: <folder>/.s.PGSQL.5432
        self.role = self._user or pwd.getpwuid(os.geteuid()).pw_name
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        os.chmod(self.folder, 0o755)

    def start(self) -> Server:
        self._run("initdb", "-D", str(self.data), "-U", self.role, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions")
        options = (f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", options, "-w", "-t", str(START_TIMEOUT), "start")
        return self

    def stop(self) -> None:
        with suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL to ``database`` through the socket (no host, no port)."""
        return f"postgresql://{self.role}@/{database}?host={self.socket_dir}"

    def database(self, prefix: str = "t") -> str:
        """A new, empty database (its URL), for one test."""
        import psycopg
        name = f"{re.sub(r'[^a-z0-9_]', '_', prefix.lower())[:40]}_{os.getpid()}_{next(_DATABASES)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        try:
            return (self.folder / "server.log").read_text("utf-8", "replace")
        except OSError:
            return ""

    def _run(self, tool: str, *args: str) -> None:
        assert self._bin is not None
        command: Sequence[str] = [str(self._bin / tool), *args]
        result = subprocess.run(command, user=self._user, capture_output=True, text=True,
                                timeout=START_TIMEOUT + 30, cwd=self.folder)
        if result.returncode:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip()}"
                               f"\n{self.log()[-2000:]}")


if __name__ == "__main__":  # scripts/test: say whether the PostgreSQL tests will run
    reason = unavailable()
    print("PostgreSQL tests: " + ("run" if reason is None else f"skipped: {reason}"))
