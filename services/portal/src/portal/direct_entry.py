"""Direct entry: one achievement typed into a form becomes a one-record batch, judged by the same rules.

Pure: form values in, a record, a batch and per-field messages out (but for the day in England a results-issued date
is judged on, read from the clock unless given).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from lrs_contracts.batch import JobType, RecordAction, SubmittedRecord
from lrs_contracts.outcomes import RecordOutcome
from lrs_contracts.text import day_first_date as day_written_first
from lrs_contracts.text import shown_on_one_line
from lrs_domain.direct_entry import direct_entry_reference, is_direct_entry_reference
from lrs_domain.formats import RECORD_FIELDS, BatchRefused, ParsedBatch, is_plausible_email
from lrs_domain.formats.errors import quoted
from lrs_domain.formats.limits import header_from
from lrs_domain.formats.values import value_fault
from lrs_domain.identifiers import normalise_qan
from lrs_domain.rules import parse_iso_date, why_not_a_date
from lrs_platform.clock import today_in_england
from portal.checking import one_record_batch

RECORD_ATTRIBUTES: tuple[str, ...] = tuple(field.attribute for field in RECORD_FIELDS)
HEADER_INPUTS = ("job_type", "notification_email", "results_issued_date")
# The order the form shows its fields in, so the error summary follows the page.
FORM_ORDER: tuple[str, ...] = (
    "action",
    "job_type",
    "uln",
    "given_name",
    "family_name",
    "date_of_birth",
    "gender",
    "qualification_number",
    "pathway",
    "award_date",
    "results_issued_date",
    "grade",
    "centre_ukprn",
    "language_for_assessment",
    "credits",
    "mis_identifier",
    "notification_email",
)
ACTIONS = tuple(action.value for action in RecordAction)
# What the direct-entry form takes filled in (`POST /direct-entry/prefilled`, or `GET /direct-entry?...`), beside
# the action.
PREFILLED: tuple[str, ...] = (
    "uln",
    "given_name",
    "family_name",
    "qualification_number",
    "pathway",
    "award_date",
    "grade",
    "centre_ukprn",
    "language_for_assessment",
    "credits",
)
JOB_TYPES = tuple(job_type.value for job_type in JobType)
# The form's date fields, as its messages name them.
DATE_FIELDS = {"date_of_birth": "Date of birth", "award_date": "Award date"}


def entry_reference(entry_id: str) -> str:
    """A direct entry's batch reference: how its batch's page (and its email) knows it was one achievement typed into
    the form (`lrs_domain.direct_entry`, which the notifier reads too)."""
    return direct_entry_reference(entry_id)


def is_direct_entry(batch: Mapping[str, Any]) -> bool:
    """Whether a batch (as ingest describes it) is a direct entry: a JSON batch under the reference the form
    gives, of one record."""
    reference = batch.get("batch_reference") or ""
    total = (batch.get("counts") or {}).get("total")
    return batch.get("format") == "json" and total in (None, 1) and is_direct_entry_reference(reference)


@dataclass(frozen=True)
class Entry:
    """What the form said, and what is wrong with it before the rules: the header part, and any value a
    batch file could not hold either (the record part is otherwise for the rules). `refused`: the fields holding
    such a value, which the rules' findings do not speak of again (`field_errors`)."""

    values: dict[str, str]
    header_errors: dict[str, str]
    refused: frozenset[str] = frozenset()

    @property
    def job_type(self) -> JobType:
        return JobType(self.values.get("job_type") or JobType.FINAL.value)


# The results-issued date as the form names it, in place of the header's ResultsIssuedDate in the file's words.
RESULTS_ISSUED = "Date the results were issued"


