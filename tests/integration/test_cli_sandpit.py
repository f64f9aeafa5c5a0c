"""`lrs --sandpit` and `lrs sandpit reset|purge` against a running Sandpit beside a running live system
(decision 0060): what an AO rehearses reaches only the Sandpit, is marked so, and resets to empty."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from bench.processes import RunningSystem
from tests.support.databases import create_database, unique_name
from tests.support.infra import private_kafka
from tests.support.learners import learners_csv, new_learner
from tests.support.system import SANDPIT_SERVICES, build_system, isolation_env, issue_key
from tests.support.waiting import eventually

from lrs_contracts.batch import BatchFormat
from lrs_contracts.environments import Environment
from lrs_domain.formats import ParsedBatch, parse_batch, write_batch

pytestmark = pytest.mark.integration

LRS = str(Path(sys.executable).parent / "lrs")
OK, FAILED, NOT_FINAL, KEY_REFUSED = 0, 1, 3, 5
AO = "RN9093"
SERVED = ("ingest", "validation", "plr-projector")


@dataclass
class TwoEnvironments:
    live: RunningSystem
    sandpit: RunningSystem
    live_database: str
    sandpit_database: str

    def env(self, **variables: str) -> dict[str, str]:
        """What a person's shell holds: both environments' URLs, the Sandpit's database, and `variables`."""
        urls = {f"LRS_{name.upper().replace('-', '_')}_URL": self.live[name].url for name in SERVED}
        sandpit = {f"LRS_SANDPIT_{name.upper().replace('-', '_')}_URL": self.sandpit[name].url for name in SERVED}
        clean = {key: value for key, value in os.environ.items() if not key.startswith("LRS_")}
        return {**clean, **urls, **sandpit, "LRS_SANDPIT_DATABASE_URL": self.sandpit_database, **variables}


@pytest.fixture(scope="module")
def sandpit_kafka() -> Iterator[str]:
    with private_kafka() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
async def environments(
    sandpit_kafka: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TwoEnvironments]:
    name = unique_name("cli")
    live_database = await create_database(database_url, name)
    sandpit_database = await create_database(database_url, f"{name}_sandpit")
    log_dir = tmp_path_factory.mktemp("cli-sandpit-logs")
    isolation = isolation_env(name, log_dir)
    live = build_system(sandpit_kafka, live_database, log_dir, isolation, names=SERVED)
    sandpit = build_system(
        sandpit_kafka,
        sandpit_database,
        log_dir / "sandpit",
        {**isolation, "LRS_ENVIRONMENT": Environment.SANDPIT.value, "VALIDATION_LIVE_DATABASE_URL": live_database},
        names=tuple(name for name in SANDPIT_SERVICES if name in SERVED),
    )
    try:
        await asyncio.gather(live.start(), sandpit.start())
        yield TwoEnvironments(live, sandpit, live_database, sandpit_database)
    finally:
        live.stop()
        sandpit.stop()


