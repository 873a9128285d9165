"""Writing files whole, shared by the store and the outputs.

Every temporary file rsspage makes on its way to an atomic ``os.replace`` ends in
:data:`TMP_SUFFIX`, so that one left behind by a killed run is recognised and swept.
"""

from __future__ import annotations

import os

TMP_SUFFIX = ".rsspage-tmp"


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the descriptor ``fd`` (``os.write`` may write less)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
