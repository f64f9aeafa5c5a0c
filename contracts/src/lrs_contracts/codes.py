"""Batch-level (RS), record-level (RV) and warning (WV) codes: the vocabulary AOs see.

The meaning of each code is normative (DOMAIN.md §6). `CODE_EXPLANATIONS` is the one text of each code:
`docs/rules.md`'s code tables are generated from it (`scripts/dev/export_code_tables.py`, checked by a
test), and every service serves it at `GET /problems/<code>`, the `type` of its problem documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BatchCode(StrEnum):
    MALFORMED = "RS001"
    TOO_LARGE = "RS002"
    TOO_MANY_RECORDS = "RS003"
    BAD_JOB_TYPE = "RS004"
    REJECTION_THRESHOLD = "RS005"
    NO_RECORDS = "RS006"
    BAD_NOTIFICATION_EMAIL = "RS007"


class RecordCode(StrEnum):
    ULN_MALFORMED = "RV001"
    ULN_CHECK_DIGIT = "RV002"
    ULN_TEMPORARY = "RV003"
    LEARNER_NOT_VERIFIED = "RV004"
    QAN_UNKNOWN = "RV005"
    QAN_MALFORMED = "RV006"
    AWARD_DATE_TOO_EARLY = "RV007"
    AWARD_DATE_INVALID = "RV008"
    GRADE_NOT_IN_SET = "RV009"
    QCF_FAILED = "RV010"
    QCF_PROVISIONAL = "RV011"
    TARGET_NOT_FOUND = "RV012"
    UPDATE_CHANGES_FIXED_FIELD = "RV013"
    CONFLICTING_DUPLICATE = "RV014"
    WRONG_STATE = "RV015"
    UPDATE_OF_WITHDRAWN = "RV016"
    PROVISIONAL_AFTER_FINAL = "RV017"
    UKPRN_MALFORMED = "RV018"
    LANGUAGE_UNKNOWN = "RV019"
    DUPLICATE_IN_BATCH = "RV020"
    FIELD_MISSING_OR_TOO_LONG = "RV021"
    NOT_AWARDED_BY_AO = "RV022"


class WarningCode(StrEnum):
    QAN_CHECK_CHARACTER = "WV001"
    NOT_ORDERED_BY_ULN = "WV002"
    NAME_NOT_AS_TYPED = "WV003"
    RECREATES_WITHDRAWN = "WV004"
    PROVISIONAL_NOT_SUPERSEDED = "WV005"
    AWARDED_BEFORE_BIRTH = "WV006"
    CHANGED_BY_A_SPREADSHEET = "WV007"
    FINAL_AT_A_NEAR_DATE = "WV008"


BATCH_CODE_TITLES: dict[BatchCode, str] = {
    BatchCode.MALFORMED: "The file is malformed",
    BatchCode.TOO_LARGE: "The file is larger than 6 MB",
    BatchCode.TOO_MANY_RECORDS: "The file has more than 10,000 records",
    BatchCode.BAD_JOB_TYPE: "The job type is not Provisional or Final",
    BatchCode.REJECTION_THRESHOLD: "Too many achievement records have been rejected (more than 30%)",
    BatchCode.NO_RECORDS: "The file has no records",
    BatchCode.BAD_NOTIFICATION_EMAIL: "The notification email address is missing or unreadable",
}

RECORD_CODE_TITLES: dict[RecordCode, str] = {
    RecordCode.ULN_MALFORMED: "ULN must be 10 digits and may not start with 0",
    RecordCode.ULN_CHECK_DIGIT: "ULN check digit is wrong",
    RecordCode.ULN_TEMPORARY: "The temporary ULN 9999999999 cannot be uploaded",
    RecordCode.LEARNER_NOT_VERIFIED: "ULN, names and date of birth do not match a registered learner",
    RecordCode.QAN_UNKNOWN: "Qualification number is not in the catalogue",
    RecordCode.QAN_MALFORMED: "Qualification number is badly formed",
    RecordCode.AWARD_DATE_TOO_EARLY: "Award date is before 1 September 2006",
    RecordCode.AWARD_DATE_INVALID: "Award date is not a valid date or is in the future",
    RecordCode.GRADE_NOT_IN_SET: "Grade is not in the qualification's grade set",
    RecordCode.QCF_FAILED: "Failed QCF results are not uploaded",
    RecordCode.QCF_PROVISIONAL: "QCF results cannot be Provisional",
    RecordCode.TARGET_NOT_FOUND: "The achievement to update, withdraw or reinstate does not exist",
    RecordCode.UPDATE_CHANGES_FIXED_FIELD: "Update may change only grade, UKPRN or language for assessment",
    RecordCode.CONFLICTING_DUPLICATE: "The achievement already exists with different data",
    RecordCode.WRONG_STATE: "The achievement is already withdrawn, or is live and cannot be reinstated",
    RecordCode.UPDATE_OF_WITHDRAWN: "A withdrawn achievement cannot be updated",
    RecordCode.PROVISIONAL_AFTER_FINAL: "A Provisional result cannot replace a Final one",
    RecordCode.UKPRN_MALFORMED: "UKPRN must be 8 digits",
    RecordCode.LANGUAGE_UNKNOWN: "Language for assessment must be English, Welsh or Irish",
    RecordCode.DUPLICATE_IN_BATCH: "The same achievement appears earlier in this batch",
    RecordCode.FIELD_MISSING_OR_TOO_LONG: "A mandatory field is missing, or a field is too long or not allowed",
    RecordCode.NOT_AWARDED_BY_AO: "The qualification is not awarded by this awarding organisation",
}

WARNING_CODE_TITLES: dict[WarningCode, str] = {
    WarningCode.QAN_CHECK_CHARACTER: "Qualification number check character does not match (warning only)",
    WarningCode.NOT_ORDERED_BY_ULN: "Records are not ordered by ULN (warning only)",
    WarningCode.NAME_NOT_AS_TYPED: (
        "A name holds a typographic apostrophe or hyphen (warning only, from the offline check)"
    ),
    WarningCode.RECREATES_WITHDRAWN: "The record re-creates an achievement that was withdrawn (warning only)",
    WarningCode.PROVISIONAL_NOT_SUPERSEDED: (
        "A Final result does not supersede a Provisional one with another award date (warning only)"
    ),
    WarningCode.AWARDED_BEFORE_BIRTH: "The award date is before the learner's date of birth (warning only)",
    WarningCode.CHANGED_BY_A_SPREADSHEET: "A value looks changed by a spreadsheet (warning only)",
    WarningCode.FINAL_AT_A_NEAR_DATE: (
        "The learner holds this qualification from you at a nearby award date (warning only)"
    ),
}


class ProblemCode(StrEnum):
    """Codes of API answers that are not about a batch's content."""

    PROJECTION_PENDING = "PROJECTION_PENDING"
    LEARNER_DOES_NOT_SHARE = "WSEC0206"
    PROVIDER_NOT_LINKED = "PROVIDER_NOT_LINKED"
    OPERATOR_SCOPE_MISSING = "OPERATOR_SCOPE_MISSING"
    PLR_HAS_NO_ACHIEVEMENTS = "PLR_HAS_NO_ACHIEVEMENTS"
    EVENTS_HELD_IN_DEAD_LETTERS = "EVENTS_HELD_IN_DEAD_LETTERS"
    CREDENTIAL_SIGNING_UNAVAILABLE = "CREDENTIAL_SIGNING_UNAVAILABLE"
    SANDPIT_READ_ONLY = "SANDPIT_READ_ONLY"
    LIVE_ONLY = "LIVE_ONLY"
    WRONG_ENVIRONMENT = "WRONG_ENVIRONMENT"
    LEARNER_ERASED = "LEARNER_ERASED"
    KEYRING_UNAVAILABLE = "KEYRING_UNAVAILABLE"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    ACHIEVEMENT_NOT_ON_RECORD = "ACHIEVEMENT_NOT_ON_RECORD"
    ACHIEVEMENT_WITHDRAWN = "ACHIEVEMENT_WITHDRAWN"
    CHALLENGE_ALREADY_OPEN = "CHALLENGE_ALREADY_OPEN"
    CHALLENGE_NOT_IN_THAT_STATE = "CHALLENGE_NOT_IN_THAT_STATE"
    CHALLENGE_RAISED_TOO_OFTEN = "CHALLENGE_RAISED_TOO_OFTEN"
    CORRECTING_BATCH_REQUIRED = "CORRECTING_BATCH_REQUIRED"
    CORRECTING_BATCH_DOES_NOT_FIT = "CORRECTING_BATCH_DOES_NOT_FIT"
    RESOLUTION_NOTE_REQUIRED = "RESOLUTION_NOTE_REQUIRED"
    LEARNER_NOT_FOUND = "LEARNER_NOT_FOUND"
    LEARNER_NOT_REGISTERED = "LEARNER_NOT_REGISTERED"
    LEARNER_ALREADY_REGISTERED = "LEARNER_ALREADY_REGISTERED"
    LEARNER_MERGED_ALREADY = "LEARNER_MERGED_ALREADY"
    LEARNER_IMPORT_UNDER_WAY = "LEARNER_IMPORT_UNDER_WAY"
    VALUE_NOT_STORABLE = "VALUE_NOT_STORABLE"
    BATCH_OF_ANOTHER_AO = "BATCH_OF_ANOTHER_AO"
    BATCH_NOT_DECIDED = "BATCH_NOT_DECIDED"
    ACHIEVEMENT_OF_ANOTHER_AO = "ACHIEVEMENT_OF_ANOTHER_AO"
    TOO_MANY_RECORDS_WAITING = "TOO_MANY_RECORDS_WAITING"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PARKED_VALUE_NOT_KEPT = "PARKED_VALUE_NOT_KEPT"
    SANDPIT_LOG_EXPIRED = "SANDPIT_LOG_EXPIRED"
    REFERENCE_FILE_REFUSED = "REFERENCE_FILE_REFUSED"
    REFERENCE_LOAD_UNCONFIRMED = "REFERENCE_LOAD_UNCONFIRMED"
    # what an answer's HTTP status alone says, for the answers no more specific code fits (decision 0136)
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    INVALID_REQUEST = "INVALID_REQUEST"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


