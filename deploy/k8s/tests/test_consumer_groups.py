"""Every consumer group and transactional id the services' code names is one its KafkaUser may use, live and in
the Sandpit. Kafka refuses a group it may not Read (GroupAuthorizationFailed: JoinGroup, SyncGroup, Heartbeat,
OffsetCommit) and a transactional id it may not Write, and the client is retried for ever while `/readyz` stays
green: only these checks see it before a cluster does.

The names are read from the code, not declared: every `group_id=` / `transactional_id=` argument, every argument
given to a parameter so named (or ending in `_group`) of the service's own functions and classes, every
`<topics>.group(...)` (TopicNames.group: `sandpit.<name>` in the Sandpit), and a faust app's id (its consumer
group). Module constants and settings' defaults are followed to their values; an f-string's part only the running
pod knows (an instance id) is `*`. A name the collector cannot follow is a failure, never a pass.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from deploy.k8s import generate
from deploy.k8s.tests.kube import OVERLAYS, ROOT, Doc, of_kind, render

from lrs_contracts.environments import Environment, TopicNames

SANDPIT = TopicNames(Environment.SANDPIT)
GROUP, TRANSACTIONAL_ID = "group", "transactionalId"
PARAMETERS = {"group_id": GROUP, "transactional_id": TRANSACTIONAL_ID}
# What each kind of name needs granted: Read on a group to join it and commit its offsets, Write on a
# transactional id to initialise and commit transactions.
NEEDS = {GROUP: "Read", TRANSACTIONAL_ID: "Write"}


@dataclass(frozen=True)
class Named:
    """One consumer group or transactional id a service's code names."""

    service: str
    kind: str  # GROUP or TRANSACTIONAL_ID
    name: str  # `*`: what only the running pod knows
    scoped: bool  # named through TopicNames.group, so `sandpit.<name>` in the Sandpit
    where: str
    settings: frozenset[str] = frozenset()  # the settings whose defaults it was read from


class Unresolved(Exception):
    pass


class _PassedThrough(Exception):
    """A function's parameter: the value is named where the function is called, and checked there."""


