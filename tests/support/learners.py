"""Random, valid test learners and JSON batches, so tests never collide on shared infrastructure."""

from __future__ import annotations

import random
from typing import Any

from lrs_domain.identifiers import is_valid_uln

_rng = random.SystemRandom()


_issued_ulns: set[str] = set()


def random_uln() -> str:
    """A valid ULN never handed out before in this process: 10,000 random ULNs collide often enough
    (about one run in two) to turn a Create into a duplicate and fail a test by chance."""
    while True:
        candidate = str(_rng.randint(1_000_000_000, 9_999_999_998))
        if is_valid_uln(candidate) and candidate not in _issued_ulns:
            _issued_ulns.add(candidate)
            return candidate


def corrupt_check_digit(uln: str) -> str:
    return uln[:-1] + str((int(uln[-1]) + 1) % 10)


def learners_csv(learners: list[dict[str, str]]) -> str:
    rows = ["ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN"]
    for learner in learners:
        rows.append(
            ",".join(
                [
                    learner["uln"],
                    learner["given_name"],
                    learner["family_name"],
                    learner.get("date_of_birth", ""),
                    learner.get("gender", "0"),
                    learner.get("ability_to_share", "1"),
                    learner.get("master_uln", ""),
                ]
            )
        )
    return "\n".join(rows) + "\n"


def new_learner(**details: str) -> dict[str, str]:
    """A learner with a new ULN and random details, or the `details` given (given_name, family_name, ...)."""
    return {
        "uln": random_uln(),
        "given_name": _rng.choice(["Amira", "Ben", "Chloe", "Dev", "Eve", "Finn"]),
        "family_name": _rng.choice(["Khan", "Jones", "Smith", "Patel", "Evans", "Owen"]),
        "date_of_birth": f"{_rng.randint(1990, 2008)}-0{_rng.randint(1, 9)}-1{_rng.randint(0, 9)}",
        **details,
    }


def json_record(learner: dict[str, str], qualification_number: str, grade: str, **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "action": "Create",
        "misIdentifier": f"MIS-{learner['uln'][-4:]}-{_rng.randint(0, 99999)}",
        "uln": learner["uln"],
        "givenName": learner["given_name"],
        "familyName": learner["family_name"],
        "dateOfBirth": learner.get("date_of_birth"),
        "qualificationNumber": qualification_number,
        "awardDate": "2024-08-22",
        "grade": grade,
    }
    record.update(overrides)
    return record


def json_batch(ao_id: str, records: list[dict[str, Any]], job_type: str | None = "Final") -> dict[str, Any]:
    return {
        "header": {
            "fileVersion": "1.0",
            "awardingOrganisation": ao_id,
            "jobType": job_type,
            "notificationEmail": "results@example.org",
            "batchReference": f"REF-{_rng.randint(0, 10**9)}",
            "resultsIssuedDate": "2024-08-22",
        },
        "records": records,
    }
