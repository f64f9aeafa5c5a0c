"""`lrs sandpit purge` says one day as one day (Sandpit walk, finding 7: "no Sandpit has been idle for 1 days")."""

from __future__ import annotations

from lrs_cli.sandpit_commands import purge_text

RESET = {"ao_id": "RN9002", "reset_id": "r-1"}


def test_one_day_is_a_day_and_more_are_days() -> None:
    assert purge_text({"resets": []}, 1) == "no Sandpit has been idle for 1 day"
    assert purge_text({"resets": [RESET]}, 1) == "reset 1 Sandpit(s) idle for 1 day: RN9002 (r-1)"
    assert purge_text({"resets": []}, 30) == "no Sandpit has been idle for 30 days"