def _services() -> list[str]:
    return sorted(main.parts[-4] for main in (ROOT / "services").glob("*/src/*/main.py"))


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _params(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    arguments = function.args
    return [arg.arg for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]


def _is_settings_class(node: ast.ClassDef) -> bool:
    return any(_dotted(base).endswith("Settings") for base in node.bases)


def _is_faust_app(node: ast.ClassDef) -> bool:
    return any(_dotted(base) in ("faust.App", "App") for base in node.bases)


class ServiceCode:
    """A service's modules, read once: its constants, settings, signatures and faust apps."""

    def __init__(self, service: str) -> None:
        self.service = service
        src = ROOT / "services" / service / "src"
        self.modules: dict[Path, ast.Module] = {path: ast.parse(path.read_text()) for path in sorted(src.rglob("*.py"))}
        self.parents: dict[ast.AST, ast.AST] = {}
        self.constants: dict[str, str] = {}
        self.group_constants: dict[str, tuple[str, str]] = {}
        self.settings_defaults: dict[str, str | None] = {}
        self.settings_properties: dict[str, ast.expr] = {}
        self.env_prefixes: set[str] = set()
        self.signatures: dict[str, list[list[str]]] = {}
        self.faust_apps = {"faust.App"}
        aliases: dict[str, str] = {}
        for path, module in self.modules.items():
            for node in ast.walk(module):
                for child in ast.iter_child_nodes(node):
                    self.parents[child] = node
            for statement in module.body:
                if (
                    isinstance(statement, ast.Assign)
                    and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name)
                    and isinstance(statement.value, ast.Constant)
                    and isinstance(statement.value.value, str)
                ):
                    name = statement.targets[0].id
                    self.constants[name] = statement.value.value
                    if name.endswith("_GROUP"):
                        self.group_constants[name] = (statement.value.value, self._where(path, statement))
            for node in ast.walk(module):
                if isinstance(node, ast.ImportFrom):
                    aliases |= {alias.asname: alias.name for alias in node.names if alias.asname}
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.signatures.setdefault(node.name, []).append(_params(node))
                elif isinstance(node, ast.ClassDef):
                    self._read_class(node)
        for alias, name in aliases.items():
            if name in self.signatures:
                self.signatures.setdefault(alias, []).extend(self.signatures[name])

    def _read_class(self, node: ast.ClassDef) -> None:
        init = [item for item in node.body if isinstance(item, ast.FunctionDef) and item.name == "__init__"]
        if init:
            self.signatures.setdefault(node.name, []).append(_params(init[0]))
        if _is_faust_app(node):
            self.faust_apps.add(node.name)
        if not _is_settings_class(node):
            return
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                if item.target.id == "model_config" and isinstance(item.value, ast.Call):
                    self.env_prefixes |= {
                        str(keyword.value.value)
                        for keyword in item.value.keywords
                        if keyword.arg == "env_prefix" and isinstance(keyword.value, ast.Constant)
                    }
                elif isinstance(item.value, ast.Constant):
                    value = item.value.value
                    self.settings_defaults[item.target.id] = value if isinstance(value, str) else None
            elif isinstance(item, ast.Assign) and isinstance(item.value, ast.Call):
                for keyword in item.value.keywords:
                    if keyword.arg == "env_prefix" and isinstance(keyword.value, ast.Constant):
                        self.env_prefixes.add(str(keyword.value.value))
            elif isinstance(item, ast.FunctionDef) and any(_dotted(d) == "property" for d in item.decorator_list):
                [returned] = [node for node in ast.walk(item) if isinstance(node, ast.Return)]
                if returned.value is not None:
                    self.settings_properties[item.name] = returned.value

    def _where(self, path: Path, node: ast.AST) -> str:
        return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"

    def _scopes(self, node: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda]:
        parent = self.parents.get(node)
        while parent is not None:
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield parent
            parent = self.parents.get(parent)

    # --- what an expression names -------------------------------------------------------------------------

    def resolve(self, node: ast.expr, used: set[str]) -> tuple[str, bool] | None:
        """(the name, whether TopicNames.group scopes it), None for no group at all; raises Unresolved,
        or _PassedThrough for a parameter (checked where the function is called)."""
        if isinstance(node, ast.Constant):
            if node.value is None:
                return None
            if isinstance(node.value, str):
                return node.value, False
        elif isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                if isinstance(part, ast.Constant):
                    parts.append(str(part.value))
                    continue
                assert isinstance(part, ast.FormattedValue)
                try:
                    found = self.resolve(part.value, used)
                except (Unresolved, _PassedThrough):
                    found = None
                parts.append(found[0] if found and not found[1] else "*")
            return "".join(parts), False
        elif isinstance(node, ast.Name):
            return self._resolve_name(node, used)
        elif isinstance(node, ast.Attribute):
            if node.attr in self.settings_properties:
                return self.resolve(self.settings_properties[node.attr], used)
            if node.attr in self.settings_defaults:
                default = self.settings_defaults[node.attr]
                if default is None:  # what only the running pod knows, say its instance id
                    return "*", False
                used.add(node.attr)
                return default, False
            if _dotted(node.value) == "self":
                return self._resolve_own_attribute(node, used)
        elif isinstance(node, ast.Call) and self._is_topics_group(node):
            [argument] = node.args
            inner = self.resolve(argument, used)
            if inner is None or inner[1]:
                raise Unresolved(ast.unparse(node))
            return inner[0], True
        elif isinstance(node, (ast.BoolOp, ast.Call)):
            return "*", False
        raise Unresolved(ast.unparse(node))

    def _resolve_name(self, node: ast.Name, used: set[str]) -> tuple[str, bool] | None:
        for scope in self._scopes(node):
            if node.id in _params(scope):
                raise _PassedThrough(node.id)
            assigned = [
                statement.value
                for statement in ast.walk(scope)
                if isinstance(statement, ast.Assign)
                and any(isinstance(target, ast.Name) and target.id == node.id for target in statement.targets)
            ]
            if len(assigned) == 1:
                return self.resolve(assigned[0], used)
            if assigned:
                raise Unresolved(f"{node.id} is assigned {len(assigned)} times")
            bound_otherwise = any(
                isinstance(bound, ast.Name) and bound.id == node.id and isinstance(bound.ctx, ast.Store)
                for bound in ast.walk(scope)
            )
            if bound_otherwise:  # a loop's or a `with`'s variable: it iterates over what is named elsewhere
                raise _PassedThrough(node.id)
        if node.id in self.constants:
            return self.constants[node.id], False
        raise Unresolved(node.id)

    def _resolve_own_attribute(self, node: ast.Attribute, used: set[str]) -> tuple[str, bool] | None:
        """`self.x`: what the class assigns `self.x` (a constructor's parameter is checked where it is called)."""
        owner = self.parents.get(node)
        while owner is not None and not isinstance(owner, ast.ClassDef):
            owner = self.parents.get(owner)
        if owner is None:
            raise Unresolved(ast.unparse(node))
        assigned = [
            statement.value
            for statement in ast.walk(owner)
            if isinstance(statement, (ast.Assign, ast.AnnAssign))
            and statement.value is not None
            and any(
                isinstance(target, ast.Attribute) and _dotted(target) == f"self.{node.attr}"
                for target in (statement.targets if isinstance(statement, ast.Assign) else [statement.target])
            )
        ]
        if len(assigned) != 1:
            raise Unresolved(f"self.{node.attr} is assigned {len(assigned)} times")
        return self.resolve(assigned[0], used)

    @staticmethod
    def _is_topics_group(node: ast.Call) -> bool:
        function = node.func
        return (
            isinstance(function, ast.Attribute)
            and function.attr == "group"
            and _dotted(function.value).rsplit(".", 1)[-1].lstrip("_") == "topics"
        )

    # --- where the code names one -------------------------------------------------------------------------

    def _sites(self) -> Iterator[tuple[Path, ast.AST, str, ast.expr]]:
        """(module, call, kind, the expression naming it) for every place a group or transactional id is named."""
        for path, module in self.modules.items():
            for call in (node for node in ast.walk(module) if isinstance(node, ast.Call)):
                callee = _dotted(call.func).rsplit(".", 1)[-1]
                for keyword in call.keywords:
                    kind = self._kind_of(keyword.arg)
                    if kind:
                        yield path, call, kind, keyword.value
                signatures = self.signatures.get(callee, [])
                if call.args and signatures:
                    bound = [params[1:] if params[:1] in (["self"], ["cls"]) else params for params in signatures]
                    for index, argument in enumerate(call.args):
                        # a name shared by functions of different signatures counts as a site if any would be one
                        kinds = {self._kind_of(params[index]) for params in bound if index < len(params)} - {None}
                        for kind in sorted(kind for kind in kinds if kind):
                            yield path, call, kind, argument
                if callee in self.faust_apps and _dotted(call.func) != "super":
                    identity = call.args[0] if call.args else next(k.value for k in call.keywords if k.arg == "id")
                    yield path, call, GROUP, identity
                if self._is_topics_group(call) and not self._is_argument(call):
                    yield path, call, GROUP, call

    @staticmethod
    def _kind_of(parameter: str | None) -> str | None:
        if parameter is None:
            return None
        return PARAMETERS.get(parameter) or (GROUP if parameter.endswith("_group") else None)

    def _is_argument(self, node: ast.Call) -> bool:
        """Whether a TopicNames.group(...) is given straight to a parameter the sites already read."""
        parent = self.parents.get(node)
        if isinstance(parent, ast.keyword):
            return self._kind_of(parent.arg) is not None
        if isinstance(parent, ast.Call) and node in parent.args:
            callee = _dotted(parent.func).rsplit(".", 1)[-1]
            return any(
                self._kind_of(name)
                for params in self.signatures.get(callee, [])
                for name in params
                if name not in ("self", "cls")
            )
        return False

    def named(self) -> tuple[list[Named], list[str]]:
        """Each name once (where it is first named), and every place the collector could not follow."""
        found: list[Named] = []
        problems: list[str] = []
        for path, call, kind, expression in self._sites():
            where = self._where(path, call)
            used: set[str] = set()
            try:
                resolved = self.resolve(expression, used)
            except _PassedThrough:
                continue
            except Unresolved as error:
                problems.append(f"{where}: cannot tell which {kind} `{ast.unparse(expression)}` names ({error})")
                continue
            if resolved is not None:
                found.append(Named(self.service, kind, resolved[0], resolved[1], where, frozenset(used)))
        names = {item.name for item in found}
        problems += [
            f"{where}: {constant} = {value!r} names a group no place that uses it was traced to"
            for constant, (value, where) in self.group_constants.items()
            if value not in names
        ]
        first: dict[tuple[str, str, bool], Named] = {}
        for item in found:
            first.setdefault((item.kind, item.name, item.scoped), item)
        return list(first.values()), problems


