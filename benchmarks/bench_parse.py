"""Benchmark: rsspage's parse + normalise (+ sanitise) against plain feedparser.

Builds, deterministically and without network, a corpus shaped like RSSHub output: RSS 2.0
feeds of Chinese news whose items carry CDATA descriptions of realistic article HTML (several
paragraphs, absolute, relative and lazy-loaded pictures, links, sometimes a table), a guid, an
RFC 822 pubDate and an author. Then times, in the same process and on the same bytes:

(a) ``feedparser.parse``,
(b) ``rsspage.parse.parse_feed`` alone, and
(c) ``rsspage.parse.parse_feed`` + ``rsspage.normalise.normalise_feed``,

interleaved document by document and round by round: each document goes through the three
one right after the other, so the two sides of a (feedparser, rsspage) pair run within a few
milliseconds of each other, under the same load. The ratio is the median, over every
(round, document) pair, of feedparser's time / rsspage's time on that document; the spread
(quartiles, the median of each round, the same ratio in CPU time) is printed beside it. Best
of 5 whole passes, the method before, compared two fastest passes taken seconds apart and swung
from 5.7× to 18× under load. The target is a ratio of at least 10.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import feedparser

from rsspage.normalise import normalise_feed
from rsspage.parse import parse_feed
from rsspage.types import FeedSpec

FEEDS = 250
ITEMS_PER_FEED = 20
ROUNDS = 5
TARGET = 10.0
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}

PHRASES = (
    "国家统计局今天发布数据显示", "上半年国内生产总值同比增长百分之五点五", "经济运行总体平稳",
    "记者从相关部门获悉", "新能源汽车销量再创新高", "多地出台政策支持消费", "科技企业加大研发投入",
    "专家表示", "这一趋势预计将持续", "市场人士普遍认为", "据新华社报道", "业内人士分析称",
    "相关负责人介绍", "截至目前", "下一步将继续推进", "人工智能产业快速发展", "芯片国产化进程加快",
    "消费者反响热烈", "该项目总投资超过百亿元", "城市更新行动稳步实施", "居民收入稳定增长",
)  # fmt: skip
_TITLES = (
    "小米汽车再揽大将", "国产大飞机完成首次商业飞行", "一图看懂最新政策", "暑期档电影票房破百亿",
    "高铁新线路今日开通", "多家银行下调存款利率", "世界人工智能大会开幕", "夏粮再获丰收",
)  # fmt: skip


def _sentence(rng: random.Random) -> str:
    text = "，".join(rng.choice(PHRASES) for _ in range(rng.randint(3, 5))) + "。"
    roll = rng.random()
    if roll < 0.15:
        return f"<strong>{text}</strong>"
    if roll < 0.3:
        return f'<span style="color: #333333; font-size: 16px;">{text}</span>'
    return text


def _paragraph(rng: random.Random) -> str:
    # Chinese news paragraphs run to 80–160 characters (two or three sentences), with the inline
    # styling news sites leave in: text-indent, coloured spans, bold lead sentences.
    style = ' style="text-indent: 2em; text-align: justify;"' if rng.random() < 0.5 else ""
    return f"<p{style}>{''.join(_sentence(rng) for _ in range(rng.randint(2, 3)))}</p>"


def _picture(rng: random.Random, n: int) -> str:
    day = f"2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    name = f"{rng.getrandbits(64):016x}.jpg"
    kind = rng.random()
    if kind < 0.6:  # a thumbnail linking to the full picture, as portal sites do
        src = f"https://img.example.cn/{day}/{name}"
        return (
            f'<p style="text-align: center;"><a href="{src.replace("/img.", "/big.")}" '
            f'target="_blank"><img src="{src}" alt="图{n}" title="图{n}" width="600" '
            f'height="400" style="max-width: 100%;" class="article-img"></a></p>'
        )
    if kind < 0.8:  # a site-relative picture
        return (
            f'<p style="text-align: center;"><img src="/uploads/{day}/{name}" alt="图{n}" '
            f'width="640"></p><p style="text-align: center; color: #999;">图{n}：资料图</p>'
        )
    # a lazy-loaded picture (WeChat articles and many CMSs): placeholder src, real URL in data-src
    placeholder = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    return (
        f'<p><img class="rich_pages wxw-img" data-ratio="0.5625" data-type="jpeg" data-w="1080" '
        f'data-src="https://mmbiz.example.cn/{name}" src="{placeholder}" style="width: 100%;"></p>'
    )


def _table(rng: random.Random) -> str:
    rows = "".join(
        f"<tr><td>指标{i}</td><td>{rng.uniform(0, 100):.1f}%</td></tr>" for i in range(3)
    )
    return f"<table><thead><tr><th>项目</th><th>数值</th></tr></thead><tbody>{rows}</tbody></table>"


def article_html(rng: random.Random, link: str) -> str:
    parts = [_paragraph(rng) for _ in range(rng.randint(4, 8))]
    for n in range(rng.randint(1, 3)):
        parts.insert(rng.randint(0, len(parts)), _picture(rng, n))
    if rng.random() < 0.25:
        parts.append(_table(rng))
    parts.append(
        f'<p style="text-align: right;"><span style="color: #999999;">'
        f"（责任编辑：编辑{rng.randint(1, 20)}）</span></p>"
        f'<p>原文链接：<a href="{link}" target="_blank">{link}</a></p>'
    )
    return "".join(parts)


def _wechat_html(rng: random.Random) -> str:
    """An article as RSSHub's WeChat official-account routes deliver it: every paragraph in
    styled sections and spans, pictures lazy-loaded from mmbiz."""
    span = 'style="font-size: 15px; letter-spacing: 1px; color: rgb(62, 62, 62);"'
    parts = ['<section style="text-align: center;"><span style="color: #888888;">作者｜编辑部'
             "</span></section>"]  # fmt: skip
    for _ in range(rng.randint(5, 9)):
        sentences = "".join(_sentence(rng) for _ in range(rng.randint(1, 3)))
        parts.append(
            '<section style="margin: 0px 8px;"><p style="line-height: 1.75em; '
            f'text-align: justify;"><span {span}>{sentences}</span></p></section>'
        )
    for n in range(rng.randint(1, 3)):
        name = f"{rng.getrandbits(64):016x}"
        parts.insert(
            rng.randint(1, len(parts)),
            f'<section style="text-align: center;"><img class="rich_pages wxw-img" '
            f'data-src="https://mmbiz.example.cn/mmbiz_jpg/{name}/640?wx_fmt=jpeg" '
            f'data-ratio="0.5625" data-type="jpeg" data-w="1080" style="width: 100%;" '
            f'alt="图{n}"></section>',
        )
    return "".join(parts)


def _item(rng: random.Random, feed: int, n: int, when: datetime) -> str:
    link = f"https://news.example.cn/{feed}/{when:%Y%m%d}/{feed * 1000 + n}.html"
    title = f"{rng.choice(_TITLES)}：{rng.choice(PHRASES)}"
    body = _wechat_html(rng) if n % 5 == 4 else article_html(rng, link)
    return (
        f"<item><title><![CDATA[{title}]]></title>"
        f"<description><![CDATA[{body}]]></description>"
        f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
        f'<guid isPermaLink="false">{link}</guid><link>{link}</link>'
        f"<author><![CDATA[记者{rng.randint(1, 50)}]]></author>"
        f"<category>{rng.choice(('财经', '科技', '社会', '国际'))}</category></item>"
    )


def build_corpus(feeds: int = FEEDS, items: int = ITEMS_PER_FEED) -> list[bytes]:
    """``feeds`` RSS 2.0 documents of ``items`` items each, the same on every call."""
    rng = random.Random(20240721)
    start = datetime(2024, 7, 21, 9, 22, 55, tzinfo=UTC)
    corpus = []
    for feed in range(feeds):
        body = "".join(
            _item(rng, feed, n, start - timedelta(minutes=37 * (feed * items + n)))
            for n in range(items)
        )
        corpus.append(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss xmlns:atom="http://www.w3.org/2005/Atom" version="2.0"><channel>'
            f"<title><![CDATA[示例新闻 - 频道{feed}]]></title>"
            f"<link>https://news.example.cn/{feed}/</link>"
            f'<atom:link href="https://rsshub.example.cn/news/{feed}" rel="self" '
            'type="application/rss+xml"/>'
            "<description><![CDATA[由 RSSHub 生成]]></description><generator>RSSHub</generator>"
            f"<language>zh-cn</language><ttl>5</ttl>{body}</channel></rss>".encode()
        )
    return corpus


#: The timed runs, in the order they are interleaved; the first is the reference.
LABELS = ("feedparser.parse", "parse_feed alone", "parse_feed + normalise (+sanitise)")


@dataclass
class Timings:
    """Seconds per (run, round, document), wall clock and this thread's CPU time."""

    wall: list[list[list[float]]]
    cpu: list[list[list[float]]]


