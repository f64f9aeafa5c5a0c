"""A PLR the learner can prove: a 1EdTech CLR 2.0 `ClrCredential` secured as a VC-JWT (EdDSA).

Pure: read-model rows and a signing key in, a JSON document or a compact JWS out. Each live AO
achievement becomes an Open Badges 3.0 `AchievementCredential` inside the CLR, naming its awarding
organisation (the achievement's `creator` and the subject's `source`), its grade and its status
(Final → `Completed`, Provisional → `Provisional`, the OB 3.0 result statuses). A result the learner did not
achieve (grade U or Fail) is never said to be awarded: it is left out unless the learner asks for it, and then a
Final one is `Failed`. A grade X is no result at all, and is never in a credential. Withdrawn achievements and
centre (ILR) records are left out. See docs/decisions/0050-verifiable-plr-credentials.md.
A Sandpit's credential says in its signed payload that it is practice, not a record (decision 0146): its name and
description, and those of each nested credential and of the Achievement inside it (which OB 3.0 displays render).
An achievement of a pathway names the pathway in its name, not only (percent-encoded) in its id.
A Provisional result's credential is named "… (provisional result)" and its description says it is not yet
confirmed, never "awarded": a final result may change it (the `Achievement` inside, the qualification's definition,
says no status: a Final result of it may share its id). Each nested credential's id is the issuer's own (a Sandpit's
never is a live one's), and the ClrSubject lists every ULN of the learner (OB 3.0 `identifier`), so that a verifier
can match the ULN the person carries after a merge.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lrs_contracts.environments import Environment
from lrs_domain.identifiers import display_qan
from lrs_platform.clock import ENGLAND
from plr_projector.projection import AchievementRow

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CLR_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CLR_SCHEMA = "https://purl.imsglobal.org/spec/clr/v2p0/schema/json/clr_v2p0_clrcredential_schema.json"
OB_SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
SCHEMA_VALIDATOR = "1EdTechJsonSchemaValidator2019"
JWS_ALGORITHM = "EdDSA"

# OB 3.0 ResultStatusType: "Completed" is a confirmed result, "Provisional" one not yet confirmed, "Failed" a
# confirmed result that was not achieved.
RESULT_STATUS = {"F": "Completed", "P": "Provisional"}
NOT_ACHIEVED_STATUS = {"F": "Failed", "P": "Provisional"}
STATUS_WORD = {"F": "Final", "P": "Provisional"}

# DOMAIN.md §4 and §7: U is unclassified and Fail failed, results the learner did not achieve; X is absent, no
# result at all (nothing a credential could attest).
NOT_ACHIEVED_GRADES = frozenset({"U", "Fail"})
NO_RESULT_GRADES = frozenset({"X"})


def achieved(row: AchievementRow) -> bool:
    return row.grade not in NOT_ACHIEVED_GRADES and row.grade not in NO_RESULT_GRADES


class NothingToCertify(Exception):
    """The PLR holds no live AO achievement; a CLR needs at least one credential."""


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private_key: Ed25519PrivateKey = field(repr=False)


ISSUER_NAME = "Learning Records Service"
SANDPIT_ISSUER_NAME = "Learning Records Service Sandpit (practice data, not a record of achievement)"
SANDPIT_WARNING = (
    "Issued by the Sandpit, a practice environment: the achievements are test data an awarding organisation"
    " sent to try the service, and this credential is not evidence of any learning."
)


@dataclass(frozen=True)
class CredentialIssuer:
    """The LRS as a credential issuer: its public base URL names it, its keys and what it describes.
    A Sandpit issuer (`practice`) names itself so, and marks every credential it writes."""

    url: str
    name: str = ISSUER_NAME
    practice: bool = False

    @staticmethod
    def at(url: str, environment: Environment = Environment.LIVE) -> CredentialIssuer:
        if environment.is_sandpit:
            return CredentialIssuer(url.rstrip("/"), SANDPIT_ISSUER_NAME, practice=True)
        return CredentialIssuer(url.rstrip("/"))

    def titled(self, name: str) -> str:
        return f"{name} (Sandpit practice)" if self.practice else name

    @property
    def namespace(self) -> uuid.UUID:
        """The UUID namespace of this issuer's ids: one issuer's nested credential ids are never another's (a
        Sandpit's never a live one's), though the achievement ids they are made from are the same everywhere."""
        return uuid.uuid5(uuid.NAMESPACE_URL, self.url)

    def achievement_credential_id(self, achievement_id: uuid.UUID) -> str:
        """The nested AchievementCredential's id: stable for this issuer and achievement, so that a later export with a
        newer validFrom is the newer version of it (OB 3.0 versions by issuer, id and validFrom)."""
        return f"urn:uuid:{uuid.uuid5(self.namespace, str(achievement_id))}"

    def described(self, description: str) -> str:
        return f"{SANDPIT_WARNING} {description}" if self.practice else description

    @property
    def jwks_uri(self) -> str:
        return f"{self.url}/.well-known/jwks.json"

    def key_uri(self, key_id: str) -> str:
        """The JOSE `kid`: a URI that dereferences (through the JWKS) to the public key."""
        return f"{self.jwks_uri}#{key_id}"

    def learner_uri(self, uln: str) -> str:
        return f"{self.url}/v1/learners/{uln}"

    def profile(self) -> dict[str, Any]:
        return {"id": self.url, "type": ["Profile"], "name": self.name}

    def awarding_organisation(self, ao_id: str, name: str) -> dict[str, Any]:
        return {"id": f"{self.url}/awarding-organisations/{ao_id}", "type": ["Profile"], "name": name}

    def qualification_uri(self, qualification_number: str, pathway: str | None) -> str:
        """A pathway is free text ("Sports Development"): one percent-encoded path segment keeps the id a URI."""
        uri = f"{self.url}/qualifications/{qualification_number}"
        return f"{uri}/pathways/{quote(pathway, safe='')}" if pathway else uri


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def awarded_at(award_date: date) -> str:
    """The start of the award day in England, the day the LRS judges award dates by (RV008), with England's offset
    (`2026-06-15T00:00:00+01:00` in British Summer Time): the instant is never after a `validFrom` of an export in the
    first hour of that day (midnight UTC is 01:00 BST), and its first ten characters are still the award date, as a
    verifier reading only the date reads it."""
    return datetime.combine(award_date, time(), ENGLAND).isoformat()


def achievement_name(row: AchievementRow) -> str:
    """The title, and the pathway when there is one: a verifier sees which pathway was awarded without decoding the
    achievement's id (two pathways of one qualification are two achievements)."""
    return f"{row.title} (pathway: {row.pathway})" if row.pathway else row.title