def results_issued_fault(value: str, today: date) -> str | None:
    """What is wrong with a results-issued date, by the very check a file's header ResultsIssuedDate has
    (`limits.header_from`, judged on the day in England it is sent: yyyy-mm-dd, a day the calendar has, and within
    the years it allows), in its words and with its code (RS001), the date named as the form names it (its value is
    in the field beside the message); None for a good one. The rest of the header is the form's own to judge
    (`read_entry`), not this check's."""
    try:
        header_from(
            {
                "awarding_organisation": "RN0000",
                "notification_email": "x@x.invalid",
                "results_issued_date": value,
            },
            received_on=today,
        )
    except BatchRefused as refused:
        said = refused.detail.removeprefix(f"ResultsIssuedDate {quoted(value)} ")
        named = f"{RESULTS_ISSUED} {said}" if said != refused.detail else refused.detail
        return f"{refused.code.value}: {named}."
    return None


def read_entry(form: Mapping[str, str], today: date | None = None) -> Entry:
    """`today`: the day in England the entry is judged on (the clock's, unless given)."""
    values = {name: (form.get(name) or "").strip() for name in (*RECORD_ATTRIBUTES, *HEADER_INPUTS)}
    errors: dict[str, str] = {}
    if values["action"] not in ACTIONS:
        errors["action"] = "Choose Create, Update, Withdraw or Reinstate"
    if values["job_type"] and values["job_type"] not in JOB_TYPES:
        errors["job_type"] = "Choose Final or Provisional"
    email = values["notification_email"]
    if not email:
        errors["notification_email"] = "Enter the email address to tell when the entry has been processed"
    elif not is_plausible_email(email):
        errors["notification_email"] = "Enter an email address in the correct format, like name@example.org"
    refused: set[str] = set()
    for name, value in values.items():
        if fault := value_fault(value, in_header=name in HEADER_INPUTS):
            errors[name] = f"The value {fault}"
            refused.add(name)
    issued = values["results_issued_date"]
    if (
        issued
        and "results_issued_date" not in errors
        and (fault := results_issued_fault(issued, today or today_in_england()))
    ):
        errors["results_issued_date"] = fault
    return Entry(values, errors, frozenset(refused))


def entry_record(entry: Entry) -> SubmittedRecord:
    return SubmittedRecord(line=1, **{name: entry.values[name] or None for name in RECORD_ATTRIBUTES})


def entry_batch(entry: Entry, ao_id: str, reference: str) -> ParsedBatch:
    job_type = entry.job_type if "job_type" not in entry.header_errors else JobType.FINAL
    email = entry.values["notification_email"] if "notification_email" not in entry.header_errors else "x@x.invalid"
    # in the header as a file's ResultsIssuedDate, so that timeliness MI measures the entry as it would the file
    issued = entry.values["results_issued_date"] if "results_issued_date" not in entry.header_errors else ""
    return one_record_batch(ao_id, job_type, email, reference, entry_record(entry), issued or None)


def field_errors(entry: Entry, outcome: RecordOutcome) -> dict[str, str]:
    """Every rejection the rules found, on the field it concerns (a finding without one goes on the action).

    A field whose value no batch file could hold either (`read_entry`: a control character, say) has that one
    message: a batch holding it is refused whole (RS001) before any rule reads it, so a rule's finding on it (RV021,
    RV009, ...) is not said too. A character a finding quotes that the page must not hold raw (a control character,
    a line break, a bidirectional control) is shown as its code point, "[U+0000]", as the door's message names it."""
    errors = dict(entry.header_errors)
    for finding in outcome.errors:
        name = finding.field if finding.field in RECORD_ATTRIBUTES else "action"
        if name in entry.refused:
            continue
        text = f"{finding.code}: {shown_on_one_line(date_said(name, entry.values[name]) or finding.message)}"
        errors[name] = f"{errors[name]} {text}" if name in errors else text
    return {name: errors[name] for name in FORM_ORDER if name in errors}


def day_first_date(value: str) -> str | None:
    """A date written day first, the UK way (13/05/2007), or as the portal shows one (13 May 2007), written
    yyyy-mm-dd (2007-05-13); None for any other text, and for a day the calendar does not have
    (`lrs_contracts.text.day_first_date`, which the batch files' messages read with too)."""
    day = day_written_first(value)
    return None if day is None else day.isoformat()


