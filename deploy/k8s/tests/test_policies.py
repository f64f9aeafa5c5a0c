"""What a platform team checks before merging, over the rendered overlays: hardened workloads, topics
and ACLs that follow the contracts and the code, one projector writer, bounded scaling, versions that
match what the tests run, and an overlay that deploys everything it points at."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy.k8s import generate
from deploy.k8s.tests.kube import K8S, OVERLAYS, ROOT, Doc, containers, env_of, named, of_kind, render, versions

from lrs_contracts import topics as contract_topics
from lrs_contracts.topics import ALL_TOPICS, BATCH_SUBMITTED, Topic

FOREVER_MS = -1
DAY_MS = 24 * 3600 * 1000
PROJECTOR_IMAGE = "plr-projector"


def _services() -> set[str]:
    """The workspace's runnable services: every member with a main.py."""
    return {main.parts[-4] for main in (ROOT / "services").glob("*/src/*/main.py")}


def _deployments(docs: list[Doc]) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in of_kind(docs, "Deployment")}


def overlay_path(overlay: str) -> str:
    return f"overlays/{overlay}"


def in_sandpit(doc: Doc) -> bool:
    return bool(doc["metadata"].get("labels", {}).get("lrs.io/environment") == "sandpit")


def live(docs: list[Doc]) -> list[Doc]:
    return [doc for doc in docs if not in_sandpit(doc)]


def _image_name(container: Doc) -> str:
    return str(container["image"]).rsplit("/", 1)[-1].split(":")[0]


# --- hardening ---------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_probes_limits_and_runs_as_non_root_on_a_read_only_root(overlay: str) -> None:
    docs = render(overlay_path(overlay))
    workloads = of_kind(docs, "Deployment") + of_kind(docs, "Job")
    assert workloads
    problems = [problem for doc in workloads for problem in hardening_problems(doc)]
    assert problems == []


def test_the_hardening_check_finds_a_missing_probe() -> None:
    deployment = named(render("overlays/prod"), "Deployment", "validation")
    del deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]

    assert hardening_problems(deployment) == ["Deployment validation/validation: no readinessProbe"]


def hardening_problems(doc: Doc) -> list[str]:
    problems = []
    pod = doc["spec"]["template"]["spec"]
    if pod.get("securityContext", {}).get("runAsNonRoot") is not True:
        problems.append(f"{doc['kind']} {doc['metadata']['name']}: pod may run as root")
    for container in containers(doc):
        where = f"{doc['kind']} {doc['metadata']['name']}/{container['name']}"
        probes = ("startupProbe", "livenessProbe", "readinessProbe") if doc["kind"] == "Deployment" else ()
        problems += [f"{where}: no {probe}" for probe in probes if probe not in container]
        for bound in ("requests", "limits"):
            # a pod that spills requests ephemeral-storage too (test_spill.py)
            if not {"cpu", "memory"} <= set(container.get("resources", {}).get(bound, {})):
                problems.append(f"{where}: resources.{bound} must set cpu and memory")
        security = container.get("securityContext", {})
        expected = {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}
        problems += [f"{where}: {key} must be {value}" for key, value in expected.items() if security.get(key) != value]
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{where}: must drop all capabilities")
    return problems


# A service applies its migrations before it answers /healthz (lrs_platform.service), a second pod waiting for the
# first one's migration lock: the kubelet must let that run this long before it kills the container.
MIGRATION_BUDGET_SECONDS = 30 * 60
# Once a pod has started, a hung one is restarted within this long, as before the budget above.
LIVENESS_SECONDS = 30


