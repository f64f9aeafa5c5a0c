"""The benchmark's workload, deterministic from one seed and the shipped reference data.

- Learners: fictional, valid ULNs, registered before anything is measured.
- Batches: Final XML batches of real qualifications (GCSE (9 to 1) and Vocationally-Related
  Qualifications) of five awarding organisations, every record a Create of an achievement not seen
  before in the run, all optional fields filled, about 600 bytes a record (10,000 records ≈ 6 MB),
  and 3% of the records rejected for reasons AOs really get wrong (unregistered spelling of a name,
  a grade from another grade scale, a mistyped ULN check digit).
- Replay log: `AchievementRecorded` events as validation publishes them (deterministic ids, one
  batch's provenance per 10,000 events), for the rebuild benchmark.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_contracts.codes import MAX_BATCH_BYTES
from lrs_contracts.envelope import deterministic_id
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.reference import Framework
from lrs_contracts.registry import encode, wrap
from lrs_domain.formats import ParsedBatch, write_xml
from lrs_domain.grades import FAILED_QCF_GRADES
from lrs_domain.identifiers import display_qan, is_valid_uln
from lrs_domain.reference import Qualification
from lrs_domain.reference_data import load_awarding_organisations, load_extra_qualifications, load_ofqual_catalogue

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
SEED = 20240822
QUALIFICATION_TYPES = ("GCSE (9 to 1)", "Vocationally-Related Qualification")
# Pearson first: the latency batches are Pearson's. Each awards dozens of GCSEs and/or VRQs.
AWARDING_ORGANISATIONS = ("RN9093", "RN9037", "RN9008", "RN9088", "RN9123")
REJECTED_SHARE = 0.03
CENTRE_UKPRNS = tuple(f"1000{n:04d}" for n in range(1234, 1234 + 40 * 97, 97))
GIVEN_NAMES = (
    "Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Arthur", "Ivy", "Leo", "Freya", "Oscar",
    "Lily", "Harry", "Sophia", "Muhammad", "Grace", "Jack", "Evie", "Charlie", "Aisha", "Dylan", "Seren",
    "Rhys", "Niamh", "Cian", "Priya", "Tomasz", "Zara", "Kwame",
)  # fmt: skip
FAMILY_NAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
    "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
    "Lewis", "Harris", "Clarke", "Patel", "Khan", "Jackson", "Wood", "Turner", "Martin", "Cooper",
    "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "O'Brien",
    "Nowak", "Okafor", "Begum", "Ahmed", "MacDonald", "Llewellyn", "Fitzgerald",
)  # fmt: skip


@dataclass(frozen=True)
class BenchLearner:
    uln: str
    given_name: str
    family_name: str
    date_of_birth: date
    gender: int


@dataclass(frozen=True)
class BenchBatch:
    """One batch file and what the benchmark expects of it."""

    ao_id: str
    reference: str
    content: bytes
    records: int
    rejected: int
    accepted_ulns: tuple[str, ...]
    # (ULN, normalised QAN, award date) of a few accepted records, to check on the PLR afterwards
    probes: tuple[tuple[str, str, str], ...]


@cache
def qualifications_by_ao() -> dict[str, tuple[Qualification, ...]]:
    """Each benchmark AO's RQF GCSEs and VRQs (no pathways), in a stable order."""
    read = lambda name: (REFERENCE / name).read_text(encoding="utf-8-sig")  # noqa: E731
    organisations = load_awarding_organisations(read("awarding-organisations.csv"))
    catalogue = (
        *load_ofqual_catalogue(
            read("ofqual-approved-qualifications-2025-02-18.csv"), {o.name: o.ao_id for o in organisations}
        ),
        *load_extra_qualifications(read("extra-qualifications.csv")),
    )
    chosen: dict[str, tuple[Qualification, ...]] = {}
    for ao_id in AWARDING_ORGANISATIONS:
        rows = [
            row
            for row in catalogue
            if row.awarding_organisation_id == ao_id
            and row.framework is Framework.RQF
            and row.qualification_type in QUALIFICATION_TYPES
            and not row.pathway
        ]
        chosen[ao_id] = tuple(sorted(rows, key=lambda row: row.qualification_number))
    return chosen