def result_name(row: AchievementRow) -> str:
    """The nested credential's name: the achievement's, and "(provisional result)" for a Provisional one, where a
    wallet shows it (a final result may change it). Not the `Achievement`'s name: that is the qualification's
    definition, one id for a Final and a Provisional result of it (a resit), so it says no status."""
    name = achievement_name(row)
    return f"{name} (provisional result)" if row.status == "P" else name


def _achievement(issuer: CredentialIssuer, row: AchievementRow) -> dict[str, Any]:
    uri = issuer.qualification_uri(row.qualification_number, row.pathway)
    # the catalogue writes levels as "Level 2", "Entry Level" or "Level 1/2"; a bare "2" is said as "level 2"
    level = "" if not row.level else f", {row.level}" if "level" in row.level.casefold() else f", level {row.level}"
    pathway = f" Pathway: {row.pathway}." if row.pathway else ""
    # A Sandpit marks the Achievement too (decision 0146): a wallet renders it, and `lrs plr verify` prints its name.
    return {
        "id": uri,
        "type": ["Achievement"],
        "name": issuer.titled(achievement_name(row)),
        "description": issuer.described(f"{row.title}: {row.qualification_type}{level} ({row.framework}).{pathway}"),
        "humanCode": display_qan(row.qualification_number),
        "criteria": {"narrative": issuer.described(f"Awarded by {row.awarding_organisation_name} ({row.ao_id}).")},
        "creator": issuer.awarding_organisation(row.ao_id, row.awarding_organisation_name),
        "resultDescription": [
            {"id": f"{uri}#grade", "type": ["ResultDescription"], "name": "Grade", "resultType": "LetterGrade"},
            {"id": f"{uri}#status", "type": ["ResultDescription"], "name": "Result status", "resultType": "Status"},
        ],
    }


def _achievement_credential(
    issuer: CredentialIssuer, subject_id: str, row: AchievementRow, valid_from: str
) -> dict[str, Any]:
    achievement = _achievement(issuer, row)
    awarding_organisation = achievement["creator"]
    succeeded = achieved(row)
    subject: dict[str, Any] = {
        "id": subject_id,
        "type": ["AchievementSubject"],
        "achievement": achievement,
        "source": awarding_organisation,
        "result": [
            {"type": ["Result"], "resultDescription": f"{achievement['id']}#grade", "value": row.grade},
            {
                "type": ["Result"],
                "resultDescription": f"{achievement['id']}#status",
                "status": (RESULT_STATUS if succeeded else NOT_ACHIEVED_STATUS)[row.status],
            },
        ],
    }
    if row.credits is not None and succeeded:
        subject["creditsEarned"] = float(row.credits)
    said = (
        f"Provisional result reported by {awarding_organisation['name']} for {row.award_date.isoformat()}: not yet"
        " confirmed; the final result may differ."
        if succeeded and row.status == "P"
        else f"{STATUS_WORD[row.status]} result awarded by {awarding_organisation['name']}"
        f" on {row.award_date.isoformat()}."
        if succeeded
        else f"{STATUS_WORD[row.status]} result recorded by {awarding_organisation['name']}"
        f" on {row.award_date.isoformat()}: not achieved (grade {row.grade})."
    )
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        # Stable per issuer and achievement: a later issue with a newer validFrom is the newer version of it.
        "id": issuer.achievement_credential_id(row.achievement_id),
        "type": ["VerifiableCredential", "AchievementCredential"],
        "name": issuer.titled(result_name(row)),
        "description": issuer.described(said),
        "issuer": issuer.profile(),
        "validFrom": valid_from,
        "credentialSubject": subject,
        "credentialSchema": [{"id": OB_SCHEMA, "type": SCHEMA_VALIDATOR}],
    }
    if succeeded:  # nothing was awarded for a result not achieved
        credential["awardedDate"] = awarded_at(row.award_date)
    return credential


