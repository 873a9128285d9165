"""The preview server and hostile requests (issue 11): a real server on 127.0.0.1, raw sockets.

Whatever a client sends, the answer is a status line (400 for a malformed request, 404 for a
path that leaves the site folder, symbolic links included), no file from outside the site, and
no traceback on the terminal.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rsspage.serve import serving

SECRET = "outside-the-site"
#: What the site's own 404 page holds.
NOT_FOUND_PAGE = "<h1>找不到</h1>"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site folder with links that lead out of it, and one that stays inside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    (outside / "index.html").write_text(SECRET, encoding="utf-8")
    (tmp_path / "secret.txt").write_text(SECRET, encoding="utf-8")
    root = tmp_path / "public"
    (root / "a" / "hijacked").mkdir(parents=True)
    (root / "index.html").write_text("<h1>首页</h1>", encoding="utf-8")
    (root / "404.html").write_text(NOT_FOUND_PAGE, encoding="utf-8")
    (root / ".rsspage-manifest.json").write_text(SECRET, encoding="utf-8")
    (root / "passwd").symlink_to("/etc/passwd")
    (root / "secret-link.txt").symlink_to(outside / "secret.txt")
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "a" / "hijacked" / "index.html").symlink_to(outside / "index.html")
    (root / "home.html").symlink_to(root / "index.html")  # inside: served
    (root / "loop").symlink_to(root / "loop")
    os.mkfifo(root / "fifo")  # opening it would block the answer forever
    return root


#: Request path → status. Paths the HTTP client libraries would refuse to send go as raw bytes.
HOSTILE_PATHS = [
    ("/index.html%00.png", 400),
    ("/%00", 400),
    ("/index.html%0d%0aSet-Cookie:%20x=1", 400),
    ("/%1b%5b31mred", 400),
    ("/%ff", 400),  # not UTF-8
    ("/%ed%a0%80", 400),  # an encoded surrogate
    ("/passwd", 404),
    ("/secret-link.txt", 404),
    ("/out/secret.txt", 404),
    ("/out/", 404),
    ("/out", 404),
    ("/a/hijacked/", 404),
    ("/a/hijacked/index.html", 404),
    ("/loop", 404),
    ("/fifo", 404),
    ("/../secret.txt", 404),
    ("/%2e%2e/secret.txt", 404),
    ("/..%2fsecret.txt", 404),
    ("/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404),
    ("/a/../../secret.txt", 404),
    ("//.rsspage-manifest.json", 404),
    ("/.rsspage-manifest.json", 404),
    ("/%2Ersspage-manifest.json", 404),
    ("/" + "a" * 5000, 404),
    ("/" + "a/" * 3000, 404),
    ("/index.html?x=%00", 200),
    ("/home.html", 200),
    ("/", 200),
]

#: Requests that are not HTTP as the server speaks it.
MALFORMED = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40) + b"\r\n\r\n", 400),  # TLS
    (b"GET / HTTP/9.9\r\n\r\n", 505),
    (b"GET / HTTP/1.x\r\n\r\n", 400),
    (b"GET /a b c HTTP/1.1\r\n\r\n", 400),
    (b"GET \x00 HTTP/1.1\r\n\r\n", 400),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", 431),
]


@pytest.fixture
def port(site: Path) -> Iterator[int]:
    with serving(site) as url:
        yield int(url.rstrip("/").rsplit(":", 1)[1])


def exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """Send raw bytes, read the whole answer: (status, everything after the status line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1."), answer[:200]
    return int(status_line.split()[1]), rest


def get(port: int, path: str) -> tuple[int, bytes]:
    return exchange(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode("latin-1"))


@pytest.mark.parametrize(("path", "status"), HOSTILE_PATHS)
def test_hostile_paths(port: int, path: str, status: int,
                       capfd: pytest.CaptureFixture[str]) -> None:
    got, rest = get(port, path)
    assert got == status, path
    assert SECRET.encode() not in rest and b"root:" not in rest
    if status == 404:
        assert rest.endswith(NOT_FOUND_PAGE.encode()), rest[-200:]
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(("request_bytes", "status"), MALFORMED)
def test_malformed_requests_get_a_status(port: int, request_bytes: bytes, status: int,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    assert exchange(port, request_bytes)[0] == status
    assert get(port, "/")[0] == 200  # and the server carries on
    assert "Traceback" not in capfd.readouterr().err


def test_a_404_page_that_leads_outside_is_not_served(site: Path) -> None:
    (site / "404.html").unlink()
    (site / "404.html").symlink_to(site.parent / "secret.txt")
    with serving(site) as url:
        status, rest = get(int(url.rstrip("/").rsplit(":", 1)[1]), "/nope")
    assert status == 404 and SECRET.encode() not in rest


def test_log_lines_escape_control_characters(site: Path) -> None:
    lines: list[str] = []
    with serving(site, log=lines.append) as url:
        get(int(url.rstrip("/").rsplit(":", 1)[1]), "/\x1b[31mred")
    assert lines and not any("\x1b" in line for line in lines)
    assert any("\\x1b[31mred" in line for line in lines)


def test_rsspage_serve_answers_hostile_requests_without_a_traceback(tmp_path: Path) -> None:
    """The real command: it builds the site, serves it; hostile requests leave no traceback."""
    config = tmp_path / "rsspage.yml"
    config.write_text("feeds: [https://example.com/feed.xml]\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rsspage.cli", "serve", "-c", str(config), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Serving <folder> at http://127.0.0.1:N/ ..."
        port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        site = tmp_path / "public"
        (site / "passwd").symlink_to("/etc/passwd")
        assert get(port, "/index.html%00.png")[0] == 400
        assert get(port, "/passwd")[0] == 404
        assert exchange(port, b"GARBAGE\r\n\r\n")[0] == 400
        assert get(port, "/")[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Error" not in err, err
    assert '"GET /index.html%00.png HTTP/1.1" 400' in err  # logged as a plain 400
