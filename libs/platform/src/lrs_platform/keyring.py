"""Per-learner data keys: personal data is sealed under its learner's key, and erasure destroys the key.

The log is kept forever and nobody can edit an old segment or a backup; what makes a learner's names
and date of birth unreadable there is that the only key that opens them no longer exists
(crypto-shredding, decision 0080). Each learner has one random AES-256-GCM data key, created the first
time anything personal about them is sealed, kept in PostgreSQL in the schema `learner_keys`:

- the store lists no ULN: a row is found by `learner_ref`, an HMAC of the ULN under a key derived from
  the keyring key (`LRS_KEYRING_KEY`), so the table alone does not say whose keys it holds;
- a data key is stored wrapped (AES-GCM under a wrapping key, the `learner_ref` as associated data): a
  database dump or backup alone opens nothing. Wrapping key 0 is derived from the keyring key; an
  operator may add wrapping keys of their own (`LRS_KEYRING_WRAPPING_KEYS`), choose the one new keys
  are wrapped with (`LRS_KEYRING_WRAP_WITH`) and re-wrap every stored key with it (`rewrap`): the
  rotation of decision 0116. Each row says which wrapping key wrapped it;
- erasing sets the wrapped key to NULL and keeps the row as a tombstone: `issue` never creates a key
  for an erased learner again, so nothing personal about them can be sealed (or read) afterwards.

A batch whose records name no usable ULN has a key of its own, kept the same way under
`batch_key_name` (`batch:<batch id>`, never a ULN): ingest seals those records' details under it, and
validation destroys it once the batch's decision is stored (decision 0106).

The validation service owns the schema (it runs `migrate`) and is the only one that erases; ingest,
challenges and the notifier seal and open through the same `Keyring`. Keys are cached for at most
`ttl_seconds` and never logged; a `LearnerErased` event makes every cache `forget` at once.

A sealed value is `s1.` + base64url(nonce ‖ ciphertext ‖ tag). The associated data binds it to its
learner and its purpose (`submitted-record|<ULN>`), so a sealed value cannot be passed off as
another learner's or moved from one field to another. The nonce is 96 random bits, cut from a larger
draw of the operating system's random source (decision 0081).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import hashlib
import hmac
import itertools
import math
import os
import secrets
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import asyncpg
import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lrs_platform.database import advisory_lock_key
from lrs_platform.logging import get_logger

SCHEMA: Final = "learner_keys"
KEYRING_KEY_VARIABLE: Final = "LRS_KEYRING_KEY"
WRAPPING_KEYS_VARIABLE: Final = "LRS_KEYRING_WRAPPING_KEYS"
WRAP_WITH_VARIABLE: Final = "LRS_KEYRING_WRAP_WITH"
DERIVED_WRAPPING_KEY: Final = 0
"""The wrapping key derived from the keyring key itself: every store's keys were wrapped with it before
decision 0116, and it wraps new keys unless another is chosen."""
MAX_WRAPPING_KEY_ID: Final = 32_767
SEALED_PREFIX: Final = "s1."
NONCE_BYTES: Final = 12
DATA_KEY_BYTES: Final = 32
PERSONAL_FIELDS: Final = ("given_name", "family_name", "date_of_birth", "gender")
BATCH_KEY_PREFIX: Final = "batch:"
UNKEYED_RECORDS: Final = BATCH_KEY_PREFIX
"""Where a `KeyLookup` of a batch's records holds the batch's own key, for the records that name no learner:
never a ULN (decision 0106)."""

_MIGRATION = Path(__file__).with_name("keyring_migrations") / "0001_learner_keys.sql"
_UNWRAP_IN_THREAD: Final = 2_000
_NONCES_PER_DRAW: Final = 1_024
_MIGRATION_LOCK: Final = advisory_lock_key("learner_keys migration")
_log = get_logger("lrs.keyring")
_WRAPPING_CHECK_SECONDS: Final = 60.0
"""How long `ready` trusts a look that found stored keys wrapped with a wrapping key this service was not given
(they may be re-wrapped meanwhile). A look that found none is trusted until a key cannot be unwrapped: the look reads
the whole store (~0.1 s for 1.1M rows, seconds on a national one), readiness is polled every few seconds, and this
service's wrapping keys change only with a restart."""


