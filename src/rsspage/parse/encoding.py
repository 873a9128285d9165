"""Character encodings: which one a document is in, and the document as UTF-8.

The one place that decides, for the parser and for the fetch stage's "is this a feed?" sniff.
The precedence (RFC 7303 section 3, the XML specification's Appendix F, detection last):

1. a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE): it wins over anything declared;
2. the HTTP ``charset`` parameter, for ``text/xml`` and ``application/xml`` alike: RFC 7303
   dropped RFC 3023's US-ASCII default for ``text/xml``, so without a charset both go on to
   what the document says;
3. the XML declaration's ``encoding``, read in the family that Appendix F sniffs from the first
   four bytes (UTF-16 or UTF-32 without a BOM, EBCDIC);
4. without either: UTF-16/32 as sniffed, else UTF-8 when the bytes are UTF-8;
5. detection: the CJK telltales below, then chardet (the detector feedparser itself asks);
6. windows-1252, which reads any bytes.

A declared encoding that the bytes belie (GBK bytes under ``charset=utf-8``) is passed over for
the next step; an ASCII-compatible one is passed over for a document sniffed as UTF-16/32. The
labels ISO-8859-1, Latin-1 and windows-1252 are all read as windows-1252, as browsers read them
(WHATWG Encoding): bytes 0x80-0x9F in such text are its punctuation (’ …), never C1 controls.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass

import chardet

__all__ = ["Decision", "choose_encoding", "content_type", "head_text", "to_utf8"]

_BOMS = (  # UTF-32LE before UTF-16LE: its BOM starts with UTF-16LE's
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)  # fmt: skip
# Appendix F without a BOM, by where the first four bytes are zero: "<?" (or any ASCII, as in a
# document without a declaration) in UTF-32 or UTF-16.
_ZERO_PATTERNS = {
    (True, True, True, False): "utf-32-be", (False, True, True, True): "utf-32-le",
    (True, False, True, False): "utf-16-be", (False, True, False, True): "utf-16-le",
}  # fmt: skip
_EBCDIC_MARKER = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC
_WIDE = frozenset({"utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"})
_DECLARED = re.compile(rb"""encoding=['"]([^'"]*)['"]""")
_XML_DECLARATION = re.compile(r"^<\?xml[^>]*?>")
_UTF8_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
#: windows-1252's characters for the bytes 0x80-0x9F (five of them are unassigned).
CP1252_C1 = {c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0)
             if c not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}  # fmt: skip
_C1_BYTES = re.compile(rb"[\x80-\x9f]")
_SPACE = " \t\r\n\f\v"
_LEADING_SPACE = re.compile(rb"[ \t\r\n\f\v]*")


@dataclass(frozen=True, slots=True)
class Decision:
    """The encoding a document is read in, and which rule chose it."""

    #: A Python codec name ("utf-8", "utf-16-le", "gb18030", "windows-1252"…).
    encoding: str
    #: "byte-order mark", "HTTP charset", "XML declaration", "sniffed", "UTF-8", "detected"
    #: or "fallback".
    reason: str
    #: Bytes of BOM to skip.
    skip: int = 0


def byte_order_mark(content: bytes) -> tuple[str, int] | None:
    """(codec, length) of the document's byte-order mark, if it has one."""
    for mark, codec in _BOMS:
        if content.startswith(mark):
            return codec, len(mark)
    return None


def sniffed_family(content: bytes) -> str | None:
    """The wide or EBCDIC encoding the first four bytes show (Appendix F), without a BOM."""
    head = content[:4]
    if head == _EBCDIC_MARKER:
        return "cp037"
    if len(head) < 4:
        return None
    return _ZERO_PATTERNS.get((head[0] == 0, head[1] == 0, head[2] == 0, head[3] == 0))


def head_text(body: bytes, size: int = 2048) -> str:
    """About ``size`` characters of ``body`` from its first one that is not white space, for
    sniffing: in the encoding its BOM or first bytes show, else as Latin-1 (only ASCII matters
    there)."""
    bom = byte_order_mark(body)
    codec, skip = bom if bom else (sniffed_family(body) or "latin-1", 0)
    if codec in ("latin-1", "utf-8"):
        start = _LEADING_SPACE.match(body, skip).end()  # type: ignore[union-attr]
        return body[start : start + size].decode(codec, "ignore")
    return body[skip:].decode(codec, "ignore").lstrip(_SPACE)[:size]  # rare: read it all


