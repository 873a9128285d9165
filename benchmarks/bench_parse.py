"""Benchmark: rsspage's parse + normalise (+ sanitise) against plain feedparser.

Builds, deterministically and without network, a corpus shaped like RSSHub output: RSS 2.0
feeds of Chinese news whose items carry CDATA descriptions of realistic article HTML (several
paragraphs, absolute, relative and lazy-loaded pictures, links, sometimes a table), a guid, an
RFC 822 pubDate and an author. Then times, in the same process and on the same bytes:

(a) ``feedparser.parse`` on every document, and
(b) ``rsspage.parse.parse_feed`` + ``rsspage.normalise.normalise_feed`` on every document,

each as the best of several rounds, and prints entries/s, the ratio and which parser path was
taken. The target is a ratio of at least 10.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable
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


def _best_of(rounds: int, run: Callable[[], int]) -> tuple[float, int]:
    """(fastest time of ``rounds`` runs, what the run returned)."""
    best, count = float("inf"), 0
    for _ in range(rounds):
        began = time.perf_counter()
        count = run()
        best = min(best, time.perf_counter() - began)
    return best, count


def _feedparser_run(corpus: list[bytes]) -> Callable[[], int]:
    return lambda: sum(
        len(feedparser.parse(doc, response_headers=HEADERS).entries) for doc in corpus
    )


def _rsspage_run(corpus: list[bytes], paths: Counter[str], normalise: bool) -> Callable[[], int]:
    spec = FeedSpec(
        key="/bench", urls=("https://rsshub.example.cn/bench",), category="新媒体",
        source="示例", channel="新闻", items_per_feed=0,
    )  # fmt: skip
    now = datetime(2024, 7, 22, tzinfo=UTC)

    def run() -> int:
        total = 0
        paths.clear()
        for n, doc in enumerate(corpus):
            # Each feed its own URL, as in a real run (relative URLs resolve per feed).
            parsed = parse_feed(doc, HEADERS, f"https://rsshub.example.cn/news/{n}")
            paths[parsed.parser] += 1
            total += len(normalise_feed(spec, parsed, now)) if normalise else len(parsed.entries)
        return total

    return run


def main() -> int:
    corpus = build_corpus()
    paths: Counter[str] = Counter()
    fp_seconds, entries = _best_of(ROUNDS, _feedparser_run(corpus))
    parse_seconds, _ = _best_of(ROUNDS, _rsspage_run(corpus, paths, normalise=False))
    rp_seconds, rp_entries = _best_of(ROUNDS, _rsspage_run(corpus, paths, normalise=True))
    if rp_entries != entries:
        print(f"entry counts differ: feedparser {entries}, rsspage {rp_entries}")
        return 1
    ratio = fp_seconds / rp_seconds
    print(
        f"corpus: {len(corpus)} documents, {entries} entries, {sum(map(len, corpus)) / 1e6:.1f} MB"
    )
    for label, seconds in (
        ("feedparser.parse", fp_seconds),
        ("parse_feed alone", parse_seconds),
        ("parse_feed + normalise (+sanitise)", rp_seconds),
    ):
        print(f"{label:35s}: {entries / seconds:9,.0f} entries/s ({seconds:.2f} s)")
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"ratio, parse + normalise vs feedparser: {ratio:.1f}x (>= {TARGET:.0f}x: {verdict})")
    print("parser paths: " + ", ".join(f"{k} {v}" for k, v in sorted(paths.items())))
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
