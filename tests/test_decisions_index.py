"""docs/decisions/README.md indexes every decision record as it is: its number, its title and the dates of its later
notes. It is generated (`scripts/dev/index_decisions.py`), and stale once a record or a later note is added."""

from __future__ import annotations

from pathlib import Path

from scripts.dev.index_decisions import DECISIONS, INDEX, read_record, records, render_index

REGENERATE = "docs/decisions/README.md is stale: run `.venv/bin/python scripts/dev/index_decisions.py`"


def test_the_index_is_the_records_as_they_are() -> None:
    assert INDEX.read_text(encoding="utf-8") == render_index(), REGENERATE


def test_every_record_has_a_row() -> None:
    index = INDEX.read_text(encoding="utf-8")
    on_disk = sorted(path.name for path in DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md"))

    assert [record.file for record in records()] == on_disk
    for name in on_disk:
        assert f"]({name}) |" in index


def test_a_later_note_is_listed_by_its_date_or_as_undated(tmp_path: Path) -> None:
    record = tmp_path / "0999-a-decision.md"
    record.write_text(
        "# 0999 — A decision | with a bar\n\nDecided.\n\n"
        "**Later (code review, 2026-12-05).** Changed.\n\n"
        "Kept (**Later, 2026-12-06:** and again).\n\n"
        "**Later (a race with merges).** Undated.\n\n"
        "**Later note (2026-12-07).** Last.\n\n"
        "Later messages with the same key are held: not a note.\n",
        encoding="utf-8",
    )
    (tmp_path / "0998-no-notes.md").write_text("# 0998 Plain\n", encoding="utf-8")

    assert read_record(record).later_notes == ("2026-12-05", "2026-12-06", "undated", "2026-12-07")
    rows = render_index(tmp_path).splitlines()[-2:]
    assert rows == [
        "| [0998](0998-no-notes.md) | Plain |  |",
        "| [0999](0999-a-decision.md) | A decision \\| with a bar | 2026-12-05, 2026-12-06, undated, 2026-12-07 |",
    ]


def test_a_record_added_without_regenerating_makes_the_index_stale(tmp_path: Path) -> None:
    (tmp_path / "0001-first.md").write_text("# 0001 — First\n", encoding="utf-8")
    before = render_index(tmp_path)
    (tmp_path / "0002-second.md").write_text("# 0002 — Second\n", encoding="utf-8")

    assert render_index(tmp_path) != before
