"""The live catalog (``rsshub.catalog: instance``, the default): RSSHub's ``/api/namespace``
fetched through the fetch stage, cached in the state folder with its validators, never replaced by
a bad copy, used offline; ``rsspage catalog update`` — against local servers that misbehave and
against a real RSSHub."""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import run_cli
from rsshub_harness import RealRSSHub
from servers import RSS, Exchange, LocalServer, closed_port_url, conditional, respond

JSON = {"Content-Type": "application/json"}
FEED = {"Content-Type": "application/rss+xml"}


@pytest.fixture(scope="module")
def catalog_doc(shared_fixtures: Path) -> bytes:
    """A real catalog, cut to a few namespaces, plus one whose route the tests follow."""
    full = json.loads((shared_fixtures / "rsshub-routes-modern" / "routes.json").read_bytes())
    doc = {ns: full[ns] for ns in ("mydrivers", "github", "bilibili", "36kr")}
    doc["localnews"] = {
        "name": "Local News", "zh": {"name": "本地新闻"}, "categories": ["new-media"],
        "routes": {"/latest": {"path": "/latest", "name": "最新", "example": "/localnews/latest",
                               "categories": ["new-media"], "view": 0}},
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def write_config(folder: Path, instances: list[str], extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["rsshub:", "  instances:", *[f"    - {url}" for url in instances],
             "routes:", "  - /localnews/latest", "output:", "  site: null", extra]
    path = folder / "rsspage.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def meta(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / ".rsspage" / "catalog.meta.json").read_text())
    return data


def test_update_fetches_caches_and_names_routes_from_the_live_catalog(
    tmp_path: Path, catalog_doc: bytes
) -> None:
    with LocalServer() as hub:
        hub.route("/api/namespace", conditional(catalog_doc, etag='"cat-1"'))
        hub.route("/localnews/latest", respond(200, RSS, FEED))
        write_config(tmp_path, [hub.url("")])
        first = run_cli("update", cwd=tmp_path)
        assert first.code == 0, first.err
        assert hub.hits("/api/namespace") == 1
        status = run_cli("status", cwd=tmp_path)
        assert "本地新闻" in status.out and "最新" in status.out  # zh names: site is zh-CN
        assert meta(tmp_path)["etag"] == '"cat-1"'
        assert meta(tmp_path)["routes"] == len(json.loads(catalog_doc)["mydrivers"]["routes"]) \
            + sum(len(json.loads(catalog_doc)[ns]["routes"]) for ns in
                  ("github", "bilibili", "36kr", "localnews"))
        # A fresh copy is not asked for again on the next run.
        again = run_cli("update", "--all", cwd=tmp_path)
        assert again.code == 0, again.err
        assert hub.hits("/api/namespace") == 1
        # catalog update asks with the ETag: 304 keeps the copy.
        refreshed = run_cli("catalog", "update", cwd=tmp_path)
        assert refreshed.code == 0, refreshed.err
        assert "catalog unchanged" in refreshed.err
        assert hub.requests("/api/namespace")[-1].headers.get("if-none-match") == '"cat-1"'


@pytest.mark.parametrize(("body", "headers", "why"), [
    (b"{}", JSON, "a catalog of 0 routes"),
    (b'{"github": {"name": "GitHub", "routes": {"/a": {"path": "/a"', JSON, "sent no catalog"),
    (b"<!DOCTYPE html><html><body>Looks like something went wrong</body></html>",
     {"Content-Type": "text/html"}, "not JSON"),
    (b"", JSON, "empty response"),
    (b'[1, 2, 3]', JSON, "sent no catalog"),
])
def test_a_bad_catalog_never_replaces_the_cached_one(
    tmp_path: Path, catalog_doc: bytes, body: bytes, headers: dict[str, str], why: str
) -> None:
    with LocalServer() as hub:
        good = hub.route("/api/namespace", respond(200, catalog_doc, JSON))
        write_config(tmp_path, [good.removesuffix("/api/namespace")])
        assert run_cli("catalog", "update", cwd=tmp_path).code == 0
        cached = (tmp_path / ".rsspage" / "catalog.json.gz").read_bytes()
        hub.route("/api/namespace", respond(200, body, headers))
        bad = run_cli("catalog", "update", cwd=tmp_path)
    assert bad.code == 1
    assert why in bad.err and "using the copy from" in bad.err, bad.err
    assert (tmp_path / ".rsspage" / "catalog.json.gz").read_bytes() == cached
    listed = run_cli("catalog", "search", "本地新闻", cwd=tmp_path)  # offline: the cache
    assert listed.code == 0 and "/localnews/latest" in listed.out


def test_offline_the_cache_is_used_and_a_failed_refresh_waits(
    tmp_path: Path, catalog_doc: bytes
) -> None:
    with LocalServer() as hub:
        hub.route("/api/namespace", respond(200, catalog_doc, JSON))
        write_config(tmp_path, [hub.url("")])
        assert run_cli("catalog", "update", cwd=tmp_path).code == 0
    # The instance is gone, and the copy is two days old: update tries once, says so, goes on.
    state = tmp_path / ".rsspage" / "catalog.meta.json"
    old = {**meta(tmp_path), "checked_at": "2026-01-01T00:00:00+00:00"}
    state.write_text(json.dumps(old))
    down = closed_port_url("").rstrip("/")
    write_config(tmp_path, [down])
    run = run_cli("update", cwd=tmp_path)
    assert "the RSSHub catalog could not be refreshed" in run.err
    assert "using the copy from" in run.err and "connection refused" in run.err
    assert meta(tmp_path)["failed_at"]
    status = run_cli("status", cwd=tmp_path)
    assert "本地新闻" in status.out  # names still come from the cached catalog
    later = run_cli("update", "--all", cwd=tmp_path)
    assert "could not be refreshed" not in later.err  # waits an hour before asking again


def test_the_first_instance_that_answers_gives_the_catalog(
    tmp_path: Path, catalog_doc: bytes
) -> None:
    with LocalServer() as bad, LocalServer() as good:
        bad.route("/api/namespace", respond(503, b"<html>down</html>", {"Content-Type": "text/html"}))
        good.route("/api/namespace", respond(200, catalog_doc, JSON))
        write_config(tmp_path, [closed_port_url("").rstrip("/"), bad.url(""), good.url("")])
        run = run_cli("catalog", "update", cwd=tmp_path)
    assert run.code == 0, run.err
    assert f"from {good.url('')}" in run.err
    assert meta(tmp_path)["instance"] == good.url("")


def test_the_catalog_request_is_signed_like_a_route(tmp_path: Path, catalog_doc: bytes) -> None:
    key = "k3y-for-the-catalog"
    seen: list[str] = []

    def keyed(exchange: Exchange) -> None:
        query = parse_qs(urlsplit(exchange.path).query)
        seen.append(exchange.path)
        good = hashlib.md5((exchange.route_path + key).encode()).hexdigest()
        if query.get("code") == [good]:
            exchange.respond(200, catalog_doc, JSON)
        else:
            exchange.respond(403, b"Authentication failed. Access denied.")

    with LocalServer() as hub:
        hub.route("/api/namespace", keyed)
        config = tmp_path / "rsspage.yml"
        config.write_text(f"rsshub:\n  instances:\n    - url: {hub.url('')}\n      key: {key}\n"
                          "routes: [/localnews/latest]\n", encoding="utf-8")
        run = run_cli("catalog", "update", cwd=tmp_path)
    assert run.code == 0, run.err
    assert seen and "code=" in seen[0]
    for file in (tmp_path / ".rsspage").iterdir():
        assert key.encode() not in file.read_bytes()
    assert key not in run.out + run.err


def test_catalog_commands_work_without_a_config(tmp_path: Path, catalog_doc: bytes) -> None:
    with LocalServer() as hub:
        hub.route("/api/namespace", respond(200, catalog_doc, JSON))
        run = run_cli("catalog", "update", "--instance", hub.url(""), cwd=tmp_path)
        assert run.code == 0, run.err
        found = run_cli("catalog", "search", "快科技", cwd=tmp_path)  # from ./.rsspage
    assert found.code == 0, found.err
    assert "/mydrivers/rank" in found.out
    assert (tmp_path / ".rsspage" / "catalog.json.gz").is_file()


def test_explicit_files_and_no_catalog(tmp_path: Path, shared_fixtures: Path) -> None:
    """``catalog: []`` turns the live catalog off (no request); files still work."""
    with LocalServer() as hub:
        hub.route("/localnews/latest", respond(200, RSS, FEED))
        write_config(tmp_path, [hub.url("")]).write_text(
            f"rsshub:\n  instances: [{hub.url('')}]\n  catalog: []\n"
            "routes: [/localnews/latest]\noutput: {site: null}\n", encoding="utf-8")
        run = run_cli("update", cwd=tmp_path)
        assert run.code == 0, run.err
        assert hub.hits("/api/namespace") == 0


# --------------------------------------------------------------------------- a real RSSHub


def test_real_rsshub_catalog(tmp_path: Path, rsshub: RealRSSHub) -> None:
    run = run_cli("catalog", "update", "--instance", rsshub.url, cwd=tmp_path)
    assert run.code == 0, run.err
    assert f"routes from {rsshub.url}" in run.err
    routes = int(run.err.split("catalog downloaded: ")[1].split()[0])
    assert routes > 3000  # 3,905 in the version the tools install
    found = run_cli("catalog", "search", "快科技", cwd=tmp_path)
    assert "/mydrivers/rank" in found.out
    again = run_cli("catalog", "update", "--instance", rsshub.url, cwd=tmp_path)
    assert "catalog unchanged" in again.err  # same bytes: the cache is not rewritten


def test_real_rsshub_with_an_access_key(tmp_path: Path, rsshub_keyed: RealRSSHub) -> None:
    assert rsshub_keyed.key
    config = tmp_path / "rsspage.yml"
    config.write_text(f"rsshub:\n  instances:\n    - url: {rsshub_keyed.url}\n"
                      "      key_env: RSSPAGE_TEST_HUB_KEY\nroutes: [/test/1]\n"
                      "output: {site: public}\n", encoding="utf-8")
    wrong = run_cli("catalog", "update", cwd=tmp_path, env={"RSSPAGE_TEST_HUB_KEY": "nope"})
    assert wrong.code == 1 and "refused the access key" in wrong.err, wrong.err
    env = {"RSSPAGE_TEST_HUB_KEY": rsshub_keyed.key}
    right = run_cli("catalog", "update", cwd=tmp_path, env=env)
    assert right.code == 0, right.err
    update = run_cli("update", cwd=tmp_path, env=env)
    assert update.code == 0, update.err
    everything = [update.out, update.err, right.err, wrong.err]
    for file in tmp_path.rglob("*"):
        if file.is_file() and file.name != "rsspage.yml":
            assert rsshub_keyed.key.encode() not in file.read_bytes(), file
    assert all(rsshub_keyed.key not in text for text in everything)


def test_add_finds_routes_in_the_real_rsshub_catalog(tmp_path: Path, rsshub: RealRSSHub) -> None:
    config = tmp_path / "rsspage.yml"
    config.write_text(f"# my feeds\nrsshub:\n  instances: [{rsshub.url}]  # mine\nroutes:\n"
                      "  - /test/1\n", encoding="utf-8")
    run = run_cli("add", "https://github.com/DIYgod/RSSHub", "--no-fetch", "--pick", "5",
                  cwd=tmp_path)
    assert run.code == 0, run.out + run.err
    assert "/github/issue/DIYgod/RSSHub" in run.out
    text = config.read_text(encoding="utf-8")
    assert "# my feeds" in text and "# mine" in text
    assert text.count("/github/") == 1 and "/github/issue/DIYgod/RSSHub" in text
    assert (tmp_path / ".rsspage" / "catalog.json.gz").is_file()  # fetched from the instance


# --------------------------------------------------------------------------- edge cases


def cached_copy(tmp_path: Path, catalog_doc: bytes) -> LocalServer:
    """A config whose instance served ``catalog_doc`` once (cached); the server is stopped."""
    with LocalServer() as hub:
        hub.route("/api/namespace", respond(200, catalog_doc, JSON))
        write_config(tmp_path, [hub.url("")])
        assert run_cli("catalog", "update", cwd=tmp_path).code == 0
    return hub


def test_a_feeds_only_config_still_lists_and_searches_the_live_catalog(
    tmp_path: Path, catalog_doc: bytes
) -> None:
    with LocalServer() as hub:
        hub.route("/api/namespace", respond(200, catalog_doc, JSON))
        (tmp_path / "rsspage.yml").write_text(
            f"rsshub: {{instances: [{hub.url('')}]}}\nfeeds: [http://127.0.0.1:9/f.xml]\n",
            encoding="utf-8")
        found = run_cli("catalog", "search", "快科技", cwd=tmp_path)
    assert found.code == 0, found.err
    assert "/mydrivers/rank" in found.out


@pytest.mark.parametrize("damage", ["gzip", "meta", "shape"])
def test_a_damaged_cache_counts_as_none(tmp_path: Path, catalog_doc: bytes, damage: str) -> None:
    cached_copy(tmp_path, catalog_doc)
    state = tmp_path / ".rsspage"
    if damage == "gzip":
        data = bytearray((state / "catalog.json.gz").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (state / "catalog.json.gz").write_bytes(bytes(data))
    elif damage == "meta":
        (state / "catalog.meta.json").write_text('{"checked_at": null, "routes": "many", '
                                                 '"instance": 7, "failed_at": []}')
    else:
        (state / "catalog.json.gz").write_bytes(gzip.compress(b'{"x": {"routes": 5}}'))
    with LocalServer() as hub:
        hub.route("/api/namespace", respond(200, catalog_doc, JSON))
        hub.route("/localnews/latest", respond(200, RSS, FEED))
        write_config(tmp_path, [hub.url("")])
        run = run_cli("update", cwd=tmp_path)
        assert run.code == 0, run.err
        assert "internal error" not in run.err
        # Bad meta: the copy's age and source are unknown, so it is asked for again too.
        assert hub.hits("/api/namespace") == 1
    assert "本地新闻" in run_cli("status", cwd=tmp_path).out


def test_instance_option_refreshes_a_copy_from_another_instance(
    tmp_path: Path, catalog_doc: bytes
) -> None:
    cached_copy(tmp_path, catalog_doc)
    with LocalServer() as other:
        other.route("/api/namespace", respond(200, catalog_doc, JSON))
        run = run_cli("catalog", "search", "快科技", "--instance", other.url(""), cwd=tmp_path)
        assert other.hits("/api/namespace") == 1, run.err
    assert meta(tmp_path)["instance"] == other.url("")
    bad = run_cli("catalog", "list", "--instance", "rsshub.example", cwd=tmp_path)
    assert bad.code == 2 and "expected an http(s) URL" in bad.err


def test_named_routes_make_no_catalog_request(tmp_path: Path) -> None:
    with LocalServer() as hub:
        hub.route("/localnews/latest", respond(200, RSS, FEED))
        (tmp_path / "rsspage.yml").write_text(
            f"rsshub: {{instances: [{hub.url('')}]}}\nroutes:\n"
            "  - {path: /localnews/latest, category: 新闻, source: 本地, channel: 最新}\n"
            "output: {site: null}\n", encoding="utf-8")
        run = run_cli("update", cwd=tmp_path)
        assert run.code == 0, run.err
        assert hub.hits("/api/namespace") == 0
        assert "catalog" not in run.err


def test_catalog_update_with_a_broken_config_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "rsspage.yml").write_text(
        "rsshub:\n  instances: [{url: http://127.0.0.1:9, key_env: RSSPAGE_TEST_UNSET_KEY}]\n"
        "routes: [/a/b]\n", encoding="utf-8")
    run = run_cli("catalog", "update", cwd=tmp_path)
    assert run.code == 2 and "RSSPAGE_TEST_UNSET_KEY" in run.err
    assert not (tmp_path / ".rsspage" / "catalog.json.gz").exists()


def test_a_password_in_the_instance_url_is_never_kept_or_shown(
    tmp_path: Path, catalog_doc: bytes
) -> None:
    with LocalServer() as hub:
        hub.route("/api/namespace", respond(200, catalog_doc, JSON))
        url = hub.url("").replace("http://", "http://reader:pw-s3cret@")
        run = run_cli("catalog", "update", "--instance", url, cwd=tmp_path)
    assert run.code == 0, run.err
    assert "pw-s3cret" not in run.out + run.err
    assert meta(tmp_path)["instance"] == hub.url("")
    assert b"pw-s3cret" not in (tmp_path / ".rsspage" / "catalog.meta.json").read_bytes()


def test_the_catalog_request_signed_with_key(tmp_path: Path, catalog_doc: bytes) -> None:
    key = "plain-key-9"
    seen: list[str] = []

    def keyed(exchange: Exchange) -> None:
        seen.append(exchange.path)
        ok = parse_qs(urlsplit(exchange.path).query).get("key") == [key]
        exchange.respond(200 if ok else 403, catalog_doc if ok else b"denied", JSON)

    with LocalServer() as hub:
        hub.route("/api/namespace", keyed)
        (tmp_path / "rsspage.yml").write_text(
            f"rsshub:\n  instances: [{{url: {hub.url('')}, key: {key}, sign: key}}]\n"
            "routes: [/localnews/latest]\n", encoding="utf-8")
        run = run_cli("catalog", "update", cwd=tmp_path)
    assert run.code == 0, run.err
    assert seen == [f"/api/namespace?key={key}"]
    assert key not in run.out + run.err
    assert key.encode() not in (tmp_path / ".rsspage" / "catalog.meta.json").read_bytes()


def test_without_the_catalog_routes_keep_their_names(tmp_path: Path, catalog_doc: bytes) -> None:
    with LocalServer() as hub:
        hub.route("/api/namespace", respond(200, catalog_doc, JSON))
        hub.route("/localnews/latest", respond(200, RSS, FEED))
        write_config(tmp_path, [hub.url("")])
        assert run_cli("update", cwd=tmp_path).code == 0
        for name in ("catalog.json.gz", "catalog.meta.json"):  # the cache is lost
            (tmp_path / ".rsspage" / name).unlink()
        hub.route("/api/namespace", respond(503, b"down", {"Content-Type": "text/plain"}))
        run = run_cli("update", "--all", cwd=tmp_path)
    assert "no RSSHub catalog" in run.err
    db = sqlite3.connect(tmp_path / ".rsspage" / "rsspage.sqlite3")
    names = db.execute("SELECT category, source, channel, view FROM feeds").fetchall()
    assert names == [("新媒体", "本地新闻", "最新", "articles")]


def test_add_pick_zero_is_refused(tmp_path: Path, shared_fixtures: Path) -> None:
    (tmp_path / "rsspage.yml").write_text("feeds: [http://127.0.0.1:9/f.xml]\n", encoding="utf-8")
    catalog = str(shared_fixtures / "rsshub-routes-modern" / "routes.json")
    run = run_cli("add", "https://github.com/DIYgod/RSSHub", "--no-fetch", "--pick", "0",
                  "--catalog", catalog, cwd=tmp_path)
    assert run.code == 2 and "--pick 0" in run.err
    assert "/github/" not in (tmp_path / "rsspage.yml").read_text()


def test_the_cached_catalog_travels_with_exported_parts(tmp_path: Path, catalog_doc: bytes) -> None:
    """A CI runner restores the archive from parts: the catalog comes with it, not again from
    the instance."""
    with LocalServer() as hub:
        hub.route("/api/namespace", respond(200, catalog_doc, JSON))
        hub.route("/localnews/latest", respond(200, RSS, FEED))
        write_config(tmp_path / "a", [hub.url("")])
        assert run_cli("update", cwd=tmp_path / "a").code == 0
        parts = tmp_path / "parts"
        assert run_cli("export", "--parts", str(parts), cwd=tmp_path / "a").code == 0
        assert (parts / "catalog.json.gz").is_file() and (parts / "catalog.meta.json").is_file()
        stamp = (parts / "catalog.json.gz").stat().st_mtime_ns
        again = run_cli("export", "--parts", str(parts), cwd=tmp_path / "a")
        assert again.code == 0
        assert (parts / "catalog.json.gz").stat().st_mtime_ns == stamp  # not rewritten
        write_config(tmp_path / "b", [hub.url("")])  # a fresh runner
        restored = run_cli("restore", str(parts), cwd=tmp_path / "b")
        assert restored.code == 0, restored.err
        run = run_cli("update", "--all", cwd=tmp_path / "b")
        assert run.code == 0, run.err
        assert hub.hits("/api/namespace") == 1  # only the first runner asked
    assert "本地新闻" in run_cli("status", cwd=tmp_path / "b").out