CODES_BY_STATUS: dict[int, ProblemCode] = {
    400: ProblemCode.MALFORMED_REQUEST,
    401: ProblemCode.UNAUTHENTICATED,
    403: ProblemCode.FORBIDDEN,
    404: ProblemCode.NOT_FOUND,
    405: ProblemCode.METHOD_NOT_ALLOWED,
    408: ProblemCode.REQUEST_TIMEOUT,
    409: ProblemCode.CONFLICT,
    413: ProblemCode.REQUEST_TOO_LARGE,
    415: ProblemCode.UNSUPPORTED_MEDIA_TYPE,
    422: ProblemCode.INVALID_REQUEST,
    429: ProblemCode.TOO_MANY_REQUESTS,
    500: ProblemCode.INTERNAL_ERROR,
    502: ProblemCode.SERVICE_UNAVAILABLE,
    503: ProblemCode.SERVICE_UNAVAILABLE,
    504: ProblemCode.SERVICE_UNAVAILABLE,
}
"""The code of an answer that names none: every problem a service answers carries a code (decision 0136)."""


@dataclass(frozen=True)
class CodeExplanation:
    """What a code means, an example, where the rule comes from, and how to put it right (Markdown). The `fix` of a
    batch, record or warning code is plain text: the portal, emails and the CLI show it as it is."""

    meaning: str
    example: str
    source: str
    fix: str