def learners(count: int, seed: int = SEED) -> list[BenchLearner]:
    """`count` fictional learners with distinct valid ULNs, sorted by ULN."""
    rng = random.Random(seed)
    ulns: set[str] = set()
    while len(ulns) < count:
        candidate = str(rng.randint(1_000_000_000, 9_999_999_998))
        if is_valid_uln(candidate):
            ulns.add(candidate)
    return [
        BenchLearner(
            uln=uln,
            given_name=rng.choice(GIVEN_NAMES),
            family_name=rng.choice(FAMILY_NAMES),
            date_of_birth=date(2000, 9, 1) + timedelta(days=rng.randrange(8 * 365)),
            gender=rng.choice((1, 2, 2, 1, 0, 9)),
        )
        for uln in sorted(ulns)
    ]


def learners_csv(people: Sequence[BenchLearner]) -> str:
    rows = ["ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN"]
    rows += [f"{p.uln},{p.given_name},{p.family_name},{p.date_of_birth.isoformat()},{p.gender},1," for p in people]
    return "\n".join(rows) + "\n"


def passing_grades(qualification: Qualification) -> tuple[str, ...]:
    grades = tuple(grade for grade in qualification.grade_set if grade not in FAILED_QCF_GRADES)
    # GCSE results days see mostly 4-7; keep U and X out of the accepted records.
    return tuple(grade for grade in grades if grade not in ("U", "X")) or grades


def _award_date(rng: random.Random) -> date:
    """A results day (late August) or a vocational certification date, 2017-2024."""
    year = rng.randint(2017, 2024)
    if rng.random() < 0.5:
        return date(year, 8, rng.randint(17, 24))
    return date(year, 1, 10) + timedelta(days=rng.randrange(330))


def _mis_identifier(
    ao_id: str, ukprn: str, sequence: int, uln: str, qualification_number: str, rng: random.Random
) -> str:
    """AO MIS identifiers are long composite keys: session, centre, candidate, entry, registration."""
    session = rng.choice(("SUMMER", "WINTER", "NOVEMBER", "JANUARY", "ONDEMAND"))
    candidate = rng.randint(1, 9999)
    return (
        f"{ao_id}/{session}/CENTRE-{ukprn}/CANDIDATE-{candidate:04d}/ENTRY-{qualification_number}"
        f"/REGISTRATION-{uln[-6:]}{sequence:07d}/RESULT-{rng.getrandbits(40):010x}"
    )


def _corrupt_check_digit(uln: str) -> str:
    return uln[:-1] + str((int(uln[-1]) + 1) % 10)


def _rejected(record: SubmittedRecord, qualification: Qualification, kind: int) -> SubmittedRecord:
    """A realistic mistake: RV004 (name spelt otherwise), RV009 (grade of another scale), RV002."""
    if kind == 0:
        return record.model_copy(update={"family_name": (record.family_name or "") + "e"})
    if kind == 1:
        wrong = "B" if "9" in qualification.grade_set else "7"
        return record.model_copy(update={"grade": wrong})
    return record.model_copy(update={"uln": _corrupt_check_digit(record.uln or "")})


