"""Files `lrs` writes for the user (outcome CSVs, reports, credentials): they hold learners' data, so they are
made 0600, and a file is only ever replaced whole, once all of it has arrived: a download cut short leaves the
file that was there before, never a truncated copy that looks complete. A symbolic link is written through (the
file it names is replaced, the link kept); what is not a file (a FIFO, a terminal, /dev/null, /dev/stdout) is
written straight into, never replaced."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import httpx

from lrs_cli.client import CommandError, ExitCode, UsageError, expect_ok
from lrs_cli.output import progress

STANDARD_OUTPUT = Path("-")
BOM = b"\xef\xbb\xbf"  # UTF-8's byte-order mark: ingest starts its results CSV with one, for Excel
DESCRIPTORS = re.compile(r"/proc/(self|thread-self|[0-9]+)(/task/[0-9]+)?/fd")  # /dev/fd and /dev/stdout lead here
MOST_LINKS_FOLLOWED = 40  # as Linux follows before ELOOP


class BrokenOff(CommandError):
    """The service answered, then the connection broke before the whole answer came."""

    exit_code = ExitCode.UNREACHABLE


def written_straight(target: Path) -> bool:
    """Whether `target` is written into rather than replaced: something there that is not a regular file (a FIFO,
    a device), or a process's open file (`/dev/stdout` when it is redirected to a file, `/dev/fd/3`)."""
    try:
        found = target.stat()
    except OSError:
        return False
    return not stat.S_ISREG(found.st_mode) or _through_a_descriptor(target)


def _through_a_descriptor(target: Path) -> bool:
    """Whether `target` or a link it leads through is in /proc/<process>/fd."""
    path = target.absolute()
    for _ in range(MOST_LINKS_FOLLOWED):
        folder = os.path.realpath(path.parent)
        if DESCRIPTORS.fullmatch(folder):
            return True
        path = Path(folder, path.name)
        if not path.is_symlink():
            return False
        path = Path(folder, os.readlink(path))
    return False


def _replaced(target: Path) -> Path:
    """The file that writing `target` replaces: the one it names when it is a symbolic link, not the link."""
    return Path(os.path.realpath(target))


def one_writer_of_standard_output(as_json: bool, csv_file: Path | None) -> None:
    """A usage error (exit status 2) for `--json` with `--csv -`, before the service is asked: both would write
    standard output, and a script that parses it as JSON would be given CSV."""
    if as_json and csv_file == STANDARD_OUTPUT:
        raise UsageError("--json and --csv - both write standard output: choose one")


def writable_beside(target: Path, option: str) -> None:
    """A usage error (exit status 2) when `target` could not be written: checked before the service is asked, so
    that nothing is printed or fetched for a file that then cannot be kept."""
    if target == STANDARD_OUTPUT:
        return
    if written_straight(target):
        if not os.access(target, os.W_OK):
            raise UsageError(f"{option} {target} cannot be written (not writable): nothing was fetched")
        return
    try:
        descriptor, probe = tempfile.mkstemp(prefix=f".{target.name}.", dir=_replaced(target).parent)
    except OSError as error:
        raise UsageError(
            f"{option} {target} cannot be written ({error.strerror or error}): nothing was fetched"
        ) from error
    os.close(descriptor)
    os.unlink(probe)


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[BinaryIO]:
    """A file (0600) beside `target` that replaces it when the block ends without an error, else is removed; what
    is written straight into (`written_straight`) is opened as it is and appended to, as a shell's `>>` would."""
    if written_straight(target):
        with open(target, "ab") as out:
            yield out
        return
    replaced = _replaced(target)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{replaced.name}.", dir=replaced.parent)
    try:
        with os.fdopen(descriptor, "wb") as out:
            yield out
        os.replace(temporary, replaced)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_private(target: Path, content: bytes) -> None:
    """Writes `content` to `target` (0600), replacing it whole."""
    with replacing(target) as out:
        out.write(content)


def without_bom(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks less a leading byte-order mark, however the first bytes are split between them."""
    head = b""
    iterator = iter(chunks)
    for chunk in iterator:
        head += chunk
        if len(head) >= len(BOM):
            break
        if not BOM.startswith(head):
            break
    yield head.removeprefix(BOM)
    yield from iterator


DOWNLOAD_PATIENCE_SECONDS = 120.0
"""How long a download refused 429 (the caller's other downloads are being sent: ingest's per-caller bound) is asked
for again, after each answer's Retry-After, before the refusal is said (exit 1)."""


def download(client: httpx.Client, path: str, target: Path, params: dict[str, str] | None = None) -> int:
    """Streams the answer to GET `path` into `target` (`-`: standard output); returns its size. A connection
    that breaks once the answer has begun is said as such (the service is running) and leaves `target` as it was.
    A file keeps the answer's byte-order mark (Excel reads the CSV as UTF-8 by it); standard output, read by
    scripts (`cut`, a CSV reader that would make it part of the first heading), has none. A 429 is asked again
    after its Retry-After for up to DOWNLOAD_PATIENCE_SECONDS."""
    deadline = time.monotonic() + DOWNLOAD_PATIENCE_SECONDS
    while (written := _download_once(client, path, target, params, deadline)) is None:
        pass
    return written


def _download_once(
    client: httpx.Client, path: str, target: Path, params: dict[str, str] | None, deadline: float
) -> int | None:
    """`download`'s one request; None when it was refused 429 and may be asked again (its Retry-After waited)."""
    written = 0
    with (
        client.stream("GET", path, params=params) as response,
        progress(f"downloading {target.name}", bytes_=True) as update,
    ):
        if response.status_code >= 400:
            response.read()
            wait = _retry_after(response)
            if response.status_code != 429 or wait >= deadline - time.monotonic():
                expect_ok(response)
        else:
            wait = None
            try:
                with (
                    contextlib.nullcontext(sys.stdout.buffer) if target == STANDARD_OUTPUT else replacing(target) as out
                ):
                    chunks = response.iter_bytes()
                    for chunk in without_bom(chunks) if target == STANDARD_OUTPUT else chunks:
                        out.write(chunk)
                        written += len(chunk)
                        update(completed=written)
                    out.flush()
            except (httpx.RemoteProtocolError, httpx.ReadError) as error:
                if target == STANDARD_OUTPUT:
                    kept = "standard output has only part of it"
                elif written_straight(target):
                    kept = f"{target} has only part of it"
                else:
                    kept = f"{target} was not written"
                raise BrokenOff(
                    f"{response.request.url.copy_with(query=None)} answered, then the connection broke after"
                    f" {written:,} bytes ({str(error) or type(error).__name__}); {kept}: try again"
                ) from error
    if wait is not None:
        time.sleep(wait)
        return None
    return written


def _retry_after(response: httpx.Response) -> float:
    """Seconds to wait before asking again: the answer's Retry-After, else 2."""
    said = response.headers.get("Retry-After", "")
    return float(said) if said.isdigit() else 2.0