CODE_EXPLANATIONS: dict[str, CodeExplanation] = {  # StrEnum keys: a code and its text are equal keys
    BatchCode.MALFORMED: CodeExplanation(
        meaning=(
            "The file is malformed: not UTF-8 (an XML declaration naming another encoding too, decision 0139), "
            "wrong CSV headings, wrong number of fields, unreadable XML/JSON (a JSON object naming a key twice "
            "among them), a value that cannot be stored or sent (see [What a value may hold](#what-a-value-may-hold)), "
            "or a `ResultsIssuedDate` that is not a date written `yyyy-mm-dd` (decision 0133) or is before "
            "1 September 2006 (decision 0176)"
        ),
        example="a CSV whose third record heading is `Uln` instead of `ULN`; a NUL byte in a given name",
        source="product decision, DOMAIN.md §7",
        fix=(
            "Check the file against its format, saved as UTF-8 text (the portal's Batch file formats page lists "
            "every heading, element and key and has a template of each format): "
            "a CSV file with the exact headings and the same number of fields on every row; "
            "an XML or JSON file complete and well-formed, with the format's element or key names. The line and "
            "column in the message point at the first fault."
        ),
    ),
    BatchCode.TOO_LARGE: CodeExplanation(
        meaning="The file is larger than 6 MB (6 × 1,048,576 = 6,291,456 bytes; one byte more fails)",  # noqa: RUF001 - typographic, as in docs/rules.md
        example="a 6,291,457-byte XML file",
        source='FAQ: "upload batch files up to 6mb and containing up to 10,000 individual records"',
        fix="Split the file: a batch is at most 6 MB (6,291,456 bytes).",
    ),
    BatchCode.TOO_MANY_RECORDS: CodeExplanation(
        meaning="More than 10,000 records (10,000 is allowed)",
        example="10,001 records",
        source='FAQ: "upload batch files up to 6mb and containing up to 10,000 individual records"',
        fix="Split the file: a batch has at most 10,000 records.",
    ),
    BatchCode.BAD_JOB_TYPE: CodeExplanation(
        meaning=(
            "The job type is neither `Provisional` nor `Final`, spelt exactly (a missing job type means Final), or "
            "an XML or JSON header gives it twice (a CSV header's headings are fixed: `JobType` twice is RS001). A file names its job type once, in its header, for every record: that is "
            "how the FAQ's rule that the two kinds are never mixed in one batch holds, so a record cannot ask for "
            "the other kind"
        ),
        example="job type `Interim`; `final`; two `<JobType>` elements in the header",
        source='FAQ: "Final and Provisional results cannot be submitted in the same batch."',
        fix=(
            "Set the job type to Provisional or Final (empty means Final), and send Provisional and Final "
            "results in separate batches."
        ),
    ),
    BatchCode.REJECTION_THRESHOLD: CodeExplanation(
        meaning="More than 30% of the records were rejected; exactly 30% passes",
        example="3,001 of 10,000 rejected fails; 3,000 of 10,000 passes",
        source=(
            'FAQ: "if more than 30% of records in a batch file are rejected, the whole batch job fails with this error"'
        ),
        fix=(
            "More than 30% of the records were rejected, so the whole batch failed and nothing of it reached "
            "any learner's record, not even the records that passed their checks. Correct the rejected records "
            "listed on the batch's page and send the whole batch again. A record you cannot correct yet (an RV004 waiting for the "
            "learner's registration to be corrected, say) can be left out and sent in a later batch."
        ),
    ),
    BatchCode.NO_RECORDS: CodeExplanation(
        meaning="The file has a header and no records",
        example="a CSV with its two header rows and its record headings, but no record",
        source="product decision, DOMAIN.md §7",
        fix="Add at least one record under the headings.",
    ),
    BatchCode.BAD_NOTIFICATION_EMAIL: CodeExplanation(
        meaning="The notification email is empty or unreadable",
        example="`results-at-example.org`",
        source='FAQ: "LRS uses the e-mail address to notify the completion of a batch run."',
        fix=("Give a working email address in NotificationEmail: we email it when the batch has been processed."),
    ),
    RecordCode.ULN_MALFORMED: CodeExplanation(
        meaning="ULN badly formed: not 10 digits, or starts with 0",
        example="`0123456789` → `1000000043`",
        source="product decision, DOMAIN.md §2 (LRS schema pattern `[1-9][0-9]{9}`)",
        fix="A ULN is 10 digits and does not start with 0. Check for a missing or extra digit.",
    ),
    RecordCode.ULN_CHECK_DIGIT: CodeExplanation(
        meaning=(
            "ULN check digit wrong (10·d1 + 9·d2 + … + 2·d9 mod 11 = r; r = 0 is never valid; otherwise d10 = 10 − r)"  # noqa: RUF001 - typographic, as in docs/rules.md
        ),
        example="`1000000042`, `1000000063` → `1000000043`",
        source="product decision, DOMAIN.md §2 (ESFA ILR rule ULN_04)",
        fix="The last digit does not fit the others: a digit was probably mistyped.",
    ),
    RecordCode.ULN_TEMPORARY: CodeExplanation(
        meaning="The temporary ULN `9999999999`",
        example="`9999999999` → the learner's own ULN",
        source="product decision, DOMAIN.md §2",
        fix="9999999999 is a placeholder. Use the learner's own ULN.",
    ),
    RecordCode.LEARNER_NOT_VERIFIED: CodeExplanation(
        meaning=(
            "Learner not verified: the ULN is not registered, or the names (trimmed, case-insensitive) or the "
            "date of birth (exact, when both the record and the registration give one, decision 0187) do not "
            "match; the finding never says which detail differs (decision 0157). A ULN merged into another "
            "matches its own registration or that of any ULN it was merged into (not the other way): the "
            "learner's current details do (decision 0031). An erased learner's ULNs are never verified again "
            "(decision 0080); the finding says so only to an AO that holds an achievement of theirs (decision 0157). "
            "When a name of the record holds a typographic apostrophe or hyphen (U+2018, U+2019, U+02BC, U+0060, "
            "U+00B4; U+2010, U+2011, U+2013), the finding says so, from the record alone, whatever the registry "
            "holds (decision 0167)"
        ),
        example="family name `McCartney` for a learner registered as `McCarthy` → `MCCARTHY`",
        source=(
            'FAQ: "if the AO has the Unique Learner Number (ULN), and it is verified by LRS, the AO has the '
            'option of uploading this data"'
        ),
        fix=(
            "The ULN is not registered, or the names or date of birth differ from the learner's registration. "
            "Check the spelling (case does not matter) and the date of birth. If the details are right and the ULN is "
            "the learner's, a learning provider may have registered the ULN under other details: ask the learner "
            "or their provider to confirm the details to the LRS service desk, which corrects the registration (it "
            "cannot show you the registered details: they are the learner's), then submit the record again. If the "
            "finding says the learner's record was erased, there is nothing to correct: the LRS records nothing more "
            "for that ULN, so leave the record out of your next batches. If the finding says a name is written with a "
            "typographic apostrophe or hyphen (as word processors write them), and the learner is registered with the "
            "one on a keyboard, write that one."
        ),
    ),
    RecordCode.QAN_UNKNOWN: CodeExplanation(
        meaning=(
            "Qualification not in the catalogue; or its pathway is not one of the QAN's pathways; or the "
            "pathway is empty and the QAN has several"
        ),
        example=(
            "`600/1166/X` (not catalogued) → `603/0304/9`; `100/5006/1` without pathway → pathway `Sports Development`"
        ),
        source=(
            'FAQ: "some QAN codes have more than 1 qualification/unit assigned … there are different pathways '
            'for different achievements"'
        ),
        fix=(
            "The qualification number is not in the catalogue, or the pathway is not one of its pathways. A "
            "qualification with several pathways needs the pathway. If the number is right and the qualification has "
            "left the register, ask the LRS service desk to add it."
        ),
    ),
    RecordCode.QAN_MALFORMED: CodeExplanation(
        meaning=(
            "Qualification number badly formed: accepted forms are `NNN/NNNN/C`, the same 8 characters "
            "without obliques, and QCF unit references `L/NNN/NNNN`"
        ),
        example="`600-1166-X` → `600/1166/X` or `6001166X`",
        source="product decision, DOMAIN.md §2, §7",
        fix=(
            "Write the number as NNN/NNNN/C (like 600/1166/X), as the same 8 characters without obliques, or "
            "as a QCF unit reference like K/501/5773."
        ),
    ),
    RecordCode.AWARD_DATE_TOO_EARLY: CodeExplanation(
        meaning="Award date before 1 September 2006 (that day itself is accepted)",
        example="`2006-08-31` → `2006-09-01`",
        source=(
            'FAQ: "LRS only accepts data with an achievement date later than 1 September 2006" (DOMAIN.md '
            "§5.5 fixes the boundary: dates *before* it are refused)"
        ),
        fix=("The LRS holds results awarded on or after 1 September 2006 only. Leave this record out of your batches."),
    ),
    RecordCode.AWARD_DATE_INVALID: CodeExplanation(
        meaning=(
            "Award date not a valid `yyyy-mm-dd` date, or after the day the batch was received (England's date, "
            "however late it is decided: decision 0176)"
        ),
        example="`2024-02-30`, `22/08/2024`, tomorrow → `2024-08-22`",
        source="product decision, DOMAIN.md §6",
        fix="Write the award date as yyyy-mm-dd; it cannot be in the future.",
    ),
    RecordCode.GRADE_NOT_IN_SET: CodeExplanation(
        meaning="Grade not in the qualification's grade set (exact spelling); a Withdraw's or Reinstate's grade,"
        " which is not needed, too when one is given (decision 0173)",
        example="GCSE (9 to 1) grade `A` → `7`; `PASS` → `Pass`; a Withdraw with grade `ZZZ`",
        source=(
            'FAQ: "The grade submitted should match that held in Ofqual\'s RITS database wherever possible." '
            "Grade sets: DOMAIN.md §4, §7"
        ),
        fix="Use a grade of this qualification's grade set, spelt exactly (Pass, not PASS).",
    ),
    RecordCode.QCF_FAILED: CodeExplanation(
        meaning="A failed QCF result (grade `Fail`, `U` or `X` for a QCF unit or qualification)",
        example="QCF unit `K/501/5773` grade `Fail` → not uploaded; NQF GCSE grade `U` is accepted",
        source=(
            'FAQ: "QCF units that a learner has failed to achieve should not be uploaded … NQF qualifications '
            "with grades such as 'U' or 'X' can be uploaded\""
        ),
        fix="Do not upload failed QCF units or qualifications (Fail, U or X).",
    ),
    RecordCode.QCF_PROVISIONAL: CodeExplanation(
        meaning="A QCF result in a Provisional batch (Withdraw and Reinstate too)",
        example="QCF unit in a `Provisional` batch → send it in a `Final` batch",
        source=(
            'FAQ: "Provisional is only applicable for NQF provision"; "QCF achievements are always treated as '
            'Final by default"'
        ),
        fix="QCF results are always Final: send them in a Final batch.",
    ),
    RecordCode.TARGET_NOT_FOUND: CodeExplanation(
        meaning="The achievement to update, withdraw or reinstate does not exist",
        example="`Withdraw` of an achievement never created",
        source="product decision, DOMAIN.md §6–§7",  # noqa: RUF001 - typographic, as in docs/rules.md
        fix=(
            "There is no achievement with this learner, qualification and award date to change. Check the "
            "award date, or send a Create."
        ),
    ),
    RecordCode.UPDATE_CHANGES_FIXED_FIELD: CodeExplanation(
        meaning=(
            "Update changes something other than grade, UKPRN or language for assessment: the pathway, the "
            "credits, or the award date (an Update whose award date matches no achievement while a live one "
            "exists for the same learner and qualification)"
        ),
        example="Update with `Credits` 12 where 0 was recorded → Withdraw, then Create",
        source=(
            'FAQ: "only the grade, UKPRN, or language for assessment can be updated. Should you need to '
            'update any other fields, you need to withdraw the achievement and create a new one."'
        ),
        fix=(
            "An Update may change only the grade, the UKPRN or the language for assessment. To change "
            "anything else, Withdraw the achievement and Create it again."
        ),
    ),
    RecordCode.CONFLICTING_DUPLICATE: CodeExplanation(
        meaning="Create of an achievement that already exists, live, with different achievement data",
        example=("second Create with grade `6` where `5` is recorded → send an Update; an identical Create is a no-op"),
        source="product decision, DOMAIN.md §6",
        fix="The achievement is already recorded with different data: send an Update instead of a Create.",
    ),
    RecordCode.WRONG_STATE: CodeExplanation(
        meaning="Withdraw of a withdrawn achievement, or Reinstate of a live one",
        example="a second Withdraw of the same achievement → leave it out of the file",
        source="product decision, DOMAIN.md §6",
        fix=(
            "The achievement is already withdrawn (for a Withdraw) or already live (for a Reinstate), so this "
            "record changed nothing. Take it out of the file before you send the file again: rejected records "
            "count towards the 30% limit (RS005)."
        ),
    ),
    RecordCode.UPDATE_OF_WITHDRAWN: CodeExplanation(
        meaning="Update of a withdrawn achievement",
        example="Update after Withdraw → Reinstate first (then Update), or Create again",
        source=(
            'FAQ: "An achievement that is reinstated can also be updated" (so a withdrawn one cannot); '
            "product decision, DOMAIN.md §6"
        ),
        fix="Reinstate the achievement first, then Update it (or Create it again).",
    ),
    RecordCode.PROVISIONAL_AFTER_FINAL: CodeExplanation(
        meaning=(
            "A Provisional result after a Final one: Create or Update in a Provisional batch of an "
            "achievement whose result is Final (live or withdrawn)"
        ),
        example="Provisional batch re-sent after the Final batch",
        source=(
            'FAQ: "a Provisional batch which is then superseded by a Final batch"; DOMAIN.md §5.3 "a '
            'Provisional that arrives after the Final never replaces it"'
        ),
        fix=("The result is already Final; a Provisional result never replaces it. Send changes in a Final batch."),
    ),
    RecordCode.UKPRN_MALFORMED: CodeExplanation(
        meaning="UKPRN given but not 8 digits",
        example="`1000123` → `10001234`",
        source="product decision, DOMAIN.md §2",
        fix="A UKPRN is 8 digits, like 10001234.",
    ),
    RecordCode.LANGUAGE_UNKNOWN: CodeExplanation(
        meaning="Language for assessment given but not exactly `English`, `Welsh` or `Irish`",
        example="`english`, `French` → `English`",
        source='FAQ: "Optional identifier fields for … Language for assessment"; values: DOMAIN.md §6',
        fix="Write English, Welsh or Irish exactly, or leave it empty.",
    ),
    RecordCode.DUPLICATE_IN_BATCH: CodeExplanation(
        meaning=(
            "The same achievement (learner, qualification, award date) is on an earlier line of the same "
            "batch; the earlier record is judged normally"
        ),
        example="a Create on line 4 and an Update of the same achievement on line 5 → send one record",
        source="product decision, DOMAIN.md §7",
        fix="The same achievement is on an earlier line of this batch: send one record per achievement.",
    ),
    RecordCode.FIELD_MISSING_OR_TOO_LONG: CodeExplanation(
        meaning=(
            "A mandatory field is missing, a field is too long, or a value is not allowed: ULN, given name, "
            "family name, qualification number and award date are mandatory for every action, grade for "
            "Create and Update; names 1–35 characters after trimming, on one line (no line break or "  # noqa: RUF001 - typographic, as in docs/rules.md
            "bidirectional control), with a character a reader sees and nothing a reader cannot see or tell from one "
            "ordinary space (no no-break or other unusual space, TAB, two spaces in a row, soft hyphen, zero-width "
            "space, joiner, direction mark, byte order mark or tag character; joiners, marks and variation selectors "
            "stand in a name with a letter of another script than Latin), and no `?` or U+FFFD, what a letter lost when "
            "the file was saved in another encoding than UTF-8 is written as; MIS identifier at most 128 characters "
            "(both counted as a reader counts: in NFC, up to two combining marks counted with their letter, decision 0167); "
            "gender 0, 1, 2 or 9; credits a whole number from 0 to 9,999; date of birth `yyyy-mm-dd`, from 1900-01-01 to "
            "the day the batch was received (decision 0176); action `Create`, "
            "`Update`, `Withdraw` or `Reinstate` (empty means Create)"
        ),
        example="grade missing on a Create; gender `M`; action `Delete`; given name Mary<U+00A0>Ann (a no-break space)",
        source=(
            'FAQ: "What should be put in the MIS Identifier field? This is an optional field"; the rest '
            "product decision, DOMAIN.md §7"
        ),
        fix=(
            "Correct the field the message names. ULN, names, qualification number and award date are needed for "
            "every record, and a grade for Create and Update; names are 1 to 35 characters on one line, with no character a reader cannot see "
            "and single ordinary spaces between words, and no ? or \N{REPLACEMENT CHARACTER} (a letter lost when the "
            'file was saved: save it again from the original as UTF-8, in Excel "CSV UTF-8 (Comma delimited)"), the '
            "MIS identifier at most 128; gender is 0, 1, 2 or 9; credits a whole number from 0 to 9,999; a date of "
            "birth written yyyy-mm-dd, from 1900-01-01 to the day the batch was received; "
            "the action Create, Update, Withdraw or Reinstate."
        ),
    ),
    RecordCode.NOT_AWARDED_BY_AO: CodeExplanation(
        meaning="The qualification is awarded by another AO",
        example="AQA uploading a Pearson qualification → its own",
        source=('product decision, DOMAIN.md §6 (FAQ: "Awarding organisations are the authority on achievement data")'),
        fix=("This qualification is awarded by another awarding organisation: upload only your own qualifications."),
    ),
    WarningCode.QAN_CHECK_CHARACTER: CodeExplanation(
        meaning=(
            "The qualification number's check character (8·q1 + 7·q2 + … + 2·q7 mod 11, 10 written `X`) does "
            "not match. The catalogue decides: real approved numbers such as `610/0007/9` break the rule and "
            "are accepted with this warning"
        ),
        example="`610/0007/9` (the rule gives `3`)",
        source="product decision, DOMAIN.md §2",
        fix=(
            "Nothing to do if the number is right: some approved numbers break the check rule. The record is accepted."
        ),
    ),
    WarningCode.NOT_ORDERED_BY_ULN: CodeExplanation(
        meaning=(
            "The records are not ordered by ULN; attached once, to the first record whose ULN is lower than "
            "the one before it; records with no ULN or a badly formed one (RV001) are passed over, so a mistyped "
            "ULN never moves the warning onto the record after it"
        ),
        example="ULN `1026893096` then `1000000043`",
        source=(
            "FAQ: \"We recommend that data is ordered by the learner's ULN so that learners with multiple "
            'units or qualifications are grouped together."'
        ),
        fix="Nothing to do: ordering records by ULN is only recommended.",
    ),
    WarningCode.NAME_NOT_AS_TYPED: CodeExplanation(
        meaning=(
            "Given by the offline check only (`lrs batch check`, the portal's check of a file and of a direct entry), "
            "which cannot see the learner registry: a given or family name holds a typographic apostrophe or hyphen "
            '(U+2018, U+2019, U+02BC, U+0060, U+00B4; U+2010, U+2011, U+2013), as word processors, "smart quotes" '
            "and some MIS exports write them. Names compare character for character (decision 0167), so the record "
            "matches a learner registered with that character, and is RV004 for one registered with the apostrophe "
            "or hyphen on a keyboard; RV004 then says so"
        ),
        example="family name `O’Connor` (U+2019) for a learner registered as `O'Connor`",  # noqa: RUF001 - the point
        source="product decision, decision 0167",
        fix=(
            "Nothing to do if the learner is registered with that character. If they are registered with the "
            "apostrophe or hyphen on a keyboard (' or -), write that one."
        ),
    ),
    WarningCode.RECREATES_WITHDRAWN: CodeExplanation(
        meaning=(
            "A Create is accepted onto an achievement the AO withdrew, so it is recorded again (see "
            "[State rules](#state-rules)). Only a byte-identical file is recognised as sent before: a re-exported or "
            "edited copy of an earlier file, or a failed file corrected and sent after later files withdrew its "
            "results, would otherwise bring a withdrawn result back without a word (decision 0199)"
        ),
        example="a Create of an achievement a later batch withdrew, sent again in a re-exported copy of its first file",
        source="product decision, decision 0199",
        fix=(
            "Nothing to do if the result should stand again. If the withdrawal stands, leave the record out of your "
            "files, and withdraw the achievement again: this record has recorded it."
        ),
    ),
    WarningCode.PROVISIONAL_NOT_SUPERSEDED: CodeExplanation(
        meaning=(
            "A Create in a Final batch is accepted as a new achievement while the AO holds a live Provisional result "
            "of the same learner and qualification at another award date. A Final result replaces a Provisional "
            "one only at the same key, award date included, so the learner keeps both (decision 0199). An Update in "
            "that case changes no award date: it is RV013"
        ),
        example="Provisional `603/3071/5` awarded `2020-08-13`, then a Final of it awarded `2020-09-30`",
        source="product decision, DOMAIN.md §6 (Provisional and Final share the key), decision 0199",
        fix=(
            "Give a Final result the award date of the Provisional result it replaces. If the learner really has "
            "two results, nothing to do; if the Provisional one should go, withdraw it."
        ),
    ),
    WarningCode.AWARDED_BEFORE_BIRTH: CodeExplanation(
        meaning=(
            "The award date is before the date of birth the learner is registered with (given only when the "
            "learner is verified and registered with a date of birth; the offline check cannot see the registry). "
            "A mis-keyed award date, or a registration with the wrong date of birth (decision 0199)"
        ),
        example="award date `2007-01-22` for a learner registered as born on 13 May 2007",
        source="product decision, decision 0199",
        fix=(
            "Check the award date with the centre. If the date is right, the learner's registered date of birth may "
            "be wrong: ask the learner or their provider to have it corrected through the LRS service desk."
        ),
    ),
    WarningCode.CHANGED_BY_A_SPREADSHEET: CodeExplanation(
        meaning=(
            "A value looks like what a spreadsheet made of it (decision 0201): an MIS identifier written as a number "
            "in scientific notation (`1.23457E+15`, its digits lost) or a spreadsheet's error value (`#N/A`, "
            "`#REF!`, `#VALUE!`, `#NAME?`, `#DIV/0!`, `#NUM!`, `#NULL!`: a formula that failed), given by every "
            "check; and, from the offline check only, a given or family name whose letters look garbled by a UTF-8 "
            "file opened as Windows-1252 (`SiÃ¢n` for Siân), which the LRS then rejects as RV004, saying so. The "
            "record is accepted as sent: the MIS identifier is the AO's own, and the only way from the results back "
            "to the row it came from"
        ),
        example="MIS identifier `#N/A`, where a lookup of the candidate number found nothing",
        source="product decision, decision 0201",
        fix=(
            "Format the MISIdentifier, ULN, CentreUKPRN and date columns as Text before pasting, correct the formula "
            "that failed, and send the file again if the records must be told apart. For a garbled name, open the "
            "original file in Excel with Data > From Text/CSV, File origin '65001: Unicode (UTF-8)', then save it "
            "as CSV UTF-8."
        ),
    ),
    WarningCode.FINAL_AT_A_NEAR_DATE: CodeExplanation(
        meaning=(
            "A Create is accepted as a new achievement (or recorded again onto a withdrawn one) while the AO holds a "
            "live Final result of the same learner and qualification at another award date within 60 days of it. "
            "The award date is part of the achievement's key, so a Create at a corrected date is another "
            "achievement: the learner would keep both results. A resit is two real results, so this is never a "
            "rejection (decision 0202). Not given when the same batch withdraws that Final result"
        ),
        example="a Final `603/3071/5` awarded `2026-07-30`, then the same file sent again with award date `2026-07-31`",
        source="product decision, DOMAIN.md §6 (the award date is part of the key), decision 0202",
        fix=(
            "If this record corrects the award date of the earlier result, withdraw the earlier one (a Withdraw "
            "with its award date); the new one stands. If the learner resat the qualification, nothing to do: "
            "a resit keeps both."
        ),
    ),
}