def _runs(paths: Counter[str]) -> tuple[Callable[[int, bytes], int], ...]:
    """One callable per :data:`LABELS` entry: (document number, bytes) → entries read."""
    spec = FeedSpec(
        key="/bench", urls=("https://rsshub.example.cn/bench",), category="新媒体",
        source="示例", channel="新闻", items_per_feed=0,
    )  # fmt: skip
    now = datetime(2024, 7, 22, tzinfo=UTC)

    def reference(n: int, doc: bytes) -> int:
        return len(feedparser.parse(doc, response_headers=HEADERS).entries)

    def parse_only(n: int, doc: bytes) -> int:
        # Each feed its own URL, as in a real run (relative URLs resolve per feed).
        return len(parse_feed(doc, HEADERS, f"https://rsshub.example.cn/news/{n}").entries)

    def full(n: int, doc: bytes) -> int:
        parsed = parse_feed(doc, HEADERS, f"https://rsshub.example.cn/news/{n}")
        paths[parsed.parser] += 1
        return len(normalise_feed(spec, parsed, now))

    return reference, parse_only, full


def measure(corpus: list[bytes], rounds: int, paths: Counter[str]) -> Timings:
    """Every run on every document, interleaved: for each round, for each document, the runs
    one right after the other, forward and backward in turn from one document and one round to
    the next (so neither side always finds the document warm in the cache). Load that comes and
    goes then falls on both sides of a pair alike. Raises ValueError when the runs read
    different numbers of entries from a document."""
    runs = _runs(paths)
    orders = (tuple(range(len(runs))), tuple(reversed(range(len(runs)))))
    for n, doc in enumerate(corpus[:10]):  # warm up: imports, compiled patterns, caches
        for run in runs:
            run(n, doc)
    wall = [[[0.0] * len(corpus) for _ in range(rounds)] for _ in runs]
    cpu = [[[0.0] * len(corpus) for _ in range(rounds)] for _ in runs]
    for r in range(rounds):
        paths.clear()
        for n, doc in enumerate(corpus):
            counts: set[int] = set()
            for k in orders[(n + r) % 2]:
                began, began_cpu = time.perf_counter(), time.thread_time()
                counts.add(runs[k](n, doc))
                wall[k][r][n] = time.perf_counter() - began
                cpu[k][r][n] = time.thread_time() - began_cpu
            if len(counts) != 1:
                raise ValueError(f"document {n}: the runs read {sorted(counts)} entries")
    return Timings(wall, cpu)


