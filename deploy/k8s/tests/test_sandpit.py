"""The Sandpit's manifests (decision 0060): the live services again, apart from live by construction
(their own topics, groups, Kafka users and database), asleep at zero pods until there is work, and
purged every night."""

from __future__ import annotations

from typing import Any

import pytest
from deploy.k8s import generate
from deploy.k8s.tests.kube import OVERLAYS, Doc, containers, env_of, named, of_kind, render
from deploy.k8s.tests.test_policies import hardening_problems, in_sandpit, projector_writers

from lrs_contracts.environments import SANDPIT_PREFIX, SHARED_TOPICS, Environment, TopicNames
from lrs_contracts.topics import ALL_TOPICS

THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000
SANDPIT_WORKLOADS = {"ingest", "validation", "plr-projector", "plr-reader", "notifier"}
CONSUMERS = {"sandpit-validation", "sandpit-plr-projector", "sandpit-notifier"}


def _acl_names(user: Doc, kind: str, operation: str) -> set[str]:
    return {
        acl["resource"]["name"]
        for acl in user["spec"]["authorization"]["acls"]
        if acl["resource"]["type"] == kind and operation in acl["operations"]
    }


def leak_problems(docs: list[Doc]) -> list[str]:
    """Every Kafka grant that would let the sandpit touch live data, or live read sandpit data."""
    problems = []
    for user in of_kind(docs, "KafkaUser"):
        name = user["metadata"]["name"]
        sandpit = in_sandpit(user)
        for kind, operation in (("topic", "Write"), ("topic", "Read"), ("group", "Read"), ("transactionalId", "Write")):
            for resource in _acl_names(user, kind, operation):
                own = resource.startswith(SANDPIT_PREFIX)
                shared_read = (kind, operation) == ("topic", "Read") and resource in SHARED_TOPICS
                if sandpit and not own and not shared_read:
                    problems.append(f"{name}: {operation} on live {kind} {resource}")
                elif not sandpit and own:
                    problems.append(f"{name}: {operation} on sandpit {kind} {resource}")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sandpit_writes_only_its_own_topics_and_reads_live_only_the_registry_and_catalogue(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    assert leak_problems(docs) == []
    sandpit_users = {doc["metadata"]["name"] for doc in of_kind(docs, "KafkaUser") if in_sandpit(doc)}
    assert sandpit_users == {f"lrs-sandpit-{service}" for service in generate.access()["sandpit"]["services"]}


def test_the_leak_check_finds_a_sandpit_write_to_a_live_topic_and_a_live_read_of_a_sandpit_one() -> None:
    docs = render("overlays/prod")
    acls = named(docs, "KafkaUser", "lrs-sandpit-validation")["spec"]["authorization"]["acls"]
    acls.append(
        {"resource": {"type": "topic", "name": "lrs.plr.events.v1", "patternType": "literal"}, "operations": ["Write"]}
    )
    acls.append(
        {
            "resource": {"type": "topic", "name": "lrs.learner.events.v1", "patternType": "literal"},
            "operations": ["Write"],
        }
    )
    live_acls = named(docs, "KafkaUser", "lrs-reporting")["spec"]["authorization"]["acls"]
    live_acls.append(
        {
            "resource": {"type": "topic", "name": "sandpit.lrs.batch.outcomes.v1", "patternType": "literal"},
            "operations": ["Read"],
        }
    )

    assert sorted(leak_problems(docs)) == [
        "lrs-reporting: Read on sandpit topic sandpit.lrs.batch.outcomes.v1",
        "lrs-sandpit-validation: Write on live topic lrs.learner.events.v1",
        "lrs-sandpit-validation: Write on live topic lrs.plr.events.v1",
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_the_sandpit_uses_exists_and_expires(overlay: str) -> None:
    topics = {doc["spec"]["topicName"]: doc["spec"] for doc in of_kind(render(f"overlays/{overlay}"), "KafkaTopic")}
    for service, grants in generate.sandpit_grants().items():
        for topic in [*grants["produces"], *grants["consumes"], *grants["dead_letters"]]:
            assert topic in topics, f"{service} uses {topic}, which has no KafkaTopic"
            if topic.startswith(SANDPIT_PREFIX):
                config = topics[topic]["config"]
                assert config.get("cleanup.policy") == "compact" or config["retention.ms"] == THIRTY_DAYS_MS, topic


def test_the_sandpit_services_create_only_the_topics_its_manifests_declare() -> None:
    """What a sandpit service ensures at start (`TopicNames.declared`, as under `make up`) is what Kubernetes has."""
    in_manifests = {
        doc["spec"]["topicName"] for doc in of_kind(render("overlays/prod"), "KafkaTopic") if in_sandpit(doc)
    }
    created = set()
    for topic in TopicNames(Environment.SANDPIT).declared(ALL_TOPICS):
        created.add(topic.dead_letters)
        if topic.name.startswith(SANDPIT_PREFIX):
            created.add(topic.name)
    assert created == in_manifests


def _sandpit_deployments(docs: list[Doc]) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in of_kind(docs, "Deployment") if in_sandpit(doc)}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sandpit_runs_the_live_images_in_its_environment_and_database(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    sandpit = _sandpit_deployments(docs)
    assert set(sandpit) == {f"sandpit-{name}" for name in SANDPIT_WORKLOADS}
    for name, deployment in sandpit.items():
        [container] = containers(deployment)
        [live_container] = containers(named(docs, "Deployment", name.removeprefix("sandpit-")))
        env = env_of(container)
        assert container["image"] == live_container["image"], name
        assert env["LRS_ENVIRONMENT"] == "sandpit", name
        assert "/lrs_sandpit?" in env["DATABASE_URL"], name
        assert hardening_problems(deployment) == []
    assert "LRS_ENVIRONMENT" not in {
        item for doc in of_kind(docs, "Deployment") if not in_sandpit(doc) for item in env_of(containers(doc)[0])
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sandpit_consumers_sleep_at_zero_and_wake_on_their_own_lag(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    grants = generate.sandpit_grants()
    scalers = {doc["spec"]["scaleTargetRef"]["name"]: doc["spec"] for doc in of_kind(docs, "ScaledObject")}
    sandpit = _sandpit_deployments(docs)
    namespace = sandpit["sandpit-validation"]["metadata"]["namespace"]
    for name in CONSUMERS:
        scaler = scalers[name]
        [trigger] = scaler["triggers"]
        # KEDA owns the count: a manifest's would wake or stop it at each apply (test_replicas_and_spread.py)
        assert "replicas" not in sandpit[name]["spec"], name
        # validation stays awake: it applies live erasures to the Sandpit's registry copy, at a place KEDA cannot see
        assert scaler["minReplicaCount"] == (1 if name == "sandpit-validation" else 0), name
        assert trigger["metadata"]["topic"].startswith(SANDPIT_PREFIX), name
        assert trigger["metadata"]["consumerGroup"] in {group for grant in grants.values() for group in grant["groups"]}
        assert trigger["metadata"]["bootstrapServers"] == f"lrs-kafka-bootstrap.{namespace}.svc:9093"
    for always_on in ("sandpit-ingest", "sandpit-plr-reader"):
        assert sandpit[always_on]["spec"]["replicas"] == 1
        [container] = containers(sandpit[always_on])
        [live_container] = containers(named(docs, "Deployment", always_on.removeprefix("sandpit-")))
        assert container["resources"]["limits"] == live_container["resources"]["limits"]
        assert _millicores(container["resources"]["requests"]["cpu"]) < _millicores(
            live_container["resources"]["requests"]["cpu"]
        )
    keda = named(docs, "KafkaUser", "lrs-keda")
    woken_by = {(scalers[name]["triggers"][0]["metadata"]["consumerGroup"]) for name in CONSUMERS}
    assert woken_by <= _acl_names(keda, "group", "Describe")


def _millicores(cpu: str | int) -> float:
    text = str(cpu)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def test_the_sandpit_has_one_projector_writer_that_never_runs_twice() -> None:
    docs = render("overlays/prod")
    [writer] = projector_writers(docs, sandpit=True)
    assert writer["metadata"]["name"] == "sandpit-plr-projector"
    assert writer["spec"]["strategy"]["type"] == "Recreate"
    [scaler] = [
        doc for doc in of_kind(docs, "ScaledObject") if doc["spec"]["scaleTargetRef"]["name"] == "sandpit-plr-projector"
    ]
    assert scaler["spec"]["maxReplicaCount"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_idle_sandpits_are_purged_every_night_through_the_sandpit_ingest(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    cronjob = named(docs, "CronJob", "sandpit-purge")
    job: dict[str, Any] = {
        "kind": "Job",
        "metadata": {"name": "sandpit-purge"},
        "spec": cronjob["spec"]["jobTemplate"]["spec"],
    }
    [container] = containers(job)
    assert cronjob["spec"]["schedule"].split()[2:] == ["*", "*", "*"]
    assert "http://sandpit-ingest/v1/admin/sandpit/purge?idle_days=" in container["command"][-1]
    assert int(env_of(container)["IDLE_DAYS"]) > 0
    assert hardening_problems(job) == []
    policies = {doc["metadata"]["name"]: doc["spec"] for doc in of_kind(docs, "NetworkPolicy")}
    [to_ingest] = [
        rule for rule in policies["sandpit-purge-to-ingest"]["egress"] if "namespaceSelector" not in rule["to"][0]
    ]
    assert to_ingest["to"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "sandpit-ingest"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sandpit_database_is_its_own_and_its_role_cannot_reach_live(overlay: str) -> None:
    cluster = named(render(f"overlays/{overlay}"), "Cluster", "lrs-db")["spec"]
    initdb = cluster["bootstrap"]["initdb"]
    assert "CREATE DATABASE lrs_sandpit OWNER lrs_sandpit" in initdb["postInitSQL"]
    # postInitSQL runs before the application database `lrs` exists (CloudNativePG's initdb.go): a statement naming it
    # there fails the cluster's creation; it runs in postInitApplicationSQL, in `lrs`, once it exists
    assert not any(" lrs " in f"{statement} " for statement in initdb["postInitSQL"])
    assert "REVOKE CONNECT ON DATABASE lrs FROM PUBLIC" in initdb["postInitApplicationSQL"]
