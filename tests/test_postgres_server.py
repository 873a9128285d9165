"""The PostgreSQL the tests of issue 14 run against (tests/pg_harness.py): a real server from
Debian's package, reachable only through its Unix socket, not running as root, a database per
test, and the trigram search the store will use working on Chinese without word breaks."""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pg_harness import SYSTEM_USER, Server, unavailable, unique_name

psycopg = pytest.importorskip("psycopg")


def test_the_server_listens_on_its_socket_only_and_not_as_root(postgres: Server) -> None:
    with psycopg.connect(postgres.url()) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        (folder,) = conn.execute("SHOW unix_socket_directories").fetchone()
        assert folder == str(postgres.socket_dir)
        (data,) = conn.execute("SHOW data_directory").fetchone()
    owner = os.stat(data).st_uid
    assert owner != 0
    if os.geteuid() == 0:
        assert owner == pwd.getpwnam(SYSTEM_USER).pw_uid


def test_each_test_gets_a_database_of_its_own(postgres: Server) -> None:
    first, second = postgres.database("isolated"), postgres.database("isolated")
    assert first != second
    with psycopg.connect(first) as conn:
        conn.execute("CREATE TABLE t (x TEXT)")
        conn.execute("INSERT INTO t VALUES ('小米')")
    with psycopg.connect(second) as conn:
        assert conn.execute("SELECT COUNT(*) FROM pg_tables WHERE tablename = 't'"
                            ).fetchone() == (0,)


def test_trigram_search_finds_chinese_without_word_breaks(postgres: Server) -> None:
    """pg_trgm (the issue's search on PostgreSQL) splits words at characters the database's
    locale does not call alphanumeric: with the harness's C.UTF-8 Chinese characters are, so a
    run of them is one word of trigrams and a two-character query is found inside it."""
    with psycopg.connect(postgres.database("trgm"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_trgm")
        conn.execute("CREATE TABLE a (title TEXT)")
        conn.execute("CREATE INDEX a_title ON a USING gin (title gin_trgm_ops)")
        conn.cursor().executemany("INSERT INTO a VALUES (%s)", [("小米15正式发布，骁龙8至尊版",),
                                                                ("比亚迪匈牙利工厂投产",),
                                                                ("Apple ships iPhone 16e",)])
        conn.execute("SET enable_seqscan = off")  # through the index, as a large table would
        found = [t for (t,) in conn.execute("SELECT title FROM a WHERE title ILIKE %s",
                                            ("%骁龙8至尊%",))]
        assert found == ["小米15正式发布，骁龙8至尊版"]
        found = [t for (t,) in conn.execute("SELECT title FROM a WHERE title ILIKE %s",
                                            ("%iphone%",))]
        assert found == ["Apple ships iPhone 16e"]
        (plan,) = conn.execute("EXPLAIN SELECT title FROM a WHERE title ILIKE '%匈牙利%'"
                               ).fetchone()
        assert "a_title" in plan or "Bitmap" in plan


def test_under_a_c_locale_trigrams_lose_chinese(postgres: Server) -> None:
    """What the PostgreSQL store must check before it relies on pg_trgm: in a database whose
    LC_CTYPE is C (common on servers set up without a locale), Chinese characters are not
    alphanumeric, so they make no trigrams; two different Chinese titles look the same and a
    Chinese query cannot use the index (every row is rechecked)."""
    name = unique_name("c_locale")
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' '
                     "LC_COLLATE 'C' LC_CTYPE 'C'")
    with psycopg.connect(postgres.url(name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_trgm")
        (trigrams,) = conn.execute("SELECT show_trgm('骁龙8至尊版')").fetchone()
        assert trigrams == ["  8", " 8 "]  # the digit alone
        (same,) = conn.execute("SELECT similarity('小米15正式发布', '比亚迪15工厂投产')").fetchone()
        assert same == 1.0
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        (ctype,) = conn.execute("SELECT datctype FROM pg_database WHERE datname = "
                                "current_database()").fetchone()
    assert ctype == "C.UTF-8"  # the harness's own databases split Chinese into trigrams


def test_a_killed_test_process_leaves_no_server_behind(tmp_path: Path) -> None:
    """pg_ctl starts the server in a session of its own: when the process that started it is
    killed (a test worker's crash, a CI timeout), the harness's watcher stops it and removes
    its folder."""
    if (reason := unavailable()) is not None:
        pytest.skip(reason)
    started = tmp_path / "started"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import pg_harness
        server = pg_harness.Server().start()
        open({str(started)!r}, "w").write(str(server.folder))
        time.sleep(600)
    """)])
    try:
        for _ in range(600):
            if started.exists() and started.read_text():
                break
            time.sleep(0.1)
        folder = Path(started.read_text())
        pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
        assert _alive(pid)
        if os.geteuid() == 0:  # as the server's user and group, not root's group
            status = Path(f"/proc/{pid}/status").read_text()
            gid = pwd.getpwnam(SYSTEM_USER).pw_gid
            assert re.search(rf"^Gid:\s+{gid}\s", status, re.M), status
    finally:
        child.kill()
        child.wait()
    for _ in range(300):
        if not folder.exists() and not _alive(pid):
            break
        time.sleep(0.1)
    assert not folder.exists()
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (an exited process its parent has not reaped yet does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
