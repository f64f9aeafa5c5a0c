"""The projector's credential signing keys: Ed25519, kept in PostgreSQL by key id, sealed at rest.

A private key is sealed with AES-256-GCM under the key-encryption key the projector is given
(`PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY`), with the key id as associated data: a database dump or
backup alone holds no usable signing key, and a sealed key cannot be passed off under another id.
Keys live in the operations schema, which a rebuild switch leaves alone. One key is active; rotating
retires it, and retired keys keep their public half in the JWKS so that every credential signed
before a rotation still verifies (docs/decisions/0050-verifiable-plr-credentials.md).
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


def _public(row: asyncpg.Record) -> PublicKey:
    return PublicKey(row["key_id"], bytes(row["public_key"]), row["created_at"], row["created_by"], row["retired_at"])


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

    async def public_keys(self) -> list[PublicKey]:
        """Every key ever used, active first then newest first: the JWKS keeps retired keys."""
        rows = await self._pool.fetch(
            f"SELECT key_id, public_key, created_at, created_by, retired_at FROM {_TABLE}"
            " ORDER BY retired_at IS NOT NULL, created_at DESC, key_id"
        )
        return [_public(row) for row in rows]

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
                    row = await self._create(connection, kek, "plr-projector (first use)")
        key_id: str = row["key_id"]
        cached = self._unsealed.get(key_id)
        if cached is None:
            cached = SigningKey(key_id, unseal(kek, key_id, bytes(row["sealed_private_key"])))
            self._unsealed = {key_id: cached}
        return cached

    async def rotate(self, operator: str) -> tuple[PublicKey, list[str]]:
        """Retires the active key and makes a new one, atomically; returns it and the retired ids."""
        kek = self._require_kek()
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _CREATION_LOCK)
            retired = await connection.fetch(
                f"UPDATE {_TABLE} SET retired_at = now() WHERE retired_at IS NULL RETURNING key_id"
            )
            created = await self._create(connection, kek, operator)
        retired_ids = [row["key_id"] for row in retired]
        _log.info("credential_keys_rotated", key_id=created["key_id"], retired=retired_ids, operator=operator)
        return _public(created), retired_ids

    async def _create(self, connection: asyncpg.Connection, kek: KeyEncryptionKey, creator: str) -> asyncpg.Record:
        private_key = Ed25519PrivateKey.generate()
        key_id = new_key_id(datetime.now(UTC))
        public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        row = await connection.fetchrow(
            f"INSERT INTO {_TABLE} (key_id, public_key, sealed_private_key, created_by) VALUES ($1, $2, $3, $4)"
            " RETURNING key_id, public_key, sealed_private_key, created_at, created_by, retired_at",
            key_id,
            public,
            seal(kek, key_id, private_key),
            creator,
        )
        assert row is not None
        _log.info("credential_key_created", key_id=key_id, created_by=creator)
        return row
