"""Sample batch files an awarding organisation would submit, in CSV, XML and JSON.

Run from anywhere: `.venv/bin/python samples/generate.py` writes, beside this script,
- `sample-100.{csv,xml,json}`: 100 valid Create records of one AO, Final, ordered by ULN;
- `rules-showcase.{csv,xml,json}`: one record per rule outcome, for a Final batch submitted after
  sample-100; each record's MIS identifier ends with the outcome it should get (`:RV004`, `:no-op`);
- `rules-showcase-provisional.{csv,xml,json}`: the outcomes only a Provisional batch can show, for
  after rules-showcase;
- `README.md`: the list of expected outcomes.
`--check` also runs the three batches in that order through the batch decider and compares every
record's outcome with the expected one (exit status 1 on any difference).

The output is deterministic: a fixed seed, the shipped catalogue and the learners in `reference/`. The AO is Pearson
(RN9093), which awards every qualification the samples use except the one that shows RV022.
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from lrs_contracts.batch import BatchFormat, BatchHeader, JobType, SubmittedRecord
from lrs_contracts.outcomes import RecordOutcome, RecordStatus
from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain import reference_files
from lrs_domain.achievements import AchievementState
from lrs_domain.decision import SubmittedBatch, decide_batch
from lrs_domain.formats import ParsedBatch, parse_batch, write_batch
from lrs_domain.grades import FAILED_QCF_GRADES
from lrs_domain.identifiers import display_qan, normalise_qan, qan_check_character
from lrs_domain.reference import AwardingOrganisation, Catalogue, Learner, Qualification, ReferenceSnapshot
from lrs_domain.reference_data import (
    load_awarding_organisations,
    load_extra_qualifications,
    load_learners,
    load_ofqual_catalogue,
)

SAMPLES = Path(__file__).resolve().parent
REFERENCE = SAMPLES.parent / "reference"
SEED = 20240822

AO_ID = "RN9093"
NOTIFICATION_EMAIL = "lrs-results@pearson.example"
RESULTS_ISSUED = "2024-08-22"
CENTRE_UKPRNS = ("10001234", "10004567", "10007890", "10012345", "10023456")
# Extra reference rows of the sample AO, so the samples cover NQF, QCF, pathways and units.
EXTRA_QUALIFICATIONS = ("1005005X", "10050061", "50000020", "F/601/0001")
RQF_TYPES_WANTED = {
    "GCSE (9 to 1)": 2,
    "GCE A Level": 2,
    "GCE AS Level": 1,
    "Vocationally-Related Qualification": 3,
    "Functional Skills": 1,
}
QCF_UNIT = "F/601/0001"
OTHER_AOS_QUALIFICATION = "10050012"  # AQA GCSE in Mathematics (A* to G)


@dataclass(frozen=True)
class Reference:
    awarding_organisations: tuple[AwardingOrganisation, ...]
    qualifications: tuple[Qualification, ...]
    learners: tuple[Learner, ...]

    def snapshot(self) -> ReferenceSnapshot:
        return ReferenceSnapshot(
            catalogue=Catalogue.of(self.qualifications),
            awarding_organisations={ao.ao_id: ao for ao in self.awarding_organisations},
            learners={learner.uln: learner for learner in self.learners},
        )

    def qualification(self, number: str, pathway: str | None = None) -> Qualification:
        return next(
            row
            for row in self.qualifications
            if row.qualification_number == number and (pathway is None or row.pathway == pathway)
        )

    def qualification_of(self, record: SubmittedRecord) -> Qualification:
        return self.qualification(normalise_qan(record.qualification_number or "") or "", record.pathway)


@dataclass(frozen=True)
class Expected:
    """A showcase record, the outcome it should get (codes joined by '+', 'accepted' or 'no-op') and
    what it does (empty for padding)."""

    outcome: str
    record: SubmittedRecord
    why: str = ""


def load_reference(folder: Path) -> Reference:
    """The shipped catalogue (lrs_domain.reference_files) and the sample learners in `folder`."""
    awarding_organisations = load_awarding_organisations(
        reference_files.read_reference_file(reference_files.AWARDING_ORGANISATIONS)
    )
    ofqual = load_ofqual_catalogue(
        reference_files.read_reference_file(reference_files.OFQUAL_SNAPSHOT),
        {ao.name: ao.ao_id for ao in awarding_organisations},
    )
    extra = load_extra_qualifications(reference_files.read_reference_file(reference_files.EXTRA_QUALIFICATIONS))
    learners = load_learners(_read(folder / "sample-learners.csv"), date.today())
    return Reference(awarding_organisations, (*ofqual, *extra), learners)


def _read(path: Path) -> str:
    if not path.exists():
        sys.exit(f"missing reference file {path}: the samples are generated from reference/")
    return path.read_text(encoding="utf-8-sig")


# --- building records ----------------------------------------------------------------------------


class RecordFactory:
    """Valid records of the sample AO, each for a (learner, qualification) pair not used before."""

    def __init__(self, reference: Reference, rng: random.Random) -> None:
        self._rng = rng
        self._learners = [learner for learner in reference.learners if learner.master_uln is None]
        self.qualifications = _sample_qualifications(reference, rng)
        self._used: set[tuple[str, str]] = set()

    def create(
        self, qualifications: Sequence[Qualification] | None = None, learners: Sequence[Learner] | None = None
    ) -> SubmittedRecord:
        qualification_choices = qualifications or self.qualifications
        learner_choices = learners or self._learners
        while True:
            learner = self._rng.choice(learner_choices)
            qualification = self._rng.choice(qualification_choices)
            pair = (learner.uln, qualification.qualification_number)
            if pair not in self._used:
                self._used.add(pair)
                return self._record(learner, qualification)

    def lowest_uln_learner(self) -> Learner:
        return min(self._learners, key=lambda learner: learner.uln)

    def _record(self, learner: Learner, qualification: Qualification) -> SubmittedRecord:
        rng = self._rng
        return SubmittedRecord(
            line=1,
            action="Create",
            uln=learner.uln,
            given_name=learner.given_name,
            family_name=learner.family_name,
            date_of_birth=learner.date_of_birth.isoformat() if learner.date_of_birth else None,
            gender=str(learner.gender),
            qualification_number=_written_qan(qualification),
            pathway=qualification.pathway,
            award_date=_award_date(qualification.framework, rng, learner.date_of_birth).isoformat(),
            grade=rng.choice(passing_grades(qualification)),
            centre_ukprn=rng.choice(CENTRE_UKPRNS),
            language_for_assessment=rng.choices(("English", "Welsh", None), weights=(85, 10, 5))[0],
            credits=str(rng.randint(3, 6) if qualification.kind is QualificationKind.UNIT else rng.randint(13, 37))
            if qualification.framework is Framework.QCF
            else None,
        )


def _sample_qualifications(reference: Reference, rng: random.Random) -> tuple[Qualification, ...]:
    rqf = sorted(
        (row for row in reference.qualifications if row.awarding_organisation_id == AO_ID),
        key=lambda row: row.qualification_number,
    )
    chosen: list[Qualification] = []
    for qualification_type, count in RQF_TYPES_WANTED.items():
        of_type = [
            row for row in rqf if row.qualification_type == qualification_type and row.framework is Framework.RQF
        ]
        chosen += rng.sample(of_type, count)
    chosen += [row for row in reference.qualifications if row.qualification_number in EXTRA_QUALIFICATIONS]
    return tuple(chosen)


def passing_grades(qualification: Qualification) -> tuple[str, ...]:
    return tuple(grade for grade in qualification.grade_set if grade not in FAILED_QCF_GRADES)


def _written_qan(qualification: Qualification) -> str:
    if qualification.kind is QualificationKind.UNIT:
        return qualification.qualification_number
    return display_qan(qualification.qualification_number)


def _award_date(framework: Framework, rng: random.Random, born: date | None = None) -> date:
    """A day in the framework's years, not before the learner was born (WV006, decision 0199): the same draw, moved
    as far after the birthday as it was after the first day."""
    first, last = {
        Framework.NQF: (date(2007, 1, 1), date(2010, 8, 31)),
        Framework.QCF: (date(2011, 1, 1), date(2015, 8, 31)),
        Framework.RQF: (date(2017, 1, 1), date(2024, 8, 22)),
    }[framework]
    day = first + timedelta(days=rng.randrange((last - first).days + 1))
    if born is not None and day < born:
        day = min(last, born + (day - first))
    return day


def changed(record: SubmittedRecord, **changes: str | int | None) -> SubmittedRecord:
    return record.model_copy(update=changes)


def _numbered(records: Iterable[SubmittedRecord], prefix: str) -> list[SubmittedRecord]:
    return [
        changed(record, line=position, mis_identifier=f"{prefix}-{position:04d}")
        for position, record in enumerate(records, start=1)
    ]


def _by_uln(records: Iterable[SubmittedRecord]) -> list[SubmittedRecord]:
    return sorted(records, key=lambda record: record.uln or "")


def _header(job_type: JobType, batch_reference: str) -> BatchHeader:
    return BatchHeader(
        file_version="1.0",
        awarding_organisation=AO_ID,
        job_type=job_type,
        notification_email=NOTIFICATION_EMAIL,
        batch_reference=batch_reference,
        results_issued_date=RESULTS_ISSUED,
    )


# --- the three batches ---------------------------------------------------------------------------


def sample_100(factory: RecordFactory) -> ParsedBatch:
    records = _numbered(_by_uln(factory.create() for _ in range(100)), "PE-2024")
    return ParsedBatch(_header(JobType.FINAL, "SAMPLE-100"), tuple(records), BatchFormat.JSON)


def rules_showcase(reference: Reference, factory: RecordFactory, sample: ParsedBatch) -> list[Expected]:
    """A Final batch for after sample-100: every outcome a Final batch can show, one record each,
    padded with valid records so that fewer than 30% are rejected (no RS005)."""
    targets = _targets(reference, sample)

    def fresh(**changes: str | None) -> SubmittedRecord:
        return changed(factory.create(), **changes)

    qualifications = factory.qualifications
    not_units = [row for row in qualifications if row.kind is QualificationKind.QUALIFICATION]
    vocational = [row for row in qualifications if "Merit" in row.grade_set and "A*" not in row.grade_set]
    compact = factory.create(not_units)
    duplicate = fresh()
    regraded = _another_grade(reference, targets.regraded)
    showcase = [
        *(Expected("accepted", fresh()) for _ in range(50)),
        Expected(
            "accepted",
            changed(compact, qualification_number=normalise_qan(compact.qualification_number or "")),
            "QAN written in its 8-character form",
        ),
        Expected("no-op", targets.identical, "identical resubmission of a sample-100 record"),
        Expected(
            "accepted",
            changed(targets.regraded, action="Update", grade=regraded),
            "Update of a sample-100 achievement: another grade",
        ),
        Expected("accepted", _withdrawal(targets.withdrawn_first), "Withdraw of a sample-100 achievement"),
        Expected("accepted", _withdrawal(targets.withdrawn_second), "Withdraw of a sample-100 achievement"),
        Expected("RV001", fresh(uln="012345678"), "ULN of 9 digits with a leading zero"),
        Expected("RV002", fresh(uln="1000000042"), "ULN check digit wrong"),
        Expected("RV003", fresh(uln="9999999999"), "the temporary ULN"),
        Expected("RV004", fresh(given_name="Nobody"), "given name not the registered one"),
        Expected(
            "RV005",
            fresh(qualification_number=_unknown_well_formed_qan(reference), pathway=None),
            "well-formed QAN not in the catalogue",
        ),
        Expected("RV006", fresh(qualification_number="60/1234/5", pathway=None), "badly formed QAN"),
        Expected("RV007", fresh(award_date="2005-08-31"), "award date before 2006-09-01"),
        Expected("RV008", fresh(award_date="2023-02-30"), "award date 30 February"),
        Expected("RV009", changed(factory.create(vocational), grade="A*"), "A* for a vocational qualification"),
        Expected(
            "RV010", changed(factory.create([reference.qualification(QCF_UNIT)]), grade="Fail"), "failed QCF unit"
        ),
        Expected("RV012", fresh(action="Update"), "Update of an achievement that does not exist"),
        Expected(
            "RV013",
            changed(targets.redated, action="Update", award_date=_day_after(targets.redated)),
            "Update moving a sample-100 award date by a day",
        ),
        Expected(
            "RV014",
            changed(targets.conflicting, grade=_another_grade(reference, targets.conflicting)),
            "Create of a sample-100 achievement with another grade",
        ),
        Expected(
            "RV015", changed(targets.reinstated_live, action="Reinstate"), "Reinstate of a live sample-100 achievement"
        ),
        Expected("RV018", fresh(centre_ukprn="1234"), "UKPRN of 4 digits"),
        Expected("RV019", fresh(language_for_assessment="French"), "language French"),
        Expected("accepted", duplicate, "first of two identical records"),
        Expected("RV020", duplicate, "second of two identical records"),
        Expected("RV021", fresh(grade=None), "Create without a grade"),
        Expected("RV022", factory.create([reference.qualification(OTHER_AOS_QUALIFICATION)]), "a qualification of AQA"),
        Expected(
            "WV001",
            factory.create([_qualification_failing_its_check_character(reference)]),
            "a real QAN whose check character does not match (accepted)",
        ),
    ]
    ordered = sorted(showcase, key=lambda expected: expected.record.uln or "")
    out_of_order = factory.create(not_units, learners=[factory.lowest_uln_learner()])
    return _tagged([*ordered, Expected("WV002", out_of_order, "the lowest ULN after the highest (accepted)")], "SHOW")


def rules_showcase_provisional(reference: Reference, factory: RecordFactory, sample: ParsedBatch) -> list[Expected]:
    """A Provisional batch for after rules-showcase: RV011, RV017 and RV016, and a reinstatement."""
    targets = _targets(reference, sample)
    not_qcf = [row for row in factory.qualifications if row.framework is not Framework.QCF]
    showcase = [
        *(Expected("accepted", factory.create(not_qcf)) for _ in range(10)),
        Expected("RV011", factory.create([reference.qualification(QCF_UNIT)]), "a Provisional QCF unit"),
        Expected("RV017", targets.provisional_after_final, "a Provisional copy of a Final sample-100 result"),
        Expected(
            "RV017+RV016",
            changed(targets.withdrawn_first, action="Update", grade=_another_grade(reference, targets.withdrawn_first)),
            "Provisional Update of the first achievement rules-showcase withdrew",
        ),
        Expected(
            "accepted",
            changed(_withdrawal(targets.withdrawn_second), action="Reinstate"),
            "Reinstate of the second achievement rules-showcase withdrew",
        ),
    ]
    return _tagged(sorted(showcase, key=lambda expected: expected.record.uln or ""), "PROV")


@dataclass(frozen=True)
class _Targets:
    """Records of sample-100 that the showcases address again."""

    identical: SubmittedRecord
    regraded: SubmittedRecord
    withdrawn_first: SubmittedRecord
    withdrawn_second: SubmittedRecord
    redated: SubmittedRecord
    conflicting: SubmittedRecord
    reinstated_live: SubmittedRecord
    provisional_after_final: SubmittedRecord


def _targets(reference: Reference, sample: ParsedBatch) -> _Targets:
    # Records whose grade can change, and no QCF record: a Provisional batch refuses QCF outright.
    usable = [
        changed(record, mis_identifier=None)
        for record in sample.records
        if reference.qualification_of(record).framework is not Framework.QCF
        and len(passing_grades(reference.qualification_of(record))) > 1
    ]
    return _Targets(*usable[:8])


def _withdrawal(record: SubmittedRecord) -> SubmittedRecord:
    return changed(record, action="Withdraw", grade=None, centre_ukprn=None, language_for_assessment=None)


def _another_grade(reference: Reference, record: SubmittedRecord) -> str:
    return next(grade for grade in passing_grades(reference.qualification_of(record)) if grade != record.grade)


def _day_after(record: SubmittedRecord) -> str:
    return (date.fromisoformat(record.award_date or "") + timedelta(days=1)).isoformat()


def _unknown_well_formed_qan(reference: Reference) -> str:
    known = {row.qualification_number for row in reference.qualifications}
    candidates = (f"603{block:04d}" for block in range(9999, 0, -1))
    return display_qan(
        next(qan for qan in (seven + qan_check_character(seven) for seven in candidates) if qan not in known)
    )


def _qualification_failing_its_check_character(reference: Reference) -> Qualification:
    return next(
        row
        for row in reference.qualifications
        if row.awarding_organisation_id == AO_ID
        and row.kind is QualificationKind.QUALIFICATION
        and qan_check_character(row.qualification_number[:7]) != row.qualification_number[7]
    )


def _tagged(showcase: Sequence[Expected], prefix: str) -> list[Expected]:
    return [
        Expected(
            expected.outcome,
            changed(expected.record, line=position, mis_identifier=f"{prefix}-{position:03d}:{expected.outcome}"),
            expected.why,
        )
        for position, expected in enumerate(showcase, start=1)
    ]


# --- writing and checking ------------------------------------------------------------------------


def write_all(name: str, batch: ParsedBatch) -> None:
    for fmt in BatchFormat:
        content = write_batch(batch, fmt)
        reread = parse_batch(content, fmt)
        if [record.model_dump(exclude={"line"}) for record in reread.records] != [
            record.model_dump(exclude={"line"}) for record in batch.records
        ]:
            sys.exit(f"{name}.{fmt.value} does not read back as written")
        (SAMPLES / f"{name}.{fmt.value}").write_bytes(content)


def write_readme(showcase: Sequence[Expected], provisional: Sequence[Expected]) -> None:
    def table(expectations: Sequence[Expected]) -> list[str]:
        rows = [
            "| line (XML/JSON) | MIS identifier | action | expected outcome | what the record does |",
            "|---|---|---|---|---|",
        ]
        rows += [
            f"| {item.record.line} | {item.record.mis_identifier} | {item.record.action} | {item.outcome} | {item.why} |"
            for item in expectations
            if item.why
        ]
        return rows

    def padding(expectations: Sequence[Expected]) -> int:
        return sum(1 for item in expectations if not item.why)

    lines = [
        "# Sample batches",
        "",
        "Generated by `.venv/bin/python samples/generate.py` (deterministic); do not edit by hand.",
        "`--check` runs them through the batch decider in the order below and compares the outcomes.",
        "The schema of the XML files is `libs/domain/src/lrs_domain/formats/achievement-batch.xsd`.",
        "",
        "| files | what | submit |",
        "|---|---|---|",
        f"| `sample-100.{{csv,xml,json}}` | 100 valid Create records of {AO_ID}, Final, ordered by ULN | first |",
        "| `rules-showcase.{csv,xml,json}` | one record per outcome a Final batch can show | second |",
        "| `rules-showcase-provisional.{csv,xml,json}` | RV011, RV016, RV017 and a reinstatement | third |",
        "",
        "The three formats of one batch hold the same records; a record's line is its position in XML and",
        "JSON and its row (position + 3) in CSV. Each showcase record's MIS identifier ends with the outcome",
        "it should get. `accepted` records pad the showcases so that fewer than 30% are rejected (RS005).",
        "Not shown: RS001-RS007 (batch-level: see the unit tests in `libs/domain/tests/unit/formats`),",
        "RS005, and RV016 on its own (it needs a Final batch updating a withdrawn achievement).",
        "",
        f"## rules-showcase ({len(showcase)} records, of which {padding(showcase)} accepted Creates are not listed)",
        "",
        *table(showcase),
        "",
        f"## rules-showcase-provisional ({len(provisional)} records, of which {padding(provisional)} accepted Creates are not listed)",
        "",
        *table(provisional),
        "",
    ]
    (SAMPLES / "README.md").write_text("\n".join(lines), encoding="utf-8")


def actual_outcome(outcome: RecordOutcome) -> str:
    if outcome.errors:
        return "+".join(finding.code for finding in outcome.errors)
    if outcome.warnings:
        return "+".join(finding.code for finding in outcome.warnings)
    return "no-op" if outcome.status is RecordStatus.NO_OP else "accepted"


def check(reference: Reference, batches: Sequence[tuple[str, ParsedBatch, Sequence[Expected] | None]]) -> bool:
    snapshot = reference.snapshot()
    states: dict[uuid.UUID, AchievementState] = {}
    all_as_expected = True
    for name, batch, expectations in batches:
        existing: dict[tuple[str, str], list[AchievementState]] = {}
        for state in states.values():
            existing.setdefault((state.key.uln, state.key.qualification_number), []).append(state)
        submitted = parse_batch((SAMPLES / f"{name}.csv").read_bytes(), BatchFormat.CSV)
        decision = decide_batch(
            SubmittedBatch(uuid.uuid4(), AO_ID, submitted.header, submitted.records, datetime.now(UTC)),
            snapshot,
            existing,
            date.today(),
        )
        states.update({state.achievement_id: state for state in decision.new_states})
        expected = [item.outcome for item in expectations] if expectations else ["accepted"] * len(batch.records)
        differences = [
            (outcome, wanted)
            for outcome, wanted in zip(decision.outcomes, expected, strict=True)
            if actual_outcome(outcome) != wanted
        ]
        print(f"{name}: {decision.counts.model_dump()} failure={decision.failure}")
        for outcome, wanted in differences:
            print(f"  line {outcome.line} {outcome.mis_identifier}: expected {wanted}, got {actual_outcome(outcome)}")
            for finding in outcome.errors + outcome.warnings:
                print(f"    {finding.code} {finding.message}")
        all_as_expected &= not differences and decision.failure is None
    return all_as_expected


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="run the samples through the batch decider")
    arguments = parser.parse_args(argv)

    reference = load_reference(REFERENCE)
    factory = RecordFactory(reference, random.Random(SEED))
    sample = sample_100(factory)
    showcase = rules_showcase(reference, factory, sample)
    provisional = rules_showcase_provisional(reference, factory, sample)
    showcase_batch = ParsedBatch(
        _header(JobType.FINAL, "RULES-SHOWCASE"), tuple(item.record for item in showcase), BatchFormat.JSON
    )
    provisional_batch = ParsedBatch(
        _header(JobType.PROVISIONAL, "RULES-SHOWCASE-PROVISIONAL"),
        tuple(item.record for item in provisional),
        BatchFormat.JSON,
    )
    write_all("sample-100", sample)
    write_all("rules-showcase", showcase_batch)
    write_all("rules-showcase-provisional", provisional_batch)
    write_readme(showcase, provisional)
    if arguments.check:
        batches = [
            ("sample-100", sample, None),
            ("rules-showcase", showcase_batch, showcase),
            ("rules-showcase-provisional", provisional_batch, provisional),
        ]
        return 0 if check(reference, batches) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
