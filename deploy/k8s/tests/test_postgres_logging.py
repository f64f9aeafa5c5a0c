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
