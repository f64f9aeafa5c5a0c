"""`lrs plr verify FILE --jwks FILE|URL`: checks a PLR credential offline, needing no API key.

FILE holds what `GET /v1/learners/{uln}/plr/credential` returns (its JSON, or just the compact JWS in
`credential`). The signature is checked with the Ed25519 key the JOSE header's `kid` names in the JWKS
given (a file, or a URL such as the projector's /.well-known/jwks.json; retired keys stay in it, withdrawn
ones do not), then the Open Badges 3.0 / CLR 2.0 VC-JWT rules: `iss`, `sub`, `jti` and `nbf` match the
credential, which is valid from now on (docs/decisions/0050-verifiable-plr-credentials.md). A key embedded
in the header is not trusted: anyone can sign with their own key.

A signature proves only that the holder of the key signed, and anyone can make a key, a JWKS and a
credential whose issuer calls itself "Learning Records Service". So the issuer is shown by its id (the
LRS's address), never by its name alone; the `kid` must be under that address (the projector publishes
its keys at `<issuer id>/.well-known/jwks.json#<key id>`), and so must a JWKS URL. Keys read from a file
are said to be so: they are only as good as whoever gave the file. Every value the credential gives is
printed escaped, one field a line (decision 0178). The verdict says when the credential was issued (UK time) and
that it states the record only as it stood then (decision 0050); a key missing from the JWKS fetched from the
issuer may be one the LRS withdrew, which a new export answers, and a JWKS file (saved when it says) does not show
a withdrawal since. It says too that the credential names the learner only by ULN (and, after a merge, the ULNs
merged into it, which its subject lists): it does not show that whoever hands it over is that learner. A script that
relies on the exit status refuses a stale credential with --issued-after or --max-age-days (exit 1). A file that cannot be read (missing, too large, not text) exits 2.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lrs_cli.client import CommandError, UsageError, on_both_clocks
from lrs_cli.files import read_bounded
from lrs_cli.times import UK_TIME, uk_date, uk_time
from lrs_platform.clock import ENGLAND

ALGORITHM = "EdDSA"
ALLOWED_HEADERS = {"alg", "kid", "jwk", "typ"}  # OB 3.0 §8.2: additional JOSE headers are not allowed
CLOCK_SKEW_SECONDS = 60
JWT_CLAIMS = {"iss", "sub", "jti", "nbf", "exp", "iat"}
CREDENTIAL_FILE_BYTES = 16 * 1_048_576
"""The most read of a credential or JWKS file: a credential takes a few kilobytes an achievement and a JWKS a few
hundred bytes a key, so a larger file is some other file (or a device, or a pipe), and is not read whole."""


class CredentialInvalid(CommandError):
    """The credential does not verify; the message says which check failed."""


class CredentialTooOld(CommandError):
    """The credential verifies but was issued before the date the verifier requires (--issued-after, --max-age-days):
    it states the record only as it stood then, so a script relying on the exit status refuses it."""


BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
"""RFC 7515's base64url: the URL-safe alphabet, no padding, nothing else (§2, §7.1)."""


_HEADER = "not a compact JWS: its JOSE header"
_PAYLOAD = "not a compact JWS: its JWT payload"
_SIGNATURE = "not a compact JWS: its signature"


def _b64decode(segment: str, what: str) -> bytes:
    """`segment` decoded, refused unless it is base64url as RFC 7515 writes it (§2): the URL-safe alphabet, no
    padding, and the one spelling of its bytes (the bits past the last byte zero). Python's decoder alone drops
    characters outside the alphabet, takes `=` padding and ignores those bits, so that altered copies of a token
    (its signature padded, with junk in it, or its last character changed) would verify as the one signed."""
    if not BASE64URL.fullmatch(segment):
        raise CredentialInvalid(
            f"{what} is not base64url as RFC 7515 writes it: only A-Z, a-z, 0-9, '-' and '_', no '=' padding"
        )
    try:
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as error:
        raise CredentialInvalid(f"{what} is not base64url") from error
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode("ascii") != segment:
        raise CredentialInvalid(
            f"{what} is not base64url as RFC 7515 writes it: its last character has bits set past the last byte"
        )
    return decoded


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as error:
        raise CredentialInvalid(f"the {what} is not JSON") from error
    except RecursionError as error:  # `[[[[…` nested deeper than Python's decoder goes, which no credential is
        raise CredentialInvalid(f"the {what} is JSON nested too deep to read: no credential or JWKS is") from error
    if not isinstance(value, dict):
        raise CredentialInvalid(f"the {what} is not a JSON object")
    return value


