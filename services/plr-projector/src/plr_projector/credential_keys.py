"""The projector's credential signing keys: Ed25519, kept in PostgreSQL by key id, sealed at rest.

A private key is sealed with AES-256-GCM under the key-encryption key the projector is given
(`PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY`), with the key id as associated data: a database dump or
backup alone holds no usable signing key, and a sealed key cannot be passed off under another id.
Keys live in the operations schema, which a rebuild switch leaves alone. One key is active; rotating
retires it and destroys its private half, and retired keys keep their public half in the JWKS so that
every credential signed before a rotation still verifies (docs/decisions/0050-verifiable-plr-credentials.md).
After a suspected leak an operator withdraws a key: it leaves the JWKS, and nothing it signed verifies
any more (docs/decisions/0178-withdrawing-a-leaked-credential-key.md).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lrs_platform.database import advisory_lock_key
from lrs_platform.keyring import secret_from_base64
from lrs_platform.logging import get_logger
from plr_projector.credentials import SigningKey
from plr_projector.store import OPS_SCHEMA

NONCE_BYTES = 12
_TABLE = f"{OPS_SCHEMA}.credential_keys"
_CREATION_LOCK = advisory_lock_key(_TABLE)

_log = get_logger("plr_projector.credential_keys")


class CredentialKeyError(Exception):
    """Credentials cannot be signed now; `detail` says why, for an operator."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class SigningNotConfigured(CredentialKeyError):
    pass


class SigningKeyUnavailable(CredentialKeyError):
    pass