@functools.cache
def _service_code(service: str) -> ServiceCode:
    return ServiceCode(service)


@functools.cache
def _named_in_code() -> tuple[tuple[Named, ...], tuple[str, ...]]:
    found: list[Named] = []
    problems: list[str] = []
    for service in _services():
        named, unresolved = _service_code(service).named()
        found += sorted(named, key=lambda item: (item.kind, item.name))
        problems += unresolved
    return tuple(found), tuple(problems)


def named_in_code() -> tuple[list[Named], list[str]]:
    """Every group and transactional id the services' code names, and every place the collector could not follow."""
    found, problems = _named_in_code()
    return list(found), list(problems)


# --- what the KafkaUsers grant -----------------------------------------------------------------------------


def _covers(acl: Doc, name: str) -> bool:
    granted, pattern = acl["resource"]["name"], acl["resource"]["patternType"]
    fixed = name.split("*", 1)[0]
    if pattern == "prefix":
        return fixed.startswith(granted)
    return "*" not in name and granted == name


def grant_problems(docs: list[Doc], named: list[Named], sandpit_only: dict[str, list[str]]) -> list[str]:
    """Every group or transactional id the code names that its service's KafkaUser may not use, live or in the
    Sandpit; every one a Sandpit service names unscoped (it would share live's); every name declared Sandpit-only
    that the code never names."""
    users = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "KafkaUser")}
    sandpit_services = set(generate.access()["sandpit"]["services"])
    problems = []

    def check(user_name: str, item: Named, name: str) -> None:
        user = users.get(user_name)
        acls = user["spec"]["authorization"]["acls"] if user else []
        if not any(
            acl["resource"]["type"] == item.kind and NEEDS[item.kind] in acl["operations"] and _covers(acl, name)
            for acl in acls
        ):
            problems.append(f"{user_name} may not use {item.kind} {name} ({item.where})")

    for item in named:
        if item.name not in sandpit_only.get(item.service, []):
            check(f"lrs-{item.service}", item, item.name)
        if item.service in sandpit_services:
            if not item.scoped:
                problems.append(f"{item.where}: the Sandpit's {item.service} would use live's {item.kind} {item.name}")
            else:
                check(f"lrs-sandpit-{item.service}", item, SANDPIT.group(item.name))
    for service, names in sandpit_only.items():
        problems += [
            f"kafka-access.yaml: sandpit.groups gives {service} {name}, which its code never names"
            for name in names
            if name not in {item.name for item in named if item.service == service and item.kind == GROUP}
        ]
    return problems


