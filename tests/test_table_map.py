"""TableMap: a path → text table in SQLite that behaves as a dictionary, writes only what
changed, and keeps its last committed state through a kill."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rsspage.errors import PublishError
from rsspage.publish import table_map
from rsspage.publish.table_map import TableMap

PATHS = ["a.html", "a/1.html", "a/2.html", "A/1.html", "c/x/page/2.html", "c/x/index.html",
         "sitemap.xml", "sitemap-1.xml", "新/页.html", "pagefind/1/", "feed.xml", "%_.html",
         "x\ud7ffy.html", "x\ue000.html", "x\U0010ffff.html", "x\U0010ffff/z.html"]


@pytest.fixture
def table(tmp_path: Path) -> Iterator[TableMap]:
    db = table_map.connect(tmp_path / "t.sqlite", ("pages",), durable=False)
    yield TableMap(db, "pages")
    db.close()


def same(table: TableMap, model: dict[str, str]) -> None:
    """Every question a build asks gets the dictionary's answer."""
    assert dict(table.items()) == model and sorted(table) == sorted(model)
    assert sorted(table.values()) == sorted(model.values())
    assert len(table) == len(model)
    for path in [*PATHS, "none"]:
        assert (path in table) == (path in model) and table.get(path) == model.get(path)
    assert sorted(table_map.with_value(table, "")) == sorted(p for p, v in model.items() if not v)
    for prefixes in (["a/"], ["sitemap"], ["a/", "A/", "a/1"], ["%"], [], [""], ["x\ud7ff"],
                     ["x\U0010ffff"], ["x"], ["新/", "新"], [f"a/{n}" for n in range(1500)]):
        want = {p: v for p, v in model.items() if prefixes and p.startswith(tuple(prefixes))}
        assert dict(table_map.under(table, prefixes)) == want
    html = table_map.ending(table, ".html")
    assert sorted(html) == sorted(p for p in model if p.endswith(".html"))
    assert len(html) == sum(p.endswith(".html") for p in model)


def test_it_answers_as_a_dictionary_through_changes_commits_and_reopening(
        tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "t.sqlite"
    db = table_map.connect(path, ("pages",), durable=False)
    table, model = TableMap(db, "pages"), {}
    for step in range(400):
        key = rng.choice(PATHS)
        action = rng.random()
        if action < 0.5:
            table[key] = model[key] = rng.choice(["", "1", "2", "长"])
        elif action < 0.8:
            assert table.pop(key, None) == model.pop(key, None)
        elif action < 0.9:
            table_map.commit(db, [table], path)
        else:  # a build that failed: its changes are dropped, the committed ones stay
            db.close()
            db = table_map.connect(path, ("pages",), durable=False)
            table = TableMap(db, "pages")
            model = dict(table.items())
        if step % 10 == 0:
            same(table, model)
    table_map.commit(db, [table], path)
    db.close()
    db = table_map.connect(path, ("pages",), durable=False)
    same(TableMap(db, "pages"), model)
    db.close()


def test_an_overlay_sees_the_table_as_committed_and_changes_only_itself(
        table: TableMap, tmp_path: Path) -> None:
    table.update({"a.html": "1", "b.html": "2"})
    table_map.commit(table.db, [table], tmp_path)
    after = table.overlay()
    after["a.html"] = "new"
    del after["b.html"]
    after["c.html"] = "3"
    assert dict(table.items()) == {"a.html": "1", "b.html": "2"}  # the last build's, as read
    assert dict(after.items()) == {"a.html": "new", "c.html": "3"}
    assert len(after) == 2 and "b.html" not in after and "b.html" in table
    table_map.commit(after.db, [after], tmp_path)
    assert dict(table.overlay().items()) == {"a.html": "new", "c.html": "3"}


def test_replace_all_leaves_only_the_new_values(table: TableMap, tmp_path: Path) -> None:
    table.update({"a.html": "1", "b.html": "2"})
    table_map.commit(table.db, [table], tmp_path)
    table.replace_all({"c.html": "3"})
    same(table, {"c.html": "3"})
    table_map.commit(table.db, [table], tmp_path)
    same(table.overlay(), {"c.html": "3"})


def test_a_damaged_file_is_named_and_not_guessed_at(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    path.write_bytes(b"not a database " * 100)
    with pytest.raises(PublishError, match=r"damaged.*move it away"):
        table_map.connect(path, ("pages",), durable=True)


def test_a_process_killed_before_its_commit_leaves_the_last_committed_state(
        tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    db = table_map.connect(path, ("pages",), durable=True)
    table = TableMap(db, "pages")
    table.update({f"a/{n}.html": "old" for n in range(500)})
    table_map.commit(db, [table], path)
    db.close()
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from rsspage.publish import table_map
        db = table_map.connect(Path({str(path)!r}), ("pages",), durable=True)
        table = table_map.TableMap(db, "pages")
        for n in range(500):
            table[f"a/{{n}}.html"] = "new"
        table["b.html"] = "new"
        db.execute("BEGIN IMMEDIATE")
        table.write()  # in the file's pages and its journal, not committed
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert run.returncode == -9, run.stderr
    assert Path(f"{path}-journal").exists()  # the hot journal SQLite rolls back on opening
    db = table_map.connect(path, ("pages",), durable=True)
    assert dict(TableMap(db, "pages").items()) == {f"a/{n}.html": "old" for n in range(500)}
    db.close()


def test_a_failed_read_of_an_overlay_marks_the_table_failed_and_names_the_file(
        tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    db = table_map.connect(path, ("pages",), durable=False)
    table = TableMap(db, "pages")
    table.update({f"c/{n:05}/index.html": "x" * 40 for n in range(3000)})
    table_map.commit(db, [table], path)
    db.close()
    data = bytearray(path.read_bytes())
    data[-4096:] = b"\xa5" * 4096  # an inner page: the file opens, a key near the start reads
    path.write_bytes(bytes(data))
    db = table_map.connect(path, ("pages",), durable=False)
    previous = TableMap(db, "pages")
    assert previous.get("c/00000/index.html") == "x" * 40 and not previous.failed
    after = previous.overlay()
    with pytest.raises(PublishError, match=r"cannot read .*t\.sqlite.*malformed"):
        len(table_map.ending(after, ".html"))
    assert previous.failed and after.failed
    db.close()
