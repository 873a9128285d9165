"""What the build does when ``pagefind --service`` answers with something else than Pagefind's
messages (a broken or incompatible binary): it fails at once, naming the answer, instead of
waiting ``CALL_TIMEOUT`` (600 s) for an answer that never comes.

The "binary" is a script standing in for a broken Pagefind: it reads a request and writes the
answer given, then waits for its input to close, as the service does.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

import pytest

from rsspage.publish.search_pagefind import PagefindService, SearchIndexError


def _broken_pagefind(folder: Path, answer: bytes) -> str:
    script = folder / "pagefind"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "os.read(0, 1)  # a request came\n"
        f"sys.stdout.buffer.write({answer!r})\n"
        "sys.stdout.flush()\n"
        "while os.read(0, 65536):\n"
        "    pass\n"
    )
    script.chmod(0o755)
    return str(script)


def _message(answer: object) -> bytes:
    return base64.b64encode(json.dumps(answer).encode()) + b","


@pytest.mark.parametrize("answer", [
    _message({"message_id": 1, "payload": ["not", "an", "object"]}),  # killed the reader
    _message({"message_id": "one", "payload": {"type": "NewIndex"}}),  # killed the reader
    _message(["not", "an", "object"]),
    b"this is not base64!,",  # was never counted as an answer
], ids=["payload-list", "message-id-text", "answer-list", "not-base64"])
def test_an_answer_pagefind_never_writes_fails_the_call_at_once(tmp_path: Path,
                                                                answer: bytes) -> None:
    service = PagefindService(_broken_pagefind(tmp_path, answer))
    began = time.monotonic()
    try:
        with pytest.raises(SearchIndexError, match="unreadable answer from pagefind"):
            service.call({"type": "NewIndex", "config": {}})
        assert time.monotonic() - began < 20
    finally:
        service.close()