def _environment_names(docs: list[Doc]) -> set[str]:
    """Every variable the manifests set, in a container's env or in a ConfigMap."""
    names = {key for doc in of_kind(docs, "ConfigMap") for key in doc.get("data", {})}
    for doc in of_kind(docs, "Deployment"):
        for container in doc["spec"]["template"]["spec"]["containers"]:
            names |= {item["name"] for item in container.get("env", [])}
    return names


def _sandpit_only() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = generate.access()["sandpit"].get("groups", {})
    return groups


def test_the_collector_follows_every_group_and_transactional_id_the_code_names() -> None:
    named, problems = named_in_code()
    assert problems == []
    seen = {(item.service, item.kind, item.name, item.scoped) for item in named}
    # what it must find at least (a collector finding nothing would pass every check below)
    assert {
        ("ingest", GROUP, "ingest-batch-view", True),
        ("ingest", GROUP, "ingest-sandpit-resets", True),
        ("ingest", TRANSACTIONAL_ID, "ingest-*", True),
        ("validation", GROUP, "validation", True),
        ("validation", TRANSACTIONAL_ID, "validation-*", True),
        ("notifier", GROUP, "notifier", True),
        ("challenges", GROUP, "challenges-plr-record", False),
        ("challenges", GROUP, "challenges-plr-record-own-events", False),
        ("reporting", GROUP, "lrs-reporting", False),
        ("reporting", GROUP, "lrs-reporting.plr-log", True),
    } <= seen


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_group_and_transactional_id_the_code_names_is_granted_to_its_service_live_and_in_the_sandpit(
    overlay: str,
) -> None:
    docs = render(f"overlays/{overlay}")
    named, _ = named_in_code()
    assert grant_problems(docs, named, _sandpit_only()) == []
    # the defaults the names were read from are what the pods run with
    overridden = {
        f"{prefix}{setting.upper()}"
        for service in _services()
        for prefix in _service_code(service).env_prefixes
        for item in named
        if item.service == service
        for setting in item.settings
    } & _environment_names(docs)
    assert overridden == set(), "the manifests set a group the test reads from the settings' defaults"