def content_type(headers: Mapping[str, str]) -> tuple[str, str]:
    """(media type, charset) of the Content-Type header, parsed as feedparser parses it."""
    chunks = headers.get("content-type", "").split(";")
    charset = ""
    for chunk in chunks[1:]:
        key, _, value = chunk.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    return chunks[0].strip(), charset


def xml_encoding(data: bytes) -> str:
    """The encoding named in an ASCII-compatible document's XML declaration, lower-cased.

    Read as feedparser reads it once the declaration is alone on its first line (see
    repairs.declaration_on_its_own_line): the first "encoding=" between the "<?" that starts the
    document and the first "?>" of that line. Linear: feedparser's own pattern backtracks in
    cubic time over a line full of "encoding=".
    """
    if not data.startswith(b"<?"):
        return ""
    line_end = data.find(b"\n")
    close = data.find(b"?>", 0, len(data) if line_end < 0 else line_end)
    match = _DECLARED.search(data, 0, close) if close > 0 else None
    return match.group(1).decode("utf-8", "replace").lower() if match else ""


def declared_encoding(content: bytes) -> str:
    """The XML declaration's encoding, read in the family the BOM or first bytes show."""
    bom = byte_order_mark(content)
    family, skip = bom if bom else (sniffed_family(content), 0)
    if family is None or family == "utf-8":
        return xml_encoding(content[skip:])
    head = content[skip : skip + 4096].decode(family, "ignore")
    return xml_encoding(head.split("\n", 1)[0].encode("utf-8"))


def choose_encoding(content: bytes, headers: Mapping[str, str], *,
                    trust_utf8: bool = False) -> Decision:
    """The encoding of ``content`` by the precedence in this module's docstring.

    ``trust_utf8``: take UTF-8, when it comes up, without checking the bytes (a caller whose
    parser checks them anyway, and asks again with a check when it fails).
    """
    bom = byte_order_mark(content)
    if bom is not None:
        return Decision(bom[0], "byte-order mark", bom[1])
    family = sniffed_family(content)
    for label, reason in ((content_type(headers)[1], "HTTP charset"),
                          (declared_encoding(content), "XML declaration")):
        codec = _codec(label, family)
        if codec is not None and ((trust_utf8 and codec == "utf-8") or decodes(content, codec)):
            return Decision(codec, reason)
    if family is not None and decodes(content, family):
        return Decision(family, "sniffed")
    if trust_utf8 or decodes(content, "utf-8"):
        return Decision("utf-8", "UTF-8")
    detected = _detect(content)
    if detected is not None:
        return Decision(detected, "detected")
    return Decision("windows-1252", "fallback")


def to_utf8(content: bytes, headers: Mapping[str, str], *,
            trust_utf8: bool = False) -> tuple[bytes, dict[str, str], str]:
    """(the document as UTF-8 saying so, headers whose charset agrees, the encoding read).

    A UTF-8 document that declares UTF-8 or nothing comes back as it is; any other is decoded
    and declared anew, so that the fast path and feedparser read the same text. For
    ``trust_utf8`` see choose_encoding.
    """
    decision = choose_encoding(content, headers, trust_utf8=trust_utf8)
    fixed = dict(headers)
    media, charset = content_type(headers)
    if media and charset.lower() not in ("utf-8", "utf8"):
        fixed["content-type"] = f"{media}; charset=utf-8"
    if decision.encoding == "utf-8" and not decision.skip and _declares_utf8_or_nothing(content):
        return content, fixed, decision.encoding
    if trust_utf8 and decision.encoding == "utf-8" and not decodes(content, "utf-8"):
        return to_utf8(content, headers)  # decoding would hide the bad bytes from libxml2
    text = decode(content[decision.skip :], decision.encoding)
    if _XML_DECLARATION.match(text):
        text = _XML_DECLARATION.sub(_UTF8_DECLARATION, text, count=1)
    else:
        text = _UTF8_DECLARATION + "\n" + text
    return text.encode("utf-8"), fixed, decision.encoding


