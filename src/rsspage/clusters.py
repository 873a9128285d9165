"""Story clusters: whether two articles of different sources report the same news. Pure: no I/O.

The same story told by 快科技, IT之家 and cnBeta shares few sentences: the wording, the order and
the details differ, while the names, models and numbers stay (小米15, 骁龙8至尊版, 4499). So two
articles are compared by the *features* of their title and the head of their text (the first
paragraph, :data:`HEAD_CHARS`):

- text is NFKC-normalised and case-folded (full-width ``ＩＴ`` is ``it``), digit groups are
  joined (``1,000`` is ``1000``), punctuation and spaces only separate;
- a run of CJK characters (no word breaks) gives its character bigrams, a run of Latin letters
  and digits is one feature (a word, a number, a model name such as ``rtx`` or ``5090``);
- the boilerplate every news report shares is dropped (``消息``, ``今日``, ``发布``, ``售价``;
  ``said``, ``monday``, ``billion``): without it, two launches of one evening (小米15 and
  iPhone 16e, both "正式发布 … 4499元起") looked alike;
- a title's features count twice: titles are short and name the story.

Similarity is a weighted Jaccard index of those sets (:func:`similarity`); two articles are the
same story at :data:`THRESHOLD` or more (measured on tests/data/stories: see
tests/test_clusters.py and benchmarks/README.md). Character bigrams beat trigrams on Chinese
(differently worded reports share words of two characters, rarely three) and whole words beat
character 4-grams on English (measured on the same set).

Finding the candidates to compare among a large archive: each article is filed under a few of its
features, a bottom-k MinHash sketch (:func:`sketch`: the :data:`TITLE_KEYS` title features and
:data:`HEAD_KEYS` head features with the smallest hashes, each a band of one row), so that a new
article is compared only with the articles sharing one of its keys within the time window, a
few index lookups. At the low similarity of differently worded reports (0.07 to 0.2), bands of
several rows would miss most pairs; one-row bands over a stop-listed sketch find 96 % of the
pairs above the threshold in the labelled set, and the exact comparison of the candidates
removes the rest.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from operator import add

#: Characters of an article's text compared: about its first paragraph.
HEAD_CHARS = 300
#: A title feature counts this many times a feature of the head.
TITLE_WEIGHT = 2
#: The weighted Jaccard index at which two articles are the same story (features weighted by
#: their rarity, :func:`idf`: see :func:`similarity`).
THRESHOLD = 0.07
#: The fewest articles an IDF is computed over: in a young archive every feature counts about
#: alike (as if rare), instead of the first few articles' chance overlaps deciding.
IDF_FLOOR = 100
#: Days apart two articles of one story may be published.
WINDOW_DAYS = 3
#: Sketch keys from the title's features and from the head's (see the module docstring).
TITLE_KEYS = 10
HEAD_KEYS = 4

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_WORD = re.compile(rf"[^\W_{_CJK}]+")
_DIGIT_GROUP = re.compile(r"(?<=\d)[,，](?=\d{3})")

#: Bigrams of Chinese news boilerplate: dates and reporting words, prices and units, the names
#: outlets give themselves in a first sentence (IT之家, 新浪科技讯).
_STOP_ZH_WORDS = """
发布 消息 日消 之家 今日 今天 今晚 昨日 昨天 近日 日前 目前 此前 售价 价格 正式 支持 宣布 系列
元起 万元 亿元 美元 采用 表示 用户 超过 功能 式发 搭载 首次 推出 使用 科技 这是 升级 日宣 新浪
浪科 技讯 达到 同比 预期 业务 时间 完成 公司 日发 增长 比增 记者 获悉 报道 据悉 已经 可以 将于
官方 明年 今年 以上 以下 相关 方面 进行 一个 我们 他们 产品 全新 最新 发表
"""
#: English function words and the words of any news report.
_STOP_EN_WORDS = """
the a an of to in on and for is are was were be been by with at from as that it its this said
says will would could has have had or but not after over up new more than about into also which
who their they them he she his her we our you your monday tuesday wednesday thursday friday
saturday sunday year years first last company percent million billion today week month
"""
_STOP = frozenset(_STOP_ZH_WORDS.split()) | frozenset(_STOP_EN_WORDS.split())


@dataclass(frozen=True, slots=True)
class Features:
    """What an article is compared by: the features of its title and of its head, each as its
    hash (:func:`feature_hash`): compact to store, fast to compare."""

    title: frozenset[int]
    head: frozenset[int]

    def to_bytes(self) -> bytes:
        """A compact form (the store keeps it for the recent articles): 4 bytes a feature."""
        return array("I", (len(self.title), *self.title, *self.head)).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Features:
        values = array("I")
        values.frombytes(data)
        return cls(frozenset(values[1:values[0] + 1]), frozenset(values[values[0] + 1:]))


def features_of(title: str, text: str) -> Features:
    """The features of an article (see the module docstring); the head's exclude the title's."""
    title_set = _hashes(_features(title))
    head = _hashes(_features(text[:HEAD_CHARS]))
    return Features(title_set, head - title_set)


def _features(text: str) -> set[str]:
    text = _DIGIT_GROUP.sub("", unicodedata.normalize("NFKC", text).casefold())
    found = set(_WORD.findall(text))  # words, numbers, model names
    for run in _CJK_RUN.findall(text):
        # its bigrams (map(add) pairs each character with the next, in C), or the character
        found.update(map(add, run, run[1:]) if len(run) > 1 else (run,))
    return found - _STOP


def idf(articles_with: int, articles: int) -> float:
    """Inverse document frequency of a feature that ``articles_with`` of ``articles`` have."""
    return math.log((max(articles, IDF_FLOOR) + 1) / (articles_with + 1))


#: A feature's weight: its IDF in the archive (:func:`idf`), or 1 for every feature.
Weight = Callable[[int], float]


def _one(feature: int) -> float:
    return 1.0


#: The weight of an article's features and of its title's (see :func:`similarity`).
Mass = tuple[float, float]


def mass(features: Features, weight: Weight = _one) -> Mass:
    """The weight of ``features`` (title and head: they have no feature in common), and of the
    title's: what :func:`similarity` needs of one article, computed once per article."""
    title = sum(map(weight, features.title))
    return title + sum(map(weight, features.head)), title