class Purpose(StrEnum):
    """What a sealed value is: part of its associated data, so values cannot change places."""

    SUBMITTED_RECORD = "submitted-record"
    LEARNER_REGISTRATION = "learner-registration"
    CHALLENGE_REASON = "challenge-reason"
    CHALLENGE_NOTE = "challenge-note"


_PREFIX_LENGTH: Final = len(SEALED_PREFIX)
_FROM_URLSAFE: Final = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")
# a sealed value's associated data is this prefix and the learner's ULN
_ASSOCIATED_PREFIX: Final = {purpose: f"{purpose.value}|".encode() for purpose in Purpose}


class KeyringError(Exception):
    """Base of the keyring's errors; none of them carries key material or personal data."""


class KeyringNotConfigured(KeyringError):
    pass


class KeyringUnavailable(KeyringError):
    """The key store cannot be reached or is not created yet (validation creates it at start)."""


class WrappingKeyNotGiven(KeyringUnavailable):
    """Stored learner keys are wrapped with wrapping keys this service was not given (`LRS_KEYRING_WRAPPING_KEYS`
    lost a key that still wraps some): nothing changes until they are given back, so the message says so."""

    def __init__(self, key_ids: Iterable[int]) -> None:
        self.key_ids = tuple(sorted(set(key_ids)))
        which = " and ".join(str(key_id) for key_id in self.key_ids)
        keys, them = ("wrapping keys", "them") if len(self.key_ids) > 1 else ("wrapping key", "it")
        super().__init__(
            f"stored learner keys are wrapped with {keys} {which}, which this service was not given:"
            f" add {them} back to {WRAPPING_KEYS_VARIABLE} and restart"
        )


class SealBroken(KeyringError):
    """A sealed value is not well formed, or was not sealed under this learner's key for this purpose."""


class Erased:
    """The answer for a learner whose key was destroyed."""

    def __repr__(self) -> str:
        return "ERASED"


ERASED: Final = Erased()


