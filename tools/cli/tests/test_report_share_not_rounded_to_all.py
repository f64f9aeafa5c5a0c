"""`lrs reports timeliness` says the share of batches on time as a whole percentage that never reads as all or none
when it is not (property walk, finding 2): 199 of 200 on time is not "100%", 1 of 200 is not "0%"."""

from __future__ import annotations

import pytest

from lrs_cli.report_commands import _share


@pytest.mark.parametrize(
    ("within", "measured", "said"),
    [(199, 200, "99%"), (1, 200, "1%"), (200, 200, "100%"), (0, 200, "0%"), (1, 2, "50%"), (2, 3, "67%"), (0, 0, "")],
)
def test_a_share_is_all_or_none_only_when_it_is(within: int, measured: int, said: str) -> None:
    assert _share(within, measured) == said