PROBLEM_CODE_EXPLANATIONS: dict[str, CodeExplanation] = {
    ProblemCode.PROJECTION_PENDING: CodeExplanation(
        meaning="What was written a moment ago is not yet in the read model that answers this request",
        example="reading a learner's PLR, or raising a challenge, within a second of the batch that recorded it",
        source="eventual consistency between the PLR log and its read models (docs/architecture.md)",
        fix="Wait for the number of seconds in the `Retry-After` header, then send the same request again.",
    ),
    ProblemCode.LEARNER_DOES_NOT_SHARE: CodeExplanation(
        meaning="The learner has chosen not to share their Personal Learning Record with learning providers",
        example="a provider reading the PLR of a learner whose ability to share is `unable to share`",
        source="LRS web service code WSEC0206; DOMAIN.md §5",
        fix="The PLR is read again once the learner shares: the learner, or a linked provider acting for them with"
        " their agreement (FAQ §1), changes the choice with `POST /v1/learners/{uln}/sharing`.",
    ),
    ProblemCode.PROVIDER_NOT_LINKED: CodeExplanation(
        meaning=(
            "The calling learning provider is not linked to this learner, so it may neither read their PLR,"
            " report centre achievements for them, nor change their sharing (the same answer whether or not the"
            " ULN is registered)"
        ),
        example="a provider reading the PLR of a learner another provider registered",
        source="decision 0121 (providers reach only their linked learners)",
        fix=(
            "Register the learner if they are new (`POST /v1/learners` links you), or ask an operator to link you"
            " (`lrs learners link`). A new link applies within a second or so."
        ),
    ),
    ProblemCode.OPERATOR_SCOPE_MISSING: CodeExplanation(
        meaning="The operator key was issued with scopes, and none of them is the one this route needs",
        example="an on-call key issued with `--scope dead-letters` starting a rebuild",
        source="decision 0122 (operator key scopes); docs/operations.md (API keys)",
        fix=(
            "Use a key with the scope the problem names (`lrs credentials create --principal operator:<name>"
            " --scope <scope>`), or one issued without scopes."
        ),
    ),
    ProblemCode.PLR_HAS_NO_ACHIEVEMENTS: CodeExplanation(
        meaning="The learner has no live achievement, so there is nothing to put in a verifiable credential",
        example="exporting the PLR credential of a learner whose only achievement was withdrawn",
        source="decision 0050 (PLR credentials)",
        fix="Nothing to fix: export the credential once an achievement is recorded.",
    ),
    ProblemCode.EVENTS_HELD_IN_DEAD_LETTERS: CodeExplanation(
        meaning="Some of the learner's events are parked in dead letters, so the PLR is not yet current",
        example="exporting a PLR credential while one of the learner's events waits on `lrs.plr.events.v1.dlq`;"
        " a provider reading a PLR while one of the learner's events is parked (it may be their choice not to share)",
        source="DESIGN.md §5 invariant 8; docs/operations.md (dead letters)",
        fix="An operator retries or skips the parked events (`lrs dlq`), then send the request again.",
    ),
    ProblemCode.CREDENTIAL_SIGNING_UNAVAILABLE: CodeExplanation(
        meaning="The service cannot sign credentials: no signing key, or the key-encryption key is missing or wrong",
        example="exporting a PLR credential before an operator has created a signing key",
        source="decision 0050 (PLR credentials); docs/operations.md (verifiable credentials)",
        fix="An operator checks the key-encryption key setting and the signing keys (docs/operations.md).",
    ),
    ProblemCode.SANDPIT_READ_ONLY: CodeExplanation(
        meaning="The Sandpit decides against the live learner registry and reference data, and cannot change them",
        example="registering a learner, or changing a learner's sharing, on the Sandpit's validation service",
        source="decision 0060 (the Sandpit)",
        fix="The Sandpit cannot change the learner registry or reference data: they change on the live service only, by"
        " whoever may (learning providers and operators register learners; an awarding organisation cannot), and the"
        " Sandpit sees a live change within seconds. To rehearse, use learners already registered on live, with their"
        " registered details.",
    ),
    ProblemCode.LIVE_ONLY: CodeExplanation(
        meaning="The Sandpit has no such thing: Event Data Challenges, and so an awarding organisation's challenge"
        " contact, and MI are live only. Nothing was read or changed",
        example="reading or setting an AO's challenge contact on the Sandpit's notifier",
        source="decision 0060 (the Sandpit): challenges and reporting do not run there",
        fix="Do it on the live service with a live key (`lrs` without `--sandpit`).",
    ),
    ProblemCode.WRONG_ENVIRONMENT: CodeExplanation(
        meaning="The API key belongs to the other environment: Sandpit keys (`lrs_sbx_...`) work only on the"
        " Sandpit, live keys only on live",
        example="sending a Sandpit key to the live ingest service",
        source="decision 0060 (the Sandpit)",
        fix="Send the request to the environment the key was issued for, or use that environment's key.",
    ),
    ProblemCode.LEARNER_ERASED: CodeExplanation(
        meaning="The learner's personal data was erased: nothing about them can be registered, merged or raised again",
        example="registering a ULN again after an operator erased its learner, or raising a challenge for them",
        source="decision 0080 (erasure by crypto-shredding)",
        fix="Nothing to put right: an erased learner's ULN is never registered, merged or given achievements"
        " again (a key once destroyed is never re-created).",
    ),
    ProblemCode.KEYRING_UNAVAILABLE: CodeExplanation(
        meaning="The learner key store cannot be used (it cannot be reached, or the service's keys do not fit it),"
        " so the learners' personal fields cannot be sealed or opened and nothing was read or changed",
        example="submitting a batch while the key store's database is away, or before the validation service has"
        " created the store",
        source="decision 0080 (erasure by crypto-shredding)",
        fix="With `Retry-After`: send the same request again after that many seconds, with the same"
        " Idempotency-Key if you sent one. Without it, waiting will not mend it: tell the LRS service desk, quoting"
        " the answer's `X-Request-Id`.",
    ),
    ProblemCode.ACHIEVEMENT_NOT_ON_RECORD: CodeExplanation(
        meaning="No achievement an awarding organisation recorded with this id is on the learner's record (under"
        " any of their ULNs), so there is nothing of theirs to challenge",
        example="raising a challenge with another learner's achievement id, a mistyped one, or the id of a record a"
        " learning provider reported (source ILR)",
        source="the FAQ's data challenges: a learner challenges their own achievements, with the AO that recorded them",
        fix="Take the id from your own PLR (`GET /v1/learners/{uln}/plr`, `learning_events[].id`). A record a"
        " learning provider reported is not the AO's: ask that provider to correct it.",
    ),
    ProblemCode.ACHIEVEMENT_WITHDRAWN: CodeExplanation(
        meaning="The awarding organisation withdrew the achievement: it is no longer on the record to challenge;"
        " `ao_id` names the AO that withdrew it",
        example="raising a challenge on an achievement shown only with `include_withdrawn=true`",
        source="the FAQ's data challenges",
        fix="Nothing to challenge. If the withdrawal is wrong, contact the awarding organisation that withdrew it (the"
        " problem's `ao_id`, its name in `detail`); if you cannot reach it, contact the LRS service desk.",
    ),
    ProblemCode.CHALLENGE_ALREADY_OPEN: CodeExplanation(
        meaning="The achievement has an open challenge already (raised or acknowledged), whichever of the"
        " learner's ULNs raised it; `challenge_id` names it",
        example="raising a second challenge on the same achievement before the first is resolved",
        source="our decision: one open challenge an achievement, so the AO answers one",
        fix=(
            "Wait for the awarding organisation's answer to the open challenge (`lrs challenges list --open`,"
            " `GET /v1/challenges/{challenge_id}`), or withdraw it (`lrs challenges withdraw`) and raise a new one."
        ),
    ),
    ProblemCode.CHALLENGE_NOT_IN_THAT_STATE: CodeExplanation(
        meaning="The challenge is not in a state the action applies to; `state` says which it is in",
        example="acknowledging a challenge a colleague acknowledged a moment ago, or resolving a resolved one",
        source="the challenge's states: raised, then acknowledged, then resolved",
        fix="Read the challenge again: if it is in the state you wanted, nothing more is needed.",
    ),
    ProblemCode.CHALLENGE_RAISED_TOO_OFTEN: CodeExplanation(
        meaning="The achievement was challenged as often as the challenges service allows within its window already"
        " (by default 3 times in 24 hours: `CHALLENGES_RAISES_PER_ACHIEVEMENT`, `CHALLENGES_RAISES_WINDOW_HOURS`),"
        " withdrawn challenges included;"
        " each raise emails the awarding organisation. No challenge was raised",
        example="raising, withdrawing and raising again the same achievement, a fourth time within a day",
        source="our decision: a raise-and-withdraw loop would email the AO's challenge contact twice a turn",
        fix="Raise it again after the `Retry-After` seconds (`retry_after`), when the oldest of those raises leaves"
        " the window; write the whole reason in one challenge.",
    ),
    ProblemCode.CORRECTING_BATCH_REQUIRED: CodeExplanation(
        meaning="A challenge resolved as `corrected` names the batch that corrected the data"
        " (`correcting_batch_id`); only a `corrected` resolution names one",
        example="resolving as corrected with no batch id, or naming a batch while confirming the data correct",
        source="our decision (0142): `corrected` says the data on the PLR changed, and a batch is what changes it",
        fix="Send the corrected data in a batch first, then resolve naming that batch's id.",
    ),
    ProblemCode.RESOLUTION_NOTE_REQUIRED: CodeExplanation(
        meaning="A challenge resolved as `upheld` (the data is right) or `rejected` (not a data error) says why in"
        " `note`: the note is all the learner is told. A note of spaces or invisible characters alone says nothing."
        " An erased learner's challenge needs none: no note is kept for them",
        example="resolving as rejected with no note, or with a note of only spaces or zero-width spaces",
        source="our rule: a learner whose challenge changed nothing on their record is told why (the AO portal asks"
        " for the reason too)",
        fix="Resolve again with a `note` saying why, in words the learner will understand.",
    ),
    ProblemCode.CORRECTING_BATCH_DOES_NOT_FIT: CodeExplanation(
        meaning="The batch named did not correct the challenged achievement: none of its accepted records reached"
        " the PLR log for the same learner (any of their ULNs) and the achievement's qualification, after the"
        " challenge was raised; `reason` says which (`not_for_this_achievement`, `before_the_challenge`)",
        example="citing a later batch of other learners, or the batch that first recorded the challenged grade",
        source="our decision (0142): the batch must have touched the challenged achievement",
        fix="Name the batch that changed this learner's record of this qualification after the challenge was"
        " raised (`GET /v1/challenges/{challenge_id}/correcting-batches` lists them). A batch decided a moment"
        " ago may not be known yet: try again shortly.",
    ),
    ProblemCode.LEARNER_NOT_FOUND: CodeExplanation(
        meaning="No Personal Learning Record is held for this ULN: it was never registered and nothing was ever"
        " recorded for it, or the ULN is mistyped. Said to learners and providers; an AO or an operator reads an empty"
        " record (with no sharing choice)",
        example="a provider reading the PLR of a ULN nobody registered and no AO recorded anything for",
        source="the PLR read model (docs/architecture.md)",
        fix="Check the ULN. If an achievement was recorded a moment ago, read again in a second or two.",
    ),
    ProblemCode.LEARNER_NOT_REGISTERED: CodeExplanation(
        meaning="The learner registry holds no learner with this ULN (or, for a merge, one of the two ULNs)",
        example="changing the sharing choice of a ULN nobody registered; merging a ULN into itself",
        source="the learner registry (decision 0032)",
        fix="Check the ULN, or register the learner first (`POST /v1/learners`).",
    ),
    ProblemCode.LEARNER_MERGED_ALREADY: CodeExplanation(
        meaning="The ULN to merge is merged into another learner already. A ULN is merged once: the readers of the"
        " log could apply two merges of one ULN in either order (each travels under its master's key). Nothing"
        " was changed",
        example="merging B into C after B was merged into A",
        source="decision 0158 (a ULN is merged once)",
        fix="Merge the master instead (A into C): every ULN merged into A then belongs to C's learner too.",
    ),
    ProblemCode.LEARNER_IMPORT_UNDER_WAY: CodeExplanation(
        meaning="An operator's learner file is being imported, and a change of sharing, a merge or an erasure waits"
        " for the import to end: this one waited a few seconds and was given up (a large file takes a minute or"
        " more). Nothing it asked for was done (an erasure has revoked the learner's own API keys already, as it"
        " does first)",
        example="changing a learner's sharing while a file of 800,000 learners is imported",
        source="decision 0121 (every learner file's import holds the learner registry's merges lock)",
        fix="Send the same request again after the `Retry-After` seconds.",
    ),
    ProblemCode.LEARNER_ALREADY_REGISTERED: CodeExplanation(
        meaning="The ULN is registered already: with other details than those sent, or for a provider whose own"
        " registration of the ULN does not link it to the learner (who is then told nothing about the registered"
        " details, whatever it sent). Nothing was changed",
        example="a provider registering a learner another provider registered first",
        source="decisions 0032 (learner registry) and 0121 (providers reach only their linked learners)",
        fix="Check the ULN. To work with a learner someone else registered, ask an operator to link you"
        " (`lrs learners link`); registered details are corrected by an operator's import.",
    ),
    ProblemCode.VALUE_NOT_STORABLE: CodeExplanation(
        meaning="A value in the request cannot be stored: a control character or a NUL byte in a text, or a"
        " number or date out of range. Nothing was changed",
        example="a note holding the byte U+0000; a year 99999",
        source="docs/rules.md, What a value may hold",
        fix="Remove the control characters (a tab, a line break and printable text are fine), or send a value in"
        " range.",
    ),
    ProblemCode.BATCH_OF_ANOTHER_AO: CodeExplanation(
        meaning="The batch header's `AwardingOrganisation` names another awarding organisation than the one the"
        " API key belongs to: an AO submits only its own batches. Nothing of the file was kept",
        example="a file whose header says RN5133 sent with RN9093's key",
        source="DESIGN.md (identity): an AO reaches only its own data",
        fix="Put your own recognition number (like RN9093) in the header (`lrs batch check` shows what the file says), or send the"
        " file with the key of the AO it names. The number is read in capitals: `rn9093` is RN9093's own.",
    ),
    ProblemCode.BATCH_NOT_DECIDED: CodeExplanation(
        meaning="The batch is not decided yet (`batch_status`: received, accepted, queued or validating), so it has no"
        " results to download: its results CSV is there once the batch is completed, failed, abandoned or refused",
        example="`GET /v1/batches/{batch_id}/records.csv` of a batch a maintenance window holds (`queued`)",
        source="our decision: a results file is of a decided batch, as the portal offers it",
        fix="Wait for the decision (`GET /v1/batches/{batch_id}?wait_until_decided=30`, `lrs batch status <batch_id>"
        " --wait 600`), then download the results again.",
    ),
    ProblemCode.ACHIEVEMENT_OF_ANOTHER_AO: CodeExplanation(
        meaning="The challenge names (`ao_id`) another awarding organisation than the one that recorded the"
        " achievement on the PLR. No challenge was raised",
        example="challenging an achievement RN5133 recorded, with `ao_id` RN9093",
        source="our decision: the awarding organisation is taken from the PLR log, never from the request",
        fix="Leave out `ao_id` (the LRS finds the awarding organisation on the PLR), or give the one the PLR shows"
        " for the achievement.",
    ),
    ProblemCode.TOO_MANY_RECORDS_WAITING: CodeExplanation(
        meaning="The awarding organisation has this many records or more waiting for their decision"
        " (`records_waiting`, `limit`), or this many batches however few records each holds (`batches_waiting`,"
        " `batch_limit`; the detail says which): its batches share a queue with other AOs' and are decided in turn,"
        " so the LRS takes its next batch once some of them are decided. Nothing of the file was kept",
        example="a results-day script sending 40 batches of 10,000 records at once: the eleventh is answered 429",
        source="decision 0171 (an AO's share of the queue)",
        fix="Send the same file again after the `Retry-After` seconds (`lrs batch submit` does); to send many"
        " batches, send each once the one before it is decided (`?wait_until_decided=`). The same file sent again"
        " as a stored batch's resend is answered as that batch instead.",
    ),
    ProblemCode.IDEMPOTENCY_KEY_REUSED: CodeExplanation(
        meaning="The `Idempotency-Key` was sent before with another file (or, from a provider, another centre"
        " report): a key names one submission, and it made the batch `batch_id` names (the report `report_id` names;"
        " yours: keys are per awarding organisation or provider). Nothing of this request was kept",
        example="a script sending each day's file under the same key; a portal form sent, changed and sent again",
        source="our decision: a key answers the submission it was first sent with (decisions 0040, 0160 and 0185)",
        fix="Look at the batch `batch_id` names (`GET /v1/batches/{batch_id}`, `lrs batch status <batch_id>`), or the"
        " centre report `report_id` names: it may hold what you meant to send. Send a new file or report, or the same"
        " file to be judged again, under a new key (a new UUID for each).",
    ),
    ProblemCode.PARKED_VALUE_NOT_KEPT: CodeExplanation(
        meaning="The parked message had no value (a tombstone), and neither has its copy on `<topic>.dlq`, so"
        " there are no bytes to show or mend; `detail` says where it was read and whether its consumer could apply"
        " it again. Nothing was changed",
        example="`lrs dlq show` (`GET /v1/admin/dlq/{id}/value`) of a message a producer sent as a tombstone, to"
        " delete its key",
        source="docs/operations.md (dead letters): a parked message's value is read to mend a corrected copy",
        fix="There is nothing to mend: skip it (`lrs dlq skip ID --reason WHY`), or, where `detail` offers it, retry it once its"
        " consumer takes such a message.",
    ),
    ProblemCode.REFERENCE_FILE_REFUSED: CodeExplanation(
        meaning="A reference file in validation's `VALIDATION_REFERENCE_DIR` cannot be loaded: it is missing, is not"
        " UTF-8, or has a row that cannot be read (`detail` names the file, the line and why). Nothing was changed:"
        " batches are judged by the catalogue loaded before",
        example='`lrs reference load` after the register was saved from Excel as plain "CSV", or saved under its'
        " new date's name",
        source="reference/README.md (the reference files)",
        fix="Correct the file named and load again. The files are read under fixed names: a newer register snapshot"
        " is saved as `ofqual-approved-qualifications-2025-02-18.csv`, as CSV UTF-8.",
    ),
    ProblemCode.REFERENCE_LOAD_UNCONFIRMED: CodeExplanation(
        meaning="The reference files can be read, but loading them would remove more than 5% of the catalogue's"
        " qualifications (or leave it empty), or move qualifications to another awarding organisation id, or drop"
        " an id the catalogue's qualifications use. `detail` gives the counts and names some of them. Nothing was"
        " changed",
        example="a register download cut short, leaving 20 of 8,112 qualifications; an AO renumbered in"
        " `awarding-organisations.csv`",
        source="docs/operations.md (Reference data and the learner registry)",
        fix="Check the files. If the change is meant, load again saying so: `lrs reference load --allow-removals`"
        " (`allow_removals=true`) or `--allow-ao-changes` (`allow_ao_changes=true`). An AO's id is part of every"
        " achievement's key: moving its qualifications strands the achievements recorded under the old id.",
    ),
    ProblemCode.SANDPIT_LOG_EXPIRED: CodeExplanation(
        meaning="A replay or rebuild of the Sandpit's PLR projection was refused: the Sandpit's PLR log keeps 30 days,"
        " and some of its partitions no longer start at offset 0, so re-projecting would drop the achievements"
        " recorded before its first event (`detail` gives where it now starts). Nothing was started. Live's PLR log"
        " is kept for ever and is never refused so",
        example="`lrs --sandpit projector replay --from 2026-12-07T19:00Z`, or `lrs --sandpit projector rebuild"
        " start`, once the Sandpit has run more than 30 days",
        source="decision 0060 (the Sandpit); docs/operations.md (The Sandpit)",
        fix="Do not re-project the Sandpit: reset the Sandpits of the AOs whose achievements are wrong"
        " (`lrs sandpit reset --ao RN9093` with an operator's Sandpit key; an AO's own key, or \"Reset my Sandpit\" in"
        " the portal, resets its own), and they submit their rehearsal again.",
    ),
    ProblemCode.MALFORMED_REQUEST: CodeExplanation(
        meaning="The request could not be read at all: its body is not UTF-8 (a body in UTF-16 or UTF-32 is named so,"
        " and so is the first byte that is not UTF-8; a UTF-8 byte order mark before the JSON is left out, as a batch"
        " file's is), or not JSON (or JSON naming a key twice in one object, which readers take each their own way), or a header or parameter it needs is"
        " malformed (an `Idempotency-Key` that is not 1 to 255 visible ASCII characters, or one sent twice). Nothing was"
        " changed",
        example='a JSON body holding the byte 0xFF; a body cut short by the client; {"resolution": "upheld",'
        ' "resolution": "rejected"}',
        source="RFC 9110 (400 Bad Request)",
        fix="Send UTF-8 JSON as the route's OpenAPI document (`/docs`) describes it.",
    ),
    ProblemCode.INVALID_REQUEST: CodeExplanation(
        meaning="The request was read but breaks the route's schema: `detail` names each field and what is"
        " wrong with it. Nothing was changed",
        example="`body.reason: Field required`; a `limit` of 0",
        source="the route's OpenAPI document (`/docs`)",
        fix="Correct each field `detail` names and send the request again.",
    ),
    ProblemCode.UNAUTHENTICATED: CodeExplanation(
        meaning="The request carried no API key, or one that is unknown, revoked or malformed",
        example="a request without `Authorization: Bearer <key>`; a key revoked with `lrs credentials revoke`",
        source="DESIGN.md (identity): every caller is authenticated",
        fix="Send `Authorization: Bearer <key>` with a key issued to you; ask an operator for a new one if it was"
        " revoked.",
    ),
    ProblemCode.FORBIDDEN: CodeExplanation(
        meaning="The key is valid, but this operation or this data is not open to its holder: an awarding"
        " organisation reaches only its own data, a learner only their own record, a provider only its"
        " linked learners, and some routes are for operators only",
        example="an AO's key reading another AO's reports; a learner's key listing dead letters",
        source="DESIGN.md (identity); decision 0012 (PLR read access)",
        fix="Use the key of the party the data belongs to, or an operator key for operators' routes.",
    ),
    ProblemCode.NOT_FOUND: CodeExplanation(
        meaning="Nothing at this address is yours to see: it does not exist, or it belongs to someone else (the"
        " answer is the same, so that ids cannot be probed)",
        example="`GET /v1/batches/{id}` with another AO's batch id, or a mistyped one",
        source="DESIGN.md (identity)",
        fix="Check the id and the key: list what is yours (`GET /v1/batches`, `lrs batch list`) to find it.",
    ),
    ProblemCode.METHOD_NOT_ALLOWED: CodeExplanation(
        meaning="The address exists but does not take this HTTP method; the `Allow` header lists those it takes",
        example="`DELETE /v1/batches`",
        source="RFC 9110 (405 Method Not Allowed)",
        fix="Use a method the `Allow` header names, as the OpenAPI document (`/docs`) shows.",
    ),
    ProblemCode.CONFLICT: CodeExplanation(
        meaning="The request does not fit the state of what it names now; `detail` says what stands in its way",
        example="re-applying a dead letter that was already re-applied; a batch sent again while another request"
        " is still publishing it",
        source="RFC 9110 (409 Conflict)",
        fix="Read the current state (the `detail` says where), then decide whether to send something else.",
    ),
    ProblemCode.REQUEST_TIMEOUT: CodeExplanation(
        meaning="The request's body stopped arriving: nothing came for the seconds the route waits (30 on every"
        " service; ingest's batch upload: `INGEST_UPLOAD_IDLE_SECONDS`, 30), so the service stopped waiting, kept"
        " nothing of it and closed the connection",
        example="a batch upload whose client stalled halfway",
        source="RFC 9110 (408 Request Timeout); decision 0185",
        fix="Send the whole request again.",
    ),
    ProblemCode.TOO_MANY_REQUESTS: CodeExplanation(
        meaning="Too many requests in a short time; nothing was done with this one",
        example="asking the portal to email one account more password links than an hour allows",
        source="RFC 6585 (429 Too Many Requests)",
        fix="Wait the `Retry-After` seconds, then send it again.",
    ),
    ProblemCode.INTERNAL_ERROR: CodeExplanation(
        meaning="The service failed on our side; the request may not have been applied. Its log holds the"
        " request's `X-Request-Id`",
        example="a defect the service did not expect",
        source="RFC 9110 (500 Internal Server Error)",
        fix="Send the same request again (with the same Idempotency-Key where the route takes one); if it fails"
        " again, give the operator the `X-Request-Id` of the answer.",
    ),
    ProblemCode.SERVICE_UNAVAILABLE: CodeExplanation(
        meaning="Something the service needs (Kafka, PostgreSQL, another service) cannot be reached just now, so"
        " nothing was changed",
        example="submitting a batch while Kafka restarts",
        source="RFC 9110 (503 Service Unavailable)",
        fix="Send the same request again after the `Retry-After` seconds (or a few seconds), with the same"
        " Idempotency-Key where the route takes one.",
    ),
    ProblemCode.REQUEST_TOO_LARGE: CodeExplanation(
        meaning="The request's body is larger than the route takes, so the service stopped reading it and did"
        " nothing with it (a batch file's own limit is RS002)",
        example="a challenge's JSON of 300 MB; a learner file of more than 64 MB sent to `/v1/learners/import`",
        source="our decision: every route bounds what it reads (1 MB for JSON; the learner import 64 MB; a"
        " dead letter's corrected copy 16 MB)",
        fix="Send what the route documents: split a large learner file into several imports.",
    ),
    ProblemCode.UNSUPPORTED_MEDIA_TYPE: CodeExplanation(
        meaning="The route does not take the body as it was sent: a route that reads JSON got another"
        " `Content-Type` (`text/plain`, a form's `application/x-www-form-urlencoded`) or none, or the body was"
        " compressed (`Content-Encoding: gzip`, which no route takes, a batch's included). Nothing was read or"
        " changed; the problem's detail says which",
        example="`POST /v1/challenges` with a JSON body and `Content-Type: text/plain`, or sent as a form; a batch"
        " sent gzipped",
        source="RFC 9110 (415 Unsupported Media Type); decision 0156",
        fix="Send the body uncompressed, with the `Content-Type` the route's OpenAPI document (`/docs`) shows: for"
        " a JSON route `application/json` (`curl --json`); for a batch file its own format's (`text/csv`,"
        " `application/xml` or `application/json`).",
    ),
}


