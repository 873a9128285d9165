"""The limits of static hosts (``site.host``), and the warnings a build gives near them.

The numbers are the hosts' own, as documented when this was written:

- GitHub Pages: "Published GitHub Pages sites may be no larger than 1 GB"; ``actions/deploy-pages``
  compares the uploaded artifact, a tar of the site, with 1,073,741,824 bytes and warns "Deployment
  might fail" above it. Git refuses files over 100 MiB (a site published from a branch).
- Cloudflare Pages: 20,000 files per site on the Free plan (paid plans may raise it to 100,000),
  25 MiB per file.
- Netlify: no limit on the files of a deploy, but at most 54,000 files in one folder.

A warning comes at :data:`WARN_AT` of a limit, so there are builds left to act; it says how close
the site is and what to do, and, over the limit, that the host may refuse it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rsspage.publish.site_size import SiteSize, human_bytes

#: The share of a limit at which a build starts to warn.
WARN_AT = 0.8
#: Where the README tells how to make the site fit.
README_SECTION = 'README, "Fitting the host"'
_FEWER = f"keep fewer articles on the site ({README_SECTION})"


@dataclass(frozen=True, slots=True)
class HostLimits:
    """What one host allows; None: no such limit (or none known)."""

    #: The host's name, for messages.
    name: str
    #: The most the site may weigh, as the tar archive GitHub's workflow uploads.
    tar_bytes: int | None = None
    #: The most files in one deployment.
    files: int | None = None
    #: The largest file.
    file_bytes: int | None = None
    #: The most files in one folder.
    folder_files: int | None = None


#: ``site.host`` → its limits (``none``: no checks).
LIMITS: dict[str, HostLimits] = {
    "github-pages": HostLimits("GitHub Pages", tar_bytes=1 << 30, file_bytes=100 << 20),
    "cloudflare-pages": HostLimits("Cloudflare Pages' Free plan", files=20_000,
                                   file_bytes=25 << 20),
    "netlify": HostLimits("Netlify", folder_files=54_000),
}


def host_warnings(size: SiteSize, limits: HostLimits | None) -> list[str]:
    """One line per limit of ``limits`` the site has reached :data:`WARN_AT` of, or passed."""
    if limits is None:
        return []
    checks: list[tuple[int, int | None, str, Callable[[int], str], str]] = [
        (size.tar_bytes, limits.tar_bytes,
         f"the site is {human_bytes(size.tar_bytes)} as the upload packs it", _bytes, _FEWER),
        (size.files, limits.files, f"the site has {size.files:,} files",
         lambda n: f"{n:,} files", _FEWER),
        (size.largest_bytes, limits.file_bytes,
         f"its largest file, {size.largest}, is {human_bytes(size.largest_bytes)}",
         lambda n: f"{_bytes(n)} per file", f"make that file smaller ({README_SECTION})"),
        (size.fullest_files, limits.folder_files,
         f"its fullest folder, {size.fullest or '(the top)'}, holds {size.fullest_files:,} files",
         lambda n: f"{n:,} files per folder", _FEWER),
    ]
    lines = []
    for measured, limit, what, shown, advice in checks:
        if limit is None or measured < WARN_AT * limit:
            continue
        share = f"{measured * 100 // limit} %"
        if measured > limit:
            lines.append(f"{what}, over the limit of {limits.name} ({shown(limit)}; {share}): "
                         f"the host may refuse to publish it; {advice}")
        else:
            lines.append(f"{what}, {share} of the limit of {limits.name} ({shown(limit)}): "
                         f"{advice} before it passes the limit")
    return lines


def _bytes(size: int) -> str:
    """A byte limit as the host words it: ``1 GiB``, ``25 MiB``."""
    for unit, shift in (("GiB", 30), ("MiB", 20)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return human_bytes(size)
