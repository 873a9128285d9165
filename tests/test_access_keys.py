"""RSSHub instances with an access key: routes signed with ``code=md5(path + key)`` (or
``key=``), the key from an environment variable, never in anything rsspage writes or prints."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from rsspage.config import InstanceConfig, parse_config
from rsspage.errors import ConfigError
from rsspage.instances import route_urls
from servers import RSS, Exchange, LocalServer

KEY = "s3cret-Key_9f2b"
CODE = hashlib.md5(("/test/items" + KEY).encode()).hexdigest()


def instance(key: str, queries: list[dict[str, list[str]]] | None = None) -> object:
    """An RSSHub-like instance that answers only requests signed with ``key`` (the query of
    each request goes to ``queries``)."""

    def handler(exchange: Exchange) -> None:
        query = parse_qs(urlsplit(exchange.path).query)
        if queries is not None:
            queries.append(query)
        path = exchange.route_path
        good = hashlib.md5((path + key).encode()).hexdigest()
        if query.get("code") == [good] or query.get("key") == [key]:
            atom_self = f'<atom:link href="http://x{exchange.path}" rel="self"/>'.encode()
            exchange.respond(200, RSS.replace(b"<channel>", b"<channel>" + atom_self),
                             {"Content-Type": "application/rss+xml"})
        else:
            exchange.respond(403, b"<html><body>Authentication failed. Access denied.</body>"
                             b"</html>", {"Content-Type": "text/html"})
    return handler


def test_routes_are_signed_as_rsshub_checks_them() -> None:
    plain, coded, keyed = (InstanceConfig("https://a.example"),
                           InstanceConfig("https://b.example", KEY),
                           InstanceConfig("https://c.example", KEY, "key"))
    assert route_urls((plain, coded, keyed), "/test/items?limit=5") == (
        "https://a.example/test/items?limit=5",
        f"https://b.example/test/items?limit=5&code={CODE}",  # the query is not hashed
        f"https://c.example/test/items?limit=5&key={KEY}",
    )
    assert KEY not in repr(coded)


@pytest.mark.parametrize(("instances", "problem"), [
    ([{"url": "https://a.example", "key": "k", "key_env": "X"}], "key or key_env, not both"),
    ([{"url": "https://a.example", "key_env": "RSSPAGE_TEST_UNSET_VARIABLE"}], "is not set"),
    ([{"url": "https://a.example", "key": "k", "sign": "md5"}], "expected code or key"),
    ([{"key": "k"}], "missing required key"),
])
def test_bad_instance_settings_name_the_line_and_never_the_key(
        tmp_path: Path, instances: list[object], problem: str) -> None:
    text = yaml.safe_dump({"rsshub": {"instances": instances}, "routes": ["/test/items"]})
    with pytest.raises(ConfigError, match=problem) as caught:
        parse_config(text, tmp_path / "rsspage.yml")
    assert "rsspage.yml:" in str(caught.value) and "rsshub.instances[0]" in str(caught.value)
    assert "'k'" not in str(caught.value)


def everything_written(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_a_key_from_the_environment_is_used_and_never_written_or_printed(tmp_path: Path) -> None:
    with LocalServer() as wrong, LocalServer() as right:
        wrong.route("/test/items", instance("another key"))
        queries: list[dict[str, list[str]]] = []
        right.route("/test/items", instance(KEY, queries))
        config = tmp_path / "rsspage.yml"

        def configure(*servers: LocalServer) -> None:
            config.write_text(yaml.safe_dump({
                "rsshub": {"instances": [{"url": s.url(""), "key_env": "RSSHUB_KEY"}
                                         for s in servers]},
                "routes": [{"path": "/test/items", "category": "测试", "source": "RSSHub",
                            "channel": "items"}],
                "output": {"state": "state", "hexo": "hexo", "site": "site"},
            }), encoding="utf-8")

        env = {**os.environ, "RSSHUB_KEY": KEY, "PYTHONWARNINGS": "ignore"}

        def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run([sys.executable, "-m", "rsspage.cli", *args, "-c", str(config)],
                                  capture_output=True, env=env, timeout=120)

        configure(wrong)
        refused = [cli("update"), cli("status")]
        assert refused[0].returncode == 1
        assert f"instance 127.0.0.1:{wrong.port} refused the access key (HTTP 403)" in (
            refused[0].stdout.decode())
        configure(wrong, right)
        runs = [*refused, cli("update", "--all"), cli("status"),
                cli("export", str(tmp_path / "all.jsonl.gz"))]
        assert [r.returncode for r in runs[2:]] == [0, 0, 0], runs[2].stdout + runs[2].stderr
        assert wrong.hits("/test/items") == 2 and right.hits("/test/items") == 1  # fail-over
        assert queries == [{"code": [CODE]}]  # signed; the key itself is never sent
        printed = b"".join(r.stdout + r.stderr for r in runs)
        stored = everything_written(tmp_path)  # site, Hexo posts, database, export
        assert (tmp_path / "site" / "health.html").is_file()
        for secret in (KEY, CODE):
            assert secret.encode() not in printed, secret
            assert secret.encode() not in stored, secret
        log = Path(os.environ.get("TMPDIR", "/tmp")) / "rsspage-error.log"
        assert not log.exists() or KEY.encode() not in log.read_bytes()
