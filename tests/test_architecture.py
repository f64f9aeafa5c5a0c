"""The layout the code keeps: services never import each other (nor does any other source tree or the benchmark import
a service), the domain core does no I/O (no file but the reference data it ships), logs nothing and reads no clock or
randomness (today is given to it), and every Kafka client is built by `lrs_platform.kafka` (so each connects as the
environment says: TLS in a cluster)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICE_PACKAGES = {
    path.name: path.parent.parent.name
    for path in ROOT.glob("services/*/src/*")
    if path.is_dir() and (path / "__init__.py").exists()
}
SOURCE_TREES = [
    *ROOT.glob("services/*/src"),
    *ROOT.glob("libs/*/src"),
    ROOT / "contracts" / "src",
    ROOT / "tools/cli/src",
]
IO_LIBRARIES = {"asyncio", "asyncpg", "aiokafka", "faust", "fastapi", "starlette", "httpx", "socket", "aiosmtpd"}
# Nor the clock, logs, randomness or the I/O library: the domain is plain functions over values.
IMPURE_LIBRARIES = {"time", "logging", "structlog", "random", "lrs_platform"}
CLOCK_READS = {"now", "today", "utcnow"}  # datetime.now(), date.today(), datetime.utcnow()
# Imports of a service outside the services, each with why it is allowed (finding 6 of the code review: the lead
# decides whether it stays).
SERVICE_IMPORTS_ALLOWED = {
    # runs reporting alone to measure it (decision 0037), configured with its own settings class
    "bench/reporting_alone.py: reporting",
}
KAFKA_CLIENTS = {"AIOKafkaAdminClient", "AIOKafkaConsumer", "AIOKafkaProducer"}
KAFKA_CLIENT_MODULE = ROOT / "libs/platform/src/lrs_platform/kafka.py"


def modules(tree: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(tree.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(module: ast.Module) -> Iterator[str]:
    """The top-level package of every import in the module, local ones included."""
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_the_service_packages_are_found() -> None:
    assert set(SERVICE_PACKAGES) >= {"ingest", "validation", "plr_projector", "challenges", "notifier", "reporting"}


def imports_of(tree: Path, packages: set[str]) -> list[str]:
    """`file: package` for each import in `tree` of one of `packages`."""
    return [
        f"{path.relative_to(ROOT)}: {name}"
        for path, module in modules(tree)
        for name in imported(module)
        if name in packages
    ]


def _own_package(tree: Path) -> set[str]:
    """The service package `tree` holds, if it is a service's source tree."""
    return {package for package, service in SERVICE_PACKAGES.items() if tree == ROOT / "services" / service / "src"}


@pytest.mark.parametrize("tree", [*SOURCE_TREES, ROOT / "bench"], ids=lambda tree: str(tree.relative_to(ROOT)))
def test_no_source_tree_imports_another_service(tree: Path) -> None:
    others = set(SERVICE_PACKAGES) - _own_package(tree)
    assert [found for found in imports_of(tree, others) if found not in SERVICE_IMPORTS_ALLOWED] == []


def test_each_allowed_service_import_is_still_made() -> None:
    made = {found for tree in [*SOURCE_TREES, ROOT / "bench"] for found in imports_of(tree, set(SERVICE_PACKAGES))}
    assert made >= SERVICE_IMPORTS_ALLOWED, "an allowance no longer needed: take it out"


def test_the_domain_core_imports_no_io_clock_logging_or_randomness() -> None:
    assert imports_of(ROOT / "libs/domain/src", IO_LIBRARIES | IMPURE_LIBRARIES) == []


def test_the_domain_core_reads_no_clock() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: .{node.func.attr}()"
        for path, module in modules(ROOT / "libs/domain/src")
        for node in ast.walk(module)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_READS
    ]
    assert found == []


# The domain reads no file but its own package data, the reference files it ships (read once a process), in one
# module; a path may be named (the XSD beside the XML reader), not opened.
FILE_LIBRARIES = {"os", "shutil", "tempfile", "subprocess", "importlib"}  # io: its StringIO reads text in memory
FILE_READERS = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}
PACKAGE_DATA_MODULE = ROOT / "libs/domain/src/lrs_domain/reference_files/__init__.py"


def test_the_domain_core_reads_files_only_in_its_package_data_module() -> None:
    found = []
    for path, module in modules(ROOT / "libs/domain/src"):
        if path == PACKAGE_DATA_MODULE:
            continue
        found += [f"{path.relative_to(ROOT)}: import {name}" for name in imported(module) if name in FILE_LIBRARIES]
        for node in ast.walk(module):
            if isinstance(node, ast.Call):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if called in FILE_READERS:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {called}()")
    assert found == []


def test_every_kafka_client_is_built_by_lrs_platform_kafka() -> None:
    found = []
    for tree in SOURCE_TREES:
        for path, module in modules(tree):
            if path == KAFKA_CLIENT_MODULE:
                continue
            for node in ast.walk(module):
                if isinstance(node, ast.Call):
                    called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                    if called in KAFKA_CLIENTS:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {called}")
    assert found == []


# A code is named by its member of `lrs_contracts.codes` (`ProblemCode.PLR_HAS_NO_ACHIEVEMENTS`, `RecordCode.QAN_MALFORMED`),
# never written as text: a mistyped member fails at import and under mypy, a mistyped string answers `about:blank`
# instead of the code's `/problems/<code>` page, and "find usages" of the member finds every place that answers it.
CODE_USING_TREES = [*ROOT.glob("services/*/src"), *ROOT.glob("libs/*/src"), *ROOT.glob("tools/*/src")]


def test_no_code_keyword_argument_is_written_as_a_string() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{keyword.value.lineno}: code={keyword.value.value!r}"
        for tree in CODE_USING_TREES
        for path, module in modules(tree)
        for node in ast.walk(module)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "code" and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str)
    ]
    assert not found, "codes written as strings, not as their members:\n" + "\n".join(found)