@dataclass(frozen=True)
class KeyringKey:
    """The 32-byte secret the ULN reference key and wrapping key 0 are derived from, with any wrapping
    keys the operator added (id 1 to 32,767 -> 32 bytes) and the id of the one new keys are wrapped with."""

    secret: bytes = field(repr=False)
    wrapping_keys: tuple[tuple[int, bytes], ...] = field(default=(), repr=False)
    wrap_with: int = DERIVED_WRAPPING_KEY

    def __post_init__(self) -> None:
        ids = [key_id for key_id, _ in self.wrapping_keys]
        if any(not 1 <= key_id <= MAX_WRAPPING_KEY_ID for key_id in ids) or len(set(ids)) != len(ids):
            raise KeyringNotConfigured(
                f"{WRAPPING_KEYS_VARIABLE}: each wrapping key needs its own id from 1 to {MAX_WRAPPING_KEY_ID}"
                f" (id {DERIVED_WRAPPING_KEY} is the one derived from {KEYRING_KEY_VARIABLE})"
            )
        if self.wrap_with != DERIVED_WRAPPING_KEY and self.wrap_with not in ids:
            raise KeyringNotConfigured(
                f"{WRAP_WITH_VARIABLE} is {self.wrap_with}, but {WRAPPING_KEYS_VARIABLE} gives no wrapping key"
                f" {self.wrap_with}"
            )

    def with_wrapping(self, wrapping_keys: str | None, wrap_with: int = DERIVED_WRAPPING_KEY) -> KeyringKey:
        """This key with the wrapping keys of `LRS_KEYRING_WRAPPING_KEYS` (`ID:BASE64,ID:BASE64`, e.g.
        `1:$(openssl rand -base64 32)`) and the id of `LRS_KEYRING_WRAP_WITH`."""
        return KeyringKey(self.secret, parse_wrapping_keys(wrapping_keys), wrap_with)

    @staticmethod
    def parse(text: str) -> KeyringKey:
        """32 bytes in base64 (standard or URL-safe), e.g. from `openssl rand -base64 32`."""
        try:
            return KeyringKey(secret_from_base64(text, KEYRING_KEY_VARIABLE))
        except ValueError as error:
            raise KeyringNotConfigured(str(error)) from error

    @staticmethod
    def generate() -> KeyringKey:
        return KeyringKey(secrets.token_bytes(32))

    def encoded(self) -> str:
        return base64.b64encode(self.secret).decode()

    def derive(self, purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(self.secret)


def parse_wrapping_keys(text: str | None) -> tuple[tuple[int, bytes], ...]:
    """`ID:BASE64` pairs separated by commas (blank: none); KeyringNotConfigured, never quoting a key."""
    keys: list[tuple[int, bytes]] = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key_id, colon, encoded = item.strip().partition(":")
        if not colon or not key_id.strip().isdigit():
            raise KeyringNotConfigured(f"{WRAPPING_KEYS_VARIABLE} is a list of ID:BASE64 pairs, e.g. 1:<32 bytes>")
        try:
            keys.append((int(key_id), secret_from_base64(encoded, f"{WRAPPING_KEYS_VARIABLE} key {int(key_id)}")))
        except ValueError as error:
            raise KeyringNotConfigured(str(error)) from error
    return tuple(keys)


def secret_from_base64(text: str, what: str) -> bytes:
    """A 32-byte secret given in base64 (standard or URL-safe alphabet, padding optional); ValueError
    naming `what` otherwise. The message never repeats the text."""
    cleaned = text.strip()
    standard = cleaned.replace("-", "+").replace("_", "/")
    try:
        secret = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"{what} must be 32 bytes in base64: it is not base64") from error
    if len(secret) != 32:
        raise ValueError(f"{what} must be 32 bytes in base64, not {len(secret)} bytes")
    return secret


class LearnerKey:
    """One learner's data key, unwrapped: seals and opens that learner's values.

    An AES-GCM context costs ~2.4 KB and ~1 µs to build. Most learners seal or open one value per batch:
    their first use builds a context and lets it go at once, so the next learner's reuses its memory
    (a batch's worth kept alive cost ~1 µs more a learner, in fresh memory). A key used again keeps
    its context for as long as this object lives: a batch's look-up, never the keyring's cache."""

    __slots__ = ("_aead", "_data_key", "_used", "uln")

    def __init__(self, uln: str, data_key: bytes) -> None:
        if len(data_key) != DATA_KEY_BYTES:
            raise ValueError(f"a learner's data key is {DATA_KEY_BYTES} bytes")
        self.uln = uln
        self._data_key = data_key
        self._aead: AESGCM | None = None
        self._used = False

    def __repr__(self) -> str:
        return "LearnerKey(<redacted>)"

    def _cipher(self) -> AESGCM:
        aead = self._aead
        if aead is None:
            aead = AESGCM(self._data_key)
            if self._used:
                self._aead = aead
            self._used = True
        return aead

    def seal(self, purpose: Purpose, plaintext: bytes) -> str:
        nonce = _nonces.take()
        sealed = self._cipher().encrypt(nonce, plaintext, _ASSOCIATED_PREFIX[purpose] + self.uln.encode())
        return (
            SEALED_PREFIX
            + binascii.b2a_base64(nonce + sealed, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()
        )

    def open(self, purpose: Purpose, token: str) -> bytes:
        if not token.startswith(SEALED_PREFIX):
            raise SealBroken("not a sealed value")
        try:  # padding past what the value lacks is ignored: two '=' complete any length base64 allows
            raw = binascii.a2b_base64(token[_PREFIX_LENGTH:].encode("ascii").translate(_FROM_URLSAFE) + b"==")
        except (binascii.Error, ValueError) as error:
            raise SealBroken("a sealed value that is not base64url") from error
        if len(raw) < NONCE_BYTES + 16:
            raise SealBroken("a sealed value too short to hold a nonce and a tag")
        try:
            return self._cipher().decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _ASSOCIATED_PREFIX[purpose] + self.uln.encode()
            )
        except InvalidTag as error:
            raise SealBroken(f"not sealed under this learner's key as {purpose.value}") from error

    def open_json(self, purpose: Purpose, token: str) -> dict[str, Any]:
        value = orjson.loads(self.open(purpose, token))
        if not isinstance(value, dict):
            raise SealBroken("a sealed value that is not a JSON object")
        return value

    def seal_text(self, purpose: Purpose, text: str) -> str:
        return self.seal(purpose, text.encode())

    def open_text(self, purpose: Purpose, token: str) -> str:
        return self.open(purpose, token).decode()