WITHDRAWN_KEY = (
    "or the LRS withdrew that key (a suspected leak), which does not make the record false: ask the holder for a new"
    " export, signed with a key in use"
)
"""Why a key may be missing from the JWKS the issuer itself publishes, besides forgery: the LRS takes a key out of
it when it may have leaked, and every credential it signed stops verifying (decision 0178)."""


NO_LIST_OF_KEYS = "the JWKS has no list of keys (its 'keys'): it is not a JWKS, or not the whole of one"


def _keys_of(jwks: Mapping[str, Any]) -> list[Any]:
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        raise CredentialInvalid(NO_LIST_OF_KEYS)
    return keys


def _public_key(jwks: Mapping[str, Any], kid: str, *, jwks_from_issuer: bool = False) -> Ed25519PublicKey:
    keys = [key for key in _keys_of(jwks) if isinstance(key, dict) and key.get("kid") == kid]
    if not keys:
        if jwks_from_issuer:
            raise CredentialInvalid(f"no key {kid} in the JWKS: not signed by this issuer, {WITHDRAWN_KEY}")
        raise CredentialInvalid(f"no key {kid} in the JWKS: not signed by this issuer, or the JWKS is not theirs")
    (jwk,) = keys[:1]
    if (jwk.get("kty"), jwk.get("crv")) != ("OKP", "Ed25519") or jwk.get("alg", ALGORITHM) != ALGORITHM:
        raise CredentialInvalid(f"key {kid} is not an Ed25519 (EdDSA) key")
    try:
        return Ed25519PublicKey.from_public_bytes(_b64decode(str(jwk.get("x", "")), f"key {kid}'s x (its public key)"))
    except ValueError as error:
        raise CredentialInvalid(f"key {kid} is not a valid Ed25519 public key") from error


def _epoch(timestamp: Any, what: str) -> int:
    try:
        return int(datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp())
    except ValueError as error:
        raise CredentialInvalid(f"{what} is not a date-time: {timestamp!r}") from error


def is_under(url: str, base: str) -> bool:
    """Whether `url` is at or below the http(s) address `base`: the same scheme and host (port included) and a
    path below. `https://lrs.example.forger.test/…` and `https://lrs.example@forger.test/…` are not under
    `https://lrs.example`; nor is a path that climbs out with `..`, nor text with spaces or control characters."""
    if not all(text.isprintable() and not any(character.isspace() for character in text) for text in (url, base)):
        return False
    here, root = urlsplit(url), urlsplit(base)
    if root.scheme.lower() not in ("https", "http") or not root.netloc or root.query or root.fragment:
        return False
    if (here.scheme.lower(), here.netloc.lower()) != (root.scheme.lower(), root.netloc.lower()):
        return False
    if {".", ".."} & {unquote(segment) for segment in here.path.split("/")}:
        return False
    prefix = root.path.rstrip("/")
    return here.path == prefix or here.path.startswith(f"{prefix}/")


def _credential_in(claims: dict[str, Any]) -> dict[str, Any]:
    # A VC Data Model 1.1 style token carries the credential in `vc`; OB 3.0 puts it at the top level.
    if isinstance(claims.get("vc"), dict):
        credential: dict[str, Any] = claims["vc"]
        return credential
    return {name: value for name, value in claims.items() if name not in JWT_CLAIMS}


