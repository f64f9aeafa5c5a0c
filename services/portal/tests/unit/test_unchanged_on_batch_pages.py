"""The portal names a record already on the learner's record as sent "unchanged", as the email's subject and
`lrs batch status` do: the batches list's column, a batch's counts and its records' tags said "No change"."""

from __future__ import annotations

from portal.web.common import TEMPLATES


def test_the_status_words_say_unchanged() -> None:
    assert TEMPLATES.filters["status_words"]("no_op") == "unchanged"


def test_a_batchs_counts_say_unchanged() -> None:
    macros = TEMPLATES.get_template("_macros.html").module
    batch = {"status": "completed", "counts": {"total": 3, "accepted": 1, "rejected": 1, "no_ops": 1, "warnings": 0}}
    said = str(macros.batch_counts(batch))  # type: ignore[attr-defined]
    assert ">Unchanged</dt>" in said and "No change" not in said
