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
import shlex
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
#: The server's port: it names the socket file (``.s.PGSQL.5432``); no TCP port is opened.
PORT = 5432
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
    if found and (Path(found).parent / "pg_ctl").is_file():
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
    try:
        pwd.getpwnam(SYSTEM_USER) if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    except KeyError:
        return (f"running as root and there is no {SYSTEM_USER!r} user to run the server as"
                if os.geteuid() == 0 else "this user has no passwd entry (initdb needs one)")
    return None


class Server:
    """One PostgreSQL server on a temporary folder (see the module docstring)."""

    def __init__(self) -> None:
        self._bin = bindir()
        if self._bin is None:
            raise RuntimeError(unavailable() or "no PostgreSQL")
        owner = pwd.getpwnam(SYSTEM_USER) if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        #: (uid, gid) to run the server as when the tests run as root; None: as ourselves
        self._as = (owner.pw_uid, owner.pw_gid) if os.geteuid() == 0 else None
        self.role = owner.pw_name
        # In /tmp whatever TMPDIR says: root's own would be closed to the server, and a long
        # one would push the socket's path past its 107 bytes.
        self.folder = Path(tempfile.mkdtemp(prefix="rsspage-pg-", dir="/tmp"))
        self.data = self.folder / "data"
        self.socket_dir = self.folder  # the server's socket: <folder>/.s.PGSQL.5432
        if self._as:
            os.chown(self.folder, *self._as)  # mode 700: the server's alone (and root's)
        self._watcher: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self._run("initdb", "-D", str(self.data), "-U", self.role, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions")
        options = (f"-k {shlex.quote(str(self.socket_dir))} -p {PORT} -c listen_addresses='' "
                   "-c unix_socket_permissions=0700 -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", options, "-w", "-t", str(START_TIMEOUT), "start")
        self._watch()
        return self

    def _watch(self) -> None:
        """A watcher that stops the server and removes its folder when this process ends in
        any way (the pipe it reads closes): a killed test worker leaves no server behind
        (pg_ctl starts it in a session of its own)."""
        assert self._bin is not None
        script = '"$0" -D "$1" -m immediate -w stop >/dev/null 2>&1; rm -rf "$2"'
        self._watcher = subprocess.Popen(
            ["sh", "-c", f"read _; {script}", str(self._bin / "pg_ctl"), str(self.data),
             str(self.folder)], stdin=subprocess.PIPE, start_new_session=True,
            env=_environment(), **self._identity())

    def stop(self) -> None:
        with suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        if self._watcher is not None and self._watcher.stdin is not None:
            self._watcher.stdin.close()  # the watcher finds it stopped, and removes the folder
            with suppress(subprocess.TimeoutExpired):
                self._watcher.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL to ``database`` through the socket (no TCP host)."""
        return (f"postgresql://{self.role}@/{database}?host={self.socket_dir}&port={PORT}"
                "&sslmode=disable")

    def database(self, prefix: str = "t") -> str:
        """A new, empty database (its URL), for one test."""
        import psycopg
        name = unique_name(prefix)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        try:
            return (self.folder / "server.log").read_text("utf-8", "replace")
        except OSError:
            return ""

    def _identity(self) -> dict[str, object]:
        """subprocess arguments that run a child as the server's user, and group (``user=``
        alone keeps root's group)."""
        if self._as is None:
            return {}
        return {"user": self._as[0], "group": self._as[1], "extra_groups": []}

    def _run(self, tool: str, *args: str) -> None:
        assert self._bin is not None
        command: Sequence[str] = [str(self._bin / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.folder,
                                timeout=START_TIMEOUT + 30, env=_environment(),
                                **self._identity())  # type: ignore[call-overload]
        if result.returncode:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip()}"
                               f"\n{self.log()[-2000:]}")


def unique_name(prefix: str) -> str:
    """A database name no other test of this run has."""
    return f"{re.sub(r'[^a-z0-9_]', '_', prefix.lower())[:40]}_{os.getpid()}_{next(_DATABASES)}"


def _environment() -> dict[str, str]:
    """This process's environment without libpq's ``PG*`` settings (a PGPORT or PGSSLMODE of
    the machine's would steer the tools away from the test server)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


if __name__ == "__main__":  # scripts/test: say whether the PostgreSQL tests will run
    reason = unavailable()
    print("PostgreSQL tests: " + ("run" if reason is None else f"skipped: {reason}"))