def _issuer_id(credential: Mapping[str, Any]) -> Any:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def _check_claims(claims: dict[str, Any], now: float) -> dict[str, Any]:
    credential = _credential_in(claims)
    issuer_id = _issuer_id(credential)
    subject = credential.get("credentialSubject")
    subject_id = subject.get("id") if isinstance(subject, dict) else None
    types = credential.get("type")
    if "VerifiableCredential" not in (types if isinstance(types, list) else [types]):
        raise CredentialInvalid("the payload is not a verifiable credential (type lacks VerifiableCredential)")
    for claim, expected, name in (
        ("iss", issuer_id, "issuer.id"),
        ("sub", subject_id, "credentialSubject.id"),
        ("jti", credential.get("id"), "id"),
    ):
        if claims.get(claim) is None or claims.get(claim) != expected:
            raise CredentialInvalid(f"claim {claim} ({claims.get(claim)!r}) does not match the credential's {name}")
    valid_from = credential.get("validFrom", credential.get("issuanceDate"))
    if not isinstance(claims.get("nbf"), int) or claims["nbf"] != _epoch(valid_from, "validFrom"):
        raise CredentialInvalid("claim nbf does not match the credential's validFrom")
    if claims["nbf"] > now + CLOCK_SKEW_SECONDS:
        raise CredentialInvalid(
            f"the credential is not valid yet (or your clock is behind): it is valid from {_issued_at(valid_from)},"
            f" and your clock says {uk_time(datetime.fromtimestamp(now, UTC))}"
        )
    if "exp" in claims and (not isinstance(claims["exp"], int) or claims["exp"] <= now - CLOCK_SKEW_SECONDS):
        raise CredentialInvalid("the credential has expired")
    return credential


def _segments(token: str) -> list[str]:
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise CredentialInvalid("not a compact JWS (header.payload.signature)")
    return parts


NO_ISSUER_ID = "the credential gives no issuer id, the address whose keys could show who signed it"


def _check_key_of_issuer(kid: str, issuer_id: Any) -> None:
    if not isinstance(issuer_id, str):
        raise CredentialInvalid(NO_ISSUER_ID)
    if not is_under(kid, issuer_id):
        raise CredentialInvalid(
            f"key {kid} is not under the issuer's address {issuer_id}: the issuer did not sign this credential"
            " (its keys are named by its own address), whatever name it gives itself"
        )


def checked_before_keys(token: str) -> str:
    """The `kid` of the token, refused first for what no key could mend, before any JWKS is fetched or read: its
    JOSE header, a key named outside the issuer's address (no key of the issuer's, whatever a JWKS holds, and not
    one it withdrew; a credential that verifies has `iss` equal to the issuer id this reads), no signature."""
    parts = _segments(token)
    header = _json_object(_b64decode(parts[0], _HEADER), "JOSE header")
    if header.get("alg") != ALGORITHM:
        raise CredentialInvalid(f"algorithm {header.get('alg')!r} refused: PLR credentials are signed with EdDSA")
    if unexpected := set(header) - ALLOWED_HEADERS:
        raise CredentialInvalid(f"JOSE header has parameters OB 3.0 does not allow: {sorted(unexpected)}")
    if header.get("typ", "JWT") != "JWT":
        raise CredentialInvalid(f"JOSE header typ must be JWT, not {header['typ']!r}")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise CredentialInvalid("JOSE header names no key (kid); an embedded jwk proves nothing")
    _check_key_of_issuer(kid, claimed_issuer_id(token))
    if not parts[2]:
        raise CredentialInvalid("the credential has no signature (nothing after its last '.'): it proves nothing")
    return kid


def verify_credential(
    token: str, jwks: Mapping[str, Any], *, now: float | None = None, jwks_from_issuer: bool = False
) -> tuple[str, dict[str, Any]]:
    """(kid, credential) of a VC-JWT whose EdDSA signature verifies with a key of `jwks` named under the
    issuer's id; else raises. Who gave `jwks` is the caller's to judge: `jwks_from_issuer` when it was fetched
    from under the issuer's own address, so that a key missing from it may be one the issuer withdrew."""
    kid = checked_before_keys(token)
    parts = _segments(token)
    try:
        _public_key(jwks, kid, jwks_from_issuer=jwks_from_issuer).verify(
            _b64decode(parts[2], _SIGNATURE), f"{parts[0]}.{parts[1]}".encode("ascii")
        )
    except (InvalidSignature, UnicodeEncodeError) as error:
        raise CredentialInvalid(
            "signature does not verify: the credential was changed after signing, or another key signed it"
        ) from error
    claims = _json_object(_b64decode(parts[1], _PAYLOAD), "JWT payload")
    credential = _check_claims(claims, time.time() if now is None else now)
    return kid, credential


