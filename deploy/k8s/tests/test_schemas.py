"""Every object of every kustomization matches the schema of its kind, offline: Kubernetes' own (the
target release) and the CRDs of the pinned Strimzi, CloudNativePG, KEDA and Prometheus Operator
releases, all vendored in deploy/k8s/schemas. Unknown fields are errors, as in `kubectl --validate=strict`.
"""

from __future__ import annotations

import json

import pytest
from deploy.k8s.tests.kube import KUSTOMIZATIONS, SCHEMAS, named, render, schema_errors, versions


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_object_matches_the_schema_of_its_kind(kustomization: str) -> None:
    errors = [error for doc in render(kustomization) for error in schema_errors(doc)]
    assert errors == []


def test_a_misspelt_field_in_the_strimzi_kafka_is_rejected() -> None:
    kafka = named(render("overlays/prod"), "Kafka", "lrs")
    kafka["spec"]["kafka"]["authorisation"] = kafka["spec"]["kafka"].pop("authorization")

    assert any("'authorisation' was unexpected" in error for error in schema_errors(kafka))


def test_a_wrong_value_in_a_strimzi_listener_is_rejected() -> None:
    kafka = named(render("overlays/prod"), "Kafka", "lrs")
    kafka["spec"]["kafka"]["listeners"][0]["authentication"]["type"] = "mtls"

    assert any("/spec/kafka/listeners/0/authentication/type" in error for error in schema_errors(kafka))


def test_a_misspelt_probe_in_a_deployment_is_rejected() -> None:
    deployment = named(render("overlays/prod"), "Deployment", "ingest")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")

    assert any("'readinesProbe' was unexpected" in error for error in schema_errors(deployment))


def test_an_impossible_database_cluster_is_rejected() -> None:
    cluster = named(render("overlays/prod"), "Cluster", "lrs-db")
    cluster["spec"]["instances"] = 0

    assert any("/spec/instances" in error for error in schema_errors(cluster))


def test_the_vendored_schemas_are_those_of_the_pinned_releases() -> None:
    pinned = versions()
    index: dict[str, str] = json.loads((SCHEMAS / "index.json").read_text())
    expected_dirs = {
        "kubernetes": f"v{pinned['kubernetes']}",
        "strimzi": pinned["strimzi"],
        "cloudnative-pg": pinned["cloudnative-pg"],
        "keda": pinned["keda"],
        "prometheus-operator": pinned["prometheus-operator"],
    }
    for path in index.values():
        source, release, _ = path.split("/")
        assert release == expected_dirs[source], f"{path}: run deploy/k8s/schemas/refresh.sh"
        assert (SCHEMAS / path).is_file()
    for source, release in expected_dirs.items():
        assert {entry.name for entry in (SCHEMAS / source).iterdir()} == {release}
        assert (SCHEMAS / "LICENSES" / ("kubernetes-validate" if source == "kubernetes" else source)).is_file()


def test_only_the_kinds_the_manifests_use_are_vendored() -> None:
    used = {f"{doc['apiVersion']}/{doc['kind']}" for path in KUSTOMIZATIONS for doc in render(path)}
    index: dict[str, str] = json.loads((SCHEMAS / "index.json").read_text())
    assert set(index) - {"meta/v1/ObjectMeta"} == used