KeyLookup = dict[str, LearnerKey | Erased]
"""ULN → its key, or ERASED; a ULN with no key yet is absent (only from `find`)."""


class Keyring:
    """The learners' keys in PostgreSQL, behind a short cache. One per process; safe to share between tasks."""

    def __init__(
        self, pool: asyncpg.Pool, key: KeyringKey, *, ttl_seconds: float = 30.0, max_cached: int = 200_000
    ) -> None:
        self._pool = pool
        self._ref_key = key.derive(b"lrs learner_keys: learner reference")
        self._reference = _LearnerReference(self._ref_key)
        self._wrappers = {
            DERIVED_WRAPPING_KEY: AESGCM(key.derive(b"lrs learner_keys: key wrapping")),
            **{key_id: AESGCM(secret) for key_id, secret in key.wrapping_keys},
        }
        self._wrap_with = key.wrap_with
        self._wrapping = self._wrappers[key.wrap_with]
        self._ttl = ttl_seconds
        self._max_cached = max_cached
        # raw 32-byte keys, not cipher objects (~2.6 KB each): ~240 bytes an entry with its ULN and expiry, so a full
        # cache (`max_cached`, emptied when full) is ~50 MB, measured by a soak walk (2026-12-07)
        self._cache: dict[str, tuple[float, bytes | Erased]] = {}
        self._fingerprint = hmac.new(self._ref_key, b"keyring fingerprint", hashlib.sha256).digest()
        self._checked = False
        self._not_given: tuple[int, ...] = ()
        self._not_given_until = 0.0  # monotonic time; 0: look again at the next `ready`

    def __repr__(self) -> str:
        return "Keyring(<redacted>)"

    def on_pool(self, pool: asyncpg.Pool) -> Keyring:
        """This keyring on another pool of the same database (a decider's own), its cache shared: a key erased or
        forgotten through either is so in both at once."""
        other = copy.copy(self)
        other._pool = pool
        return other

    def learner_ref(self, uln: str) -> bytes:
        """HMAC-SHA256 of the ULN under the reference key: how the store finds a learner's row."""
        return self._reference(uln.encode())

    async def issue(self, ulns: Iterable[str]) -> KeyLookup:
        """Every ULN's key, created where it has none yet; ERASED for an erased learner (never re-created)."""
        wanted = set(ulns)
        found = await self.find(wanted)
        missing = wanted - found.keys()
        if missing:
            found.update(await self._create(missing))
        return found

    async def find(self, ulns: Iterable[str]) -> KeyLookup:
        """The keys that exist (or ERASED); nothing is created."""
        now = time.monotonic()
        answer: KeyLookup = {}
        unknown: list[str] = []
        cached_key = self._cache.get
        for uln in ulns if isinstance(ulns, set | frozenset) else set(ulns):  # a batch's 10,000: once each
            cached = cached_key(uln)
            if cached is None:
                unknown.append(uln)
            elif isinstance(material := cached[1], Erased):  # an erasure is for good
                answer[uln] = material
            elif cached[0] > now:
                answer[uln] = LearnerKey(uln, material)
            else:
                unknown.append(uln)
        if unknown:
            answer.update(_unlocked(await self._load(unknown)))
        return answer

    def forget(self, uln: str) -> None:
        """Drop a cached key at once (a `LearnerErased` arrived): no later call can use it."""
        self._cache.pop(uln, None)

    async def destroy(self, name: str) -> bool:
        """Destroy a key in a transaction of its own (a batch's key, `batch_key_name`, once the batch is
        decided); a tombstone stays, as for `erase`. True when this call destroyed it."""
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                return await self.erase(connection, name)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
            raise KeyringUnavailable("the learner key store cannot be reached") from error

    async def erase(self, connection: asyncpg.Connection, uln: str) -> bool:
        """Destroy the learner's key, in the caller's transaction; a tombstone stays so it is never re-created.

        True when this call erased it, False when it already was. A learner with no key yet gets a
        tombstone too: nothing personal about them can be sealed afterwards.
        """
        ref = self.learner_ref(uln)
        erased = await connection.fetchval(
            f"INSERT INTO {SCHEMA}.keys (learner_ref, wrapped_key, erased_at) VALUES ($1, NULL, now())"
            " ON CONFLICT (learner_ref) DO UPDATE SET wrapped_key = NULL, erased_at = now()"
            f" WHERE {SCHEMA}.keys.erased_at IS NULL RETURNING true",
            ref,
        )
        self._cache[uln] = (float("inf"), ERASED)
        return bool(erased)

    async def ready(self) -> bool:
        """Whether the key store exists (validation creates it when it starts) and was made with this key.

        Raises WrappingKeyNotGiven, naming them, while stored keys are wrapped with wrapping keys this service
        was not given: no submission can be sealed then, and only giving them back helps. That look reads the
        whole store, so it is made once at start, again whenever a key is met that cannot be unwrapped, and then
        once a minute until the keys are given back or re-wrapped (`_WRAPPING_CHECK_SECONDS`)."""
        try:
            async with self._pool.acquire() as connection:
                if not await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{SCHEMA}.keyring"):
                    return False
                if not self._checked:
                    await self._check(connection)
                not_given = await self._wrapping_keys_not_given(connection)
        except (OSError, asyncpg.PostgresError, KeyringUnavailable):
            return False
        if not_given:
            raise WrappingKeyNotGiven(not_given)
        return True

    async def _wrapping_keys_not_given(self, connection: asyncpg.Connection) -> tuple[int, ...]:
        """The wrapping keys that wrap stored keys but are not this service's, as last looked (see `ready`)."""
        now = time.monotonic()
        if now >= self._not_given_until:
            rows = await connection.fetch(
                f"SELECT DISTINCT wrapped_by FROM {SCHEMA}.keys"
                " WHERE wrapped_key IS NOT NULL AND wrapped_by <> ALL($1::smallint[])",
                list(self._wrappers),
            )
            not_given = tuple(sorted(row["wrapped_by"] for row in rows))
            if not_given and not_given != self._not_given:
                _log.warning("keyring_wrapping_key_not_given", wrapping_keys=list(not_given))
            self._not_given = not_given
            self._not_given_until = now + _WRAPPING_CHECK_SECONDS if not_given else math.inf
        return self._not_given

    async def check(self) -> None:
        """KeyringUnavailable, saying why, unless the store exists and was made with this keyring key."""
        try:
            async with self._pool.acquire() as connection:
                await self._check(connection)
        except asyncpg.UndefinedTableError as error:
            raise KeyringUnavailable("the learner key store does not exist yet (validation creates it)") from error

    # --- the store ------------------------------------------------------------------------------

    async def _load(self, ulns: Collection[str], refs: Mapping[str, bytes] | None = None) -> dict[str, bytes | Erased]:
        """The stored keys of `ulns` (raw, or ERASED), remembered."""
        by_ref = {ref: uln for uln, ref in (refs or self._refs(ulns)).items()}
        # one row of three arrays rather than a row per key: a batch's keys arrive as lists, not 10^4 records
        ((found_refs, wrapped_keys, wrapped_by),) = await self._fetch(
            f"SELECT array_agg(learner_ref), array_agg(wrapped_key), array_agg(wrapped_by) FROM {SCHEMA}.keys"
            " WHERE learner_ref = ANY($1::bytea[])",
            list(by_ref),
        )
        if not found_refs:
            return {}
        found = [by_ref[ref] for ref in found_refs]
        if len(found) >= _UNWRAP_IN_THREAD:  # ~1 µs each: a batch's worth would hold the event loop
            return await asyncio.to_thread(self._unwrapped, found, found_refs, wrapped_keys, wrapped_by)
        return self._unwrapped(found, found_refs, wrapped_keys, wrapped_by)

    def _unwrapped(
        self,
        ulns: Sequence[str],
        refs: Sequence[bytes],
        wrapped_keys: Sequence[bytes | None],
        wrapped_by: Sequence[int],
    ) -> dict[str, bytes | Erased]:
        unwrap = self._unwrap
        keys = [
            None if wrapped is None else unwrap(ref, wrapped, by)
            for ref, wrapped, by in zip(refs, wrapped_keys, wrapped_by, strict=True)
        ]
        return self._remember(ulns, keys)

    def _refs(self, ulns: Iterable[str]) -> dict[str, bytes]:
        reference = self._reference
        return {uln: reference(uln.encode()) for uln in ulns}

    async def _create(self, ulns: Collection[str]) -> KeyLookup:
        refs = self._refs(ulns)
        data_keys = {ref: secrets.token_bytes(DATA_KEY_BYTES) for ref in refs.values()}
        offered = {ref: self._wrap(ref, data_key) for ref, data_key in data_keys.items()}
        rows = await self._fetch(
            f"INSERT INTO {SCHEMA}.keys (learner_ref, wrapped_key, wrapped_by)"
            " SELECT ref, wrapped, $3 FROM unnest($1::bytea[], $2::bytea[]) AS offered (ref, wrapped)"
            " ON CONFLICT (learner_ref) DO NOTHING RETURNING learner_ref",
            list(offered),
            list(offered.values()),
            self._wrap_with,
        )
        inserted = {row["learner_ref"] for row in rows}
        made = [uln for uln, ref in refs.items() if ref in inserted]
        answer = self._remember(made, [data_keys[refs[uln]] for uln in made])
        # the others are read back in a new statement: a key another process created meanwhile (or a tombstone) wins
        others = {uln: ref for uln, ref in refs.items() if ref not in inserted}
        if others:
            answer.update(await self._load(others, others))
        return _unlocked(answer)

    async def _fetch(self, query: str, *arguments: object) -> list[asyncpg.Record]:
        with _store_errors():
            async with self._pool.acquire() as connection:
                if not self._checked:
                    await self._check(connection)
                return list(await connection.fetch(query, *arguments))

    async def _check(self, connection: asyncpg.Connection) -> None:
        """The store's first user records the keyring key's fingerprint; every later one must match it."""
        stored = await connection.fetchval(f"SELECT fingerprint FROM {SCHEMA}.keyring")
        if stored is None:  # the store's first user records it; later ones (and read-only ones) only read
            stored = await connection.fetchval(
                f"WITH made AS (INSERT INTO {SCHEMA}.keyring (fingerprint) VALUES ($1)"
                " ON CONFLICT (only_row) DO NOTHING RETURNING fingerprint)"
                f" SELECT fingerprint FROM made UNION ALL SELECT fingerprint FROM {SCHEMA}.keyring",
                self._fingerprint,
            ) or await connection.fetchval(f"SELECT fingerprint FROM {SCHEMA}.keyring")  # another made it meanwhile
        if not hmac.compare_digest(stored, self._fingerprint):
            raise KeyringUnavailable(f"this {KEYRING_KEY_VARIABLE} is not the one the learner key store was made with")
        self._checked = True

    def _remember(self, ulns: Sequence[str], keys: Sequence[bytes | None]) -> dict[str, bytes | Erased]:
        """Each ULN's key (None for an erased learner), into the cache and the answer. A learner erased
        meanwhile stays ERASED: a key read before the erasure is never cached after it."""
        expires = time.monotonic() + self._ttl
        cache = self._cache
        if len(cache) + len(ulns) > self._max_cached:
            cache.clear()
        answer: dict[str, bytes | Erased] = {}
        for uln, material in zip(ulns, keys, strict=True):
            cached = cache.get(uln)
            if material is None or (cached is not None and isinstance(cached[1], Erased)):
                cache[uln] = (expires, ERASED)
                answer[uln] = ERASED
            else:
                cache[uln] = (expires, material)
                answer[uln] = material
        return answer

    def _wrap(self, ref: bytes, data_key: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._wrapping.encrypt(nonce, data_key, ref)

    def _unwrap(self, ref: bytes, wrapped: bytes, wrapped_by: int) -> bytes:
        wrapper = self._wrappers.get(wrapped_by)
        if wrapper is None:
            self._not_given_until = 0.0  # readiness looks again at once
            raise WrappingKeyNotGiven((wrapped_by,))
        try:
            return wrapper.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], ref)
        except InvalidTag as error:
            given = KEYRING_KEY_VARIABLE if wrapped_by == DERIVED_WRAPPING_KEY else f"wrapping key {wrapped_by}"
            raise KeyringUnavailable(
                f"a learner key does not open with this {given}: is it the key the store was made with?"
            ) from error

    # --- rotating the wrapping key (decision 0116) --------------------------------------------------

    async def wrapping(self) -> WrappingState:
        """Which wrapping key new keys get, how many stored keys each wrapping key wraps, and which of those
        wrapping keys this service was not given."""
        rows = await self._fetch(
            f"SELECT wrapped_by, count(*) AS keys FROM {SCHEMA}.keys WHERE wrapped_key IS NOT NULL GROUP BY wrapped_by"
        )
        counts = {row["wrapped_by"]: row["keys"] for row in rows}
        return WrappingState(self._wrap_with, counts, tuple(sorted(counts.keys() - self._wrappers.keys())))

    async def rewrap(self, at_most: int, *, per_transaction: int = 2_000) -> int:
        """Wraps up to `at_most` stored keys that another wrapping key wraps with this one's; returns how
        many. Each key stays the same key (nothing sealed changes), is locked while it is re-wrapped (an
        erasure meanwhile waits, then wins; a row another transaction holds is left for the next call) and
        keeps its row; erased learners' tombstones are left alone."""
        done = 0
        while done < at_most:
            with _store_errors():
                async with self._pool.acquire() as connection, connection.transaction():
                    if not self._checked:
                        await self._check(connection)
                    rows = await connection.fetch(
                        f"SELECT learner_ref, wrapped_key, wrapped_by FROM {SCHEMA}.keys"
                        " WHERE wrapped_key IS NOT NULL AND wrapped_by <> $1 LIMIT $2 FOR UPDATE SKIP LOCKED",
                        self._wrap_with,
                        min(per_transaction, at_most - done),
                    )
                    if not rows:
                        break
                    refs = [row["learner_ref"] for row in rows]
                    rewrapped = [
                        self._wrap(ref, self._unwrap(ref, row["wrapped_key"], row["wrapped_by"]))
                        for ref, row in zip(refs, rows, strict=True)
                    ]
                    await connection.execute(
                        f"UPDATE {SCHEMA}.keys AS k SET wrapped_key = r.wrapped, wrapped_by = $3"
                        " FROM unnest($1::bytea[], $2::bytea[]) AS r (ref, wrapped) WHERE k.learner_ref = r.ref",
                        refs,
                        rewrapped,
                        self._wrap_with,
                    )
            done += len(rows)
        return done


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """The key store's absence, age or unreachability as KeyringUnavailable, saying which."""
    try:
        yield
    except asyncpg.UndefinedTableError as error:
        raise KeyringUnavailable("the learner key store does not exist yet (validation creates it)") from error
    except asyncpg.UndefinedColumnError as error:
        raise KeyringUnavailable(
            "the learner key store is older than this service: validation upgrades it when it starts"
        ) from error
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
        raise KeyringUnavailable("the learner key store cannot be reached") from error


