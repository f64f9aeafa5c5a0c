"""What the credential tests share: a learner's achievement row as the read model gives it, the learner's ULN, and a
validator of the CLR subset schema (docs/credentials)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import jsonschema

from plr_projector.projection import AchievementRow

SCHEMA = json.loads(
    (Path(__file__).parents[4] / "docs" / "credentials" / "clr-v2p0-clrcredential.subset.schema.json").read_text()
)
ULN = "1000000043"
FORMATS = jsonschema.FormatChecker()


def schema_validator() -> jsonschema.Draft201909Validator:
    """Draft 2019-09 only annotates `format`; given a checker it asserts the formats the checker knows."""
    return jsonschema.Draft201909Validator(SCHEMA, format_checker=FORMATS)


def achievement(
    qan: str = "6001166X",
    *,
    ao: str = "RN5133",
    ao_name: str = "AQA",
    grade: str = "7",
    status: str = "F",
    withdrawn: bool = False,
    award: date = date(2024, 5, 20),
    credits: int | None = None,
    pathway: str | None = None,
) -> AchievementRow:
    moment = datetime(2024, 6, 1, tzinfo=UTC)
    return AchievementRow(
        uln=ULN,
        ao_id=ao,
        qualification_number=qan,
        award_date=award,
        achievement_id=uuid.uuid5(uuid.NAMESPACE_OID, ao + qan + award.isoformat()),
        status=status,
        withdrawn=withdrawn,
        version=1,
        pathway=pathway,
        grade=grade,
        ukprn="10000001",
        language_for_assessment=None,
        credits=credits,
        title=f"Qualification {qan}",
        qualification_type="GCSE (9 to 1)",
        level="2",
        framework="RQF",
        kind="qualification",
        awarding_organisation_name=ao_name,
        date_loaded=moment,
        last_changed_at=moment,
    )
