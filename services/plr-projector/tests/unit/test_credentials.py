"""A PLR as a CLR 2.0 credential and its VC-JWT: pure building and signing, checked with PyJWT."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lrs_contracts.environments import Environment
from plr_projector.credentials import (
    CredentialIssuer,
    NothingToCertify,
    SigningKey,
    plr_credential,
    public_jwk,
    sign,
)
from plr_projector.projection import AchievementRow

from .credential_rows import FORMATS, ULN, achievement, schema_validator

ISSUED = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
ISSUER = CredentialIssuer.at("https://lrs.example/")


def credential(*rows: AchievementRow) -> dict[str, Any]:
    return plr_credential(ISSUER, ULN, rows, credential_id=uuid.UUID(int=7), issued_at=ISSUED)


def nested(document: dict[str, Any]) -> list[dict[str, Any]]:
    subjects: list[dict[str, Any]] = document["credentialSubject"]["verifiableCredential"]
    return subjects


def result_of(achievement_credential: dict[str, Any], result_type: str) -> dict[str, Any]:
    """The subject's result whose linked ResultDescription has `result_type` (the cross-field link)."""
    subject = achievement_credential["credentialSubject"]
    descriptions = {item["id"]: item for item in subject["achievement"]["resultDescription"]}
    (found,) = [r for r in subject["result"] if descriptions[r["resultDescription"]]["resultType"] == result_type]
    return dict(found)


def keypair() -> tuple[SigningKey, bytes]:
    private = Ed25519PrivateKey.generate()
    return SigningKey("20260301-0a0b0c0d", private), private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def pyjwt_key(jwk: dict[str, str]) -> Any:
    return jwt.PyJWK(jwk).key


def test_withdrawn_achievements_are_left_out_and_each_names_its_ao_and_status() -> None:
    document = credential(
        achievement("6001166X", grade="7", status="F"),
        achievement("60147914", ao="RN5160", ao_name="Pearson", grade="B", status="P", award=date(2024, 8, 15)),
        achievement("60035208", grade="4", withdrawn=True),
    )

    described = {
        vc["credentialSubject"]["achievement"]["humanCode"]: (
            vc["credentialSubject"]["achievement"]["creator"]["name"],
            vc["credentialSubject"]["source"]["id"],
            result_of(vc, "LetterGrade")["value"],
            result_of(vc, "Status")["status"],
        )
        for vc in nested(document)
    }
    assert described == {
        "601/4791/4": ("Pearson", "https://lrs.example/awarding-organisations/RN5160", "B", "Provisional"),
        "600/1166/X": ("AQA", "https://lrs.example/awarding-organisations/RN5133", "7", "Completed"),
    }
    assert list(described) == ["601/4791/4", "600/1166/X"]  # newest award first
    assert "600/3520/8" not in json.dumps(document)


def test_the_schema_tests_check_uris_and_date_times() -> None:
    """jsonschema checks a format only when the package that checks it is installed (rfc3986-validator,
    rfc3339-validator): without them `"format": "uri"` would pass anything, and these tests with it."""
    assert {"uri", "date-time"} <= set(FORMATS.checkers)
    assert not FORMATS.conforms("https://lrs.example/qualifications/6001166X/pathways/Sports Development", "uri")
    assert not FORMATS.conforms("2026-03-01T12:30:15", "date-time")


def test_the_credential_is_a_clr_2_0_credential_by_the_schema() -> None:
    document = credential(
        achievement(credits=12, pathway="Sports Development"), achievement("60147914", status="P", pathway=None)
    )

    schema_validator().validate(document)
    assert document["validFrom"] == "2026-03-01T12:30:15Z"
    assert document["credentialSubject"]["id"] == f"https://lrs.example/v1/learners/{ULN}"
    earned = {
        vc["credentialSubject"]["achievement"]["humanCode"]: vc["credentialSubject"].get("creditsEarned")
        for vc in nested(document)
    }
    assert earned == {"600/1166/X": 12.0, "601/4791/4": None}
    assert {vc["awardedDate"] for vc in nested(document)} == {"2024-05-20T00:00:00+01:00"}  # 20 May in England (BST)