@dataclass(frozen=True)
class WrappingState:
    """`wrap_with` wraps new keys; `keys_by_wrapping_key` counts the stored (not erased) keys by wrapping key;
    `not_given` are the wrapping keys among those this service was not given (nothing opens their keys, nor
    re-wraps them, until they are given back)."""

    wrap_with: int
    keys_by_wrapping_key: dict[int, int]
    not_given: tuple[int, ...] = ()

    @property
    def to_rewrap(self) -> int:
        return sum(count for key_id, count in self.keys_by_wrapping_key.items() if key_id != self.wrap_with)


class _Nonces:
    """Random 96-bit nonces cut from one `os.urandom` draw of 1,024 at a time (a system call per record
    cost as much as the encryption). A draw and its counter are replaced together, and `next` on a
    counter is atomic under the GIL: each slice of a draw is handed out once, whichever thread asks."""

    def __init__(self) -> None:
        self._current = (b"", itertools.count())

    def take(self) -> bytes:
        while True:
            drawn, counter = self._current
            start = next(counter) * NONCE_BYTES
            if start < len(drawn):
                return drawn[start : start + NONCE_BYTES]
            self._current = (os.urandom(NONCE_BYTES * _NONCES_PER_DRAW), itertools.count())


_nonces = _Nonces()


