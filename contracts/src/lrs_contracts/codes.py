"""Batch-level (RS), record-level (RV) and warning (WV) codes: the vocabulary AOs see.

The meaning of each code is normative (DOMAIN.md §6); `docs/rules.md` gives examples and sources.
"""

from __future__ import annotations

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


BATCH_CODE_TITLES: dict[BatchCode, str] = {
    BatchCode.MALFORMED: "The file is malformed",
    BatchCode.TOO_LARGE: "The file is larger than 6 MB",
    BatchCode.TOO_MANY_RECORDS: "The file has more than 10,000 records",
    BatchCode.BAD_JOB_TYPE: "The job type is not Provisional or Final, or is mixed",
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
}

REJECTION_THRESHOLD = 0.30
MAX_BATCH_BYTES = 6 * 1_048_576
MAX_BATCH_RECORDS = 10_000