def date_said(name: str, value: str) -> str | None:
    """What the form says of a date field whose value is not a date written yyyy-mm-dd, alike for both: the date
    as it should be written when it reads as one written day first (the value is in the field beside it, so it
    is not quoted; the rules' words for a batch record quote the award date and not the date of birth). None for
    another field, or a date the rules refused for another reason (an award date in the future, say)."""
    written = value.strip()
    if name not in DATE_FIELDS or not written or parse_iso_date(written) is not None:
        return None
    return f"{DATE_FIELDS[name]} {why_not_a_date(written, suggest=True)}."


def warnings_of(outcome: RecordOutcome) -> list[str]:
    return [f"{finding.code}: {finding.message}" for finding in outcome.warnings]


def prefilled_values(
    action: RecordAction, uln: str, names: Mapping[str, str], event: Mapping[str, Any]
) -> dict[str, str]:
    """What the learner page's `action` button on one of a learner's achievements (a PLR learning event) fills in on
    the direct-entry form, read again from the session's look-up and the AO's own record (the button posts only their
    ids): never in an address, for it names the learner.

    Every action gets the learner (the ULN, and the names the AO typed: the PLR holds none, and a record
    without them is RV021) and the achievement's key (QAN, award date, and its pathway, without which a QAN
    of several pathways is not found). An Update also gets every achievement field the record holds: one left
    empty means "none", and would clear it on the learner's record.
    """
    values: dict[str, Any] = {
        "action": action.value,
        "uln": uln,
        "given_name": names.get("given_name"),
        "family_name": names.get("family_name"),
        "qualification_number": event.get("subject_code"),
        "pathway": event.get("pathway"),
        "award_date": event.get("achievement_award_date"),
    }
    if action is RecordAction.UPDATE:
        values |= {
            "grade": event.get("grade"),
            "centre_ukprn": event.get("achievement_provider_ukprn"),
            "language_for_assessment": event.get("language_for_assessment"),
            "credits": event.get("credits"),
        }
    return {name: str(value) for name, value in values.items() if value is not None and value != ""}


# What Update may change (DOMAIN.md §5.7): kept as the person typed it when they typed one.
CHANGEABLE: tuple[str, ...] = ("grade", "centre_ukprn", "language_for_assessment")
# An achievement field as the PLR learning event names it.
_RECORDED_AS: dict[str, str] = {
    "pathway": "pathway",
    "credits": "credits",
    "grade": "grade",
    "centre_ukprn": "achievement_provider_ukprn",
    "language_for_assessment": "language_for_assessment",
}


def recorded_event(values: Mapping[str, str], events: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The learning event the form's key names (its QAN in either form, and its award date), or None."""
    qan = normalise_qan(values.get("qualification_number") or "")
    award_date = (values.get("award_date") or "").strip()
    return next(
        (
            event
            for event in events
            if qan is not None
            and normalise_qan(str(event.get("subject_code") or "")) == qan
            and event.get("achievement_award_date") == award_date
        ),
        None,
    )


def with_recorded(values: Mapping[str, str], event: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The form's values with the recorded achievement filled in, and the names of the fields filled in.

    The fields an Update may not change (pathway, credits) are set to what is recorded, whatever was typed; the
    grade, UKPRN and language are filled in only where nothing was typed (a typed one is the change)."""
    filled = dict(values)
    changed = []
    for name, recorded_as in _RECORDED_AS.items():
        recorded = event.get(recorded_as)
        recorded_text = "" if recorded is None else str(recorded)
        if name in CHANGEABLE and (values.get(name) or "").strip():
            continue
        if (values.get(name) or "").strip() != recorded_text:
            filled[name] = recorded_text
            changed.append(name)
    return filled, changed