def similarity(a: Features, b: Features, weight: Weight = _one,
               masses: tuple[Mass, Mass] | None = None) -> float:
    """Weighted Jaccard index of two articles' features: each feature weighs ``weight`` (its
    rarity in the archive: "双十一", "4499" and a model name say which story it is, "今年" and
    "市民" say nothing), and a shared title feature counts :data:`TITLE_WEIGHT` times. A
    feature in one title and the other's head counts as a head feature: a detail one source puts
    in its title and another in its first sentence. ``masses``: both articles' :func:`mass`.

    Unweighted, common words of unrelated reports passed the threshold: on the demo's 240
    articles a quarter of all pairs of different sources did (6,751 of 26,284); weighted by IDF,
    16 did, with the labelled set's recall 0.80 at precision 0.96 (tests/test_clusters.py)."""
    (a_all, a_title), (b_all, b_title) = masses or (mass(a, weight), mass(b, weight))
    # Only the (small) intersections are summed; the unions follow from the masses. map():
    # the sums run in C (a dict's __getitem__ as ``weight`` costs ~40 ns a feature).
    titles = sum(map(weight, a.title & b.title))
    shared = titles + sum(map(weight, a.title & b.head)) + sum(map(weight, a.head & b.title)) \
        + sum(map(weight, a.head & b.head))
    union = a_all + b_all - shared + (TITLE_WEIGHT - 1) * (a_title + b_title - titles)
    shared += (TITLE_WEIGHT - 1) * titles
    return shared / union if union > 0 else 0.0


def same_story(a: Features, b: Features, weight: Weight = _one) -> bool:
    return similarity(a, b, weight) >= THRESHOLD


def feature_hash(feature: str) -> int:
    """A stable 32-bit hash of a feature (Python's ``hash`` of a str changes with every
    process). CRC-32 is six times as fast as BLAKE2 here (0.2 against 1.3 µs; an article has
    100 to 250 features) and spreads short strings as well for a sketch; two features of a
    pair colliding (about one pair in 10^5) moves its similarity by one feature."""
    return zlib.crc32(feature.encode("utf-8"))


def _hashes(features: set[str]) -> frozenset[int]:
    """:func:`feature_hash` of each of ``features``, the loop in C (a third of the cost); the
    two must agree (tests/test_clusters.py): stored keys and counts are these hashes."""
    return frozenset(map(zlib.crc32, map(str.encode, features)))


def sketch(features: Features) -> list[int]:
    """The article's keys: the hashes of its :data:`TITLE_KEYS` title features and
    :data:`HEAD_KEYS` head features that hash smallest (a bottom-k MinHash sketch: two
    articles sharing a feature share its key whenever it is among both articles' smallest)."""
    title = sorted(features.title)[:TITLE_KEYS]
    head = sorted(features.head)[:HEAD_KEYS]
    return sorted(set(title + head))
