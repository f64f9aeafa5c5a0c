"""What a PLR credential says that an outside verifier or wallet relies on: a nested credential's id is its issuer's
own (the Sandpit's never the live one's, stable for one issuer), a Provisional result is never said to be awarded,
and every ULN of a merged learner is in the signed subject (OB 3.0 `identifier`)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

from lrs_contracts.environments import Environment
from plr_projector.credentials import CredentialIssuer, plr_credential
from plr_projector.projection import AchievementRow

from .credential_rows import ULN, achievement, schema_validator

MERGED_ULN, OTHER_MERGED_ULN = "1000000051", "1000000027"
ISSUED = datetime(2026, 3, 1, 12, 30, 15, tzinfo=UTC)
LIVE = CredentialIssuer.at("https://lrs.example/")
SANDPIT = CredentialIssuer.at("https://sandpit.lrs.example/", Environment.SANDPIT)


def _credential(issuer: CredentialIssuer, *rows: AchievementRow, **options: Any) -> dict[str, Any]:
    return plr_credential(issuer, ULN, rows, credential_id=uuid.uuid4(), issued_at=ISSUED, **options)


AWARDED = re.compile(r"\bawarded\b", re.IGNORECASE)
""""Awarded"/"awarded" as a word: not "awarding organisation", which names who reported the result."""


def _nested(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["credentialSubject"]["verifiableCredential"]
    return found


# --- the nested credential's id is the issuer's own


def test_the_sandpit_and_live_never_give_one_achievement_the_same_credential_id() -> None:
    row = achievement()
    (live,) = _nested(_credential(LIVE, row))
    (sandpit,) = _nested(_credential(SANDPIT, row))

    assert live["id"] != sandpit["id"]
    assert str(row.achievement_id) not in live["id"] + sandpit["id"]  # the public achievement id is not reused
    for issued in (live, sandpit):
        assert issued["id"].startswith("urn:uuid:")
        uuid.UUID(issued["id"].removeprefix("urn:uuid:"))


def test_one_issuer_gives_one_achievement_the_same_id_on_every_export() -> None:
    """So that an export with a newer validFrom is the newer version of the same credential (OB 3.0)."""
    row, other = achievement(), achievement("60147914")
    first = {vc["credentialSubject"]["achievement"]["humanCode"]: vc["id"] for vc in _nested(_credential(LIVE, row))}
    again = plr_credential(
        CredentialIssuer.at("https://lrs.example"),
        ULN,
        [row, other],
        credential_id=uuid.uuid4(),
        issued_at=datetime.now(UTC),
    )
    later = {vc["credentialSubject"]["achievement"]["humanCode"]: vc["id"] for vc in _nested(again)}

    assert later["600/1166/X"] == first["600/1166/X"]
    assert later["601/4791/4"] != later["600/1166/X"]


def test_a_provisional_result_that_becomes_final_keeps_its_id() -> None:
    (provisional,) = _nested(_credential(LIVE, achievement(status="P", grade="B")))
    (final,) = _nested(_credential(LIVE, achievement(status="F", grade="A")))

    assert provisional["id"] == final["id"]


# --- a Provisional result is not said to be awarded


def test_a_provisional_result_is_named_so_and_never_said_to_be_awarded() -> None:
    document = _credential(LIVE, achievement(status="P", grade="B"))

    schema_validator().validate(document)
    (issued,) = _nested(document)
    shown = issued["credentialSubject"]["achievement"]
    assert issued["name"] == "Qualification 6001166X (provisional result)"
    assert shown["name"] == "Qualification 6001166X"  # the qualification's definition: no status (see below)
    for said in (issued["name"], issued["description"]):
        assert not AWARDED.search(json.dumps(said)), said
    assert issued["description"] == (
        "Provisional result reported by AQA for 2024-05-20: not yet confirmed; the final result may differ."
    )
    statuses = [result.get("status") for result in issued["credentialSubject"]["result"]]
    assert "Provisional" in statuses


def test_a_sandpit_provisional_result_says_both() -> None:
    (issued,) = _nested(_credential(SANDPIT, achievement(status="P", grade="B")))

    assert issued["name"] == "Qualification 6001166X (provisional result) (Sandpit practice)"
    assert issued["credentialSubject"]["achievement"]["name"] == "Qualification 6001166X (Sandpit practice)"
    assert not AWARDED.search(issued["description"])


def test_a_final_and_a_provisional_result_of_one_qualification_share_one_achievement_definition() -> None:
    """A resit: the Achievement is the qualification's definition, one id, so it must read the same in both (a wallet
    keys definitions by id); the status is the nested credential's and its results'."""
    document = _credential(
        LIVE, achievement(status="F", grade="C"), achievement(status="P", grade="B", award=date(2025, 5, 20))
    )

    final, provisional = sorted(_nested(document), key=lambda issued: issued["name"])
    assert final["credentialSubject"]["achievement"] == provisional["credentialSubject"]["achievement"]
    assert (final["name"], provisional["name"]) == (
        "Qualification 6001166X",
        "Qualification 6001166X (provisional result)",
    )


def test_a_provisional_result_not_achieved_is_named_provisional_and_not_awarded() -> None:
    document = _credential(LIVE, achievement(status="P", grade="U"), include_unsuccessful=True)

    (issued,) = _nested(document)
    assert issued["name"] == "Qualification 6001166X (provisional result)"
    assert not AWARDED.search(issued["description"])
    assert "awardedDate" not in issued


def test_a_final_result_is_worded_as_before() -> None:
    (issued,) = _nested(_credential(LIVE, achievement(status="F")))
    shown = issued["credentialSubject"]["achievement"]

    assert issued["name"] == shown["name"] == "Qualification 6001166X"
    assert issued["description"] == "Final result awarded by AQA on 2024-05-20."
    assert shown["criteria"] == {"narrative": "Awarded by AQA (RN5133)."}
    assert issued["awardedDate"] == "2024-05-20T00:00:00+01:00"  # the start of 20 May in England (BST)


# --- every ULN of the learner is in the signed subject


def test_a_merged_learners_credential_lists_every_uln_master_first() -> None:
    document = _credential(LIVE, achievement(), ulns=(OTHER_MERGED_ULN, ULN, MERGED_ULN))

    schema_validator().validate(document)
    subject = document["credentialSubject"]
    assert subject["id"] == f"https://lrs.example/v1/learners/{ULN}"
    assert subject["identifier"] == [
        {"type": "IdentityObject", "identityHash": uln, "identityType": "identifier", "hashed": False}
        for uln in (ULN, OTHER_MERGED_ULN, MERGED_ULN)
    ]


def test_a_learner_of_one_uln_is_listed_by_it() -> None:
    document = _credential(LIVE, achievement())

    schema_validator().validate(document)
    assert [item["identityHash"] for item in document["credentialSubject"]["identifier"]] == [ULN]


def test_the_schema_checks_the_identity_objects() -> None:
    document = _credential(LIVE, achievement(), ulns=(ULN, MERGED_ULN))
    for broken in (
        {"type": "IdentityObject", "identityHash": MERGED_ULN, "identityType": "identifier"},  # no `hashed`
        {"type": "IdentityObject", "identityHash": MERGED_ULN, "identityType": "uln", "hashed": False},
        {"type": "Identity", "identityHash": MERGED_ULN, "identityType": "identifier", "hashed": False},
    ):
        changed = json.loads(json.dumps(document))
        changed["credentialSubject"]["identifier"][1] = broken
        assert not schema_validator().is_valid(changed), broken
