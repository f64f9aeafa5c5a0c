"""A pod stops within its grace period, and new connections still reach it while the cluster forgets it.

Kubernetes takes a stopping pod out of the endpoints as it runs its preStop, and kube-proxy and the ingress
controller learn of it some seconds later: a 5 s preStop sleep keeps the listener open for them, since SIGTERM
closes it at once. Then uvicorn lets the open requests run for `GRACEFUL_SHUTDOWN_SECONDS` (a 30 s long-poll is cut),
then the lifespan stops the loops (`SHUTDOWN_SECONDS`) and each Kafka client (`CLIENT_STOP_SECONDS`, or the
service's own bound), and the process exits. `terminationGracePeriodSeconds` counts from the preStop's start: it must
hold the whole sum, or the kubelet kills the process halfway through its stop."""

from __future__ import annotations

import pytest
from deploy.k8s.tests.kube import OVERLAYS, Doc, containers, named, of_kind, render

from ingest.config import IngestSettings
from lrs_platform.http import GRACEFUL_SHUTDOWN_SECONDS
from lrs_platform.kafka import CLIENT_STOP_SECONDS
from lrs_platform.service import SHUTDOWN_SECONDS

PRE_STOP_SECONDS = 5  # endpoints reach kube-proxy and ingress-nginx within a few seconds
LOOPS = SHUTDOWN_SECONDS  # BackgroundTasks.stop
CLIENT = CLIENT_STOP_SECONDS  # a Kafka client's stop, as docs/operations.md bounds it
INGEST_PUBLISHER: float = IngestSettings.model_fields["kafka_start_timeout_seconds"].default  # Publisher.stop's bound
FAUST_STOP = 30  # reporting/bootstrap.py: FAUST_STOP_SECONDS
EXIT_ROOM = 5  # the pools closed, the interpreter's exit

LIFESPAN_STOP = {
    # the loops, then the publisher's producer and the producers it threw away, each within its start timeout
    "ingest": LOOPS + 2 * INGEST_PUBLISHER,
    "validation": LOOPS + 3 * CLIENT,  # the decider's consumer, its transactional producer, the outbox's producer
    "challenges": LOOPS + 2 * CLIENT,  # the log-end probe, the producer
    "notifier": LOOPS + LOOPS + CLIENT,  # the email being sent (Notifications.stop), the loops, the producer
    "reporting": LOOPS + FAUST_STOP,
    "plr-projector": 4 * CLIENT,  # the producer, the live runner's consumer, the log probe, a rebuild's runner
    "plr-reader": 4 * CLIENT,  # the projector's code, its consumer off
    "portal": LOOPS,
}
"""What each service's lifespan may take to stop (the `finally` of its bootstrap.py), in seconds."""


def budget(service: str) -> float:
    return PRE_STOP_SECONDS + GRACEFUL_SHUTDOWN_SECONDS + LIFESPAN_STOP[service] + EXIT_ROOM


def _service_of(deployment: Doc) -> str:
    return str(deployment["metadata"]["name"]).removeprefix("sandpit-")


def _services(docs: list[Doc]) -> list[Doc]:
    return [
        doc
        for doc in of_kind(docs, "Deployment")
        if doc["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == "service"
    ]


def shutdown_problems(docs: list[Doc]) -> list[str]:
    problems = []
    for deployment in _services(docs):
        name = deployment["metadata"]["name"]
        [container] = containers(deployment)
        pre_stop = container.get("lifecycle", {}).get("preStop", {})
        if pre_stop != {"sleep": {"seconds": PRE_STOP_SECONDS}}:
            problems.append(f"{name}: no preStop sleep of {PRE_STOP_SECONDS} s ({pre_stop or 'none'})")
        grace = deployment["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        if grace < budget(_service_of(deployment)):
            problems.append(f"{name}: terminationGracePeriodSeconds {grace} < {budget(_service_of(deployment)):g}")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_keeps_listening_through_its_prestop_and_stops_within_its_grace_period(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    assert shutdown_problems(docs) == []
    # every service is counted, the Sandpit's too: none falls outside the budget by its name
    assert {_service_of(doc) for doc in _services(docs)} == set(LIFESPAN_STOP)
    assert len(_services(docs)) == 13


def test_the_open_requests_drain_for_less_than_the_longest_long_poll_and_reporting_has_longest() -> None:
    assert GRACEFUL_SHUTDOWN_SECONDS < 30  # ingest's wait_until_decided, a projector read's wait: up to 30 s
    assert max(LIFESPAN_STOP, key=LIFESPAN_STOP.__getitem__) == "reporting"
    assert budget("reporting") == 5 + 15 + 10 + 30 + 5


def test_the_shutdown_check_finds_a_missing_prestop_and_a_short_grace_period() -> None:
    docs = render("overlays/prod")
    [ingest] = containers(named(docs, "Deployment", "ingest"))
    del ingest["lifecycle"]
    named(docs, "Deployment", "sandpit-notifier")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 45
    del named(docs, "Deployment", "reporting")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]

    assert shutdown_problems(docs) == [
        "ingest: no preStop sleep of 5 s (none)",
        "reporting: terminationGracePeriodSeconds 30 < 65",
        "sandpit-notifier: terminationGracePeriodSeconds 45 < 50",
    ]