def paired_ratios(times: list[list[list[float]]], k: int) -> list[float]:
    """feedparser's time / run ``k``'s, for each (round, document) pair."""
    return [fp / t for fp_round, k_round in zip(times[0], times[k], strict=True)
            for fp, t in zip(fp_round, k_round, strict=True)]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))]


def main() -> int:
    corpus = build_corpus()
    entries = FEEDS * ITEMS_PER_FEED
    paths: Counter[str] = Counter()
    load = os.getloadavg()[0]
    try:
        timings = measure(corpus, ROUNDS, paths)
    except ValueError as e:
        print(f"entry counts differ: {e}")
        return 1
    print(f"corpus: {len(corpus)} documents, {entries} entries, "
          f"{sum(map(len, corpus)) / 1e6:.1f} MB; {ROUNDS} rounds interleaved document by "
          f"document; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after, "
          f"{os.cpu_count()} CPUs")
    for k, label in enumerate(LABELS):
        # A pass: every document at its median time over the rounds.
        seconds = sum(statistics.median(per_doc) for per_doc in zip(*timings.wall[k], strict=True))
        print(f"{label:35s}: {entries / seconds:9,.0f} entries/s ({seconds:.2f} s a pass)")
    full = len(LABELS) - 1
    ratios = paired_ratios(timings.wall, full)
    ratio = statistics.median(ratios)
    by_round = [statistics.median(paired_ratios([t[r:r + 1] for t in timings.wall], full))
                for r in range(ROUNDS)]
    cpu_ratio = statistics.median(paired_ratios(timings.cpu, full))
    print(f"ratio, parse + normalise vs feedparser: {ratio:.1f}x, the median of {len(ratios):,} "
          f"paired documents (wall clock)")
    print(f"  spread: middle half {_quantile(ratios, 0.25):.1f}–{_quantile(ratios, 0.75):.1f}x, "
          f"middle 80 % {_quantile(ratios, 0.1):.1f}–{_quantile(ratios, 0.9):.1f}x; "
          f"median of each round {min(by_round):.1f}–{max(by_round):.1f}x; "
          f"in CPU time {cpu_ratio:.1f}x")
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"target >= {TARGET:.0f}x: {verdict}")
    print("parser paths: " + ", ".join(f"{k} {v}" for k, v in sorted(paths.items())))
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
