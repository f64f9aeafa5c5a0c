"""The manifests agree with the contracts, and every workload is hardened. Pure: parses YAML only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lrs_contracts.topics import ALL_TOPICS, BATCH_SUBMITTED, PLR_EVENTS, Topic

K8S = Path(__file__).resolve().parents[1]
BASE = K8S / "base"
ROOT = K8S.parents[1]
SERVICES = {"ingest", "validation", "plr-projector", "challenges", "notifier", "reporting"}
FOREVER_MS = -1
DAY_MS = 24 * 3600 * 1000


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(BASE.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents() if doc["kind"] == kind]


def expected_config(topic: Topic) -> dict[str, object]:
    if topic.compacted:
        return {"cleanup.policy": "compact"}
    if topic.retention == "forever":
        return {"cleanup.policy": "delete", "retention.ms": FOREVER_MS}
    days = int(topic.retention.split()[0])
    return {"cleanup.policy": "delete", "retention.ms": days * DAY_MS}


def test_every_contract_topic_and_its_dead_letter_topic_has_a_kafka_topic() -> None:
    declared = {doc["spec"]["topicName"]: doc for doc in of_kind("KafkaTopic")}
    wanted = {topic.name for topic in ALL_TOPICS} | {topic.dead_letters for topic in ALL_TOPICS}
    assert set(declared) == wanted
    for topic in ALL_TOPICS:
        spec = declared[topic.name]["spec"]
        assert spec["partitions"] == topic.partitions, topic.name
        config = spec["config"]
        assert {key: config.get(key) for key in expected_config(topic)} == expected_config(topic), topic.name
        if topic.compacted:
            assert "retention.ms" not in config, topic.name
        dead_letters = declared[topic.dead_letters]["spec"]
        assert dead_letters["partitions"] == topic.partitions
        assert dead_letters["config"]["retention.ms"] == FOREVER_MS
    for doc in declared.values():
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "lrs"


def test_kafka_is_kraft_with_a_node_pool_and_postgres_is_cloudnativepg() -> None:
    [kafka] = of_kind("Kafka")
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert "zookeeper" not in kafka["spec"]
    [pool] = of_kind("KafkaNodePool")
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    [cluster] = of_kind("Cluster")
    assert cluster["apiVersion"].startswith("postgresql.cnpg.io/")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_hardened_deployment_and_a_service(name: str) -> None:
    [deployment] = [doc for doc in of_kind("Deployment") if doc["metadata"]["name"] == name]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    [container] = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) == {"cpu", "memory"}
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    env = {item["name"]: item for item in container["env"]}
    assert env["KAFKA_BOOTSTRAP_SERVERS"]["valueFrom"]["configMapKeyRef"]["name"] == "lrs-config"
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "lrs-db-app", "key": "uri"}
    [service] = [doc for doc in of_kind("Service") if doc["metadata"]["name"] == name]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_deployments_are_exactly_the_six_services() -> None:
    assert {doc["metadata"]["name"] for doc in of_kind("Deployment")} == SERVICES


def test_autoscaling_is_bounded_by_the_input_topics_partitions() -> None:
    scalers = {doc["spec"]["scaleTargetRef"]["name"]: doc["spec"] for doc in of_kind("HorizontalPodAutoscaler")}
    assert set(scalers) == {"validation", "plr-projector"}
    assert scalers["validation"]["maxReplicas"] <= BATCH_SUBMITTED.partitions
    assert scalers["plr-projector"]["maxReplicas"] <= PLR_EVENTS.partitions


def test_the_base_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {str(path.relative_to(BASE)) for path in BASE.rglob("*.yaml") if path.name != "kustomization.yaml"}
    assert listed == present


def test_one_dockerfile_builds_any_service_from_the_repository_root() -> None:
    dockerfile = (ROOT / "services" / "Dockerfile").read_text()
    assert "ARG SERVICE" in dockerfile
    assert 'uv sync --frozen --no-dev --no-editable --package "lrs-${SERVICE}"' in dockerfile
    assert "USER 10001:10001" in dockerfile


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (for kustomize) is not installed")
@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlays_render(overlay: str) -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, check=True
    ).stdout
    docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
    namespaces = {doc["metadata"].get("namespace") for doc in docs if doc["kind"] not in ("Namespace",)}
    assert namespaces == {"lrs-dev" if overlay == "dev" else "lrs"}
    topics = [doc for doc in docs if doc["kind"] == "KafkaTopic"]
    assert len(topics) == 2 * len(ALL_TOPICS)
    if overlay == "dev":
        assert {doc["spec"]["replicas"] for doc in topics} == {1}