async def lrs(environments: TwoEnvironments, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [LRS, *args],
        env=environments.env(**variables),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


async def registered(environments: TwoEnvironments, tmp_path: Path, count: int) -> list[dict[str, str]]:
    """New learners in the live registry, once the Sandpit's read-only copy holds them too."""
    learners = [new_learner() for _ in range(count)]
    registry = tmp_path / "learners.csv"
    registry.write_text(learners_csv(learners))
    operator = await issue_key(environments.live_database, "operator:tests")
    imported = await lrs(environments, "learners", "import", str(registry), LRS_API_KEY=operator)
    assert imported.returncode == OK, imported.stderr
    ulns = [learner["uln"] for learner in learners]

    async def copied() -> bool:
        connection = await asyncpg.connect(environments.sandpit_database)
        try:
            held = await connection.fetchval("SELECT count(*) FROM validation.learners WHERE uln = ANY($1)", ulns)
        finally:
            await connection.close()
        return bool(held == len(ulns))

    await eventually(copied, within=60, what="the Sandpit's copy of the registry")
    return learners


def batch_file(tmp_path: Path, learners: list[dict[str, str]], name: str) -> Path:
    template = parse_batch(Path("samples/sample-100.csv").read_bytes(), BatchFormat.CSV)
    assert template.header.awarding_organisation == AO
    records = tuple(
        template.records[index].model_copy(
            update={
                "uln": learner["uln"],
                "given_name": learner["given_name"],
                "family_name": learner["family_name"],
                "date_of_birth": learner["date_of_birth"],
                "mis_identifier": f"SBX-{index:05d}",
            }
        )
        for index, learner in enumerate(learners)
    )
    file = tmp_path / name
    file.write_bytes(write_batch(ParsedBatch(template.header, records, BatchFormat.CSV), BatchFormat.CSV))
    return file


async def test_an_ao_rehearses_in_the_sandpit_and_live_never_sees_it(
    environments: TwoEnvironments, tmp_path: Path
) -> None:
    learners = await registered(environments, tmp_path, 3)
    file = batch_file(tmp_path, learners, "rehearsal.csv")
    key_file = tmp_path / "sandpit.key"
    created = await lrs(
        environments, "--sandpit", "credentials", "create", "--principal", f"ao:{AO}", "--output", str(key_file)
    )
    assert created.returncode == OK, created.stderr
    assert key_file.read_text().startswith("lrs_sbx_")
    sandpit = ("--sandpit", "--key-file", str(key_file))

    submitted = await lrs(environments, *sandpit, "batch", "submit", str(file), "--wait", "120", "--json")

    assert submitted.returncode == OK, submitted.stderr
    answer = json.loads(submitted.stdout)
    assert answer["environment"] == "sandpit"
    assert answer["batch"]["status"] == "completed"
    assert answer["batch"]["counts"]["accepted"] == 3
    assert submitted.stderr.startswith("SANDPIT: ")
    uln = learners[0]["uln"]
    shown = await lrs(environments, *sandpit, "plr", "show", uln, "--after-batch", answer["batch_id"], "--json")
    assert shown.returncode == OK, shown.stderr
    assert json.loads(shown.stdout)["environment"] == "sandpit"
    assert len(json.loads(shown.stdout)["learning_events"]) == 1

    live_key = await issue_key(environments.live_database, f"ao:{AO}")
    live_plr = await lrs(environments, "plr", "show", uln, "--json", LRS_API_KEY=live_key)
    assert live_plr.returncode == OK, live_plr.stderr
    assert json.loads(live_plr.stdout)["learning_events"] == []
    live_batches = await lrs(environments, "batch", "list", "--json", LRS_API_KEY=live_key)
    assert json.loads(live_batches.stdout) == []

    refused = await lrs(environments, "--key-file", str(key_file), "batch", "list")
    assert refused.returncode == KEY_REFUSED
    assert "Sandpit key" in refused.stderr


async def test_a_sandpit_url_that_reaches_live_sends_nothing(environments: TwoEnvironments, tmp_path: Path) -> None:
    learners = [new_learner()]
    file = batch_file(tmp_path, learners, "misdirected.csv")
    key = await issue_key(environments.sandpit_database, f"ao:{AO}", Environment.SANDPIT)
    live_key = await issue_key(environments.live_database, f"ao:{AO}")
    before = await lrs(environments, "batch", "list", "--json", LRS_API_KEY=live_key)

    sent = await lrs(
        environments,
        "--sandpit",
        "batch",
        "submit",
        str(file),
        LRS_SANDPIT_API_KEY=key,
        LRS_SANDPIT_INGEST_URL=environments.live["ingest"].url,
    )

    assert sent.returncode == FAILED
    assert "is not the Sandpit (it answers as live)" in sent.stderr
    after = await lrs(environments, "batch", "list", "--json", LRS_API_KEY=live_key)
    assert json.loads(after.stdout) == json.loads(before.stdout)


async def test_sandpit_reset_empties_that_aos_sandpit_and_the_same_batch_is_new_again(
    environments: TwoEnvironments, tmp_path: Path
) -> None:
    learners = await registered(environments, tmp_path, 2)
    file = batch_file(tmp_path, learners, "again.csv")
    key = await issue_key(environments.sandpit_database, f"ao:{AO}", Environment.SANDPIT)
    first = await lrs(
        environments, "--sandpit", "batch", "submit", str(file), "--wait", "120", "--json", LRS_SANDPIT_API_KEY=key
    )
    assert first.returncode == OK, first.stderr

    reset = await lrs(environments, "sandpit", "reset", "--json", LRS_SANDPIT_API_KEY=key)

    assert reset.returncode == OK, reset.stderr
    done = json.loads(reset.stdout)
    assert (done["environment"], done["ao_id"], done["status"]) == ("sandpit", AO, "completed")
    plr = await lrs(
        environments,
        "--sandpit",
        "plr",
        "show",
        learners[0]["uln"],
        "--min-offsets",
        done["plr_min_offsets"],
        "--json",
        LRS_SANDPIT_API_KEY=key,
    )
    assert plr.returncode == OK, plr.stderr
    assert json.loads(plr.stdout)["learning_events"] == []
    listed = await lrs(environments, "--sandpit", "batch", "list", "--json", LRS_SANDPIT_API_KEY=key)
    assert json.loads(listed.stdout) == []
    again = await lrs(
        environments, "--sandpit", "batch", "submit", str(file), "--wait", "120", "--json", LRS_SANDPIT_API_KEY=key
    )
    assert again.returncode == OK, again.stderr
    assert json.loads(again.stdout)["replay"] is False
    assert json.loads(again.stdout)["batch"]["counts"]["accepted"] == 2


async def test_an_operator_purges_idle_sandpits(environments: TwoEnvironments) -> None:
    operator = await issue_key(environments.sandpit_database, "operator:purge", Environment.SANDPIT)

    purged = await lrs(environments, "sandpit", "purge", "--idle-days", "30", "--json", LRS_SANDPIT_API_KEY=operator)

    assert purged.returncode == OK, purged.stderr
    assert json.loads(purged.stdout) == {"environment": "sandpit", "idle_days": 30, "resets": []}