class WithdrawalRefused(Exception):
    """A key cannot be withdrawn; `detail` says why, for an operator."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NoSuchCredentialKey(WithdrawalRefused):
    pass


class RotatedMeanwhile(Exception):
    """A rotation that named the key it meant to replace found another active (or none): rotated meanwhile, by a
    second operator or by the same rotation sent twice. Nothing is rotated; `active` is the key active now."""

    def __init__(self, detail: str, active: PublicKey | None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.active = active


class CredentialKeyAlreadyWithdrawn(WithdrawalRefused):
    pass


@dataclass(frozen=True)
class KeyEncryptionKey:
    secret: bytes = field(repr=False)

    @staticmethod
    def parse(text: str) -> KeyEncryptionKey:
        """32 bytes in base64 (standard or URL-safe alphabet), e.g. from `openssl rand -base64 32`."""
        return KeyEncryptionKey(secret_from_base64(text, "the credential key-encryption key"))


def seal(kek: KeyEncryptionKey, key_id: str, private_key: Ed25519PrivateKey) -> bytes:
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(kek.secret).encrypt(nonce, raw, key_id.encode())


def unseal(kek: KeyEncryptionKey, key_id: str, sealed: bytes) -> Ed25519PrivateKey:
    try:
        raw = AESGCM(kek.secret).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], key_id.encode())
    except InvalidTag as error:
        raise SigningKeyUnavailable(
            f"Signing key {key_id} was sealed under another key-encryption key; an operator can rotate"
            " the credential keys (POST /v1/admin/credential-keys/rotate) to sign with a new one."
        ) from error
    return Ed25519PrivateKey.from_private_bytes(raw)


def new_key_id(now: datetime) -> str:
    return f"{now:%Y%m%d}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    public_key: bytes
    created_at: datetime
    created_by: str
    retired_at: datetime | None
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawal_reason: str | None = None


@dataclass(frozen=True)
class ActiveKeyExpected:
    """The key a rotation means to replace: the one its operator saw active (None: they saw no key active)."""

    key_id: str | None


@dataclass(frozen=True)
class Rotation:
    created: PublicKey
    retired: list[str]


@dataclass(frozen=True)
class Withdrawal:
    key: PublicKey
    replaced_by: PublicKey | None
    """The key that signs from now on, when the one withdrawn was active and a key-encryption key is set."""


_PUBLIC_COLUMNS = (
    "key_id, public_key, created_at, created_by, retired_at, withdrawn_at, withdrawn_by, withdrawal_reason"
)


def _public(row: asyncpg.Record) -> PublicKey:
    return PublicKey(
        row["key_id"],
        bytes(row["public_key"]),
        row["created_at"],
        row["created_by"],
        row["retired_at"],
        row["withdrawn_at"],
        row["withdrawn_by"],
        row["withdrawal_reason"],
    )


class CredentialKeys:
    """Signing keys in `plr_ops.credential_keys`; without a key-encryption key nothing is signed."""

    def __init__(self, pool: asyncpg.Pool, kek: KeyEncryptionKey | None) -> None:
        self._pool = pool
        self._kek = kek
        self._unsealed: dict[str, SigningKey] = {}

    def _require_kek(self) -> KeyEncryptionKey:
        if self._kek is None:
            raise SigningNotConfigured(
                "Credential signing is not configured: set PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY"
                " (32 random bytes, base64) on the projector."
            )
        return self._kek

    async def every_key(self) -> list[PublicKey]:
        """Every key ever made, withdrawn ones too, active first then newest first."""
        rows = await self._pool.fetch(
            f"SELECT {_PUBLIC_COLUMNS} FROM {_TABLE} ORDER BY retired_at IS NOT NULL, created_at DESC, key_id"
        )
        return [_public(row) for row in rows]

    async def published_keys(self) -> list[PublicKey]:
        """The keys of the JWKS: every key but those withdrawn, so that what a retired key signed still verifies."""
        return [key for key in await self.every_key() if key.withdrawn_at is None]

    async def signing_key(self) -> SigningKey:
        """The active key; the first one is created on first use."""
        kek = self._require_kek()
        query = f"SELECT key_id, sealed_private_key FROM {_TABLE} WHERE retired_at IS NULL"
        row = await self._pool.fetchrow(query)
        if row is None:
            async with self._pool.acquire() as connection, connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", _CREATION_LOCK)
                row = await connection.fetchrow(query)
                if row is None:
                    row = await self._create(connection, kek, "plr-projector (first use)", await _clock(connection))
        key_id: str = row["key_id"]
        cached = self._unsealed.get(key_id)
        if cached is None:
            cached = SigningKey(key_id, unseal(kek, key_id, bytes(row["sealed_private_key"])))
            self._unsealed = {key_id: cached}
        return cached

    async def rotate(self, operator: str, expected: ActiveKeyExpected | None = None) -> Rotation:
        """Retires the active key, destroying its private half, and makes a new one, atomically. With `expected`,
        only if the active key is still the one expected: otherwise `RotatedMeanwhile`, and nothing is rotated (two
        operators rotating at once, or a rotation sent again after a lost answer, make one new key, not two)."""
        kek = self._require_kek()
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _CREATION_LOCK)
            if expected is not None:
                await _refuse_unless_active(connection, expected)
            rotation = await self._rotate(connection, kek, operator, await _clock(connection))
        _log.info(
            "credential_keys_rotated", key_id=rotation.created.key_id, retired=rotation.retired, operator=operator
        )
        return rotation

    async def withdraw(self, key_id: str, operator: str, reason: str) -> Withdrawal:
        """Takes a key out of the JWKS for good, after a suspected leak: nothing it signed verifies any more.
        The active key is rotated first, in the same transaction, so that credentials go on being signed;
        without a key-encryption key it is only retired (nothing is signed then anyway)."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _CREATION_LOCK)
            found = await connection.fetchrow(
                f"SELECT retired_at, withdrawn_at, withdrawn_by FROM {_TABLE} WHERE key_id = $1", key_id
            )
            if found is None:
                raise NoSuchCredentialKey(f"There is no credential signing key {key_id}.")
            if found["withdrawn_at"] is not None:
                raise CredentialKeyAlreadyWithdrawn(
                    f"Credential signing key {key_id} was withdrawn at {found['withdrawn_at'].isoformat()} by"
                    f" {found['withdrawn_by']}: it is out of the JWKS already."
                )
            replaced_by = None
            moment = await _clock(connection)
            if found["retired_at"] is None and self._kek is not None:
                replaced_by = (await self._rotate(connection, self._kek, operator, moment)).created
            withdrawn = await connection.fetchrow(
                f"UPDATE {_TABLE} SET retired_at = coalesce(retired_at, $4), sealed_private_key = NULL,"
                " withdrawn_at = $4, withdrawn_by = $2, withdrawal_reason = $3"
                f" WHERE key_id = $1 RETURNING {_PUBLIC_COLUMNS}",
                key_id,
                operator,
                reason,
                moment,
            )
            assert withdrawn is not None
        _log.warning(
            "credential_key_withdrawn",
            key_id=key_id,
            operator=operator,
            reason=reason,
            replaced_by=replaced_by.key_id if replaced_by else None,
        )
        return Withdrawal(_public(withdrawn), replaced_by)

    async def _rotate(
        self, connection: asyncpg.Connection, kek: KeyEncryptionKey, operator: str, moment: datetime
    ) -> Rotation:
        """Under the creation lock, in the caller's transaction: a retired key can verify and never sign again. The
        key retired is retired at the moment the new one is made."""
        retired = await connection.fetch(
            f"UPDATE {_TABLE} SET retired_at = $1, sealed_private_key = NULL WHERE retired_at IS NULL RETURNING key_id",
            moment,
        )
        created = await self._create(connection, kek, operator, moment)
        self._unsealed = {}
        return Rotation(_public(created), [row["key_id"] for row in retired])

    async def _create(
        self, connection: asyncpg.Connection, kek: KeyEncryptionKey, creator: str, moment: datetime
    ) -> asyncpg.Record:
        private_key = Ed25519PrivateKey.generate()
        key_id = new_key_id(datetime.now(UTC))
        public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        row = await connection.fetchrow(
            f"INSERT INTO {_TABLE} (key_id, public_key, sealed_private_key, created_by, created_at)"
            f" VALUES ($1, $2, $3, $4, $5) RETURNING sealed_private_key, {_PUBLIC_COLUMNS}",
            key_id,
            public,
            seal(kek, key_id, private_key),
            creator,
            moment,
        )
        assert row is not None
        _log.info("credential_key_created", key_id=key_id, created_by=creator)
        return row