def test_the_grant_check_finds_a_group_no_acl_grants_and_a_sandpit_group_named_unscoped() -> None:
    docs = render("overlays/prod")
    named, _ = named_in_code()
    extra = [
        Named("notifier", GROUP, "notifier-digest", True, "notifier.py:1"),
        Named("validation", GROUP, "validation-audit", False, "validation.py:2"),
        Named("ingest", TRANSACTIONAL_ID, "outbox-*", True, "ingest.py:3"),
    ]

    assert grant_problems(docs, [*named, *extra], {**_sandpit_only(), "notifier": ["notifier-old"]}) == [
        "lrs-notifier may not use group notifier-digest (notifier.py:1)",
        "lrs-sandpit-notifier may not use group sandpit.notifier-digest (notifier.py:1)",
        "lrs-validation may not use group validation-audit (validation.py:2)",
        "validation.py:2: the Sandpit's validation would use live's group validation-audit",
        "lrs-ingest may not use transactionalId outbox-* (ingest.py:3)",
        "lrs-sandpit-ingest may not use transactionalId sandpit.outbox-* (ingest.py:3)",
        "kafka-access.yaml: sandpit.groups gives notifier notifier-old, which its code never names",
    ]


def test_a_reset_follower_without_its_sandpit_grant_is_found() -> None:
    """The defect this file was written for: the Sandpit's ingest follows applied resets in a group of its own."""
    docs = render("overlays/prod")
    user = next(doc for doc in of_kind(docs, "KafkaUser") if doc["metadata"]["name"] == "lrs-sandpit-ingest")
    acls: list[Any] = user["spec"]["authorization"]["acls"]
    acls[:] = [acl for acl in acls if acl["resource"]["name"] != "sandpit.ingest-sandpit-resets"]
    named, _ = named_in_code()

    [problem] = grant_problems(docs, named, _sandpit_only())
    assert problem.startswith("lrs-sandpit-ingest may not use group sandpit.ingest-sandpit-resets (services/ingest/")