def test_the_schema_refuses_what_clr_2_0_forbids() -> None:
    validator = schema_validator()
    document = credential(achievement())
    unknown_status = json.loads(json.dumps(document))
    for result in nested(unknown_status)[0]["credentialSubject"]["result"]:
        if "status" in result:
            result["status"] = "Final"  # not an OB 3.0 ResultStatusType
    no_credentials = json.loads(json.dumps(document))
    no_credentials["credentialSubject"]["verifiableCredential"] = []
    wrong_context = json.loads(json.dumps(document))
    wrong_context["@context"] = wrong_context["@context"][::-1]
    id_not_a_uri = json.loads(json.dumps(document))
    nested(id_not_a_uri)[0]["credentialSubject"]["achievement"]["id"] = "https://lrs.example/qualifications/6 0"
    no_time_zone = json.loads(json.dumps(document))
    no_time_zone["validFrom"] = "2026-03-01T12:30:15"

    for broken in (unknown_status, no_credentials, wrong_context, id_not_a_uri, no_time_zone):
        assert not validator.is_valid(broken)


def test_a_date_time_may_give_its_offset_as_1edtechs_schemas_allow() -> None:
    """DateTimeZ is "a DateTime with the trailing timezone specifier included, e.g. 2021-09-07T02:09:59+02:00"."""
    document = credential(achievement())
    document["validFrom"] = "2026-03-01T14:30:15+02:00"

    schema_validator().validate(document)


def test_a_pathway_is_one_percent_encoded_segment_of_the_achievements_uri() -> None:
    pathway = "Sport & Fitness / Coaching #1? Café"
    [issued] = nested(credential(achievement(pathway=pathway)))
    described = issued["credentialSubject"]["achievement"]
    results = issued["credentialSubject"]["result"]

    expected = "https://lrs.example/qualifications/6001166X/pathways/Sport%20%26%20Fitness%20%2F%20Coaching%20%231%3F%20Caf%C3%A9"
    assert described["id"] == expected
    assert unquote(described["id"].rsplit("/", 1)[1]) == pathway
    assert [item["id"] for item in described["resultDescription"]] == [f"{expected}#grade", f"{expected}#status"]
    assert [result["resultDescription"] for result in results] == [f"{expected}#grade", f"{expected}#status"]
    for uri in (described["id"], *(item["id"] for item in described["resultDescription"])):
        assert FORMATS.conforms(uri, "uri"), uri
    schema_validator().validate(credential(achievement(pathway=pathway)))


def test_a_plr_with_only_withdrawn_achievements_has_nothing_to_certify() -> None:
    with pytest.raises(NothingToCertify):
        credential(achievement(withdrawn=True))


def test_the_signed_credential_verifies_with_an_independent_jwt_library() -> None:
    key, public = keypair()
    document = credential(achievement())
    token = sign(document, ISSUER, key)

    jwk = public_jwk(ISSUER, key.key_id, public)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, pyjwt_key(jwk), algorithms=["EdDSA"])

    assert header == {
        "alg": "EdDSA",
        "kid": "https://lrs.example/.well-known/jwks.json#20260301-0a0b0c0d",
        "typ": "JWT",
    }
    assert header["kid"] == jwk["kid"]
    assert "d" not in jwk
    assert claims["iss"] == document["issuer"]["id"] == "https://lrs.example"
    assert claims["sub"] == document["credentialSubject"]["id"]
    assert claims["jti"] == document["id"] == f"urn:uuid:{uuid.UUID(int=7)}"
    assert claims["nbf"] == int(datetime(2026, 3, 1, 12, 30, 15, tzinfo=UTC).timestamp())
    assert {k: v for k, v in claims.items() if k not in ("iss", "sub", "jti", "nbf")} == document


def test_changing_one_grade_breaks_the_signature() -> None:
    key, public = keypair()
    token = sign(credential(achievement(grade="4")), ISSUER, key)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for result in claims["credentialSubject"]["verifiableCredential"][0]["credentialSubject"]["result"]:
        if result.get("value") == "4":
            result["value"] = "9"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{header}.{forged_payload}.{signature}", pyjwt_key(public_jwk(ISSUER, "k", public)), ["EdDSA"])


def test_a_credential_signed_by_another_key_does_not_verify() -> None:
    key, _ = keypair()
    _, other_public = keypair()
    token = sign(credential(achievement()), ISSUER, key)

    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, pyjwt_key(public_jwk(ISSUER, key.key_id, other_public)), algorithms=["EdDSA"])