def instant(moment: datetime) -> str:
    """An instant as the key listing writes it (`2026-12-07T09:10:36.863871Z`)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _clock(connection: asyncpg.Connection) -> datetime:
    """The time now, read under the creation lock: `now()` is when the transaction began, which may be before a
    rotation that held the lock meanwhile made the key this one retires (a key retired before it was made)."""
    moment: datetime = await connection.fetchval("SELECT clock_timestamp()")
    return moment


async def _refuse_unless_active(connection: asyncpg.Connection, expected: ActiveKeyExpected) -> None:
    """Under the creation lock: `RotatedMeanwhile` unless the active key is the one the rotation expects."""
    row = await connection.fetchrow(f"SELECT {_PUBLIC_COLUMNS} FROM {_TABLE} WHERE retired_at IS NULL")
    active = _public(row) if row is not None else None
    if (active.key_id if active else None) == expected.key_id:
        return
    if expected.key_id is None:
        seen = "No credential signing key was active when this rotation was asked for"
    elif await connection.fetchval(f"SELECT true FROM {_TABLE} WHERE key_id = $1", expected.key_id):
        seen = f"Credential signing key {expected.key_id} is not the active key any more"
    else:
        seen = f"There is no credential signing key {expected.key_id}"
    if active is None:
        now = "no key is active now, rotate again to make one"
    else:
        now = (
            f"rotated meanwhile by {active.created_by} at {instant(active.created_at)}, the active key is"
            f" {active.key_id}"
        )
    raise RotatedMeanwhile(f"{seen}: {now}. Nothing was rotated (lrs credential-keys list lists the keys).", active)
