"""The operators' rebuild page over a stubbed PLR projector: the comparison in words and a table, a
confirmation before switching or abandoning (neither can be undone), and what each did, said once."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, problem, shown_after, stubbed_portal

from portal.accounts import Role
from portal.web.operator_pages import comparison_view

REBUILD = "plr-projector/v1/admin/rebuild"
IDENTICAL = {
    "identical": True,
    "counts": {"live": {"achievements": 1200, "learners": 300}, "rebuilt": {"achievements": 1200, "learners": 300}},
    "learners_compared": 300,
    "learners_differing": 0,
    "differing_ulns_masked": [],
    "global_checksums_differing": [],
    "compared_at": "2027-05-03T08:15:00+00:00",
}
DIFFERENT = {
    **IDENTICAL,
    "identical": False,
    "counts": {"live": {"achievements": 1200, "learners": 300}, "rebuilt": {"achievements": 1198, "learners": 300}},
    "learners_differing": 2,
    "differing_ulns_masked": ["******0043", "******0051"],
    "global_checksums_differing": ["providers"],
}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def caught_up(comparison: dict[str, Any] | None = None) -> dict[str, Any]:
    """`GET /v1/admin/rebuild` for rebuild 7, caught up with the log."""
    return {
        "state": "caught_up",
        "phase": "following",
        "rebuild_id": 7,
        "schema": "plr_rebuild_7",
        "started_by": "operator:olu",
        "started_at": "2027-05-03T08:00:00+00:00",
        "target_events": 5000,
        "projected_events": 5000,
        "progress": 1.0,
        "events_per_second": 800.0,
        "eta_seconds": 0.0,
        "events_past_target": 0,
        "workers": [],
        "last_error": None,
        "comparison": comparison,
    }


def projector_with(portal: StubbedPortal, status: dict[str, Any]) -> None:
    portal.on("GET", REBUILD, lambda _: httpx.Response(200, json=status))


def test_a_comparison_is_shown_in_words_and_a_table_not_as_a_dict(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    projector_with(portal, caught_up(DIFFERENT))

    shown = client.get("/ops/rebuild")

    assert "{&#39;identical&#39;" not in shown.text and "{'identical'" not in shown.text
    assert 'data-comparison="different"' in shown.text
    assert "Different: 2 of 300 learners differ, and the checksums of providers" in shown.text
    table = shown.text.split('data-table="comparison"', 1)[1].split("</table>", 1)[0]
    achievements = table.split('data-compared-table="achievements"', 1)[1].split("</tr>", 1)[0]
    assert ">1,200<" in achievements and ">1,198<" in achievements and "differs" in achievements
    learners = table.split('data-compared-table="learners"', 1)[1].split("</tr>", 1)[0]
    assert ">300<" in learners and "differs" not in learners
    assert "Learners that differ, ULNs masked: ******0043, ******0051." in shown.text


def test_an_identical_comparison_says_so(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    projector_with(portal, caught_up(IDENTICAL))
    portal.on("POST", f"{REBUILD}/compare", lambda _: httpx.Response(200, json=IDENTICAL))

    shown = shown_after(client, client.post("/ops/rebuild/compare", data=form(operator)))

    assert 'data-done="compare"' in shown.text and "the rebuilt model is identical" in shown.text
    assert 'data-comparison="identical"' in shown.text
    assert "Identical: the rebuilt model matches the live one" in shown.text


def test_switch_and_abandon_are_links_to_a_confirmation_not_forms_that_act(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    projector_with(portal, caught_up(DIFFERENT))

    shown = client.get("/ops/rebuild")
    switch = client.get("/ops/rebuild/switch")
    abandon = client.get("/ops/rebuild/abandon")

    assert 'action="/ops/rebuild/switch"' not in shown.text and 'action="/ops/rebuild/abandon"' not in shown.text
    assert 'href="/ops/rebuild/switch" role="button"' in shown.text
    assert 'href="/ops/rebuild/abandon" role="button"' in shown.text
    assert '<h1 class="govuk-heading-l">Switch to the rebuilt model?</h1>' in switch.text
    assert 'data-compared="different"' in switch.text and "2 learners differ" in switch.text
    assert 'name="confirmed" value="yes"' in switch.text and "Yes, switch to the rebuilt model" in switch.text
    assert '<h1 class="govuk-heading-l">Abandon the rebuild?</h1>' in abandon.text
    assert "its schema is dropped: what it has replayed (5,000 log positions) is lost" in abandon.text
    assert not [request for request in portal.sent if request.method != "GET"]


def test_a_switch_without_its_confirmation_asks_for_it_and_sends_nothing(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    projector_with(portal, caught_up(IDENTICAL))

    switch = client.post("/ops/rebuild/switch", data=form(operator))
    abandon = client.post("/ops/rebuild/abandon", data=form(operator))

    assert (switch.status_code, switch.headers["location"]) == (303, "/ops/rebuild/switch")
    assert (abandon.status_code, abandon.headers["location"]) == (303, "/ops/rebuild/abandon")
    assert not [request for request in portal.sent if request.method != "GET"]


def test_a_confirmed_switch_says_which_schema_is_live_once(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    projector_with(portal, {"state": "idle"})
    switched = {"state": "switched", "rebuild_id": 7, "live_schema": "plr", "retired_schema": "plr_retired_7"}
    portal.on("POST", f"{REBUILD}/switch", lambda _: httpx.Response(200, json=switched))

    answer = client.post("/ops/rebuild/switch", data=form(operator, confirmed="yes"))
    shown = shown_after(client, answer)
    reloaded = client.get("/ops/rebuild")

    assert answer.headers["location"] == "/ops/rebuild"
    assert len(portal.sent_to("POST", f"{REBUILD}/switch")) == 1
    assert 'data-done="switch"' in shown.text
    assert "Switched: rebuild 7 is now the live model, in the schema plr." in shown.text
    assert "The old model is kept as the schema plr_retired_7." in shown.text
    assert "data-done" not in reloaded.text


def test_a_confirmed_abandon_drops_the_rebuild_and_says_so(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    projector_with(portal, {"state": "idle"})
    portal.on("DELETE", REBUILD, lambda _: httpx.Response(200, json={"state": "abandoned", "rebuild_id": 7}))

    shown = shown_after(client, client.post("/ops/rebuild/abandon", data=form(operator, confirmed="yes")))

    assert len(portal.sent_to("DELETE", REBUILD)) == 1
    assert 'data-done="abandon"' in shown.text
    assert "Abandoned rebuild 7: its schema was dropped. The live model is unchanged." in shown.text


def test_nothing_to_switch_to_is_said_before_asking(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    projector_with(portal, {"state": "idle"})

    answer = client.get("/ops/rebuild/switch")

    assert answer.status_code == 409
    assert "No rebuild is running: there is nothing to switch." in answer.text
    assert client.get("/ops/rebuild/start").status_code == 404  # only what cannot be undone is asked


def test_a_refusal_is_said_once_from_the_session_never_from_the_address(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    projector_with(portal, caught_up())
    portal.on(
        "POST",
        f"{REBUILD}/compare",
        lambda _: problem(
            409, "The rebuild has not caught up with the log, so it cannot be compared with the live model yet."
        ),
    )

    answer = client.post("/ops/rebuild/compare", data=form(operator))
    shown = shown_after(client, answer)
    forged = client.get("/ops/rebuild?error=All+learner+records+were+erased")

    assert answer.headers["location"] == "/ops/rebuild"
    assert "The rebuild has not caught up with the log, so it cannot be compared with the live model yet." in shown.text
    assert "data-refusal" not in forged.text and "All learner records were erased" not in forged.text


def test_a_comparison_view_lists_every_table_of_either_model() -> None:
    view = comparison_view({**DIFFERENT, "counts": {"live": {"a": 1}, "rebuilt": {"b": 2}}})

    assert view is not None
    assert view["tables"] == [{"table": "a", "live": 1, "rebuilt": None}, {"table": "b", "live": None, "rebuilt": 2}]
    assert comparison_view(None) is None


def _said(page: httpx.Response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))


def test_progress_is_counted_in_log_positions_as_the_cli_counts_it(portal: StubbedPortal) -> None:
    """docs/operations.md: the counts are offsets of the log, so commit markers count beside the events."""
    client, _ = portal.signed_in(Role.OPERATOR)
    projector_with(portal, {**caught_up(), "target_events": 299, "projected_events": 299})

    said = _said(client.get("/ops/rebuild"))
    confirming = _said(client.get("/ops/rebuild/switch"))

    assert "100.0% (299 of 299 log positions)" in said
    assert "each Kafka transaction's commit marker counts as one beside the events" in said
    assert "299 of 299 log positions" in confirming
    assert " events)" not in said and "events a second" not in said


def test_a_caught_up_rebuild_shows_no_rate_that_only_falls_as_time_passes(portal: StubbedPortal) -> None:
    """The projector's `events_per_second` is averaged since the start: after catching up it keeps falling."""
    client, _ = portal.signed_in(Role.OPERATOR)
    projector_with(portal, {**caught_up(), "events_per_second": 3.2})

    shown = client.get("/ops/rebuild")

    assert "data-speed" not in shown.text and "a second" not in shown.text


