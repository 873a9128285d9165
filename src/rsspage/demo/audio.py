"""Audio for the demo podcast, made on request: a short, quiet WAV tone per episode.

Like the pictures, each file is computed (the pitch from a hash of its name), so the demo ships
no binary files, and the same name gives the same bytes on every run: the feed can state each
file's exact size. A few seconds of 8 kHz mono is enough for a browser's player to load and play.
"""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib
from functools import cache

RATE = 8000
SECONDS = 3
#: Peak level, a fraction of full scale: a quiet tone.
LEVEL = 0.08
#: Fade in and out, in seconds (no click at either end).
FADE = 0.05
#: The size of every demo WAV: a 44-byte header and 16-bit samples.
WAV_LENGTH = 44 + RATE * SECONDS * 2


def pitch(name: str) -> float:
    """A tone between A3 (220 Hz) and A4 (440 Hz), on the semitone steps, from the name."""
    return 220.0 * 2 ** ((zlib.crc32(name.encode()) % 12) / 12)


@cache
def wav(name: str) -> bytes:
    """A mono 16-bit PCM WAV of :data:`SECONDS` seconds: a soft sine tone."""
    frequency, count, fade = pitch(name), RATE * SECONDS, int(RATE * FADE)
    samples = bytearray()
    for n in range(count):
        envelope = min(1.0, n / fade, (count - 1 - n) / fade)
        value = LEVEL * envelope * math.sin(2 * math.pi * frequency * n / RATE)
        samples += struct.pack("<h", round(value * 32767))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(samples))
    return out.getvalue()
