"""Review 2, finding 8: a validation that does not send the load's counts (a cluster older than the operator's `lrs`)
was said as "0 added, 0 removed, 0 changed", which reads as "nothing changed". Without the counts the load is said
as made, and that the counts were not given."""

from __future__ import annotations

from lrs_cli.admin_commands import load_reference

from .test_reference_load_said import LOADED, Answering


def test_a_load_without_its_counts_does_not_say_nothing_changed() -> None:
    without_counts = {name: value for name, value in LOADED.items() if name not in ("added", "removed", "changed")}

    said = load_reference(Answering(200, without_counts))  # type: ignore[arg-type]

    assert said == (
        "loaded 8,113 qualifications of 126 awarding organisations (catalogue version 5); validation did not say how"
        " many it added, removed or changed (an older release)"
    )
    assert "0 added" not in said