def _probe_seconds(probe: Doc) -> int:
    """How long a probe fails before the kubelet acts (Kubernetes' defaults: every 10 s, 3 failures)."""
    return int(probe.get("periodSeconds", 10)) * int(probe.get("failureThreshold", 3))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_service_may_migrate_for_half_an_hour_before_it_answers_and_is_watched_as_closely_once_it_does(
    overlay: str,
) -> None:
    services = {
        name: deployment
        for name, deployment in _deployments(render(overlay_path(overlay))).items()
        if deployment["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == "service"
    }
    assert {"ingest", "validation", "sandpit-ingest"} <= set(services)
    for name, deployment in services.items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        startup, liveness = container["startupProbe"], container["livenessProbe"]
        assert startup["httpGet"]["path"] == "/healthz", name
        assert _probe_seconds(startup) >= MIGRATION_BUDGET_SECONDS, f"{name}: {_probe_seconds(startup)} s to start"
        assert startup["periodSeconds"] <= 2, f"{name}: a pod that is up at once should start at once"
        assert _probe_seconds(liveness) <= LIVENESS_SECONDS, name
        # the rollout is not reported stalled while a pod migrates
        assert deployment["spec"].get("progressDeadlineSeconds", 600) > _probe_seconds(startup), name


# Pod Security "restricted" (overlays/*/namespace.yaml) refuses a pod unless each container may not escalate,
# drops every capability, runs as non-root and (it or its pod) uses the runtime's seccomp profile.
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
# The custom resources whose operator makes pods from them in our namespace, and the templates it takes each pod's
# and container's security contexts from (Strimzi's default provider, baseline, adds no container context).
# CloudNativePG's instance and backup pods are restricted-compliant by the operator's own defaults (non-root,
# RuntimeDefault seccomp, no escalation, every capability dropped), and our Cluster overrides none of them.
OPERATOR_PODS_COMPLIANT_BY_DEFAULT = {"Cluster", "ScheduledBackup"}
NO_PODS = {"KafkaTopic", "KafkaUser", "ScaledObject", "TriggerAuthentication", "PodMonitor"}


def strimzi_pod_templates(doc: Doc) -> dict[str, tuple[Doc, dict[str, Doc]]]:
    """Each pod Strimzi makes from `doc`: its pod template and its containers' templates, by name."""
    spec = doc["spec"]
    if doc["kind"] == "KafkaNodePool":
        template = spec.get("template", {})
        return {
            "kafka node": (
                template.get("pod", {}),
                {name: template.get(name, {}) for name in ("kafkaContainer", "initContainer")},
            )
        }
    pods = {}
    operators = spec.get("entityOperator")
    if operators is not None:
        template = operators.get("template", {})
        names = [f"{part}Container" for part in ("topicOperator", "userOperator", "tlsSidecar") if part in operators]
        pods["entity operator"] = (template.get("pod", {}), {name: template.get(name, {}) for name in names})
    for part, container in (("kafkaExporter", "container"), ("cruiseControl", "cruiseControlContainer")):
        if part in spec:
            template = spec[part].get("template", {})
            pods[part] = (template.get("pod", {}), {container: template.get(container, {})})
    return pods


def restricted_problems(docs: list[Doc]) -> list[str]:
    """Every pod an operator would make from these custom resources that Pod Security "restricted" would refuse."""
    problems = []
    for doc in docs:
        kind, name = doc["kind"], doc["metadata"]["name"]
        if not doc["apiVersion"].startswith(("kafka.strimzi.io/", "postgresql.cnpg.io/", "keda.sh/", "monitoring.")):
            continue
        if kind in NO_PODS or kind in OPERATOR_PODS_COMPLIANT_BY_DEFAULT:
            continue
        if kind not in ("Kafka", "KafkaNodePool"):
            problems.append(f"{kind} {name}: an operator resource this check does not know: say which pods it makes")
            continue
        for pod_name, (pod, pod_containers) in strimzi_pod_templates(doc).items():
            where = f"{kind} {name} ({pod_name})"
            pod_context = pod.get("securityContext", {})
            problems += [
                f"{where}: template.pod.securityContext.{key} must be {value}"
                for key, value in RESTRICTED_POD.items()
                if pod_context.get(key) != value
            ]
            for container, template in pod_containers.items():
                context = template.get("securityContext", {})
                problems += [
                    f"{where}: template.{container}.securityContext.{key} must be {value}"
                    for key, value in RESTRICTED_CONTAINER.items()
                    if context.get(key) != value
                ]
                if context.get("privileged") or context.get("runAsUser") == 0:
                    problems.append(f"{where}: template.{container} runs privileged or as root")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_an_operator_makes_in_our_namespace_passes_restricted_pod_security(overlay: str) -> None:
    docs = render(overlay_path(overlay))
    [namespace] = of_kind(docs, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert restricted_problems(docs) == []
    pods = {pod for doc in docs if doc["kind"] in ("Kafka", "KafkaNodePool") for pod in strimzi_pod_templates(doc)}
    assert pods == {"kafka node", "entity operator"}


def test_the_restricted_check_finds_a_strimzi_container_left_to_the_baseline_provider() -> None:
    docs = render("overlays/prod")
    del named(docs, "KafkaNodePool", "combined")["spec"]["template"]["kafkaContainer"]
    operators = named(docs, "Kafka", "lrs")["spec"]["entityOperator"]
    operators["template"]["userOperatorContainer"]["securityContext"]["capabilities"] = {"add": ["NET_ADMIN"]}
    operators["template"]["pod"]["securityContext"].pop("seccompProfile")
    named(docs, "Kafka", "lrs")["spec"]["kafkaExporter"] = {}

    assert sorted(restricted_problems(docs)) == sorted(
        [
            "KafkaNodePool combined (kafka node): template.kafkaContainer.securityContext.allowPrivilegeEscalation"
            " must be False",
            "KafkaNodePool combined (kafka node): template.kafkaContainer.securityContext.runAsNonRoot must be True",
            "KafkaNodePool combined (kafka node): template.kafkaContainer.securityContext.capabilities must be"
            " {'drop': ['ALL']}",
            "KafkaNodePool combined (kafka node): template.kafkaContainer.securityContext.seccompProfile must be"
            " {'type': 'RuntimeDefault'}",
            "Kafka lrs (entity operator): template.pod.securityContext.seccompProfile must be {'type': 'RuntimeDefault'}",
            "Kafka lrs (entity operator): template.userOperatorContainer.securityContext.capabilities must be"
            " {'drop': ['ALL']}",
            "Kafka lrs (kafkaExporter): template.pod.securityContext.runAsNonRoot must be True",
            "Kafka lrs (kafkaExporter): template.pod.securityContext.seccompProfile must be {'type': 'RuntimeDefault'}",
            *(
                f"Kafka lrs (kafkaExporter): template.container.securityContext.{key} must be {value}"
                for key, value in RESTRICTED_CONTAINER.items()
            ),
        ]
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_disruption_budget_and_every_service_a_service(overlay: str) -> None:
    docs = render(overlay_path(overlay))
    budgets = [doc["spec"]["selector"]["matchLabels"] for doc in of_kind(docs, "PodDisruptionBudget")]
    services = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "Service")}
    for name, deployment in _deployments(docs).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(selector.items() <= labels.items() for selector in budgets), f"{name} has no PodDisruptionBudget"
        if labels.get("app.kubernetes.io/component") == "service":
            assert services[name]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_traffic_is_denied_unless_a_policy_allows_it_and_every_service_scrape_is_allowed(overlay: str) -> None:
    docs = render(overlay_path(overlay))
    policies = {doc["metadata"]["name"]: doc["spec"] for doc in of_kind(docs, "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    [monitor] = of_kind(docs, "PodMonitor")
    selected = monitor["spec"]["selector"]["matchLabels"]
    for name, deployment in _deployments(docs).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if labels.get("app.kubernetes.io/component") == "service":
            assert selected.items() <= labels.items(), f"{name}'s /metrics is not scraped"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_scraped_series_says_whether_it_is_the_sandpits(overlay: str) -> None:
    """The Sandpit's services export live's names and labels: an alert tells them apart by `environment`."""
    docs = render(overlay_path(overlay))
    [monitor] = of_kind(docs, "PodMonitor")
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    rules = endpoint["relabelings"]

    def environment_of(pod_name: str) -> str | None:  # Prometheus's `replace`, as these rules use it
        found = None
        for rule in rules:
            source = ";".join(pod_name for _ in rule.get("sourceLabels", []))
            if re.fullmatch(rule.get("regex", "(.*)"), source) and rule["targetLabel"] == "environment":
                found = rule["replacement"]
        return found

    for name, deployment in _deployments(docs).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if labels.get("app.kubernetes.io/component") == "service":
            expected = "sandpit" if name.startswith("sandpit-") else "live"
            assert environment_of(labels["app.kubernetes.io/name"]) == expected, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_doors_are_served_over_tls_only(overlay: str) -> None:
    docs = render(overlay_path(overlay))
    backends = set()
    for ingress in of_kind(docs, "Ingress"):
        hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
        assert hosts == {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}
        assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
        backends |= {
            path["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
        }
    # the APIs' public routes (test_public_routes.py), never the single writer of the PLR model
    assert backends == {
        "portal",
        "ingest",
        "plr-reader",
        "validation",
        "challenges",
        "notifier",
        "reporting",
        "sandpit-ingest",
        "sandpit-plr-reader",
    }
    # the controller may reach exactly the services the doors lead to
    doors = {doc["metadata"]["name"]: doc["spec"] for doc in of_kind(docs, "NetworkPolicy")}[
        "doors-from-ingress-controller"
    ]
    [reachable] = doors["podSelector"]["matchExpressions"]
    assert set(reachable["values"]) == backends


# --- the services in the workspace and in the manifests -----------------------------------------


def test_every_workspace_service_is_deployed_and_imaged() -> None:
    deployed = {_image_name(containers(doc)[0]) for doc in of_kind(render("base"), "Deployment")}
    assert deployed == _services()
    dockerfile = (ROOT / "services" / "Dockerfile").read_text()
    members = [path.parent.relative_to(ROOT) for path in ROOT.glob("*/pyproject.toml")] + [
        path.parent.relative_to(ROOT) for path in ROOT.glob("*/*/pyproject.toml")
    ]
    for member in members:
        assert f"COPY {member}/pyproject.toml {member}/" in dockerfile, f"services/Dockerfile misses {member}"


# --- topics and ACLs ---------------------------------------------------------------------------


def expected_config(topic: Topic) -> dict[str, object]:
    if topic.compacted:
        return {"cleanup.policy": "compact"}
    if topic.retention == "forever":
        return {"cleanup.policy": "delete", "retention.ms": FOREVER_MS}
    days = int(topic.retention.split()[0])
    return {"cleanup.policy": "delete", "retention.ms": days * DAY_MS}


def topic_problems(docs: list[Doc]) -> list[str]:
    declared = {doc["spec"]["topicName"]: doc["spec"] for doc in of_kind(docs, "KafkaTopic")}
    problems = []
    for topic in ALL_TOPICS:
        for name, config in ((topic.name, expected_config(topic)), (topic.dead_letters, None)):
            spec = declared.get(name)
            if spec is None:
                problems.append(f"{name}: no KafkaTopic")
                continue
            if spec["partitions"] != topic.partitions:
                problems.append(f"{name}: {spec['partitions']} partitions, the contract says {topic.partitions}")
            wanted = config or {"cleanup.policy": "delete", "retention.ms": FOREVER_MS}
            if {key: spec["config"].get(key) for key in wanted} != wanted:
                problems.append(f"{name}: config {spec['config']} is not {wanted}")
            if topic.compacted and config and "retention.ms" in spec["config"]:
                problems.append(f"{name}: a compacted topic has no retention")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_contract_topic_and_its_dead_letters_have_a_kafka_topic_as_the_contract_says(overlay: str) -> None:
    docs = live(render(overlay_path(overlay)))
    assert topic_problems(docs) == []
    assert len(of_kind(docs, "KafkaTopic")) == 2 * len(ALL_TOPICS)


def test_a_topic_left_out_of_the_manifests_is_found() -> None:
    docs = [doc for doc in render("overlays/prod") if doc["metadata"]["name"] != "lrs-learner-events-v1"]

    assert topic_problems(docs) == ["lrs.learner.events.v1: no KafkaTopic"]


def test_the_generated_topics_and_users_are_up_to_date() -> None:
    check = subprocess.run([sys.executable, str(K8S / "generate.py"), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_every_contract_topic_has_a_producer_and_the_access_map_names_only_contract_topics() -> None:
    services = generate.access()["services"]
    produced = {topic for grants in services.values() for topic in grants.get("produces", [])}
    named_topics = produced | {topic for grants in services.values() for topic in grants.get("consumes", [])}
    named_topics |= {topic for grants in generate.access()["readers"].values() for topic in grants["topics"]}
    assert {topic.name for topic in ALL_TOPICS} - produced == set(), "a contract topic no service produces"
    assert named_topics <= {topic.name for topic in ALL_TOPICS}
    assert set(services) == _services()


def _of_a_class(node: ast.Attribute) -> bool:
    """`OperatorScope.MAINTENANCE` names an enum member, not the topic constant `MAINTENANCE`: a CapWords
    name is a class (a module or an object holding topics is spelt in lower case)."""
    return isinstance(node.value, ast.Name) and node.value.id[:1].isupper()


def _topics_named_in_code(service: str) -> set[str]:
    """The contract topics a service's code names (lrs_contracts.topics constants or their names)."""
    constants = {name: value.name for name, value in vars(contract_topics).items() if isinstance(value, Topic)}
    names = set(constants.values())
    found: set[str] = set()
    for path in (ROOT / "services" / service / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and node.id in constants:
                found.add(constants[node.id])
            elif isinstance(node, ast.Attribute) and node.attr in constants and not _of_a_class(node):
                found.add(constants[node.attr])
            elif isinstance(node, ast.Constant) and node.value in names:
                found.add(str(node.value))
    return found


@pytest.mark.parametrize("service", sorted(_services()))
def test_each_services_acls_cover_exactly_the_topics_its_code_uses(service: str) -> None:
    grants = generate.access()["services"][service]
    declared = set(grants.get("produces", [])) | set(grants.get("consumes", []))
    assert declared == _topics_named_in_code(service)
    users = {doc["metadata"]["name"]: doc for doc in of_kind(render("overlays/prod"), "KafkaUser")}
    if not declared:
        assert f"lrs-{service}" not in users
        return
    acls = users[f"lrs-{service}"]["spec"]["authorization"]["acls"]
    reads = {
        acl["resource"]["name"] for acl in acls if "Read" in acl["operations"] and acl["resource"]["type"] == "topic"
    }
    writes = {
        acl["resource"]["name"] for acl in acls if "Write" in acl["operations"] and acl["resource"]["type"] == "topic"
    }
    consumes = set(grants.get("consumes", []))
    assert reads == consumes
    assert writes == set(grants.get("produces", [])) | {f"{topic}.dlq" for topic in consumes}
    broad = [acl for acl in acls if acl["resource"]["patternType"] == "prefix" and acl["resource"]["type"] == "topic"]
    assert [acl["operations"] for acl in broad] == [["Describe"]], "a prefix ACL may only describe"


def test_every_service_that_talks_to_kafka_authenticates_as_its_own_user() -> None:
    docs = render("overlays/prod")
    users = {doc["metadata"]["name"] for doc in of_kind(docs, "KafkaUser")}
    kafka = named(docs, "Kafka", "lrs")
    [listener] = kafka["spec"]["kafka"]["listeners"]
    assert (listener["tls"], listener["authentication"]["type"]) == (True, "tls")
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    for name, deployment in _deployments(docs).items():
        volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
        if "kafka-user" in volumes:
            image = _image_name(containers(deployment)[0])
            user = f"lrs-sandpit-{image}" if in_sandpit(deployment) else f"lrs-{image}"
            assert volumes["kafka-user"]["secret"]["secretName"] == user in users, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_logs_in_to_postgresql_as_its_own_role(overlay: str) -> None:
    docs = render(overlay_path(overlay))
    roles = {role["name"]: role for role in named(docs, "Cluster", "lrs-db")["spec"]["managed"]["roles"]}
    sql = named(docs, "ConfigMap", "lrs-db-roles")["data"]["roles.sql"]
    for name, deployment in _deployments(docs).items():
        [container] = containers(deployment)
        env = env_of(container)
        if "DATABASE_URL" not in env:
            continue
        image = _image_name(container)
        assert {"configMapRef": {"name": "lrs-database"}} in container["envFrom"], name
        if in_sandpit(deployment):  # a role of its own in the Sandpit's database (test_sandpit_roles.py)
            assert env["DB_USER"]["secretKeyRef"]["name"] == f"lrs-db-sandpit-{image}", name
            assert env["DATABASE_URL"].startswith("postgresql://$(DB_USER):$(DB_PASSWORD)@$(DB_HOST):5432/lrs_sandpit?")
            continue
        role = f"lrs_{image.replace('-', '_')}"
        assert env["DB_USER"]["secretKeyRef"]["name"] == f"lrs-db-{image}", name
        assert env["DATABASE_URL"].startswith("postgresql://$(DB_USER):$(DB_PASSWORD)@$(DB_HOST):5432/lrs?"), name
        assert roles[role]["passwordSecret"]["name"] == f"lrs-db-{image}"
        assert f"AUTHORIZATION {role};" in sql
    sandpit_roles = {f"lrs_sandpit_{name}" for name in ("ingest", "validation", "plr_projector", "notifier", "portal")}
    assert set(roles) == {f"lrs_{service.replace('-', '_')}" for service in _services()} | sandpit_roles | {
        "lrs_sandpit",  # owns the Sandpit's database: the operators' role there, as lrs is live's
        "lrs_sandpit_keys",  # the Sandpit's validation reading live's key store (test_keyring.py)
    }
    assert roles["lrs_sandpit"]["passwordSecret"]["name"] == "lrs-db-sandpit"
    assert "inRoles" not in roles["lrs_sandpit"], "the sandpit's role is no member of the live services' role"
    for role in sandpit_roles:
        assert roles[role]["inRoles"] == ["lrs_sandpit_services"], "no member of the live services' role"


# --- the single writer and bounded scaling ------------------------------------------------------


def projector_writers(docs: list[Doc], sandpit: bool = False) -> list[Doc]:
    """Every workload whose pods would consume the PLR log into the live model (or the sandpit's)."""
    return [
        doc
        for doc in of_kind(docs, "Deployment")
        for container in containers(doc)
        if _image_name(container) == PROJECTOR_IMAGE
        and env_of(container).get("PROJECTOR_RUN_CONSUMER") != "false"
        and in_sandpit(doc) == sandpit
    ]


def scaled_targets(docs: list[Doc]) -> set[str]:
    return {doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind(docs, "HorizontalPodAutoscaler")} | {
        doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind(docs, "ScaledObject")
    }


def single_writer_problems(docs: list[Doc]) -> list[str]:
    writers = projector_writers(docs)
    if len(writers) != 1:
        return [f"{len(writers)} workloads consume the PLR log into the model"]
    [writer] = writers
    name, spec = writer["metadata"]["name"], writer["spec"]
    problems = []
    if spec.get("replicas", 1) != 1:
        problems.append(f"{name}: {spec['replicas']} replicas")
    if spec.get("strategy", {}).get("type") != "Recreate":
        problems.append(f"{name}: a rolling update runs the new pod beside the old one")
    if name in scaled_targets(docs):
        problems.append(f"{name}: an autoscaler may add replicas")
    return problems


def test_no_autoscaler_or_rollout_can_run_two_projector_consumers_in_prod() -> None:
    docs = render("overlays/prod")
    assert single_writer_problems(docs) == []
    readers = [doc for doc in of_kind(docs, "Deployment") if doc["metadata"]["name"] == "plr-reader"]
    assert [env_of(containers(doc)[0])["PROJECTOR_RUN_CONSUMER"] for doc in readers] == ["false"]


@pytest.mark.parametrize(
    "change",
    [
        lambda writer: writer["spec"].update(replicas=2),
        lambda writer: writer["spec"].update(strategy={"type": "RollingUpdate"}),
        lambda writer: writer["spec"].pop("strategy"),
    ],
    ids=["two replicas", "rolling update", "default strategy"],
)
def test_the_single_writer_check_finds_a_second_consumer(change: Any) -> None:
    docs = render("overlays/prod")
    change(named(docs, "Deployment", "plr-projector"))

    assert single_writer_problems(docs) != []


def test_the_single_writer_check_finds_an_autoscaler_and_a_reader_left_consuming() -> None:
    docs = render("overlays/prod")
    named(docs, "HorizontalPodAutoscaler", "plr-reader")["spec"]["scaleTargetRef"]["name"] = "plr-projector"
    assert single_writer_problems(docs) == ["plr-projector: an autoscaler may add replicas"]

    docs = render("overlays/prod")
    reader = named(docs, "Deployment", "plr-reader")
    reader["spec"]["template"]["spec"]["containers"][0]["env"] = [
        item for item in containers(reader)[0]["env"] if item["name"] != "PROJECTOR_RUN_CONSUMER"
    ]
    assert single_writer_problems(docs) == ["2 workloads consume the PLR log into the model"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_validation_scales_on_consumer_lag_up_to_its_topics_partitions(overlay: str) -> None:
    docs = render(overlay_path(overlay))
    scaler = named(docs, "ScaledObject", "validation")["spec"]
    [trigger] = scaler["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["topic"] == BATCH_SUBMITTED.name
    assert trigger["metadata"]["consumerGroup"] == generate.access()["services"]["validation"]["groups"][0]
    assert trigger["metadata"]["allowIdleConsumers"] == "false"
    assert 1 <= scaler["minReplicaCount"] <= scaler["maxReplicaCount"] <= BATCH_SUBMITTED.partitions
    namespace = named(docs, "Deployment", "validation")["metadata"]["namespace"]
    assert trigger["metadata"]["bootstrapServers"] == f"lrs-kafka-bootstrap.{namespace}.svc:9093"
    assert "validation" not in {
        doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind(docs, "HorizontalPodAutoscaler")
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_rebuild_job_runs_as_many_workers_as_the_projector_plans(overlay: str) -> None:
    [job] = render(f"overlays/{overlay}/rebuild")
    writer = named(render(overlay_path(overlay)), "Deployment", "plr-projector")
    env = env_of(containers(writer)[0])
    assert env["PROJECTOR_REBUILD_LAUNCH"] == "external"
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == int(env["PROJECTOR_REBUILD_WORKERS"])
    assert containers(job)[0]["image"] == containers(writer)[0]["image"]
    assert job["metadata"]["namespace"] == writer["metadata"]["namespace"]


# --- versions, backups and what the overlays point at -------------------------------------------


def _local_kafka_version() -> str:
    script = (ROOT / "scripts" / "infra" / "kafka-fetch.sh").read_text()
    match = re.search(r"KAFKA_VERSION=\$\{KAFKA_VERSION:-([0-9.]+)\}", script)
    assert match, "scripts/infra/kafka-fetch.sh no longer names its Kafka version"
    return match.group(1)


def test_the_manifests_run_the_kafka_and_postgresql_the_tests_run() -> None:
    pinned = versions()
    assert pinned["kafka"] == _local_kafka_version()
    assert pinned["kafka-metadata-version"].startswith(".".join(pinned["kafka"].split(".")[:2]) + "-")
    postgres_major = pinned["postgresql-image"].rsplit(":", 1)[1].split(".")[0]
    assert postgres_major == "15", "the tests run Debian bookworm's PostgreSQL 15"
    local = sorted(path.name for path in Path("/usr/lib/postgresql").glob("*") if path.name.isdigit())
    if local:
        assert postgres_major in local
    for overlay in OVERLAYS:
        docs = render(overlay_path(overlay))
        assert named(docs, "Kafka", "lrs")["spec"]["kafka"]["version"] == pinned["kafka"]
        assert named(docs, "Cluster", "lrs-db")["spec"]["imageName"] == pinned["postgresql-image"]
    [restored] = render("overlays/prod/restore")
    assert restored["spec"]["imageName"] == pinned["postgresql-image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_backs_up_the_database_to_its_own_object_store(overlay: str) -> None:
    docs = render(overlay_path(overlay))
    store = named(docs, "Cluster", "lrs-db")["spec"]["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://lrs-")
    [scheduled] = of_kind(docs, "ScheduledBackup")
    assert scheduled["spec"]["cluster"]["name"] == "lrs-db"
    assert "set-by" not in yaml.safe_dump_all(docs)


def test_the_restore_reads_the_backups_prod_writes() -> None:
    [restored] = render("overlays/prod/restore")
    source = named(render("overlays/prod"), "Cluster", "lrs-db")["spec"]["backup"]["barmanObjectStore"]
    [external] = restored["spec"]["externalClusters"]
    assert restored["spec"]["bootstrap"]["recovery"]["source"] == external["name"] == "lrs-db"
    assert external["barmanObjectStore"]["destinationPath"] == source["destinationPath"]
    assert restored["spec"]["backup"]["barmanObjectStore"]["destinationPath"] != source["destinationPath"]
    live = named(render("overlays/prod"), "Cluster", "lrs-db")["spec"]
    assert restored["spec"]["managed"] == live["managed"]
    # it becomes the live cluster: PostgreSQL's defaults (100 connections, random_page_cost 4) would not do
    assert restored["spec"]["postgresql"] == live["postgresql"]


def test_the_dev_overlay_deploys_the_smtp_sink_and_object_store_it_points_at() -> None:
    docs = render("overlays/dev")
    services = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "Service")}
    notifier = named(docs, "ConfigMap", "lrs-notifier")
    smtp_host, smtp_port = notifier["data"]["NOTIFIER_SMTP_HOST"], int(notifier["data"]["NOTIFIER_SMTP_PORT"])
    assert smtp_port in {port["port"] for port in services[smtp_host]["spec"]["ports"]}
    portal = named(docs, "ConfigMap", "lrs-portal")
    assert (portal["data"]["PORTAL_SMTP_HOST"], int(portal["data"]["PORTAL_SMTP_PORT"])) == (smtp_host, smtp_port)
    endpoint = named(docs, "Cluster", "lrs-db")["spec"]["backup"]["barmanObjectStore"]["endpointURL"]
    host, port = re.fullmatch(r"http://([a-z-]+):(\d+)", endpoint).groups()  # type: ignore[union-attr]
    assert int(port) in {entry["port"] for entry in services[host]["spec"]["ports"]}
    assert set(_deployments(docs)) >= {smtp_host, host}


# --- mail --------------------------------------------------------------------------------------


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions with In) picks pods with these labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def smtp_settings(docs: list[Doc], deployment: Doc) -> dict[str, str]:
    """The `<PREFIX>_SMTP_HOST` and `_SMTP_PORT` a Deployment's container gets, from its env or ConfigMaps."""
    [container] = containers(deployment)
    settings: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            settings |= named(docs, "ConfigMap", source["configMapRef"]["name"])["data"]
    settings |= {name: value for name, value in env_of(container).items() if isinstance(value, str)}
    return {name: value for name, value in settings.items() if re.fullmatch(r"[A-Z]+_SMTP_(HOST|PORT)", name)}


def smtp_problems(docs: list[Doc]) -> list[str]:
    """Every workload given a mail relay that the policies would not let reach it (and in dev, the sink)."""
    policies = {doc["metadata"]["name"]: doc["spec"] for doc in of_kind(docs, "NetworkPolicy")}
    egress = policies["smtp-egress"]
    sink = policies.get("mailpit-from-senders")
    problems = []
    for name, deployment in sorted(_deployments(docs).items()):
        settings = smtp_settings(docs, deployment)
        if not settings:
            continue
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if not _selects(egress["podSelector"], labels):
            problems.append(f"{name}: no SMTP egress")
            continue
        ports = {port["port"] for rule in egress["egress"] for port in rule["ports"]}
        problems += [
            f"{name}: {key}={value} is not a port the policy opens"
            for key, value in settings.items()
            if key.endswith("_PORT") and int(value) not in ports
        ]
        if sink is not None and not any(_selects(peer["podSelector"], labels) for peer in sink["ingress"][0]["from"]):
            problems.append(f"{name}: the dev SMTP sink refuses it")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_with_a_mail_relay_may_reach_it(overlay: str) -> None:
    docs = render(overlay_path(overlay))
    assert smtp_problems(docs) == []
    senders = {name for name, deployment in _deployments(docs).items() if smtp_settings(docs, deployment)}
    assert senders == {"notifier", "sandpit-notifier", "portal"}


def test_the_mail_check_finds_a_sender_the_policies_keep_in() -> None:
    docs = render("overlays/dev")
    policies = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "NetworkPolicy")}
    [expression] = policies["smtp-egress"]["spec"]["podSelector"]["matchExpressions"]
    expression["values"].remove("portal")
    [peer] = policies["mailpit-from-senders"]["spec"]["ingress"][0]["from"]
    peer["podSelector"]["matchExpressions"][0]["values"].remove("sandpit-notifier")
    named(docs, "ConfigMap", "lrs-notifier")["data"]["NOTIFIER_SMTP_PORT"] = "2525"

    assert smtp_problems(docs) == [
        "notifier: NOTIFIER_SMTP_PORT=2525 is not a port the policy opens",
        "portal: no SMTP egress",
        "sandpit-notifier: NOTIFIER_SMTP_PORT=2525 is not a port the policy opens",
        "sandpit-notifier: the dev SMTP sink refuses it",
    ]


def test_the_portal_and_the_notifier_link_their_emails_to_the_address_people_reach_the_portal_at() -> None:
    for overlay in OVERLAYS:
        docs = render(overlay_path(overlay))
        [host] = named(docs, "Ingress", "lrs")["spec"]["tls"][0]["hosts"]
        assert named(docs, "ConfigMap", "lrs-portal")["data"]["PORTAL_PUBLIC_URL"] == f"https://{host}"
        assert named(docs, "ConfigMap", "lrs-notifier")["data"]["NOTIFIER_PUBLIC_BASE_URL"] == f"https://{host}"
        [sandpit] = containers(named(docs, "Deployment", "sandpit-notifier"))
        sandpit_links = {env["name"]: env.get("value") for env in sandpit["env"]}["NOTIFIER_PUBLIC_BASE_URL"]
        assert sandpit_links == f"https://{host}/sandpit"
        [container] = containers(named(docs, "Deployment", "portal"))
        assert {"secretRef": {"name": "lrs-portal-smtp", "optional": True}} in container["envFrom"]


def _allows(policy: Doc, key: str, name: str) -> bool:
    """Whether one of the policy's `key` rules (ingress `from` / egress `to`) selects pods named `name`."""
    for rule in policy["spec"].get(key, []):
        for peer in rule.get("from" if key == "ingress" else "to", []):
            for expression in peer.get("podSelector", {}).get("matchExpressions", []):
                if name in expression["values"]:
                    return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portals_operator_actions_reach_the_projector_that_writes(overlay: str) -> None:
    """A retry or skip sent to a reader would change the model behind the writer's back (its API refuses them)."""
    docs = render(overlay_path(overlay))
    portal = env_of(containers(named(docs, "Deployment", "portal"))[0])
    [writer] = projector_writers(docs)
    service = named(docs, "Service", portal["LRS_PLR_PROJECTOR_URL"].removeprefix("http://"))
    assert service["spec"]["selector"] == writer["spec"]["selector"]["matchLabels"]
    policies = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "NetworkPolicy")}
    assert _allows(policies["portal-to-services"], "egress", "plr-projector")
    ingress = policies["services-from-portal"]["spec"]["podSelector"]["matchExpressions"][0]["values"]
    assert "plr-projector" in ingress


def test_the_network_policies_let_a_restored_cluster_work_as_the_live_one_does() -> None:
    """Under default-deny a restored cluster's pods need what the live one's have: the operator and replicas in,
    the object store out, and the services' egress to it once they are pointed at it."""
    [restored] = render("overlays/prod/restore")
    name = restored["metadata"]["name"]
    policies = {doc["metadata"]["name"]: doc for doc in of_kind(render("overlays/prod"), "NetworkPolicy")}
    for policy in ("postgres-ingress", "postgres-egress"):
        [selecting] = policies[policy]["spec"]["podSelector"]["matchExpressions"]
        assert selecting["key"] == "cnpg.io/cluster" and {"lrs-db", name} <= set(selecting["values"]), policy
    reaching = [
        expression
        for policy in policies.values()
        for rule in policy["spec"].get("egress", [])
        for peer in rule.get("to", [])
        for expression in peer.get("podSelector", {}).get("matchExpressions", [])
        if expression["key"] == "cnpg.io/cluster"
    ]
    assert reaching and all(name in expression["values"] for expression in reaching)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portals_plr_reads_go_to_the_readers_not_the_projector_that_writes(overlay: str) -> None:
    """Its learner pages' reads of a large PLR held up the projection of every AO's results (neighbour walk)."""
    docs = render(overlay_path(overlay))
    portal = env_of(containers(named(docs, "Deployment", "portal"))[0])
    [writer] = projector_writers(docs)
    service = named(docs, "Service", portal["LRS_PLR_READER_URL"].removeprefix("http://"))
    assert service["spec"]["selector"] != writer["spec"]["selector"]["matchLabels"]
    policies = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "NetworkPolicy")}
    assert _allows(policies["portal-to-services"], "egress", "plr-reader")
