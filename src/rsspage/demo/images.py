"""Pictures for the demo feeds, drawn on request: an SVG gradient with a label (640×360, or a
portrait or square size the data names), or a plain PNG.

Colours come from a hash of the image name, so each picture looks the same on every run and the
demo needs no binary files.
"""

from __future__ import annotations

import colorsys
import struct
import zlib
from functools import cache
from xml.sax.saxutils import escape

PNG_SIZE = (320, 180)


def _colours(name: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two related RGB colours for ``name``: the gradient's start and end."""
    hue = (zlib.crc32(name.encode()) % 360) / 360

    def rgb(h: float, lightness: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb(h % 1.0, lightness, 0.65)
        return round(r * 255), round(g * 255), round(b * 255)

    return rgb(hue, 0.45), rgb(hue + 0.12, 0.62)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@cache
def svg(name: str, label: str, size: tuple[int, int] = (640, 360)) -> bytes:
    """An SVG of ``size`` (640×360 unless a portrait or square one is asked for): diagonal
    gradient, the label in the middle."""
    start, end = _colours(name)
    text = escape(label)
    width, height = size
    font = min(40, width // 12)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="{_hex(start)}"/><stop offset="1" stop-color="{_hex(end)}"/>'
        f'</linearGradient></defs><rect width="{width}" height="{height}" fill="url(#g)"/>'
        f'<text x="{width // 2}" y="{height // 2 + font // 4}" text-anchor="middle"'
        f' font-size="{font}" fill="#fff" '
        'font-family="\'Noto Sans CJK SC\',\'PingFang SC\',\'Microsoft YaHei\',sans-serif">'
        f"{text}</text></svg>\n"
    ).encode()


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


@cache
def png(name: str) -> bytes:
    """A small RGB PNG with a horizontal gradient (no text: PNG text would need a font)."""
    width, height = PNG_SIZE
    (r0, g0, b0), (r1, g1, b1) = _colours(name)
    row = bytearray(b"\x00")  # filter type 0 for the scanline
    for x in range(width):
        t = x / (width - 1)
        row += bytes((round(r0 + (r1 - r0) * t), round(g0 + (g1 - g0) * t),
                      round(b0 + (b1 - b0) * t)))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(row) * height, 9))
        + _chunk(b"IEND", b"")
    )