def test_a_rebuild_building_its_indexes_says_so_and_shows_no_rate(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    indexing = {**caught_up(), "state": "running", "phase": "indexing", "events_per_second": 900.0}
    projector_with(portal, indexing)

    said = _said(client.get("/ops/rebuild"))

    assert "running (loading done: building the keys and indexes)" in said
    assert "a second" not in said


def test_a_rebuild_still_loading_shows_its_average_rate_so_far_and_what_is_left_in_the_singular(
    portal: StubbedPortal,
) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    loading = {
        **caught_up(),
        "state": "running",
        "phase": "loading",
        "projected_events": 4000,
        "progress": 0.8,
        "events_per_second": 1000.4,
        "eta_seconds": 1.0,
    }
    projector_with(portal, loading)

    said = _said(client.get("/ops/rebuild"))

    assert "running (loading the log)" in said
    assert "1,000 log positions a second on average so far, about 1 second to go" in said


def test_one_learner_differing_reads_in_the_singular(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    projector_with(portal, caught_up({**DIFFERENT, "learners_differing": 1, "differing_ulns_masked": ["******0043"]}))

    shown = _said(client.get("/ops/rebuild"))
    switch = _said(client.get("/ops/rebuild/switch"))

    assert "Different: 1 of 300 learners differs, and the checksums of providers" in shown
    assert "found the models different: 1 learner differs." in switch


def test_a_caught_up_rebuilds_state_is_in_words_as_the_other_states_are(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    projector_with(portal, caught_up())

    shown = client.get("/ops/rebuild")
    confirming = client.get("/ops/rebuild/switch")

    assert "State caught up with the log Progress" in _said(shown)
    assert "State caught up with the log Progress" in _said(confirming)
    assert 'data-rebuild-state="caught_up"' in shown.text  # the state as the projector names it, for scripts
    assert "caught_up" not in _said(shown) and "caught_up" not in _said(confirming)
