"""Every PostgreSQL cluster the manifests make keeps an error's DETAIL out of its log: a refused key's values are a
full ULN (invariant 7; tests/integration/test_postgres_server_log.py shows the setting at work)."""

from __future__ import annotations

import pytest
from deploy.k8s.tests.kube import of_kind, render


@pytest.mark.parametrize("overlay", ["overlays/prod", "overlays/prod/restore", "overlays/dev"])
def test_every_cluster_logs_errors_tersely(overlay: str) -> None:
    clusters = of_kind(render(overlay), "Cluster")
    assert clusters or overlay == "overlays/dev", f"{overlay} makes no PostgreSQL cluster"
    for cluster in clusters:
        assert cluster["spec"]["postgresql"]["parameters"]["log_error_verbosity"] == "terse", cluster["metadata"]


def test_a_restored_cluster_keeps_and_watches_its_backups_as_the_first_one_does() -> None:
    """A restored cluster becomes the live one: its backups hold wrapped learner keys and erased learners' old row
    versions, which privacy.md promises expire after 30 days, and its PodMonitor feeds the alerts deploy.md gives."""
    (first,) = of_kind(render("overlays/prod"), "Cluster")
    (restored,) = of_kind(render("overlays/prod/restore"), "Cluster")
    assert restored["spec"]["backup"]["retentionPolicy"] == first["spec"]["backup"]["retentionPolicy"]
    for part in ("wal", "data"):
        assert (
            restored["spec"]["backup"]["barmanObjectStore"][part] == first["spec"]["backup"]["barmanObjectStore"][part]
        )
    assert restored["spec"]["monitoring"] == first["spec"]["monitoring"]
    assert (
        restored["spec"]["backup"]["barmanObjectStore"]["destinationPath"]
        != first["spec"]["backup"]["barmanObjectStore"]["destinationPath"]
    )
