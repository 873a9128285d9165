"""The preview server: real HTTP on 127.0.0.1, content types, 404 page, rebuild on store change."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rsspage.errors import RsspageError
from rsspage.serve import serving

WASM = b"\x00asm\x01\x00\x00\x00"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "public"
    (root / "a" / "新媒体").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "pagefind").mkdir()
    (root / "index.html").write_text("<h1>首页</h1>", encoding="utf-8")
    (root / "404.html").write_text("<h1>找不到</h1>", encoding="utf-8")
    (root / "a" / "新媒体" / "index.html").write_text("<p>分类</p>", encoding="utf-8")
    (root / "style.css").write_text("body{}", encoding="utf-8")
    (root / "app.js").write_text("1", encoding="utf-8")
    (root / "feed.json").write_text("{}", encoding="utf-8")
    (root / "atom.xml").write_text("<feed/>", encoding="utf-8")
    (root / "pagefind" / "pagefind.wasm").write_bytes(WASM)
    (root / "pagefind" / "zh.pf_meta").write_bytes(b"\x1f\x8b")
    (root / "pagefind" / "x.pf_fragment").write_bytes(b"\x1f\x8b")
    (tmp_path / "secret.txt").write_text("no", encoding="utf-8")
    return root


@pytest.fixture
def base(site: Path) -> Iterator[str]:
    with serving(site) as url:
        yield url


def get(url: str, method: str = "GET") -> httpx.Response:
    return httpx.request(method, url, timeout=5, follow_redirects=False)


def test_pages_and_content_types(base: str) -> None:
    home = get(base)
    assert home.status_code == 200 and home.text == "<h1>首页</h1>"
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert home.headers["cache-control"] == "no-cache"
    expected = {
        "style.css": "text/css; charset=utf-8",
        "app.js": "text/javascript; charset=utf-8",
        "feed.json": "application/json; charset=utf-8",
        "atom.xml": "application/xml; charset=utf-8",
        "pagefind/pagefind.wasm": "application/wasm",
        "pagefind/zh.pf_meta": "application/octet-stream",
        "pagefind/x.pf_fragment": "application/octet-stream",
    }
    for path, content_type in expected.items():
        response = get(base + path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == content_type, path
    assert get(base + "pagefind/pagefind.wasm").content == WASM


def test_cjk_paths_and_folder_redirect(base: str) -> None:
    page = get(base + "a/%E6%96%B0%E5%AA%92%E4%BD%93/")
    assert page.status_code == 200 and page.text == "<p>分类</p>"
    moved = get(base + "a/%E6%96%B0%E5%AA%92%E4%BD%93")
    assert moved.status_code == 301 and moved.headers["location"].endswith("/")


def test_missing_paths_get_the_sites_404_page(base: str) -> None:
    for path in ("nope.html", "a/missing/", "empty/", "../secret.txt", "%2e%2e/secret.txt"):
        response = get(base + path)
        assert response.status_code == 404, path
        assert response.text == "<h1>找不到</h1>", path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
    head = get(base + "nope.html", "HEAD")
    assert head.status_code == 404 and head.content == b""


def test_plain_404_without_a_404_page(site: Path) -> None:
    (site / "404.html").unlink()
    with serving(site) as url:
        assert get(url + "nope").status_code == 404


def test_port_zero_picks_free_ports(site: Path) -> None:
    with serving(site, 0) as one, serving(site, 0) as two:
        assert one != two
        assert one.startswith("http://127.0.0.1:") and not one.endswith(":0/")
        assert get(one).status_code == get(two).status_code == 200


def test_port_in_use_is_a_clean_error(site: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(RsspageError, match="cannot serve"), serving(
            site, taken.getsockname()[1]
        ):
            pass


def test_request_log_lines(site: Path) -> None:
    lines: list[str] = []
    with serving(site, log=lines.append) as url:
        get(url + "style.css")
    assert any("GET /style.css" in line and "200" in line for line in lines)


class Rebuilds:
    """A rebuild callback that records its calls and can be told to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.event = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.event.set()
        if self.fail:
            raise RuntimeError("boom")

    def wait(self, timeout: float = 5.0) -> bool:
        ok = self.event.wait(timeout)
        self.event.clear()
        # The watcher reads the files again once the rebuild returns ("what the rebuild wrote
        # is no change"): a change made before that is absorbed, so give it a few polls.
        time.sleep(0.5)
        return ok


def touch(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)
    stamp = time.time() + 1  # coarse-mtime file systems still see a change
    os.utime(path, (stamp, stamp))


def test_store_changes_trigger_rebuilds(site: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    db.write_bytes(b"v1")
    rebuilds, errors = Rebuilds(), list[str]()
    with serving(site, rebuild=rebuilds, watch=db, interval=0.1, log=errors.append):
        time.sleep(0.4)
        assert rebuilds.calls == 0  # nothing changed yet
        touch(db, b"v2")
        assert rebuilds.wait(), "no rebuild after the database changed"
        touch(db.with_name(db.name + "-wal"), b"wal")
        assert rebuilds.wait(), "no rebuild after the WAL appeared"
        rebuilds.fail = True
        touch(db, b"v3")
        assert rebuilds.wait()
        time.sleep(0.4)
        rebuilds.fail = False
        touch(db, b"v4")
        assert rebuilds.wait(), "the watcher died with a failing rebuild"
    assert rebuilds.calls == 4
    assert any("boom" in e for e in errors)


def test_a_burst_of_writes_gives_one_rebuild(site: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    db.write_bytes(b"")
    rebuilds = Rebuilds()
    with serving(site, rebuild=rebuilds, watch=db, interval=0.3):
        for _ in range(8):
            touch(db, b"x")
            time.sleep(0.05)
        assert rebuilds.wait()
        time.sleep(1.0)
    assert rebuilds.calls == 1


def test_rebuild_writing_the_store_does_not_loop(site: Path, tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    db.write_bytes(b"")
    calls: list[float] = []

    def rebuild() -> None:
        calls.append(time.monotonic())
        touch(db, b"page hashes")  # like a build recording its page hashes

    with serving(site, rebuild=rebuild, watch=db, interval=0.1):
        touch(db, b"new articles")
        deadline = time.monotonic() + 10  # a loaded machine sees the change late
        while not calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert calls, "no rebuild after the database changed"
        time.sleep(1.0)  # the rebuild's own write must not start another
    assert len(calls) == 1


def test_a_client_that_resets_mid_response_leaves_no_traceback(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import socket
    import struct
    import time

    (tmp_path / "big.html").write_bytes(b"<p>x</p>" * 2_000_000)
    with serving(tmp_path) as url:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /big.html HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(1024)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # RST: the server's next write fails
        time.sleep(0.5)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err


def test_dot_files_are_not_served(site: Path, base: str) -> None:
    (site / ".rsspage-manifest.json").write_text("{}", encoding="utf-8")
    (site / "a" / ".hidden").write_text("x", encoding="utf-8")
    for path in (".rsspage-manifest.json", "a/.hidden", "%2Ersspage-manifest.json"):
        assert get(base + path).status_code == 404, path
    assert get(base + "index.html").status_code == 200
