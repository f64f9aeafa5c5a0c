"""The learner registry refuses a name holding '?' or U+FFFD, where a letter was lost when the file was saved in an
encoding without it (`lrs_contracts.text.lost_letter_in_name`: Excel's "CSV (Comma delimited)" has no Welsh ŵ),
as a batch's name is RV021 for it: a learner registered as "Ll?r" could be matched by no batch record written as the
name reads. Refused in a registration (`POST /v1/learners`: 422 naming the field, the character and its position)
and in a learner file (its line and column), never quoting the name: test_registry_names_as_they_read.py's tests of
a registration and a learner file, over its `LOST` names. A name is counted as a reader counts it
(decision 0167, later note): a Yoruba letter with two marks is one character, so a 35-letter Yoruba name registers.
And an erased learner's record whose details are judged reads, word for word, as a live learner's whose details
differ, what RV004 says of a typographic apostrophe included (decision 0157)."""

from __future__ import annotations

import unicodedata

from services.validation.tests.unit.test_erased_learner_probe import PROBED, _live_and_erased, _said
from services.validation.tests.unit.test_registry_names_as_they_read import (
    HEADER,
    SAVE_AGAIN,
    ULN,
    Registry,
    _client,
    _register,
)

from lrs_domain.rules import details_do_not_match
from validation.learner_registry import parse_learners_csv

# 35 letters, eight of them with two marks that have no composed form: 43 code points composed
YORUBA_35 = unicodedata.normalize("NFC", "Ọ̀lá Ẹ́mẹ́ Adéyọ̀sẹ́ Ọ̀ṣun Olúwaṣẹ́gun Ayọ̀")


async def test_an_import_of_a_file_saved_as_ansi_is_a_422_and_nothing_is_registered() -> None:
    """What Excel's "CSV (Comma delimited)" writes for Llŷr Ynys-Gwŷr: plain ASCII, so valid UTF-8."""
    content = f"{HEADER}{ULN},Ll\u0177r,Ynys-Gw\u0177r,2005-01-02,2,1,\n".encode("cp1252", errors="replace")
    assert content.isascii()
    registry = Registry()
    async with _client("operator:ops", registry) as client:
        answer = await client.post("/v1/learners/import", content=content, headers={"content-type": "text/csv"})

    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == (
        f"line 2: GivenName holds '?' at character 3, where a letter was lost when the file was saved: {SAVE_AGAIN}"
    )
    assert registry.registered == []


async def test_a_35_letter_yoruba_name_is_registered_by_a_registration_and_a_learner_file() -> None:
    assert len(YORUBA_35) == 43  # code points, composed: what was counted before
    registry = Registry()
    answer = await _register("operator:ops", registry, given_name=YORUBA_35)
    [learner] = parse_learners_csv(f"{HEADER}{ULN},{YORUBA_35},Jones,2005-01-02,2,1,\n")
    too_long = await _register("operator:ops", Registry(), given_name=YORUBA_35 + "ẹ́")

    assert answer.status_code == 201, answer.text
    assert [each.given_name for each in registry.registered] == [YORUBA_35] == [learner.given_name]
    assert too_long.status_code == 422
    assert too_long.json()["detail"] == "body.given_name: the name is 36 characters long: at most 35 are allowed"


def test_an_erased_learners_record_is_told_of_its_curly_apostrophe_as_a_live_learners_is() -> None:
    """Decision 0157: an AO not told of the erasure reads the record as one whose details do not match, word for
    word; RV004 of a live learner says what it says of O<U+2019>Neill, so this one must too."""
    live, erased = _live_and_erased({"family_name": "O\u2019Neill"})

    said = details_do_not_match(PROBED, "Ada", "O\u2019Neill")
    assert said.endswith(
        "The family name is written with \u2019 (U+2019), not the ' on a keyboard: if the learner is registered"
        " with ', write that."
    )
    assert _said(live)[1] == [("RV004", "uln", said)]
    assert _said(erased) == _said(live)