def plr_credential(
    issuer: CredentialIssuer,
    uln: str,
    achievements: Sequence[AchievementRow],
    *,
    credential_id: uuid.UUID,
    issued_at: datetime,
    include_unsuccessful: bool = False,
    ulns: Sequence[str] = (),
) -> dict[str, Any]:
    """The learner's live AO achievements as a CLR 2.0 ClrCredential (unsigned), newest award first. The results
    the learner did not achieve are in it only when `include_unsuccessful`: what they share is what they achieved
    unless they choose otherwise (the seed FAQ's "switch off"). `uln` is the learner's (master) ULN, the subject's
    id; `ulns` every ULN of the learner (those merged into it), each listed in the subject's `identifier`."""
    results = [row for row in achievements if not row.withdrawn and row.grade not in NO_RESULT_GRADES]
    live = sorted(
        (row for row in results if include_unsuccessful or achieved(row)),
        key=lambda row: (row.award_date, row.qualification_number, str(row.achievement_id)),
        reverse=True,
    )
    if not live:
        left_out = " (results not achieved are left out unless asked for)" if results else ""
        raise NothingToCertify(
            f"The Personal Learning Record holds no live achievement from an awarding organisation{left_out}."
        )
    subject_id = issuer.learner_uri(uln)
    valid_from = iso_z(issued_at)
    nested = [_achievement_credential(issuer, subject_id, row, valid_from) for row in live]
    return {
        "@context": [VC_CONTEXT, CLR_CONTEXT, OB_CONTEXT],
        "id": f"urn:uuid:{credential_id}",
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": issuer.titled("Personal Learning Record"),
        "description": issuer.described(
            f"The achievements awarding organisations reported for learner {uln}, as the"
            f" {issuer.name} held them on {held_on(issued_at)}; {_left_out(include_unsuccessful)}"
        ),
        "issuer": issuer.profile(),
        "validFrom": valid_from,
        "credentialSubject": {
            "id": subject_id,
            "type": ["ClrSubject"],
            "identifier": [uln_identifier(each) for each in (uln, *sorted(set(ulns) - {uln}))],
            "verifiableCredential": nested,
        },
        "credentialSchema": [{"id": CLR_SCHEMA, "type": SCHEMA_VALIDATOR}],
    }


def uln_identifier(uln: str) -> dict[str, Any]:
    """A ULN of the learner as an OB 3.0 `IdentityObject`, in plain (`hashed` false): the master ULN first, then
    those merged into it, so that a verifier given the ULN the person and their certificates carry finds it."""
    return {"type": "IdentityObject", "identityHash": uln, "identityType": "identifier", "hashed": False}


def held_on(issued_at: datetime) -> str:
    """The day the credential states the record as of, as `lrs plr verify` says it: England's date (decision 0176),
    not UTC's, which is the day before from 23:00 to midnight in a British summer."""
    return f"{issued_at.astimezone(ENGLAND).date().isoformat()} (UK time)"


def _left_out(include_unsuccessful: bool) -> str:
    if include_unsuccessful:
        return (
            "withdrawn achievements and grades X (no result) are not included; results not achieved (grade U or"
            " Fail) are, and say so."
        )
    return "withdrawn achievements, results not achieved (grade U or Fail) and grades X (no result) are not included."


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def jwt_claims(credential: dict[str, Any]) -> dict[str, Any]:
    """The OB 3.0 / CLR 2.0 VC-JWT payload: the credential itself plus iss, jti, nbf and sub."""
    valid_from = datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00"))
    return {
        **credential,
        "iss": credential["issuer"]["id"],
        "jti": credential["id"],
        "nbf": int(valid_from.timestamp()),
        "sub": credential["credentialSubject"]["id"],
    }


def sign(credential: dict[str, Any], issuer: CredentialIssuer, key: SigningKey) -> str:
    """The credential as a compact JWS (VC-JWT): header `alg` EdDSA, `kid` the key's URI, `typ` JWT."""
    header = {"alg": JWS_ALGORITHM, "kid": issuer.key_uri(key.key_id), "typ": "JWT"}
    signing_input = f"{b64url(_json(header))}.{b64url(_json(jwt_claims(credential)))}"
    return f"{signing_input}.{b64url(key.private_key.sign(signing_input.encode('ascii')))}"


def public_jwk(issuer: CredentialIssuer, key_id: str, public_key: bytes) -> dict[str, str]:
    """An Ed25519 public key as a JWK (RFC 8037); never carries the private part `d`."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(public_key),
        "kid": issuer.key_uri(key_id),
        "alg": JWS_ALGORITHM,
        "use": "sig",
    }