def build_batch(
    ao_id: str,
    sequence: int,
    people: Sequence[BenchLearner],
    *,
    rejected_share: float = REJECTED_SHARE,
    seed: int = SEED,
    probes: int = 20,
) -> BenchBatch:
    """The `sequence`-th batch of `ao_id` in the run, one record per learner in `people`.

    The qualification of learner i in batch k is the (i + k)-th of the AO's list, so no (AO, ULN,
    QAN) repeats while k is below the list's length: every accepted record is a new achievement."""
    qualifications = qualifications_by_ao()[ao_id]
    rng = random.Random(f"{seed}|{ao_id}|{sequence}")
    count = len(people)
    rejected_lines = set(rng.sample(range(count), round(count * rejected_share)))
    records: list[SubmittedRecord] = []
    accepted: list[str] = []
    probe_rows: list[tuple[str, str, str]] = []
    for index, person in enumerate(sorted(people, key=lambda p: p.uln)):
        qualification = qualifications[(index * 7 + sequence) % len(qualifications)]
        ukprn = rng.choice(CENTRE_UKPRNS)
        award = _award_date(rng)
        record = SubmittedRecord(
            line=index + 1,
            action="Create",
            mis_identifier=_mis_identifier(ao_id, ukprn, index, person.uln, qualification.qualification_number, rng),
            uln=person.uln,
            given_name=person.given_name,
            family_name=person.family_name,
            date_of_birth=person.date_of_birth.isoformat(),
            gender=str(person.gender),
            qualification_number=display_qan(qualification.qualification_number),
            award_date=award.isoformat(),
            grade=rng.choice(passing_grades(qualification)),
            centre_ukprn=ukprn,
            language_for_assessment=rng.choices(("English", "Welsh", "Irish"), weights=(90, 9, 1))[0],
        )
        if index in rejected_lines:
            record = _rejected(record, qualification, index % 3)
        else:
            accepted.append(person.uln)
            if len(probe_rows) < probes and index % max(1, count // probes) == 0:
                probe_rows.append((person.uln, qualification.qualification_number, award.isoformat()))
        records.append(record)
    header = BatchHeader(
        file_version="1.0",
        awarding_organisation=ao_id,
        job_type=JobType.FINAL,
        notification_email=f"results-{ao_id.lower()}@awarding.example",
        batch_reference=f"BENCH-{ao_id}-{sequence:03d}",
        results_issued_date="2024-08-22",
    )
    content = write_xml(ParsedBatch(header, tuple(records), BatchFormat.XML))
    if len(content) > MAX_BATCH_BYTES:
        raise ValueError(f"batch of {len(content):,} bytes is over the {MAX_BATCH_BYTES:,}-byte limit")
    return BenchBatch(
        ao_id=ao_id,
        reference=header.batch_reference or "",
        content=content,
        records=count,
        rejected=len(rejected_lines),
        accepted_ulns=tuple(accepted),
        probes=tuple(probe_rows),
    )


# --- the replay log ------------------------------------------------------------------------------


def replay_events(count: int, *, learners_count: int, seed: int = SEED) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of `count` AchievementRecorded events, as validation would publish them: batches
    of 10,000 lines of one AO, each achievement new, learners getting several achievements each."""
    rng = random.Random(f"{seed}|replay")
    ulns = [learner.uln for learner in learners(learners_count, seed + 1)]
    summaries = {
        ao_id: [(q, _summary(q), passing_grades(q)) for q in rows] for ao_id, rows in qualifications_by_ao().items()
    }
    decided_at = datetime(2024, 8, 22, 8, 0, tzinfo=UTC)
    produced = 0
    batch_number = 0
    while produced < count:
        ao_id = AWARDING_ORGANISATIONS[batch_number % len(AWARDING_ORGANISATIONS)]
        batch_id = deterministic_id("bench-replay", batch_number)
        rows = summaries[ao_id]
        size = min(10_000, count - produced)
        start = rng.randrange(len(ulns))
        for line in range(1, size + 1):
            uln = ulns[(start + line * 7) % len(ulns)]
            qualification, summary, grades = rows[(batch_number // len(AWARDING_ORGANISATIONS) + line) % len(rows)]
            award = _award_date(rng)
            key = AchievementKey(
                ao_id=ao_id, uln=uln, qualification_number=qualification.qualification_number, award_date=award
            )
            event = AchievementRecorded(
                achievement_id=deterministic_id("achievement", ao_id, uln, qualification.qualification_number, award),
                key=key,
                data=AchievementData(
                    grade=rng.choice(grades), ukprn=rng.choice(CENTRE_UKPRNS), language_for_assessment="English"
                ),
                status=ResultStatus.FINAL,
                qualification=summary,
                provenance=Provenance(batch_id=batch_id, line=line, mis_identifier=f"BENCH-{batch_number}-{line}"),
            )
            envelope = wrap(
                event,
                source="validation",
                correlation_id=str(batch_id),
                causation_id=str(uuid.UUID(int=batch_number)),
                event_id=deterministic_id(batch_id, line, event.event_type),
                occurred_at=decided_at + timedelta(minutes=batch_number),
            )
            yield uln.encode(), encode(envelope)
        produced += size
        batch_number += 1


def _summary(qualification: Qualification) -> QualificationSummary:
    return QualificationSummary(
        title=qualification.title,
        qualification_type=qualification.qualification_type,
        level=qualification.level,
        framework=qualification.framework.value,
        kind=qualification.kind.value,
        awarding_organisation_name=qualification.awarding_organisation_name,
    )