def claimed_issuer_id(token: str) -> Any:
    """The issuer id the credential gives, before anything is verified: only to refuse a JWKS URL before it is
    fetched (a credential that verifies has `iss` equal to it, so nothing is trusted on this alone)."""
    return _issuer_id(_credential_in(_json_object(_b64decode(_segments(token)[1], _PAYLOAD), "JWT payload")))


def read_token(path: Path) -> str:
    """The compact JWS in the file. A file that cannot be read as one (too large, not text) is a usage error (exit
    2), as a missing one is: the wrong file was named, and nothing was verified."""
    read = read_bounded(path, CREDENTIAL_FILE_BYTES)
    if read.too_large:
        raise UsageError(
            f"cannot read {path}: it is more than the {CREDENTIAL_FILE_BYTES:,} bytes lrs reads of a credential file"
        )
    try:
        text = read.content.decode("utf-8-sig").strip()
    except UnicodeDecodeError as error:
        raise UsageError(
            f"cannot read {path}: it is not text (UTF-8): a credential is a compact JWS or the projector's JSON"
        ) from error
    if text.startswith("{"):
        document = _json_object(text.encode(), "credential file")
        if not isinstance(document.get("credential"), str):
            raise CredentialInvalid(f"{path} holds JSON without a 'credential' (compact JWS) field")
        return str(document["credential"])
    return text


def _check_jwks_of_issuer(url: str, issuer_id: Any) -> None:
    if not isinstance(issuer_id, str):
        raise CredentialInvalid(NO_ISSUER_ID)
    if not is_under(url, issuer_id):
        raise CredentialInvalid(
            f"the JWKS {url} is not under the issuer's address {issuer_id}: the credential says {issuer_id} issued"
            " it, and only keys that address publishes can show that it did"
        )


