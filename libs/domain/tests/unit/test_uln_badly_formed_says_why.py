"""RV001 says what is wrong with a badly formed ULN without showing it: ten masked characters told "a ULN is 10
digits" would not say that they are full-width digits, or that the ULN went as a JSON number with a decimal point."""

import json

import pytest

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import parse_batch
from lrs_domain.rules import check_uln

DIGITS_ONLY = "it holds a character other than the digits 0-9 (a ULN is 10 digits and does not start with 0)"
AS_A_DECIMAL = (
    "it is written as a number with a decimal point or an exponent: send the ULN as its 10 digits (in JSON, as a"
    " string)"
)


FULL_WIDTH = "6923195747".translate({digit: digit + 0xFEE0 for digit in range(ord("0"), ord("9") + 1)})
ARABIC_INDIC = "6923195747".translate({digit: digit - ord("0") + 0x0660 for digit in range(ord("0"), ord("9") + 1)})


def _rv001(value: str) -> str:
    (finding,) = check_uln(value)
    assert (finding.code, finding.field) == ("RV001", "uln")
    return finding.message


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (FULL_WIDTH, f"ULN ********** is badly formed: {DIGITS_ONLY}."),
        (ARABIC_INDIC, f"ULN ********** is badly formed: {DIGITS_ONLY}."),
        ("69231 9574", f"ULN ********** is badly formed: {DIGITS_ONLY}."),
        ("6.92E+09", f"ULN ******** is badly formed: {AS_A_DECIMAL}."),
        ("12345", "ULN ***** is badly formed: a ULN is 10 digits and does not start with 0."),
        ("0123456789", "ULN ******6789 is badly formed: a ULN is 10 digits and does not start with 0."),
    ],
    ids=["full-width", "arabic-indic", "space", "spreadsheet-exponent", "short", "leading-zero"],
)
def test_a_badly_formed_uln_is_said_to_be_so_with_what_is_wrong(value: str, said: str) -> None:
    assert _rv001(value) == said


@pytest.mark.parametrize("number", ["6923195747.0", "6.923195747e9", "6923195747.5"])
def test_a_uln_sent_as_a_json_number_with_a_decimal_point_or_an_exponent_is_told_to_go_as_a_string(
    number: str,
) -> None:
    header = {"awardingOrganisation": "RN5133", "notificationEmail": "results@example.org"}
    content = f'{{"header": {json.dumps(header)}, "records": [{{"uln": {number}}}]}}'.encode()
    (record,) = parse_batch(content, BatchFormat.JSON).records
    assert record.uln is not None

    message = _rv001(record.uln)

    assert message.endswith(f"is badly formed: {AS_A_DECIMAL}.")
    assert "6923195747" not in message and "692319" not in message