PROBLEM_CODE_TITLES: dict[ProblemCode, str] = {
    ProblemCode.PROJECTION_PENDING: "Not yet in the read model",
    ProblemCode.LEARNER_DOES_NOT_SHARE: "The learner does not share their record",
    ProblemCode.PROVIDER_NOT_LINKED: "The provider is not linked to this learner",
    ProblemCode.OPERATOR_SCOPE_MISSING: "The operator key lacks the scope",
    ProblemCode.PLR_HAS_NO_ACHIEVEMENTS: "Nothing to certify",
    ProblemCode.EVENTS_HELD_IN_DEAD_LETTERS: "Some of the learner's events are parked",
    ProblemCode.CREDENTIAL_SIGNING_UNAVAILABLE: "Credential signing unavailable",
    ProblemCode.SANDPIT_READ_ONLY: "Read-only in the Sandpit",
    ProblemCode.LIVE_ONLY: "Live only",
    ProblemCode.WRONG_ENVIRONMENT: "A key of the other environment",
    ProblemCode.LEARNER_ERASED: "Learner erased",
    ProblemCode.KEYRING_UNAVAILABLE: "The learner key store is unavailable",
    ProblemCode.REQUEST_TOO_LARGE: "The request is too large",
    ProblemCode.UNSUPPORTED_MEDIA_TYPE: "The body was not sent as the route takes it",
    ProblemCode.ACHIEVEMENT_NOT_ON_RECORD: "Achievement not found",
    ProblemCode.ACHIEVEMENT_WITHDRAWN: "The achievement was withdrawn",
    ProblemCode.CHALLENGE_ALREADY_OPEN: "Challenge already open",
    ProblemCode.CHALLENGE_NOT_IN_THAT_STATE: "The challenge is not in that state",
    ProblemCode.CHALLENGE_RAISED_TOO_OFTEN: "Challenged too often",
    ProblemCode.CORRECTING_BATCH_REQUIRED: "Correcting batch",
    ProblemCode.CORRECTING_BATCH_DOES_NOT_FIT: "Batch did not correct this achievement",
    ProblemCode.RESOLUTION_NOTE_REQUIRED: "A note is needed",
    ProblemCode.LEARNER_NOT_FOUND: "Learner not found",
    ProblemCode.LEARNER_NOT_REGISTERED: "Learner not registered",
    ProblemCode.LEARNER_ALREADY_REGISTERED: "Learner already registered",
    ProblemCode.LEARNER_MERGED_ALREADY: "Learner merged already",
    ProblemCode.LEARNER_IMPORT_UNDER_WAY: "A learner import is under way",
    ProblemCode.VALUE_NOT_STORABLE: "A value that cannot be stored",
    ProblemCode.BATCH_OF_ANOTHER_AO: "The batch is another awarding organisation's",
    ProblemCode.BATCH_NOT_DECIDED: "The batch is not decided yet",
    ProblemCode.ACHIEVEMENT_OF_ANOTHER_AO: "Wrong awarding organisation",
    ProblemCode.TOO_MANY_RECORDS_WAITING: "Too many records waiting",
    ProblemCode.IDEMPOTENCY_KEY_REUSED: "Idempotency-Key already used for a different file",
    ProblemCode.PARKED_VALUE_NOT_KEPT: "This message kept no bytes",
    ProblemCode.SANDPIT_LOG_EXPIRED: "The Sandpit's PLR log no longer holds every event",
    ProblemCode.REFERENCE_FILE_REFUSED: "A reference file cannot be loaded",
    ProblemCode.REFERENCE_LOAD_UNCONFIRMED: "The reference load needs confirming",
    ProblemCode.MALFORMED_REQUEST: "The request could not be read",
    ProblemCode.INVALID_REQUEST: "Invalid request",
    ProblemCode.UNAUTHENTICATED: "No valid API key",
    ProblemCode.FORBIDDEN: "Not open to this key",
    ProblemCode.NOT_FOUND: "Not found",
    ProblemCode.METHOD_NOT_ALLOWED: "Method not allowed",
    ProblemCode.CONFLICT: "Conflict",
    ProblemCode.REQUEST_TIMEOUT: "The request stopped arriving",
    ProblemCode.TOO_MANY_REQUESTS: "Too many requests",
    ProblemCode.INTERNAL_ERROR: "Internal error",
    ProblemCode.SERVICE_UNAVAILABLE: "Service unavailable",
}
"""The short title of each API problem code: the heading of its /problems page (a route's own answer may word its
`title` for the case at hand)."""


def explanation_of(code: str) -> CodeExplanation | None:
    return CODE_EXPLANATIONS.get(code) or PROBLEM_CODE_EXPLANATIONS.get(code)


def title_of(code: str) -> str | None:
    """The one-line title of a batch, record, warning or API problem code (None for other codes)."""
    for titles in (BATCH_CODE_TITLES, RECORD_CODE_TITLES, WARNING_CODE_TITLES, PROBLEM_CODE_TITLES):
        for known, title in titles.items():
            if known == code:
                return title
    return None


REJECTION_THRESHOLD = 0.30
MAX_BATCH_BYTES = 6 * 1_048_576
LEARNER_IMPORT_BYTES = 64 * 1_048_576  # the largest learner file an import reads (~800,000 learners; 413 beyond)
MAX_BATCH_RECORDS = 10_000
