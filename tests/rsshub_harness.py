"""A real RSSHub on 127.0.0.1 for tests, from ``../shared/tools/start-rsshub.sh``.

The script installs Node 22 and RSSHub from the npm registry (once per machine, into
``$RSSPAGE_TEST_CACHE/rsshub`` or ``~/.cache/rsspage-tests/rsshub``; ~520 MB, about a minute)
and starts RSSHub offline in ~1 s. What works offline: ``/api/namespace``, ``/api/radar/rules``,
the ``/test/*`` routes (items, errors, slow answers, redirects) and ``ACCESS_KEY``; real routes
answer 503 at once (``REQUEST_RETRY=0``).

``python tests/rsshub_harness.py`` installs it ahead of the tests (``scripts/test`` does), so no
test waits on npm.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from hexo_harness import file_lock

SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "tools" / "start-rsshub.sh"
#: The key of the instance the keyed fixture starts (RSSHub's ``ACCESS_KEY``).
TEST_KEY = "rsspage-test-access-key-4f1c"
START_TIMEOUT = 900  # the first start installs from npm


@dataclass(frozen=True)
class RealRSSHub:
    url: str
    pid: int
    #: Its ``ACCESS_KEY``; None when it has none.
    key: str | None = None


def cache_dir() -> Path:
    return Path(os.environ.get("RSSPAGE_TEST_CACHE", Path.home() / ".cache" / "rsspage-tests"))


def unavailable() -> str | None:
    """Why a real RSSHub cannot run here (a skip reason), or None when it can."""
    if not SCRIPT.is_file():
        return f"{SCRIPT} not found (../shared beside the repository)"
    for tool in ("npm", "curl"):  # npm installs it; the script waits on it with curl
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH: cannot run RSSHub (scripts/test installs it)"
    return None


@contextmanager
def running_rsshub(key: str | None = None) -> Iterator[RealRSSHub]:
    """Start a real RSSHub (installing it first when needed); stop it on exit."""
    home = cache_dir() / "rsshub"
    home.mkdir(parents=True, exist_ok=True)
    env = ["REQUEST_RETRY=0"] + ([f"ACCESS_KEY={key}"] if key else [])
    with file_lock(home / ".lock"):  # one install at a time (test workers start in parallel)
        proc = subprocess.run(
            ["bash", str(SCRIPT), str(_free_port()), *env],
            capture_output=True, text=True, timeout=START_TIMEOUT,
            env={**os.environ, "RSSHUB_HOME": str(home)},
        )
    if proc.returncode != 0:
        raise RuntimeError(f"start-rsshub.sh failed:\n{proc.stdout}\n{proc.stderr[-4000:]}")
    pid_text, url = proc.stdout.split()[-2:]
    server = RealRSSHub(url, int(pid_text), key)
    try:
        yield server
    finally:
        with suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


if __name__ == "__main__":  # install (and try once) ahead of the tests
    reason = unavailable()
    if reason:
        print(f"rsshub_harness: {reason}", file=sys.stderr)
        sys.exit(0)
    with running_rsshub() as hub:
        print(f"rsshub_harness: a real RSSHub runs here ({hub.url}); installed in "
              f"{cache_dir() / 'rsshub'}")