def test_a_sandpit_credential_says_in_its_signed_payload_that_it_is_practice_not_a_record() -> None:
    key, public = keypair()
    sandpit = CredentialIssuer.at("https://sandpit.lrs.example/", Environment.SANDPIT)
    document = plr_credential(sandpit, ULN, [achievement()], credential_id=uuid.UUID(int=7), issued_at=ISSUED)

    claims = jwt.decode(sign(document, sandpit, key), pyjwt_key(public_jwk(sandpit, key.key_id, public)), ["EdDSA"])

    schema_validator().validate(document)
    assert "Sandpit" in claims["issuer"]["name"] and "not a record of achievement" in claims["issuer"]["name"]
    assert claims["name"] == "Personal Learning Record (Sandpit practice)"
    assert claims["description"].startswith("Issued by the Sandpit, a practice environment")
    (achievement_credential,) = nested(claims)
    assert achievement_credential["name"].endswith("(Sandpit practice)")
    assert "not evidence of any learning" in achievement_credential["description"]
    assert "Sandpit" in achievement_credential["issuer"]["name"]


def test_a_live_credential_says_nothing_of_the_sandpit() -> None:
    assert "Sandpit" not in json.dumps(credential(achievement()))


def test_the_private_key_is_not_in_a_signing_keys_repr() -> None:
    key, _ = keypair()
    raw = key.private_key.private_bytes_raw()

    assert "private" not in repr(key)
    assert raw.hex() not in repr(key)


@pytest.mark.parametrize(
    ("level", "said"),
    [("Level 2", ", Level 2 ("), ("Entry Level", ", Entry Level ("), ("2", ", level 2 ("), (None, "(9 to 1) (")],
)
def test_an_achievements_description_says_its_level_once(level: str | None, said: str) -> None:
    """Not "level Level 2": the catalogue's levels already say they are levels."""
    [issued] = nested(credential(achievement()._replace(level=level)))
    description = issued["credentialSubject"]["achievement"]["description"]
    assert said in description, description
    assert "level Level" not in description


def test_results_not_achieved_and_absent_results_are_left_out_by_default() -> None:
    document = credential(
        achievement("6001166X", grade="7"),
        achievement("60147914", grade="U"),
        achievement("60035208", grade="X"),
        achievement("50000019", grade="Fail"),
    )

    assert [vc["credentialSubject"]["achievement"]["humanCode"] for vc in nested(document)] == ["600/1166/X"]
    left_out = "results not achieved (grade U or Fail) and grades X (no result) are not included"
    assert left_out in document["description"]


def test_asked_for_a_result_not_achieved_is_failed_and_never_said_to_be_awarded() -> None:
    document = plr_credential(
        ISSUER,
        ULN,
        [
            achievement("6001166X", grade="7", credits=12),
            achievement("60147914", grade="U", credits=12),
            achievement("50000019", grade="Fail", award=date(2024, 3, 1)),
            achievement("60035208", grade="U", status="P", award=date(2024, 1, 10)),
            achievement("60300017", grade="X"),
        ],
        credential_id=uuid.UUID(int=7),
        issued_at=ISSUED,
        include_unsuccessful=True,
    )

    schema_validator().validate(document)
    by_code = {vc["credentialSubject"]["achievement"]["humanCode"]: vc for vc in nested(document)}
    assert {code: result_of(vc, "Status")["status"] for code, vc in by_code.items()} == {
        "600/1166/X": "Completed",
        "601/4791/4": "Failed",
        "500/0001/9": "Failed",
        "600/3520/8": "Provisional",
    }  # the grade X, no result, is not in it at all
    unclassified = by_code["601/4791/4"]
    assert result_of(unclassified, "LetterGrade")["value"] == "U"
    assert unclassified["description"] == "Final result recorded by AQA on 2024-05-20: not achieved (grade U)."
    assert "awardedDate" not in unclassified and "creditsEarned" not in unclassified["credentialSubject"]
    assert "not achieved (grade U)" in by_code["600/3520/8"]["description"]
    assert by_code["600/1166/X"]["description"] == "Final result awarded by AQA on 2024-05-20."
    assert by_code["600/1166/X"]["credentialSubject"]["creditsEarned"] == 12.0
    assert "results not achieved (grade U or Fail) are, and say so" in document["description"]