def decode(data: bytes, encoding: str) -> str:
    """``data`` in ``encoding``; bytes it does not hold (a BOM the rest belies) become U+FFFD,
    and windows-1252 leaves its five unassigned bytes as C1 controls."""
    if encoding != "windows-1252":
        return data.decode(encoding, "replace")
    text = data.decode("latin-1")
    return text.translate(CP1252_C1) if _C1_BYTES.search(data) else text


def decodes(data: bytes, encoding: str) -> bool:
    if encoding == "windows-1252":
        return True
    try:
        data.decode(encoding)
    except (UnicodeDecodeError, LookupError, ValueError):  # ValueError: NUL in the name
        return False
    return True


def _declares_utf8_or_nothing(content: bytes) -> bool:
    return xml_encoding(content) in ("", "utf-8")


#: Codecs Python knows that no feed is written in: some decode in quadratic time (a 320 kB body
#: "in" punycode took 12 s to decode), others are not text encodings at all.
_NOT_TEXT = frozenset(["punycode", "idna", "undefined", "raw_unicode_escape", "unicode_escape",
                       "utf-7", "mbcs", "oem"])


def _codec(label: str, family: str | None) -> str | None:
    """The codec for an encoding label, or None: unknown, or impossible in this family."""
    try:
        info = codecs.lookup(label) if label else None
    except (LookupError, ValueError):
        return None
    # A bytes-to-bytes codec (base64, zlib: "not a text encoding") never decodes a feed.
    name = info.name if info is not None and getattr(info, "_is_text_encoding", True) else None
    if name is None or name in _NOT_TEXT:
        return None
    if name in ("latin_1", "iso8859-1", "cp1252"):
        name = "windows-1252"
    elif name == "gb2312":
        name = "gb18030"  # what GB2312 labels mean in practice (feedparser does the same)
    elif name in ("utf-16", "utf-32"):  # no BOM here: the byte order is the sniffed one
        return family if family is not None and family.startswith(name) else None
    if family in _WIDE:
        return name if name in _WIDE else None
    return name


def _detect(data: bytes) -> str | None:
    """The encoding of undeclared text that is not UTF-8: CJK telltales, then chardet."""
    cjk = _detect_cjk(data)
    if cjk is not None:
        return cjk
    guess = chardet.detect(data).get("encoding")
    codec = _codec(guess or "", None)
    return codec if codec is not None and decodes(data, codec) else None


# Per candidate codec, the characters that make up a good share of any ordinary text in its
# language: the most frequent hanzi (simplified, traditional), kana, the most frequent hangul.
# Text decoded with the wrong CJK codec is a scatter of rare characters and scores near zero.
_FREQUENT_SIMPLIFIED = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地以说时要就出也得里后自之子年生着发会可下对能而过家"
    "十用当天那学都好还多没经么所新日本月分成同三方主行面工业现动部开高实于定民将"
)
_FREQUENT_TRADITIONAL = frozenset(
    "的一是不了在人有我他這個們中來上大為和國地以說時要就出也得裡後自之子年生著發會可下對能而過家"
    "十用當天那學都好還多沒經麼所新日本月分成同三方主行面工業現動部開高實於定民將"
)
_KANA = frozenset(chr(c) for c in range(0x3041, 0x30FF))
_FREQUENT_HANGUL = frozenset(
    "이다는의에가을고하한지로서기사도리자대어니수를있습일은시인해보게정부것들내나그주"
)
_CJK_CANDIDATES: tuple[tuple[str, frozenset[str]], ...] = (
    ("gb18030", _FREQUENT_SIMPLIFIED),
    ("big5", _FREQUENT_TRADITIONAL),
    ("shift_jis", _KANA),
    ("euc_jp", _KANA),
    ("euc_kr", _FREQUENT_HANGUL),
)


def _detect_cjk(data: bytes) -> str | None:
    """The CJK codec under which ``data`` reads as ordinary text, or None."""
    best, best_score = None, 0.05  # below this share of telltale characters, don't guess
    for encoding, telltale in _CJK_CANDIDATES:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        wide = [c for c in text[:50_000] if ord(c) > 0x7F]
        score = sum(c in telltale for c in wide) / len(wide) if wide else 0.0
        if score > best_score:
            best, best_score = encoding, score
    return best
