"""Reading a file the user names without ever holding more of it than its limit allows.

A size from `stat` is not enough: a FIFO, `/dev/zero` or `/dev/stdin` has none, and a sparse file has one far
larger than the disk it takes. So every such file is read for at most its limit and one byte more, and a file of
which that byte arrives is too large, known at once, whatever it is.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BoundedRead:
    """The whole file, or its first `limit` + 1 bytes when it holds more than `limit`."""

    content: bytes
    limit: int
    size: int | None
    """The size the file system gives a regular file; None for a pipe or a device, which have none."""

    @property
    def too_large(self) -> bool:
        return len(self.content) > self.limit

    @property
    def known_size(self) -> int | None:
        """How large a too-large file is, when its size says so (a regular file); None when only "more than the
        limit" is known (a pipe or a device, or a file that grew while it was read)."""
        return self.size if self.too_large and self.size is not None and self.size > self.limit else None


def read_bounded(path: Path, limit: int) -> BoundedRead:
    """Reads at most `limit` + 1 bytes of `path`; OSError as `open` and `read` raise it."""
    with path.open("rb") as file:
        content = file.read(limit + 1)
        status = os.fstat(file.fileno())
    return BoundedRead(content, limit, status.st_size if stat.S_ISREG(status.st_mode) else None)
