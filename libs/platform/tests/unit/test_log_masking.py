from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from lrs_domain import identifiers
from lrs_platform.logging import configure_logging, mask_personal_data, mask_uln


def _masked(**fields: Any) -> dict[str, Any]:
    return dict(mask_personal_data(None, "info", dict(fields)))


def test_personal_fields_are_hidden() -> None:
    masked = _masked(given_name="Amira", family_name="Khan", date_of_birth="2001-02-03", notification_email="a@b.c")
    assert set(masked.values()) == {"***"}


def test_ulns_keep_only_their_last_four_digits_wherever_they_appear() -> None:
    masked = _masked(uln="1000000043", event="learner 1026893096 verified", ulns=["6936002314"], number=4444599390)
    assert masked == {
        "uln": "******0043",
        "event": "learner ******3096 verified",
        "ulns": ["******2314"],
        "number": "******9390",
    }


def test_nested_structures_are_masked() -> None:
    assert _masked(record={"uln": "1000000043", "given_name": "Ben"}) == {
        "record": {"uln": "******0043", "given_name": "***"}
    }


def test_ids_that_merely_contain_digits_are_left_alone() -> None:
    request_id = "6e98b43606d64d25bf5f4312345678909c0"
    assert _masked(request_id=request_id, batch="b-12345678901234") == {
        "request_id": request_id,
        "batch": "b-12345678901234",
    }


def test_the_logs_mask_a_uln_as_the_domain_does() -> None:
    assert mask_uln is identifiers.mask_uln  # one rule for every service, not a copy
    assert mask_uln("1000000043") == "******0043" and mask_uln("12345") == "*****"


def test_a_library_s_line_is_one_json_line_like_the_service_s_own_and_masked(
    configured_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("probe", "info", json=True)
    try:
        raise ConnectionRefusedError("learner 1000000043")
    except ConnectionRefusedError:
        logging.getLogger("asyncpg.pool").exception("Failed to restore the pool connection floor; retrying")

    (line,) = capsys.readouterr().out.splitlines()  # the traceback inside the line, not after it
    logged = json.loads(line)
    assert (logged["service"], logged["level"], logged["logger"]) == ("probe", "error", "asyncpg.pool")
    assert "ConnectionRefusedError: learner ******0043" in logged["exception"]
    assert "1000000043" not in line


def test_asyncpgs_pool_retrying_while_postgresql_is_away_is_said_once_a_minute(
    configured_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("probe", "info", json=True)
    for _ in range(3):
        try:
            raise ConnectionRefusedError("connect call failed")
        except ConnectionRefusedError:
            logging.getLogger("asyncpg.pool").warning(
                "Failed to restore the pool connection floor; retrying", exc_info=True
            )

    assert len(capsys.readouterr().out.splitlines()) == 1
