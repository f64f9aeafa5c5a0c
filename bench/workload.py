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

import json
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_contracts.codes import MAX_BATCH_BYTES
from lrs_contracts.envelope import deterministic_id
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    Provenance,
    ResultStatus,
)
from lrs_contracts.reference import Framework
from lrs_contracts.registry import encode, wrap
from lrs_domain.achievements import achievement_id
from lrs_domain.formats import ParsedBatch, write_xml
from lrs_domain.grades import FAILED_QCF_GRADES
from lrs_domain.identifiers import display_qan, is_valid_uln
from lrs_domain.reference import Qualification, qualification_summary
from lrs_domain.reference_data import load_awarding_organisations, load_extra_qualifications, load_ofqual_catalogue
from lrs_domain.reference_files import AWARDING_ORGANISATIONS as AWARDING_ORGANISATIONS_FILE
from lrs_domain.reference_files import EXTRA_QUALIFICATIONS, OFQUAL_SNAPSHOT, read_reference_file

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
    organisations = load_awarding_organisations(read_reference_file(AWARDING_ORGANISATIONS_FILE))
    catalogue = (
        *load_ofqual_catalogue(read_reference_file(OFQUAL_SNAPSHOT), {o.name: o.ao_id for o in organisations}),
        *load_extra_qualifications(read_reference_file(EXTRA_QUALIFICATIONS)),
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


def ulns(count: int, rng: random.Random) -> list[str]:
    """`count` distinct valid ULNs (check digit per DOMAIN §2), sorted."""
    found: set[str] = set()
    while len(found) < count:
        digits = str(rng.randint(100_000_000, 999_999_999))
        remainder = sum(weight * int(d) for weight, d in zip(range(10, 1, -1), digits, strict=True)) % 11
        if remainder:
            found.add(f"{digits}{10 - remainder}")
    return sorted(uln for uln in found if is_valid_uln(uln))


def learners(count: int, seed: int = SEED, uln_salt: str = "") -> list[BenchLearner]:
    """`count` fictional learners sorted by ULN. Names, dates of birth and genders follow from `seed`
    alone; the ULNs from `seed` and `uln_salt`, so that two runs on one broker never share learners
    (the projector of a later run would find the earlier run's identical achievements on the log)."""
    rng = random.Random(seed)
    return [
        BenchLearner(
            uln=uln,
            given_name=rng.choice(GIVEN_NAMES),
            family_name=rng.choice(FAMILY_NAMES),
            date_of_birth=date(2000, 9, 1) + timedelta(days=rng.randrange(8 * 365)),
            gender=rng.choice((1, 2, 2, 1, 0, 9)),
        )
        for uln in ulns(count, random.Random(f"{seed}|{uln_salt}"))
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


@dataclass(frozen=True)
class ReplayEvent:
    """What varies between the replay log's events; `encoded()` is `encode(wrap(...))` of it."""

    batch_number: int
    batch_id: uuid.UUID
    line: int
    event_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str
    uln: str
    qualification: Qualification
    award_date: date
    grade: str
    ukprn: str

    @property
    def occurred_at(self) -> datetime:
        return REPLAY_DECIDED_AT + timedelta(minutes=self.batch_number)

    def encoded(self) -> bytes:
        """The reference encoding, through the contracts (slow: ~50 µs)."""
        event = AchievementRecorded(
            achievement_id=self.achievement_id,
            key=AchievementKey(
                ao_id=self.ao_id,
                uln=self.uln,
                qualification_number=self.qualification.qualification_number,
                award_date=self.award_date,
            ),
            data=AchievementData(grade=self.grade, ukprn=self.ukprn, language_for_assessment="English"),
            status=ResultStatus.FINAL,
            qualification=qualification_summary(self.qualification),
            provenance=Provenance(batch_id=self.batch_id, line=self.line),  # no MIS identifier, as the decider writes
        )
        envelope = wrap(
            event,
            source="validation",
            correlation_id=str(self.batch_id),
            causation_id=str(uuid.UUID(int=self.batch_number)),
            event_id=self.event_id,
            occurred_at=self.occurred_at,
        )
        return encode(envelope)


REPLAY_DECIDED_AT = datetime(2024, 8, 22, 8, 0, tzinfo=UTC)
_RECORDED = AchievementRecorded.model_fields["event_type"].default


class _FastEncoder:
    """The same bytes as `ReplayEvent.encoded()` from a string template (~5 µs), checked against it."""

    def __init__(self) -> None:
        self._summaries: dict[str, str] = {}

    def __call__(self, event: ReplayEvent) -> bytes:
        qualification = event.qualification
        summary = self._summaries.get(qualification.qualification_number)
        if summary is None:
            summary = qualification_summary(qualification).model_dump_json()
            self._summaries[qualification.qualification_number] = summary
        batch_id = str(event.batch_id)
        occurred = event.occurred_at.isoformat().replace("+00:00", "Z")
        return (
            f'{{"event_id":"{event.event_id}","event_type":"{_RECORDED}","occurred_at":"{occurred}",'
            f'"source":"validation","correlation_id":"{batch_id}",'
            f'"causation_id":"{uuid.UUID(int=event.batch_number)}","schema_version":1,'
            f'"data":{{"event_type":"{_RECORDED}","achievement_id":"{event.achievement_id}",'
            f'"key":{{"ao_id":"{event.ao_id}","uln":"{event.uln}",'
            f'"qualification_number":"{qualification.qualification_number}",'
            f'"award_date":"{event.award_date.isoformat()}"}},'
            f'"data":{{"pathway":null,"grade":{json.dumps(event.grade, ensure_ascii=False)},'
            f'"ukprn":"{event.ukprn}","language_for_assessment":"English","credits":null}},'
            f'"status":"F","qualification":{summary},'
            f'"provenance":{{"batch_id":"{batch_id}","line":{event.line},"mis_identifier":null}}}}}}'
        ).encode()


def replay_events(
    count: int, *, learners_count: int, seed: int = SEED, check_every: int = 10_000
) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of `count` AchievementRecorded events as validation publishes them: batches of
    10,000 lines of one AO, learners getting several achievements each. Every `check_every`-th event
    is also encoded through the contracts (`wrap`/`encode`) and must come out byte for byte the same."""
    rng = random.Random(f"{seed}|replay")
    people = ulns(learners_count, random.Random(f"{seed}|replay-learners"))
    grades = {ao_id: [(q, passing_grades(q)) for q in rows] for ao_id, rows in qualifications_by_ao().items()}
    fast = _FastEncoder()
    batch_ids = [deterministic_id("bench-replay", n) for n in range(count // 10_000 + 1)]
    for number in range(count):
        batch_number, line = divmod(number, 10_000)
        ao_id = AWARDING_ORGANISATIONS[batch_number % len(AWARDING_ORGANISATIONS)]
        qualification, passing = grades[ao_id][
            (batch_number // len(AWARDING_ORGANISATIONS) + line) % len(grades[ao_id])
        ]
        event_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        uln = people[rng.randrange(len(people))]
        award_date = _award_date(rng)
        event = ReplayEvent(
            batch_number=batch_number,
            batch_id=batch_ids[batch_number],
            line=line + 1,
            event_id=event_id,
            # as validation derives it: a key drawn twice is the same achievement, recorded again
            achievement_id=achievement_id(
                AchievementKey(
                    ao_id=ao_id, uln=uln, qualification_number=qualification.qualification_number, award_date=award_date
                )
            ),
            ao_id=ao_id,
            uln=uln,
            qualification=qualification,
            award_date=award_date,
            grade=rng.choice(passing),
            ukprn=rng.choice(CENTRE_UKPRNS),
        )
        value = fast(event)
        if number % check_every == 0 and value != event.encoded():
            raise AssertionError(f"fast encoding differs from the contracts' for {event}")
        yield event.uln.encode(), value
