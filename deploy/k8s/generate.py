"""Writes base/kafka/{topics,users}.yaml and base/sandpit/{kafka,services}.yaml from the contracts,
kafka-access.yaml and the live services' manifests.

    .venv/bin/python deploy/k8s/generate.py          # rewrite the files
    .venv/bin/python deploy/k8s/generate.py --check  # exit 1 when they are out of date

Topics come from `lrs_contracts.topics` (partitions, compaction, retention; every topic's DLQ keeps
its partitions and is kept forever). Users: one Strimzi KafkaUser per service (mutual TLS) whose ACLs
allow exactly the topics, groups and transactional ids kafka-access.yaml gives it; likewise one per
observer (KEDA) and per reader (analysts' consumers, which may only read the topics named).

The Sandpit (decision 0060) is the same services again with `LRS_ENVIRONMENT=sandpit`: their topics,
consumer groups and transactional ids carry the prefix `sandpit.` (`lrs_contracts.environments`), they
read the live learner registry and catalogue topics and never write them, each has its own KafkaUser
(`lrs-sandpit-<service>`), and each logs in to their own database `lrs_sandpit` as a role of its own, as live
does: the live `lrs-db-<service>` Secret becomes `lrs-db-sandpit-<service>` (base/postgres/roles.yaml). The
projector's key-encryption key is the Sandpit's own too (`SANDPIT_SECRETS`). Their Deployments are the live ones
with those changes, so the two never drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from lrs_contracts.environments import SANDPIT_PREFIX, SANDPIT_RETENTION, SHARED_TOPICS, Environment, TopicNames
from lrs_contracts.topics import ALL_TOPICS

K8S = Path(__file__).resolve().parent
TOPICS_FILE = K8S / "base" / "kafka" / "topics.yaml"
USERS_FILE = K8S / "base" / "kafka" / "users.yaml"
SANDPIT_KAFKA_FILE = K8S / "base" / "sandpit" / "kafka.yaml"
SANDPIT_SERVICES_FILE = K8S / "base" / "sandpit" / "services.yaml"
ACCESS_FILE = K8S / "kafka-access.yaml"
SANDPIT = TopicNames(Environment.SANDPIT)
SANDPIT_LABEL = {"lrs.io/environment": "sandpit"}
CLUSTER = "lrs"
DAY_MS = 24 * 3600 * 1000
# Live Secrets whose Sandpit copy reads one of its own (create-secrets.sh makes both). The database's are
# `lrs-db-<service>` → `lrs-db-sandpit-<service>` (sandpit_secret); `lrs-keyring` stays shared (decision 0080).
SANDPIT_SECRETS = {"lrs-credential-signing": "lrs-sandpit-credential-signing"}
MAX_MESSAGE_BYTES = 8 * 1_048_576


def access() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACCESS_FILE.read_text())
    return loaded


def resource_name(topic_name: str) -> str:
    """Kubernetes names cannot hold dots: the resource is the topic name with dashes."""
    return topic_name.replace(".", "-")


def _retention_ms(retention: str) -> int:
    if retention == "forever":
        return -1
    return int(retention.split()[0]) * DAY_MS


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
            config = {"cleanup.policy": "delete", "retention.ms": _retention_ms(topic.retention)}
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


def reader_acls(grants: dict[str, Any]) -> list[dict[str, Any]]:
    """A person's consumer: it reads the topics named, one by one, in groups of its own, and nothing else."""
    if any(topic.endswith("*") for topic in grants["topics"]):
        raise ValueError(f"a reader is given topics by name, not by prefix: {grants['topics']}")
    return [_acl("topic", topic, ["Read", "Describe"]) for topic in grants["topics"]] + [
        _acl("group", group, ["Read", "Describe"]) for group in grants["groups"]
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
    sandpit_observers = declared["sandpit"]["observers"]
    for name, grants in declared["observers"].items():
        sandpit = sandpit_observers.get(name, {})
        both = {key: [*grants[key], *sandpit.get(key, [])] for key in ("groups", "topics")}
        users.append(_kafka_user(name, observer_acls(both), "observer"))
    users += [_kafka_user(name, reader_acls(grants), "reader") for name, grants in declared["readers"].items()]
    return users


# --- the Sandpit ----------------------------------------------------------------------------------


def sandpit_grants() -> dict[str, dict[str, Any]]:
    """Each sandpit service's Kafka grants: the live ones renamed for the sandpit, shared topics read only, and
    the consumer groups only the sandpit's copy joins (`sandpit.groups`)."""
    declared = access()
    sandpit = declared["sandpit"]
    grants = {}
    for name in sandpit["services"]:
        live = declared["services"][name]
        consumes = [*live.get("consumes", []), *sandpit.get("reads_live", {}).get(name, [])]
        grants[name] = {
            "produces": [SANDPIT.physical(topic) for topic in live.get("produces", []) if topic not in SHARED_TOPICS],
            "consumes": [SANDPIT.physical(topic) for topic in dict.fromkeys(consumes)],
            "dead_letters": [SANDPIT.dead_letters(topic) for topic in dict.fromkeys(consumes)],
            "groups": [
                SANDPIT.group(group) for group in [*live.get("groups", []), *sandpit.get("groups", {}).get(name, [])]
            ],
            "transactional_ids": [SANDPIT.group(tid) for tid in live.get("transactional_ids", [])],
        }
    return grants


def sandpit_acls(grants: dict[str, Any]) -> list[dict[str, Any]]:
    produces, consumes = set(grants["produces"]), set(grants["consumes"])
    writes = produces | set(grants["dead_letters"])
    acls = [_acl("topic", "lrs.*", ["Describe"]), _acl("topic", "sandpit.lrs.*", ["Describe"])]
    for topic in sorted(produces | consumes | writes):
        operations = [*(["Read"] if topic in consumes else []), *(["Write"] if topic in writes else [])]
        acls.append(_acl("topic", topic, [*operations, "Describe"]))
    acls += [_acl("group", group, ["Read", "Describe"]) for group in grants["groups"]]
    acls += [_acl("transactionalId", tid, ["Write", "Describe"]) for tid in grants["transactional_ids"]]
    return acls


def sandpit_topics() -> list[dict[str, Any]]:
    """The sandpit's own topics (the ones its services name) and their DLQs, kept for 30 days."""
    grants = sandpit_grants().values()
    used = {topic for grant in grants for topic in [*grant["produces"], *grant["consumes"]]}
    dead_letters = {topic for grant in grants for topic in grant["dead_letters"]}
    resources = []
    kept: dict[str, object] = {"cleanup.policy": "delete", "retention.ms": _retention_ms(SANDPIT_RETENTION)}
    for topic in SANDPIT.declared(ALL_TOPICS):
        if topic.name in used and topic.name.startswith(SANDPIT_PREFIX):
            config: dict[str, object] = {"cleanup.policy": "compact"} if topic.compacted else kept
            resources.append(_kafka_topic(topic.name, topic.partitions, config, f"key: {topic.key}"))
        if topic.dead_letters in dead_letters:
            resources.append(_kafka_topic(topic.dead_letters, topic.partitions, kept, f"dead letters of {topic.name}"))
    for resource in resources:
        resource["metadata"]["labels"].update(SANDPIT_LABEL)
    return resources


def sandpit_kafka() -> list[dict[str, Any]]:
    users = [
        _kafka_user(f"sandpit-{name}", sandpit_acls(grants), "sandpit service")
        for name, grants in sandpit_grants().items()
    ]
    for user in users:
        user["metadata"]["labels"].update(SANDPIT_LABEL)
    return sandpit_topics() + users


def sandpit_secret(name: str) -> str:
    """The Secret a Sandpit copy reads where the live workload reads `name`: a service's database role
    (`lrs-db-ingest` → `lrs-db-sandpit-ingest`), the Sandpit's own of `SANDPIT_SECRETS`, or the same one."""
    if name.startswith("lrs-db-"):
        return f"lrs-db-sandpit-{name.removeprefix('lrs-db-')}"
    return SANDPIT_SECRETS.get(name, name)


def _sandpit_env(
    env: list[dict[str, Any]], overrides: dict[str, str | None], secrets: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    """The live container's environment in the sandpit: its database and Secrets (`sandpit_secret`), `secrets`
    (variables read from a Secret's key, before `overrides` so that those may refer to them) and `overrides`
    (None removes one)."""
    kept = []
    for item in env:
        if item["name"] in overrides:
            continue
        if "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            item = {**item, "valueFrom": {"secretKeyRef": {**ref, "name": sandpit_secret(ref["name"])}}}
        if item["name"] == "DATABASE_URL":
            item = {**item, "value": item["value"].replace("/lrs?", "/lrs_sandpit?")}
        kept.append(item)
    from_secrets = [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": ref["secret"], "key": ref["key"]}}}
        for name, ref in secrets.items()
    ]
    added = [{"name": name, "value": value} for name, value in overrides.items() if value is not None]
    return [{"name": "LRS_ENVIRONMENT", "value": "sandpit"}, *kept, *from_secrets, *added]


def sandpit_workload(
    doc: dict[str, Any],
    kafka_user: str,
    overrides: dict[str, str | None],
    secrets: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A live Deployment, Service or PodDisruptionBudget as the sandpit's copy."""
    name = f"sandpit-{doc['metadata']['name']}"
    sandpit_doc: dict[str, Any] = yaml.safe_load(yaml.safe_dump(doc))
    sandpit_doc["metadata"]["name"] = name
    sandpit_doc["metadata"]["labels"].update({"app.kubernetes.io/name": name, **SANDPIT_LABEL})
    spec = sandpit_doc["spec"]
    if sandpit_doc["kind"] == "Service":
        spec["selector"]["app.kubernetes.io/name"] = name
        return sandpit_doc
    spec["selector"]["matchLabels"]["app.kubernetes.io/name"] = name
    if sandpit_doc["kind"] == "Deployment":
        spec["template"]["metadata"]["labels"].update({"app.kubernetes.io/name": name, **SANDPIT_LABEL})
        pod = spec["template"]["spec"]
        [container] = pod["containers"]
        container["env"] = _sandpit_env(container["env"], overrides, secrets or {})
        for volume in pod["volumes"]:
            if volume["name"] == "kafka-user":
                volume["secret"]["secretName"] = f"lrs-sandpit-{kafka_user}"
    return sandpit_doc


def _add_spill(pod: dict[str, Any], size: str) -> None:
    """A volume of its own at /spill for what a rebuild worker spills (PROJECTOR_REBUILD_SPILL_DIR), of `size`,
    which the pod requests as ephemeral storage so that the scheduler counts it."""
    [container] = pod["containers"]
    container["volumeMounts"].append({"mountPath": "/spill", "name": "spill"})
    container["resources"]["requests"]["ephemeral-storage"] = size
    pod["volumes"].append({"emptyDir": {"sizeLimit": size}, "name": "spill"})


def sandpit_services() -> list[dict[str, Any]]:
    resources = []
    for workload, settings in access()["sandpit"]["workloads"].items():
        live = (K8S / "base" / "services" / f"{workload}.yaml").read_text()
        overrides = {name: None if value is None else str(value) for name, value in settings.get("env", {}).items()}
        for doc in (doc for doc in yaml.safe_load_all(live) if doc):
            sandpit_doc = sandpit_workload(doc, settings["kafka_user"], overrides, settings.get("secret_env"))
            if sandpit_doc["kind"] == "Deployment":
                spec = {key: value for key, value in sandpit_doc["spec"].items() if key != "replicas"}
                # none for a workload KEDA scales: an apply would set back the count KEDA chose
                replicas = {"replicas": settings["replicas"]} if settings.get("replicas") is not None else {}
                sandpit_doc["spec"] = {**replicas, **spec}
                if "requests" in settings:  # what an idle Sandpit reserves; the limits stay live's
                    [container] = sandpit_doc["spec"]["template"]["spec"]["containers"]
                    container["resources"]["requests"] = settings["requests"]
                if "spill" in settings:
                    _add_spill(sandpit_doc["spec"]["template"]["spec"], settings["spill"])
            resources.append(sandpit_doc)
    return resources


def _render(header: str, resources: list[dict[str, Any]]) -> str:
    return header + str(yaml.safe_dump_all(resources, sort_keys=False, width=120))


def rendered() -> dict[Path, str]:
    source = "# Generated by deploy/k8s/generate.py from {what}; do not edit: edit the source and rerun it.\n"
    return {
        TOPICS_FILE: _render(source.format(what="contracts/src/lrs_contracts/topics.py"), kafka_topics()),
        USERS_FILE: _render(source.format(what="the contracts and deploy/k8s/kafka-access.yaml"), kafka_users()),
        SANDPIT_KAFKA_FILE: _render(
            source.format(what="the contracts and deploy/k8s/kafka-access.yaml (sandpit)"), sandpit_kafka()
        ),
        SANDPIT_SERVICES_FILE: _render(
            source.format(what="base/services/*.yaml and deploy/k8s/kafka-access.yaml (sandpit)"), sandpit_services()
        ),
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
