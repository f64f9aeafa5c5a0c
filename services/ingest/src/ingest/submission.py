"""The pure part of submitting a batch: no I/O, every function takes values and returns values.

What happens to an upload, in order: the format is resolved, the body is read up to 6 MB, the file is
parsed (or refused with an RS code), the header's AO is checked against the caller, the dedup key is
derived (Idempotency-Key, else the content hash), and the batch becomes the events that travel on
`lrs.batch.submitted.v1` in one Kafka transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from enum import StrEnum
from typing import TypeVar

from lrs_contracts.batch import (
    BatchFormat,
    BatchHeader,
    BatchRecordsSubmitted,
    BatchSubmissionCompleted,
    BatchSubmitted,
    SubmittedRecord,
)
from lrs_contracts.codes import BATCH_CODE_TITLES, MAX_BATCH_BYTES, BatchCode
from lrs_contracts.envelope import deterministic_id
from lrs_contracts.registry import encode, wrap
from lrs_contracts.text import refused_character
from lrs_domain.formats import BatchRefused, detect_format, media_type_of, names_no_batch_format
from lrs_domain.formats.detect import refuse_workbook
from lrs_domain.formats.errors import refuse_other_encodings
from lrs_platform.idempotency import UnusableIdempotencyKey, idempotency_key_of
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.kafka import MAX_MESSAGE_BYTES

SOURCE = "ingest"

T = TypeVar("T")

# Room for the envelope and the chunk's own fields around the records, under the topic's message limit.
MAX_EVENT_BYTES = MAX_MESSAGE_BYTES - 64 * 1_024


class BatchStatus(StrEnum):
    RECEIVED = "received"  # stored, not yet durably in Kafka: a retry publishes it
    ACCEPTED = "accepted"  # the whole batch is committed to lrs.batch.submitted.v1
    QUEUED = "queued"  # accepted, and held by a maintenance window or pause: shown, never stored
    VALIDATING = "validating"  # validation has picked it up (it is at the head of the AO's queue)
    COMPLETED = "completed"  # validation decided it; accepted records are on the PLR log
    FAILED = "failed"  # validation failed the whole batch (RS005)
    # validation gave up on it (parked for operators): never decided, nothing of it on any PLR; the AO
    # submits the file again, which is then a new batch (decision 0103)
    ABANDONED = "abandoned"
    REFUSED = "refused"  # refused at the door (RS001-RS004, RS006, RS007); never published


DECIDED_STATUSES = frozenset({BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.ABANDONED, BatchStatus.REFUSED})


class SubmissionError(Exception):
    """A submission ingest will not take, for a reason other than the file's content. The HTTP edge
    (`ingest.api`) says what each kind means to a caller; `batch_id`, when known, is the caller's batch it is about."""

    def __init__(self, detail: str, batch_id: uuid.UUID | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.batch_id = batch_id


class InvalidIdempotencyKey(SubmissionError):
    """The Idempotency-Key header is not a key ingest can use."""


class NotAllowedToSubmit(SubmissionError):
    """The caller is not an AO, or names another AO than its own."""


class BatchOfAnotherAo(NotAllowedToSubmit):
    """An AO's key sent a batch whose header names another AO."""


class IdempotencyKeyReused(SubmissionError):
    """The same key came with a different file: `batch_id` is the batch the key made (the AO's own, keys being per
    AO), so that a client links to it instead of searching for it."""


class SubmissionInProgress(SubmissionError):
    """The same submission is being published right now: sending it again shortly will succeed. `batch_id`, when
    known, is the batch it makes."""


def refusal_title(code: BatchCode) -> str:
    return BATCH_CODE_TITLES.get(code, "The batch was refused")


def declared_too_large(content_length: str | None, limit: int = MAX_BATCH_BYTES) -> bool:
    """True when the request announces more than `limit` bytes: refused before reading any of it."""
    if content_length is None:
        return False
    try:
        return int(content_length.strip()) > limit
    except ValueError:
        return False


def normalise_idempotency_key(raw: str | None) -> str | None:
    """The key as sent (a structured-field string may come quoted), or None; refuses unusable keys."""
    try:
        return idempotency_key_of(raw)
    except UnusableIdempotencyKey as error:
        raise InvalidIdempotencyKey(str(error)) from None


def content_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def dedup_key(idempotency_key: str | None, sha256: str) -> str:
    """What makes two submissions of one AO the same batch: the Idempotency-Key when sent, else the
    content. With a key, identical content under a new key is deliberately a new batch. Without one, the
    content also finds the AO's batch of the file sent under a key (`BatchRepository.find_by_content`)."""
    return f"key:{idempotency_key}" if idempotency_key is not None else f"sha256:{sha256}"


def refusal_key(idempotency_key: str, sha256: str | None) -> str:
    """What makes two refused submissions of one AO the same refusal: the same Idempotency-Key and the same file.
    `sha256` is None for a file refused while it streamed (RS002, more than 6 MB): never read whole, it is not hashed,
    so every file over the limit sent under one key is the same file, answered by the key's first RS002. The content
    comes first, of fixed form, so that no key and file read as another's."""
    return f"{'over-6mb' if sha256 is None else 'sha256:' + sha256} key:{idempotency_key}"


def is_key_reused_for_other_content(idempotency_key: str | None, stored_sha256: str | None, new_sha256: str) -> bool:
    return idempotency_key is not None and stored_sha256 is not None and stored_sha256 != new_sha256


def filename_from(content_disposition: str | None) -> str | None:
    """The file name the upload came with, or None when there is none or it cannot be read: an RFC 2231
    name in a charset Python cannot decode with replacement (`filename*=idna''b.csv`), broken parameter
    continuations, or a name holding a character that could not be stored or sent (NUL, say).

    The name is only a hint to the format, never stored. An AO whose client sent a name ingest cannot read
    expects its file to be judged on its content, as if it had sent no name, rather than refused over a
    header it probably never chose: so an unreadable name is treated as absent, and when nothing else
    tells the format either, the refusal (RS001) says how to name it."""
    if not content_disposition:
        return None
    message = Message()
    try:
        message["content-disposition"] = content_disposition
        filename = message.get_filename()
    # email's RFC 2231 decoding fails in several ways on what a client can send: UnicodeError from a codec
    # without the "replace" handler, ValueError for a charset name holding NUL, LookupError, and TypeError
    # when numbered and unnumbered continuations of the name are mixed
    except (ValueError, LookupError, TypeError):
        return None
    if not isinstance(filename, str) or refused_character(filename, one_line=True) is not None:
        return None
    return filename


def batch_ao_for(principal: Principal, header_ao: str) -> str:
    """The AO a batch belongs to. An AO submits only as itself; an operator may submit for any AO."""
    if principal.is_operator:
        return header_ao
    if principal.kind is not PrincipalKind.AO:
        raise NotAllowedToSubmit(f"{principal.kind.value.capitalize()} callers cannot submit achievement batches.")
    if header_ao != principal.id:
        raise BatchOfAnotherAo(
            f"The batch header names AwardingOrganisation {header_ao!r}, but the API key belongs to"
            f" {principal.id!r}: an awarding organisation submits only its own batches."
        )
    return principal.id


def may_submit(principal: Principal) -> bool:
    return principal.is_operator or principal.kind is PrincipalKind.AO


def caller_ao(principal: Principal) -> str | None:
    """The AO a refusal is filed under before the file says which AO it is for."""
    return principal.id if principal.kind is PrincipalKind.AO else None


def chunk_records(
    records: Sequence[T],
    *,
    max_records: int,
    max_bytes: int,
    size_of: Callable[[T], int],
) -> list[tuple[T, ...]]:
    """Records in file order, in chunks of at most `max_records` and, where one record allows it, at
    most `max_bytes` of encoded records. A record bigger than `max_bytes` travels alone."""
    chunks: list[tuple[T, ...]] = []
    current: list[T] = []
    current_bytes = 0
    for record in records:
        size = size_of(record)
        if current and (len(current) >= max_records or current_bytes + size > max_bytes):
            chunks.append(tuple(current))
            current, current_bytes = [], 0
        current.append(record)
        current_bytes += size
    if current:
        chunks.append(tuple(current))
    return chunks


def encoded_record(record: SubmittedRecord) -> bytes:
    """The record's JSON, exactly as it stands inside its chunk's event."""
    return record.__pydantic_serializer__.to_json(record)


@dataclass(frozen=True)
class BatchIdentity:
    batch_id: uuid.UUID
    ao_id: str
    submitted_by: str
    received_at: datetime
    submitted_with_key: str | None = None  # the API key's id (`Principal.key_id`)


@dataclass(frozen=True)
class PreparedBatch:
    """A parsed batch as the encoded Kafka values of its events (`values`, in order)."""

    identity: BatchIdentity
    header: BatchHeader
    format: BatchFormat
    record_count: int
    chunk_count: int
    sha256: str
    size_bytes: int
    submitted_value: bytes
    # each chunk's event up to its records, and its records as the JSON inside it: the records are held
    # once while the batch waits, and can be encoded again under another identity
    chunk_heads: tuple[bytes, ...]
    record_chunks: tuple[bytes, ...]
    completed_value: bytes

    @property
    def values(self) -> tuple[bytes, ...]:
        chunks = (
            b"".join((head, b"[", records, _EMPTY_CHUNK_END[1:]))
            for head, records in zip(self.chunk_heads, self.record_chunks, strict=True)
        )
        return (self.submitted_value, *chunks, self.completed_value)

    def for_identity(self, identity: BatchIdentity) -> PreparedBatch:
        """The same batch under another id and reception time (an earlier attempt stored it so)."""
        return _prepared(
            identity, self.header, self.format, self.record_count, self.record_chunks, self.sha256, self.size_bytes
        )


def submitted_event_id(batch_id: uuid.UUID) -> uuid.UUID:
    return deterministic_id(batch_id, "submitted")


def chunk_event_id(batch_id: uuid.UUID, index: int) -> uuid.UUID:
    return deterministic_id(batch_id, "chunk", index)


def completed_event_id(batch_id: uuid.UUID) -> uuid.UUID:
    return deterministic_id(batch_id, "completed")


def carried(records: Sequence[SubmittedRecord], encoded: list[bytes]) -> list[bytes]:
    """`encoded`, the records' JSON in their order; BatchRefused (RS001) when one is too large to carry."""
    if encoded and max(map(len, encoded)) > MAX_EVENT_BYTES:
        for record, value in zip(records, encoded, strict=True):
            if len(value) > MAX_EVENT_BYTES:
                raise BatchRefused(BatchCode.MALFORMED, "a value of this record is too long to carry", record.line)
    return encoded


def prepare_encoded(
    identity: BatchIdentity,
    header: BatchHeader,
    encoded: Sequence[bytes],
    fmt: BatchFormat,
    *,
    sha256: str,
    size_bytes: int,
    max_records: int = 1_000,
    max_bytes: int = 1_048_576,
) -> PreparedBatch:
    """The batch as BatchSubmitted, its record chunks and BatchSubmissionCompleted, encoded around its
    records, already encoded in file order (`ingest.sealing.sealed_encoded_records`, checked by `carried`).

    Ids and timestamps derive from the batch id and its reception time only, so publishing the same
    batch again (a retry after a failed commit) produces byte-identical events.
    """
    record_chunks = tuple(b",".join(chunk) for chunk in _chunked(encoded, max_records, max_bytes))
    return _prepared(identity, header, fmt, len(encoded), record_chunks, sha256, size_bytes)


def _chunked(encoded: Sequence[bytes], max_records: int, max_bytes: int) -> list[Sequence[bytes]]:
    """`chunk_records` of encoded records. When every run of `max_records` from the first (the last one
    shorter) is at most `max_bytes`, those runs are its chunks, found without a call a record: its byte
    limit never cuts inside one of them, and its count cuts each after `max_records`."""
    sizes = list(map(len, encoded))
    starts = range(0, len(encoded), max_records)
    if all(sum(sizes[start : start + max_records]) <= max_bytes for start in starts):
        return [encoded[start : start + max_records] for start in starts]
    return list(chunk_records(encoded, max_records=max_records, max_bytes=max_bytes, size_of=len))


_EMPTY_CHUNK_END = b"[]}}"  # an empty chunk's envelope ends with its records, then its data


def _prepared(
    identity: BatchIdentity,
    header: BatchHeader,
    fmt: BatchFormat,
    record_count: int,
    record_chunks: tuple[bytes, ...],
    sha256: str,
    size_bytes: int,
) -> PreparedBatch:
    """`encode(wrap(...))` of the batch's events. A chunk's records are serialised once, not dumped,
    validated and dumped again by `wrap`: each chunk is the envelope of the same chunk without records,
    with the records spliced in, byte for byte what `encode(wrap(chunk))` writes."""
    batch_id = identity.batch_id
    submitted = BatchSubmitted(
        batch_id=batch_id,
        ao_id=identity.ao_id,
        header=header,
        format=fmt,
        record_count=record_count,
        content_sha256=sha256,
        size_bytes=size_bytes,
        submitted_by=identity.submitted_by,
        received_at=identity.received_at,
    )
    correlation = str(batch_id)
    first_id = submitted_event_id(batch_id)
    submitted_value = encode(
        wrap(submitted, source=SOURCE, correlation_id=correlation, event_id=first_id, occurred_at=identity.received_at)
    )
    chunk_heads = []
    for index in range(len(record_chunks)):
        empty = encode(
            wrap(
                BatchRecordsSubmitted(batch_id=batch_id, ao_id=identity.ao_id, chunk_index=index, records=()),
                source=SOURCE,
                correlation_id=correlation,
                causation_id=str(first_id),
                event_id=chunk_event_id(batch_id, index),
                occurred_at=identity.received_at,
            )
        )
        if not empty.endswith(_EMPTY_CHUNK_END):
            raise AssertionError(f"a chunk's envelope no longer ends with its records: {empty!r}")
        chunk_heads.append(empty[: -len(_EMPTY_CHUNK_END)])
    completed_value = encode(
        wrap(
            BatchSubmissionCompleted(
                batch_id=batch_id, ao_id=identity.ao_id, record_count=record_count, chunk_count=len(record_chunks)
            ),
            source=SOURCE,
            correlation_id=correlation,
            causation_id=str(first_id),
            event_id=completed_event_id(batch_id),
            occurred_at=identity.received_at,
        )
    )
    sizes = [
        len(submitted_value),
        len(completed_value),
        *(
            len(head) + len(records) + len(_EMPTY_CHUNK_END)
            for head, records in zip(chunk_heads, record_chunks, strict=True)
        ),
    ]
    if max(sizes) > MAX_EVENT_BYTES:
        raise BatchRefused(BatchCode.MALFORMED, "the batch header is too long to carry")
    return PreparedBatch(
        identity=identity,
        header=header,
        format=fmt,
        record_count=record_count,
        chunk_count=len(record_chunks),
        sha256=sha256,
        size_bytes=size_bytes,
        submitted_value=submitted_value,
        chunk_heads=tuple(chunk_heads),
        record_chunks=record_chunks,
        completed_value=completed_value,
    )


def status_url(batch_id: uuid.UUID) -> str:
    return f"/v1/batches/{batch_id}"


def replay_headers(batch_id: uuid.UUID, *, replay: bool) -> dict[str, str]:
    headers = {"Location": status_url(batch_id)}
    if replay:
        headers["Idempotent-Replay"] = "true"
    return headers


_CONTENT_TYPE_OF = {
    BatchFormat.CSV: "text/csv",
    BatchFormat.XML: "application/xml",
    BatchFormat.JSON: "application/json",
}


def mislabelled(
    refusal: BatchRefused,
    fmt: BatchFormat,
    requested: BatchFormat | None,
    content_type: str | None,
    content_disposition: str | None,
    content: bytes,
) -> BatchRefused:
    """An RS001 of a file that plainly is another format than it was sent as (a CSV heading line, XML's `<`, JSON's
    `{`) says so, and how to send it, rather than what the other format's parser stumbled on ("malformed JSON:
    Expecting value" for a CSV file labelled application/json). Any other refusal is returned as it is."""
    looks_like = detect_format(None, None, content[:512])
    if refusal.code is not BatchCode.MALFORMED or looks_like is None or looks_like is fmt:
        return refusal
    send_as = f"Content-Type: {_CONTENT_TYPE_OF[looks_like]}"
    if requested is not None:
        sent_as, send_as = f"was sent with ?format={requested.value}", f"?format={looks_like.value}"
    elif detect_format(content_type, None, b"") is not None:
        sent_as = f"is labelled {(content_type or '').split(';', 1)[0].strip()}"
    else:
        sent_as = f"is named {filename_from(content_disposition)}"
    said = BatchRefused(
        BatchCode.MALFORMED,
        f"the body {sent_as} but looks like {looks_like.value.upper()}: send it with {send_as}",
    )
    said.batch_reference = refusal.batch_reference
    return said


EMPTY_BODY = "the body is empty (0 bytes): send the batch file itself as the request body"


def resolve_format(
    requested: BatchFormat | None, content_type: str | None, content_disposition: str | None, content: bytes
) -> BatchFormat:
    """`?format=` wins; else the Content-Type, the file name, then the first bytes; else RS001. The file
    name is read only when the Content-Type does not settle the format (`filename_from`). A Content-Type of
    something else than a batch file (`image/png`, a multipart form) is RS001: the file is not what it says. An empty
    body is RS001 before anything else, said to be empty (each format's parser has a puzzle of its own for it; a
    stream read before it was sent, or a wrong path, sends one). A spreadsheet workbook (.xlsx, .xls), whatever its
    type or name, is told so, and how to save it as CSV, as the portal and `lrs` tell it (`refuse_workbook`). A file
    in no format that is UTF-16 or UTF-32, or starts with two UTF-8 byte order marks, is told so, as each format's
    parser tells it: no Content-Type would help it."""
    if not content:
        raise BatchRefused(BatchCode.MALFORMED, EMPTY_BODY)
    refuse_workbook(filename_from(content_disposition), content[:512])  # whatever it is labelled: no batch file
    if requested is None and names_no_batch_format(content_type):
        media_type = media_type_of(content_type or "")
        form = " (a multipart form: send the file itself as the body)" if media_type.startswith("multipart/") else ""
        raise BatchRefused(
            BatchCode.MALFORMED,
            f"the body is labelled {media_type}{form}, which is no batch file's type: send it with Content-Type"
            " text/csv, application/xml or application/json (application/octet-stream leaves it to the LRS to tell),"
            " or add ?format=csv|xml|json",
        )
    fmt = (
        requested
        or detect_format(content_type, None, b"")
        or detect_format(None, filename_from(content_disposition), content[:512])
    )
    if fmt is None:
        refuse_other_encodings(content)
        raise BatchRefused(
            BatchCode.MALFORMED,
            "the file is not recognisable as CSV, XML or JSON: send it as the request body with"
            " Content-Type text/csv, application/xml or application/json, or add ?format=csv|xml|json"
            " (multipart uploads are not supported)",
        )
    return fmt