def test_a_plr_of_results_not_achieved_has_nothing_to_certify_unless_they_are_asked_for() -> None:
    rows = (achievement(grade="U"), achievement("60035208", grade="X"))
    with pytest.raises(NothingToCertify, match="left out unless asked for"):
        credential(*rows)
    with pytest.raises(NothingToCertify):
        credential(achievement(grade="X"))

    document = plr_credential(
        ISSUER, ULN, rows, credential_id=uuid.UUID(int=7), issued_at=ISSUED, include_unsuccessful=True
    )
    assert [result_of(vc, "Status")["status"] for vc in nested(document)] == ["Failed"]


def test_a_sandpit_achievement_says_it_is_practice_where_a_wallet_renders_it() -> None:
    """OB 3.0 displays render the Achievement, and `lrs plr verify` prints its name: it is marked too (decision 0146)."""
    sandpit = CredentialIssuer.at("https://sandpit.lrs.example/", Environment.SANDPIT)
    document = plr_credential(sandpit, ULN, [achievement()], credential_id=uuid.UUID(int=7), issued_at=ISSUED)

    schema_validator().validate(document)
    (issued,) = nested(document)
    shown = issued["credentialSubject"]["achievement"]
    assert shown["name"] == "Qualification 6001166X (Sandpit practice)"
    for said in (shown["description"], shown["criteria"]["narrative"]):
        assert said.startswith("Issued by the Sandpit, a practice environment"), said
        assert "not evidence of any learning" in said
    assert shown["criteria"]["narrative"].endswith("Awarded by AQA (RN5133).")


def test_a_live_achievement_is_named_and_described_as_before() -> None:
    (issued,) = nested(credential(achievement()))
    shown = issued["credentialSubject"]["achievement"]

    assert shown["name"] == "Qualification 6001166X"
    assert shown["description"] == "Qualification 6001166X: GCSE (9 to 1), level 2 (RQF)."
    assert shown["criteria"] == {"narrative": "Awarded by AQA (RN5133)."}


@pytest.mark.parametrize(
    ("issued_at", "held_on"),
    [
        (datetime(2026, 7, 5, 23, 30, tzinfo=UTC), "2026-07-06"),  # 00:30 BST: the verdict says 6 July 2026
        (datetime(2026, 1, 5, 23, 30, tzinfo=UTC), "2026-01-05"),  # 23:30 GMT
    ],
)
def test_the_signed_description_gives_the_uk_date_the_verdict_gives(issued_at: datetime, held_on: str) -> None:
    """`lrs plr verify` says "it states the record as its issuer held it on <UK date> (UK time)"; the signed
    description says the same day, not UTC's (decision 0176)."""
    document = plr_credential(ISSUER, ULN, [achievement()], credential_id=uuid.UUID(int=7), issued_at=issued_at)

    assert f"held them on {held_on} (UK time);" in document["description"], document["description"]
    assert document["validFrom"] == issued_at.isoformat().replace("+00:00", "Z")  # validFrom stays UTC


def test_an_achievement_of_a_pathway_names_the_pathway_a_verifier_reads() -> None:
    """Not only percent-encoded in the id: the name (which the verdict prints) and the description say it."""
    document = credential(achievement(pathway="Sport & Exercise Science"), achievement("60147914"))

    schema_validator().validate(document)
    by_code = {vc["credentialSubject"]["achievement"]["humanCode"]: vc for vc in nested(document)}
    with_pathway = by_code["600/1166/X"]
    shown = with_pathway["credentialSubject"]["achievement"]
    assert shown["name"] == "Qualification 6001166X (pathway: Sport & Exercise Science)"
    assert shown["description"].endswith(" Pathway: Sport & Exercise Science.")
    assert with_pathway["name"] == shown["name"]
    without = by_code["601/4791/4"]["credentialSubject"]["achievement"]
    assert (without["name"], "athway" in without["description"]) == ("Qualification 60147914", False)


def test_a_sandpit_achievement_of_a_pathway_names_both() -> None:
    sandpit = CredentialIssuer.at("https://sandpit.lrs.example/", Environment.SANDPIT)
    rows = [achievement(pathway="Sports Development")]
    document = plr_credential(sandpit, ULN, rows, credential_id=uuid.UUID(int=7), issued_at=ISSUED)

    schema_validator().validate(document)
    (issued,) = nested(document)
    assert issued["credentialSubject"]["achievement"]["name"] == (
        "Qualification 6001166X (pathway: Sports Development) (Sandpit practice)"
    )
