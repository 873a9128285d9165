"""What a build did to an output folder (:class:`WriteStats`, from ``OutputWriter.finish``)."""

from __future__ import annotations

from dataclasses import dataclass

from rsspage.errors import PublishError


@dataclass(frozen=True, slots=True)
class WriteStats:
    """What one build did to the output folder."""

    #: Files created or rewritten because their content changed.
    written: int
    #: Files whose content was already on disk.
    unchanged: int
    #: Files of earlier builds removed because this build did not write them.
    removed: int
    #: Files of earlier builds that could not be removed, each with the reason (they stay
    #: rsspage's, and the next build tries again).
    not_removed: tuple[str, ...] = ()
    #: Files of earlier builds kept although this build did not write them: their article is
    #: not in the archive (a younger state), and only a known removal deletes an article's file.
    kept_unknown: int = 0
    #: Of ``unchanged``, the files kept with :meth:`OutputWriter.keep`: not rendered again. (The
    #: others were rendered, given to ``write()`` and found the same as the file.)
    kept: int = 0

    @property
    def rendered(self) -> int:
        """Files the build rendered and gave to ``write()``, rewritten or not."""
        return self.written + self.unchanged - self.kept

    def check(self) -> None:
        """Raise PublishError when some old files could not be removed."""
        if self.not_removed:
            raise PublishError("could not remove: " + "; ".join(self.not_removed))
