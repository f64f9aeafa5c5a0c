"""A batch file named (or labelled) as another format than its content plainly is: a JSON file saved as `.csv`, an
XML file as `.json`. Its parser's refusal then says what that parser stumbled on ("malformed JSON: Expecting value",
"the header names row has 1 field"), which sends the person looking for a fault in the file rather than in its name:
what the content plainly is, and the name to give it, is said with the refusal (by `lrs batch check` and the portal's
check alike). Pure: no I/O."""

from __future__ import annotations

from pathlib import PurePosixPath

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats.detect import detect_format

# As much of a file's start as `detect_format` is given to tell a format by its content.
FIRST_BYTES = 512


def plainly_other_format(content: bytes, fmt: BatchFormat) -> BatchFormat | None:
    """The format the content plainly is (XML's `<`, JSON's `{` or `[`, CSV's heading line) when not `fmt`; None
    when it is `fmt`, or plainly none of them."""
    looks_like = detect_format(None, None, content[:FIRST_BYTES])
    return looks_like if looks_like is not None and looks_like is not fmt else None


def renamed(name: str, fmt: BatchFormat) -> str:
    """`name` with the extension of `fmt`: `results.json` → `results.csv`."""
    return f"{PurePosixPath(name).stem}.{fmt.value}"


def mislabel_hint(name: str, looks_like: BatchFormat, then: str = "") -> str:
    """What to do about the file `name` whose content plainly is `looks_like`: rename it; `then`, the words that
    follow, in the terms of the tool that reads it (how it takes a file's format from its name)."""
    return f"{name} looks like {looks_like.value.upper()}: rename it to {renamed(name, looks_like)}{then}"
