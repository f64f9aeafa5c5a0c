"""Writes base/kafka/topics.yaml and base/kafka/users.yaml from the contracts and kafka-access.yaml.

    .venv/bin/python deploy/k8s/generate.py          # rewrite both files
    .venv/bin/python deploy/k8s/generate.py --check  # exit 1 when they are out of date

Topics come from `lrs_contracts.topics` (partitions, compaction, retention; every topic's DLQ keeps
its partitions and is kept forever). Users: one Strimzi KafkaUser per service (mutual TLS) whose ACLs
allow exactly the topics, groups and transactional ids kafka-access.yaml gives it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from lrs_contracts.topics import ALL_TOPICS, Topic

K8S = Path(__file__).resolve().parent
TOPICS_FILE = K8S / "base" / "kafka" / "topics.yaml"
USERS_FILE = K8S / "base" / "kafka" / "users.yaml"
ACCESS_FILE = K8S / "kafka-access.yaml"
CLUSTER = "lrs"
DAY_MS = 24 * 3600 * 1000
MAX_MESSAGE_BYTES = 8 * 1_048_576


def access() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACCESS_FILE.read_text())
    return loaded


def resource_name(topic_name: str) -> str:
    """Kubernetes names cannot hold dots: the resource is the topic name with dashes."""
    return topic_name.replace(".", "-")


def _retention_ms(topic: Topic) -> int:
    if topic.retention == "forever":
        return -1
    return int(topic.retention.split()[0]) * DAY_MS


def _kafka_topic(name: str, partitions: int, config: dict[str, object], note: str) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {
            "name": resource_name(name),
            "labels": {"strimzi.io/cluster": CLUSTER},
            "annotations": {"lrs/partition-key": note},
        },
        "spec": {
            "topicName": name,
            "partitions": partitions,
            "replicas": 3,
            "config": {**config, "min.insync.replicas": 2, "max.message.bytes": MAX_MESSAGE_BYTES},
        },
    }


def kafka_topics() -> list[dict[str, Any]]:
    resources = []
    for topic in ALL_TOPICS:
        if topic.compacted:
            config: dict[str, object] = {"cleanup.policy": "compact"}
        else:
            config = {"cleanup.policy": "delete", "retention.ms": _retention_ms(topic)}
        resources.append(_kafka_topic(topic.name, topic.partitions, config, f"key: {topic.key}"))
        resources.append(
            _kafka_topic(
                topic.dead_letters,
                topic.partitions,
                {"cleanup.policy": "delete", "retention.ms": -1},
                f"dead letters of {topic.name}",
            )
        )
    return resources


def _acl(kind: str, name: str, operations: list[str]) -> dict[str, Any]:
    pattern = "prefix" if name.endswith("*") else "literal"
    return {
        "resource": {"type": kind, "name": name.rstrip("*"), "patternType": pattern},
        "operations": operations,
    }


def service_acls(grants: dict[str, Any]) -> list[dict[str, Any]]:
    produces, consumes = set(grants.get("produces", [])), set(grants.get("consumes", []))
    declares = bool(grants.get("declares_topics"))
    acls = [_acl("topic", "lrs.*", ["Describe"])]
    writes = produces | {f"{topic}.dlq" for topic in consumes}
    for topic in sorted(produces | consumes | writes):
        operations = [*(["Read"] if topic in consumes else []), *(["Write"] if topic in writes else [])]
        operations += ["Create"] if declares else []
        acls.append(_acl("topic", topic, [*operations, "Describe"]))
    acls += [_acl("group", group, ["Read", "Describe"]) for group in grants.get("groups", [])]
    acls += [_acl("transactionalId", tid, ["Write", "Describe"]) for tid in grants.get("transactional_ids", [])]
    return acls


def observer_acls(grants: dict[str, Any]) -> list[dict[str, Any]]:
    return [_acl("topic", topic, ["Describe"]) for topic in grants["topics"]] + [
        _acl("group", group, ["Describe"]) for group in grants["groups"]
    ]


def _kafka_user(name: str, acls: list[dict[str, Any]], about: str) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {
            "name": f"lrs-{name}",
            "labels": {"strimzi.io/cluster": CLUSTER, "app.kubernetes.io/name": name},
            "annotations": {"lrs/kafka-access": about},
        },
        "spec": {"authentication": {"type": "tls"}, "authorization": {"type": "simple", "acls": acls}},
    }


def kafka_users() -> list[dict[str, Any]]:
    declared = access()
    users = [
        _kafka_user(name, service_acls(grants), "service")
        for name, grants in declared["services"].items()
        if grants.get("produces") or grants.get("consumes")
    ]
    users += [_kafka_user(name, observer_acls(grants), "observer") for name, grants in declared["observers"].items()]
    return users


def _render(header: str, resources: list[dict[str, Any]]) -> str:
    return header + yaml.safe_dump_all(resources, sort_keys=False, width=120)


def rendered() -> dict[Path, str]:
    source = "# Generated by deploy/k8s/generate.py from {what}; do not edit: edit the source and rerun it.\n"
    return {
        TOPICS_FILE: _render(source.format(what="contracts/src/lrs_contracts/topics.py"), kafka_topics()),
        USERS_FILE: _render(source.format(what="the contracts and deploy/k8s/kafka-access.yaml"), kafka_users()),
    }


def main(argv: list[str]) -> int:
    stale = [path for path, text in rendered().items() if not path.exists() or path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(K8S)} is out of date: run deploy/k8s/generate.py", file=sys.stderr)
        return 1 if stale else 0
    for path, text in rendered().items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