def _download_bounded(url: str, issuer_id: str) -> bytes:
    """The body at `url`, read as it arrives and refused once it passes the JWKS limit (a wrong URL may name a
    large file, or a server that never stops sending). Each request, a redirect's too, stays under the issuer's id:
    a redirect elsewhere would hand the choice of keys to someone else."""

    def under_the_issuer(request: httpx.Request) -> None:
        if not is_under(str(request.url), issuer_id):
            raise CredentialInvalid(
                f"the JWKS {url} redirects to {request.url}, which is not under the issuer's address {issuer_id}"
            )

    received = bytearray()
    try:
        with (
            httpx.Client(timeout=30.0, follow_redirects=True, event_hooks={"request": [under_the_issuer]}) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise CommandError(f"cannot fetch the JWKS from {url}: HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                received += chunk
                if len(received) > CREDENTIAL_FILE_BYTES:
                    raise CommandError(
                        f"cannot fetch the JWKS from {url}: it sends more than the {CREDENTIAL_FILE_BYTES:,} bytes"
                        " lrs reads of a JWKS"
                    )
    except httpx.HTTPError as error:
        raise CommandError(f"cannot fetch the JWKS from {url}: {error}") from error
    return bytes(received)


def is_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


def _jwks(data: bytes, source: str) -> dict[str, Any]:
    """The JWKS `source` gave: a JSON object with a list of keys, else said not to be one (a wrong URL, such as
    the projector's /healthz, answers JSON too, and no key of it would then be "not signed by this issuer")."""
    document = _json_object(data, f"JWKS {source}")
    if not isinstance(document.get("keys"), list):
        raise CredentialInvalid(f"{source} is not a JWKS: it has no list of keys (its 'keys'): is it the right one?")
    return document


def fetch_jwks(url: str, issuer_id: Any) -> dict[str, Any]:
    """The JWKS at `url`, refused before anything is sent unless it is under the issuer's id."""
    _check_jwks_of_issuer(url, issuer_id)
    return _jwks(_download_bounded(url, issuer_id), url)


def read_jwks(source: str) -> dict[str, Any]:
    """The JWKS in the file `source`. One that cannot be read (missing, too large, not text) is a usage error
    (exit 2), as for the credential file; one that is read but holds no JWKS does not verify (exit 1)."""
    try:
        read = read_bounded(Path(source), CREDENTIAL_FILE_BYTES)
    except OSError as error:  # as for the credential file, which typer checks: a file that cannot be opened is usage
        raise UsageError(f"cannot read the JWKS {source}: {error.strerror}") from error
    if read.too_large:
        raise UsageError(
            f"cannot read the JWKS {source}: it is more than the {CREDENTIAL_FILE_BYTES:,} bytes lrs reads of a"
            " JWKS file"
        )
    try:
        read.content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(f"cannot read the JWKS {source}: it is not text (UTF-8)") from error
    return _jwks(read.content, source)


def _escaped_character(character: str) -> str:
    return json.dumps(character)[1:-1]  # \n, \u2028, \u202e: JSON's escapes, ASCII only


def shown(value: Any) -> str:
    """A value the credential gives, on one line and read as written: a backslash and every character that is not
    printable (control characters, line and paragraph separators, bidirectional controls, …) as its escape.
    Anything but text is shown as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "".join(
        character if character.isprintable() and character != "\\" else _escaped_character(character)
        for character in text
    )


def quoted(value: Any) -> str:
    """Free text the credential gives (a name), `shown` between double quotes, as a JSON string: where it ends is
    plain, whatever it says."""
    return '"' + shown(value).replace('"', '\\"') + '"'


def _object(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty one: a signed credential may hold anything where an object is
    expected (a forger's own key signs what it likes), and the verdict shows "?" for it rather than failing."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


PATHWAY_IN_ID = re.compile(r"/qualifications/[^/?#]+/pathways/(?P<pathway>[^/?#]+)")
"""Where the projector writes an achievement's pathway: the last segment of its id, percent-encoded
(`<issuer>/qualifications/<QN>/pathways/<pathway>`, plr_projector.credentials.qualification_uri)."""


def _pathway(achievement: Mapping[str, Any]) -> str | None:
    """The pathway the achievement's id names. Shown unless its name already says it as the projector now writes it
    (`<title> (pathway: <pathway>)`); credentials issued before that name the pathway only in the id."""
    found = PATHWAY_IN_ID.search(str(achievement.get("id", "")))
    return unquote(found["pathway"]) if found else None


def _credits(subject: Mapping[str, Any]) -> str:
    credits = subject.get("creditsEarned")
    if credits is None:
        return ""
    if isinstance(credits, (int, float)) and not isinstance(credits, bool):
        return f", {credits:g} credit{'' if credits == 1 else 's'}"
    return f", {shown(credits)} credits"


def _achievement_line(achievement_credential: Mapping[str, Any]) -> str:
    """One achievement: its code, name and pathway, grade, status, awarding organisation, award date and credits;
    "?" for what the credential does not give (or gives as something other than what OB 3.0 writes there)."""
    subject = _object(achievement_credential.get("credentialSubject"))
    achievement = _object(subject.get("achievement"))
    described_as = map(_object, _list(achievement.get("resultDescription")))
    kinds = {item["id"]: item.get("resultType") for item in described_as if isinstance(item.get("id"), str)}
    grade = status = "?"
    for result in map(_object, _list(subject.get("result"))):
        described = result.get("resultDescription")
        if isinstance(described, str) and kinds.get(described) == "Status":
            status = result.get("status", "?")
        elif "value" in result:
            grade = result["value"]
    awarded = str(achievement_credential.get("awardedDate", ""))[:10]
    creator = _object(achievement.get("creator")).get("name", "?")
    pathway = _pathway(achievement)
    named_so = pathway is not None and f"(pathway: {pathway})" in str(achievement.get("name", ""))
    on_pathway = f" (pathway {quoted(pathway)})" if pathway is not None and not named_so else ""
    return (
        f"  {shown(achievement.get('humanCode', '?'))} {quoted(achievement.get('name', '?'))}{on_pathway}:"
        f" {shown(grade)}, {shown(status)}, {quoted(creator)}, {shown(awarded)}{_credits(subject)}"
    )


def _saved_at(path: str) -> str:
    try:
        return f" (it was last changed on {uk_time(datetime.fromtimestamp(Path(path).stat().st_mtime, UTC))})"
    except (OSError, ValueError, OverflowError):
        return ""


def _keys_line(jwks_source: str, issuer_id: str) -> str:
    if is_url(jwks_source):
        return f"keys fetched from {jwks_source}, under the issuer's address"
    return (
        f"keys read from the file {jwks_source}, not fetched from the issuer: trust this only as far as whoever gave"
        f" you that file (--jwks {issuer_id.rstrip('/')}/.well-known/jwks.json fetches the issuer's own); a key the"
        f" LRS withdrew after the file was saved{_saved_at(jwks_source)} still passes: fetch the JWKS again to see"
        " withdrawals"
    )


LEARNER_PATH = re.compile(r"/v1/learners/(?P<uln>[0-9]{10})/?")
ULN_TEXT = re.compile(r"[0-9]{10}")
IDENTITY_FREE_SUBJECT = {"id", "type", "identifier", "verifiableCredential"}
"""All a PLR credential's subject holds: the learner's id (their ULN under the issuer's address), each ULN of theirs
as an `identifier` (those merged into it too), no name, no date of birth and no binding to a holder (decision 0050)."""


def _listed_ulns(subject: Mapping[str, Any]) -> list[str] | None:
    """The ULNs the subject's `identifier` lists (OB 3.0 IdentityObjects, `identityType` "identifier", not hashed), in
    its order; None if it lists anything else (a name, a hashed value), which the verdict then does not call a ULN."""
    identifier = subject.get("identifier", [])
    if not isinstance(identifier, list):
        return None
    ulns: list[str] = []
    for item in identifier:
        identity = _object(item)
        value = identity.get("identityHash")
        if (
            identity.get("type") != "IdentityObject"
            or identity.get("identityType") != "identifier"
            or identity.get("hashed") is not False
            or not isinstance(value, str)
            or not ULN_TEXT.fullmatch(value)
        ):
            return None
        if value not in ulns:
            ulns.append(value)
    return ulns


def _holder_line(subject: Any) -> str:
    """What a valid credential does not show: that whoever handed it over is the learner it names. After a merge the
    subject is the master ULN; the ULNs merged into it, which the person and their certificates may carry, are said
    too (the subject's `identifier`)."""
    found = LEARNER_PATH.fullmatch(urlsplit(str(_object(subject).get("id", ""))).path)
    learner = f"ULN {found['uln']}" if found else "the subject id below"
    listed = _listed_ulns(_object(subject))
    others = [uln for uln in listed or [] if not found or uln != found["uln"]]
    if others:
        learner += f" and the ULN{'' if len(others) == 1 else 's'} merged into it, {', '.join(others)}"
    if isinstance(subject, dict) and set(subject) <= IDENTITY_FREE_SUBJECT and listed is not None:
        said = f"it names the learner only by {learner} (no name or date of birth)"
    else:
        said = f"it names the learner by {learner} and what else its subject gives"
    return (
        f"{said}: it does not show that the person who gave you the file is that learner; anyone holding the file"
        " gets this result"
    )


def _issued_at(valid_from: Any) -> str:
    """When the credential was issued, as a person reads it (`5 Dec 2026, 22:41 (UK time)`); shown as written if it
    is not an instant (verified credentials have one: `nbf` matches it)."""
    try:
        return uk_time(str(valid_from))
    except (ValueError, OverflowError):  # not an instant, or one at the calendar's end (no UK time of year 10000)
        return shown(valid_from)


def _issued_on(valid_from: Any) -> str:
    """The UK date the credential holds the record of (`5 December 2026 (UK time)`)."""
    try:
        return f"{uk_date(str(valid_from))} ({UK_TIME})"
    except (ValueError, OverflowError):
        return shown(valid_from)


def summary(kid: str, credential: Mapping[str, Any], jwks_source: str) -> str:
    """The verdict, one line per field: every value the credential gives is `shown` or `quoted`, so that none can
    add a line or turn one round (a forged name could otherwise print "valid … issued by <the real LRS>" above the
    real issuer line). The issuer is its id, the address its keys are under; its name is only what it calls itself."""
    issuer_id = str(_issuer_id(credential))
    issuer = credential.get("issuer")
    name = issuer.get("name") if isinstance(issuer, dict) else None
    named = f" (named {quoted(name)})" if isinstance(name, str) else ""
    subject = credential.get("credentialSubject")
    nested = _list(_object(subject).get("verifiableCredential"))
    valid_from = credential.get("validFrom", credential.get("issuanceDate"))
    lines = [
        f"valid: {quoted(credential.get('name', 'credential'))} {shown(credential.get('id'))}",
        f"issued by {shown(issuer_id)}{named} on {_issued_at(valid_from)}, signed with {shown(kid)}",
        f"it states the record as its issuer held it on {_issued_on(valid_from)}; later corrections or withdrawals"
        " are not in it: for the record as it is now, ask the learner for a new one",
        _keys_line(jwks_source, shown(issuer_id)),
        _holder_line(subject),
        f"subject {shown(subject.get('id')) if isinstance(subject, dict) else '?'}:"
        f" {len(nested)} achievement{'' if len(nested) == 1 else 's'}",
    ]
    return "\n".join(
        lines
        + [
            _achievement_line(item)
            if isinstance(item, dict)
            else f"  ? (not an achievement credential: {shown(item)[:80]})"
            for item in nested
        ]
    )


DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d %b %Y")
"""The dates --issued-after reads: 2026-12-01, or as the verdict writes them (1 December 2026, 1 Dec 2026)."""


@dataclass(frozen=True)
class IssuedSince:
    """The earliest issue the verifier accepts, and how to say it."""

    moment: datetime
    said: str


def issued_after(text: str) -> IssuedSince:
    """`--issued-after`: a date, the start of that day in the UK (as every date lrs shows is a UK date), or an
    ISO-8601 time with its zone."""
    text = text.strip()
    for format_ in DATE_FORMATS:
        try:
            day = datetime.strptime(text, format_).date()
        except ValueError:
            continue
        return IssuedSince(_start_of_uk_day(day), f"--issued-after {day:%-d %B %Y} ({UK_TIME})")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or not on_both_clocks(moment):  # not a time, or off the calendar
        raise UsageError(
            f"--issued-after {text!r} is not a date such as 2026-12-01 (a UK date), nor an ISO-8601 time with its"
            " zone such as 2026-12-01T09:00Z"
        )
    return IssuedSince(moment, f"--issued-after {uk_time(moment)}")


def _start_of_uk_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ENGLAND)


def max_age(days: int, now: float | None = None) -> IssuedSince:
    """`--max-age-days`: issued no more than `days` days before now."""
    since = datetime.fromtimestamp(time.time() if now is None else now, UTC) - timedelta(days=days)
    return IssuedSince(since, f"--max-age-days {days}: not before {uk_time(since)}")


def check_issued_since(credential: Mapping[str, Any], required: IssuedSince) -> None:
    """Refuses a verified credential issued before `required` (its validFrom, which `nbf` matches)."""
    valid_from = credential.get("validFrom", credential.get("issuanceDate"))
    if _epoch(valid_from, "validFrom") < required.moment.timestamp():
        raise CredentialTooOld(
            f"the credential verifies, but was issued on {_issued_at(valid_from)}, before the date you require"
            f" ({required.said}): ask the holder for a new export"
        )


def verify_file(path: str, jwks_source: str, *, issued_since: Sequence[IssuedSince] = ()) -> str:
    """The verdict on the credential in `path`; raises if it does not verify, or was issued before any of
    `issued_since`."""
    try:
        token = read_token(Path(path))
    except OSError as error:  # one typer's check lets by (unreadable, gone since): usage, as a missing file is
        raise UsageError(f"cannot read {path}: {error.strerror}") from error
    from_issuer = is_url(jwks_source)
    jwks_file = None if from_issuer else read_jwks(jwks_source)  # a file that cannot be read is said first (exit 2)
    checked_before_keys(token)  # and a credential no key could pass is refused before anything is fetched
    jwks = fetch_jwks(jwks_source, claimed_issuer_id(token)) if jwks_file is None else jwks_file
    kid, credential = verify_credential(token, jwks, jwks_from_issuer=from_issuer)
    for required in issued_since:
        check_issued_since(credential, required)
    return summary(kid, credential, jwks_source)
