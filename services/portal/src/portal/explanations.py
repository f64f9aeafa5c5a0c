"""Every code an AO can meet, in words: what it means (lrs_contracts' titles) and what to do about it.

The meanings come from `lrs_contracts.codes`; the advice follows docs/rules.md. A unit test fails if a
code is added to the contracts without advice here.
"""

from __future__ import annotations

from dataclasses import dataclass

from lrs_contracts.codes import (
    BATCH_CODE_TITLES,
    RECORD_CODE_TITLES,
    REJECTION_THRESHOLD,
    WARNING_CODE_TITLES,
    BatchCode,
    RecordCode,
    WarningCode,
)


@dataclass(frozen=True)
class Explanation:
    code: str
    title: str
    advice: str

    @property
    def is_warning(self) -> bool:
        return self.code.startswith("WV")


_ADVICE: dict[str, str] = {  # StrEnum keys: a code and its text are equal keys
    BatchCode.MALFORMED: "Check the file against the template: exact headings, the same number of fields on every"
    " row, UTF-8 text. The line and column in the message point at the first fault.",
    BatchCode.TOO_LARGE: "Split the file: a batch is at most 6 MB (6,291,456 bytes).",
    BatchCode.TOO_MANY_RECORDS: "Split the file: a batch has at most 10,000 records.",
    BatchCode.BAD_JOB_TYPE: "Set the job type to Provisional or Final (empty means Final), and send Provisional and"
    " Final results in separate batches.",
    BatchCode.REJECTION_THRESHOLD: f"More than {REJECTION_THRESHOLD:.0%} of the records were rejected, so the whole"
    " batch failed and nothing of it reached any learner's record, not even the records that were accepted."
    " Fix the rejected records listed below and send the whole batch again.",
    BatchCode.NO_RECORDS: "Add at least one record under the headings.",
    BatchCode.BAD_NOTIFICATION_EMAIL: "Give a working email address in NotificationEmail: we email it when the"
    " batch has been processed.",
    RecordCode.ULN_MALFORMED: "A ULN is 10 digits and does not start with 0. Check for a missing or extra digit.",
    RecordCode.ULN_CHECK_DIGIT: "The last digit does not fit the others: a digit was probably mistyped.",
    RecordCode.ULN_TEMPORARY: "9999999999 is a placeholder. Use the learner's own ULN.",
    RecordCode.LEARNER_NOT_VERIFIED: "The ULN is not registered, or the names or date of birth differ from the"
    " learner's registration. Check the spelling (case does not matter) and the date of birth.",
    RecordCode.QAN_UNKNOWN: "The qualification number is not in the catalogue, or the pathway is not one of its"
    " pathways. A qualification with several pathways needs the pathway.",
    RecordCode.QAN_MALFORMED: "Write the number as NNN/NNNN/C (like 600/1166/X), as the same 8 characters without"
    " obliques, or as a QCF unit reference like K/501/5773.",
    RecordCode.AWARD_DATE_TOO_EARLY: "The LRS holds results awarded on or after 1 September 2006 only.",
    RecordCode.AWARD_DATE_INVALID: "Write the award date as yyyy-mm-dd; it cannot be in the future.",
    RecordCode.GRADE_NOT_IN_SET: "Use a grade of this qualification's grade set, spelt exactly (Pass, not PASS).",
    RecordCode.QCF_FAILED: "Do not upload failed QCF units or qualifications (Fail, U or X).",
    RecordCode.QCF_PROVISIONAL: "QCF results are always Final: send them in a Final batch.",
    RecordCode.TARGET_NOT_FOUND: "There is no achievement with this learner, qualification and award date to change."
    " Check the award date, or send a Create.",
    RecordCode.UPDATE_CHANGES_FIXED_FIELD: "An Update may change only the grade, the UKPRN or the language for"
    " assessment. To change anything else, Withdraw the achievement and Create it again.",
    RecordCode.CONFLICTING_DUPLICATE: "The achievement is already recorded with different data: send an Update"
    " instead of a Create.",
    RecordCode.WRONG_STATE: "The achievement is already withdrawn (for a Withdraw) or is live (for a Reinstate):"
    " there is nothing to do.",
    RecordCode.UPDATE_OF_WITHDRAWN: "Reinstate the achievement first, then Update it (or Create it again).",
    RecordCode.PROVISIONAL_AFTER_FINAL: "The result is already Final; a Provisional result never replaces it. Send"
    " changes in a Final batch.",
    RecordCode.UKPRN_MALFORMED: "A UKPRN is 8 digits, like 10001234.",
    RecordCode.LANGUAGE_UNKNOWN: "Write English, Welsh or Irish exactly, or leave it empty.",
    RecordCode.DUPLICATE_IN_BATCH: "The same achievement is on an earlier line of this batch: send one record per"
    " achievement.",
    RecordCode.FIELD_MISSING_OR_TOO_LONG: "ULN, names, qualification number and award date are needed for every"
    " record, and a grade for Create and Update; names are 1 to 35 characters, the MIS identifier at most 128.",
    RecordCode.NOT_AWARDED_BY_AO: "This qualification is awarded by another awarding organisation: upload only your"
    " own qualifications.",
    WarningCode.QAN_CHECK_CHARACTER: "Nothing to do if the number is right: some approved numbers break the check"
    " rule. The record is accepted.",
    WarningCode.NOT_ORDERED_BY_ULN: "Nothing to do: ordering records by ULN is only recommended.",
}

_TITLES: dict[str, str] = {
    code.value: title
    for titles in (BATCH_CODE_TITLES, RECORD_CODE_TITLES, WARNING_CODE_TITLES)
    for code, title in titles.items()
}

ALL_CODES: tuple[str, ...] = (
    *(code.value for code in BatchCode),
    *(code.value for code in RecordCode),
    *(code.value for code in WarningCode),
)


def explain(code: str) -> Explanation:
    return Explanation(code, _TITLES.get(code, "Unknown code"), _ADVICE.get(code, ""))


def missing_advice() -> list[str]:
    return [code for code in ALL_CODES if code not in _ADVICE or code not in _TITLES]
