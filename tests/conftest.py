"""Shared test fixtures: paths to ../shared data and a helper that runs the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import pg_harness
from rsshub_harness import TEST_KEY, RealRSSHub, running_rsshub, unavailable

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120,
            env: Mapping[str, str] | None = None) -> CliRun:
    """Run `rsspage ARGS` in a subprocess, as a user would (never a TTY here); ``env`` adds
    environment variables."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "rsspage.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


def summary(out: str) -> dict[str, str]:
    """The summary table printed at the end of a run, as {row name: value}."""
    rows = {}
    for line in out.split("failed feeds:")[0].splitlines()[2:]:
        name, _, value = line.strip().rpartition("  ")
        rows[name.strip()] = value.strip()
    return rows


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.fail(f"shared fixtures not found at {SHARED_FIXTURES} (../shared beside the repo)")
    return SHARED_FIXTURES


@pytest.fixture(scope="session")
def rsshub() -> Iterator[RealRSSHub]:
    """A real RSSHub on 127.0.0.1 without an access key (see tests/rsshub_harness.py)."""
    yield from _real_rsshub(None)


@pytest.fixture(scope="session")
def rsshub_keyed() -> Iterator[RealRSSHub]:
    """A real RSSHub whose ``ACCESS_KEY`` is ``rsshub_harness.TEST_KEY``."""
    yield from _real_rsshub(TEST_KEY)


def _real_rsshub(key: str | None) -> Iterator[RealRSSHub]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with running_rsshub(key) as hub:
        yield hub


@pytest.fixture(scope="session")
def postgres() -> Iterator[pg_harness.Server]:
    """A real PostgreSQL server of this test worker, on a Unix socket only (tests/pg_harness.py);
    ``postgres.database()`` gives a test a database of its own."""
    reason = pg_harness.unavailable()
    if reason:
        pytest.skip(reason)
    server = None
    try:
        server = pg_harness.Server()
        yield server.start()
    finally:
        if server is not None:
            server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """Run the test on each database: None (SQLite, in the state folder), then the URL of a
    new database of its own on the worker's PostgreSQL server (skipped where there is none)."""
    if request.param == "sqlite":
        return None
    server: pg_harness.Server = request.getfixturevalue("postgres")
    return server.database()