def _forget_nonces_after_fork() -> None:
    """A forked child starts with its parent's unused nonces: it draws its own, or both would use them."""
    global _nonces
    _nonces = _Nonces()


os.register_at_fork(after_in_child=_forget_nonces_after_fork)


class _LearnerReference:
    """HMAC-SHA256 under one key (RFC 2104: SHA-256 of the key's outer pad and of the inner pad's hash of
    the message), with both padded keys hashed once and their hashes copied per message.
    A batch's references cost 1.85 µs a ULN with the standard library's HMAC keyed once and copied, 1.14
    this way (two copies of a hash where HMAC's copy takes three); a unit test holds it equal to the
    standard library's HMAC."""

    def __init__(self, key: bytes) -> None:
        block = (hashlib.sha256(key).digest() if len(key) > _SHA256_BLOCK else key).ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))

    def __call__(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_SHA256_BLOCK: Final = 64


def _unlocked(materials: Mapping[str, bytes | Erased]) -> KeyLookup:
    return {
        uln: material if isinstance(material, Erased) else LearnerKey(uln, material)
        for uln, material in materials.items()
    }


async def migrate(pool: asyncpg.Pool) -> None:
    """Create the key store (the validation service's job, at start); safe to run again and concurrently."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await connection.execute(_MIGRATION.read_text())


def keyring_key_from(value: str | None) -> KeyringKey:
    if not value:
        raise KeyringNotConfigured(
            f"{KEYRING_KEY_VARIABLE} is not set: the learners' keys cannot be opened without it"
            " (32 random bytes in base64, the same for every service of one environment)"
        )
    return KeyringKey.parse(value)


def batch_key_name(batch_id: uuid.UUID) -> str:
    """What a batch's own key is issued, found and destroyed as: never a learner's ULN (ten digits),
    so the store keeps it, by its HMAC reference, beside the learners' keys (decision 0106)."""
    return f"{BATCH_KEY_PREFIX}{batch_id}"


def sealed_personal(key: LearnerKey, purpose: Purpose, values: Mapping[str, Any]) -> str:
    """The personal fields of `values` (PERSONAL_FIELDS) sealed as one JSON object."""
    get = values.get  # a dict display, not a comprehension over PERSONAL_FIELDS: each record seals once
    personal = {
        "given_name": get("given_name"),
        "family_name": get("family_name"),
        "date_of_birth": get("date_of_birth"),
        "gender": get("gender"),
    }
    return key.seal(purpose, orjson.dumps(personal))
