"""`lrs` against the running services: the exit statuses scripts depend on, every record listed, JSON output."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.support.learners import learners_csv, new_learner, random_uln
from tests.support.waiting import eventually

from lrs_cli.report_commands import this_month
from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import ParsedBatch, parse_batch, write_batch

pytestmark = pytest.mark.integration

LRS = str(Path(sys.executable).parent / "lrs")
OK, FAILED, USAGE, NOT_FINAL, UNREACHABLE, KEY_REFUSED = 0, 1, 2, 3, 4, 5


async def _lrs(system: SystemUnderTest, principal: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LRS_API_KEY": await system.key_for(principal),
        **{
            f"LRS_{name.upper().replace('-', '_')}_URL": system.url(name)
            for name in ("ingest", "validation", "plr-projector", "challenges", "notifier", "reporting")
        },
    }
    return await asyncio.to_thread(
        subprocess.run, [LRS, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _batch_file(tmp_path: Path, learners: list[dict[str, str]], name: str) -> Path:
    """sample-100's records, as many as there are learners, each given one of them."""
    template = parse_batch(Path("samples/sample-100.csv").read_bytes(), BatchFormat.CSV)
    records = [
        template.records[index % len(template.records)].model_copy(
            update={
                "uln": learner["uln"],
                "given_name": learner["given_name"],
                "family_name": learner["family_name"],
                "date_of_birth": learner["date_of_birth"],
                "mis_identifier": f"CLI-{index:05d}",
            }
        )
        for index, learner in enumerate(learners)
    ]
    file = tmp_path / name
    file.write_bytes(write_batch(ParsedBatch(template.header, tuple(records), BatchFormat.CSV), BatchFormat.CSV))
    return file


def _ao(file: Path) -> str:
    return f"ao:{parse_batch(file.read_bytes(), BatchFormat.CSV).header.awarding_organisation}"


async def _register(system: SystemUnderTest, tmp_path: Path, learners: list[dict[str, str]]) -> None:
    registry = tmp_path / "learners.csv"
    registry.write_text(learners_csv(learners))
    imported = await _lrs(system, "operator:tests", "learners", "import", str(registry))
    assert imported.returncode == OK, imported.stderr
    assert imported.stdout.strip() == f"registered {len(learners)} new learners; updated 0, unchanged 0"


async def test_a_learner_raises_a_challenge_with_the_cli_and_its_ao_sees_it(
    system: SystemUnderTest, tmp_path: Path
) -> None:
    learners = [new_learner()]
    await _register(system, tmp_path, learners)
    file = _batch_file(tmp_path, learners, "challenged.csv")
    ao = _ao(file)
    submitted = await _lrs(system, ao, "batch", "submit", str(file))
    batch_id = submitted.stdout.strip()
    learner = f"learner:{learners[0]['uln']}"
    plr = await _lrs(system, learner, "plr", "show", learners[0]["uln"], "--after-batch", batch_id, "--json")
    assert plr.returncode == OK, plr.stderr
    [event] = json.loads(plr.stdout)["learning_events"]

    raised = await _lrs(system, learner, "challenges", "raise", event["id"], "--reason", "My grade was a Merit.")
    again = await _lrs(system, learner, "challenges", "raise", event["id"], "--reason", "Still wrong.")
    listed = await _lrs(system, ao, "challenges", "list", "--open", "--json")

    assert raised.returncode == OK, raised.stderr
    named = f": raised with {event['awarding_organisation_name']} ({ao.split(':')[1]})"
    assert raised.stdout.startswith("challenge ") and named in raised.stdout
    challenge_id = raised.stdout.split()[1].rstrip(":")
    assert again.returncode == FAILED, again.stderr
    assert f"you already have an open challenge on this achievement: challenge {challenge_id}." in " ".join(
        again.stderr.split()
    )
    assert challenge_id in [item["challenge_id"] for item in json.loads(listed.stdout)]


async def test_an_ao_reads_every_mi_report_of_this_month_with_the_cli(system: SystemUnderTest, tmp_path: Path) -> None:
    learners = [new_learner() for _ in range(3)]
    await _register(system, tmp_path, learners)
    file = _batch_file(tmp_path, learners, "mi.csv")
    ao = _ao(file)
    period = this_month()  # once: read twice, "this month" could be two months across a UK midnight

    async def accepted_this_month() -> int:  # the sample AO's: other tests' batches count too
        found = await _lrs(system, ao, "reports", "submissions", "--period", period, "--json")
        assert found.returncode == OK, found.stderr
        return sum(row["records_accepted"] for row in json.loads(found.stdout)["items"])

    before = await accepted_this_month()
    submitted = await _lrs(system, ao, "batch", "submit", str(file), "--wait", "90")
    assert submitted.returncode == OK, submitted.stderr

    async def reported() -> bool:
        return await accepted_this_month() >= before + 3

    await eventually(reported, within=60, what="the batch in this month's submissions report")
    for report, month in (
        ("timeliness", "--period"),
        ("plr-timeliness", "--from"),
        ("rejections", "--from"),
        ("challenges", "--from"),
    ):
        shown = await _lrs(system, ao, "reports", report)  # this month's, as the CLI says it by default
        assert shown.returncode == OK, (report, shown.stderr)
        as_json = json.loads((await _lrs(system, ao, "reports", report, month, period, "--json")).stdout)
        assert period in json.dumps(as_json), report
    written = tmp_path / "rejections.csv"
    assert (await _lrs(system, ao, "reports", "rejections", "--csv", str(written))).returncode == OK
    assert written.read_text().startswith("ao_id,period,code,batches,records")


async def test_an_ao_submits_follows_and_lists_with_the_cli(system: SystemUnderTest, tmp_path: Path) -> None:
    learners = [new_learner() for _ in range(3)]
    await _register(system, tmp_path, learners)
    file = _batch_file(tmp_path, learners, "three.csv")
    ao = _ao(file)

    submitted = await _lrs(system, ao, "batch", "submit", str(file))
    assert (submitted.returncode, submitted.stderr) == (OK, "")
    batch_id = submitted.stdout.strip()

    status = await _lrs(system, ao, "batch", "status", batch_id, "--wait", "90", "--records")
    assert status.returncode == OK, status.stderr
    assert f"batch {batch_id}: completed - 3 records, 3 accepted, 0 rejected" in status.stdout
    # the header's ResultsIssuedDate (sample-100's), then a line a record
    assert status.stdout.splitlines()[1] == "  results issued 22 August 2024"
    assert [line.split()[2:4] for line in status.stdout.splitlines()[2:]] == [
        ["accepted", f"CLI-{index:05d}"] for index in range(3)
    ]

    as_json = await _lrs(system, ao, "batch", "status", batch_id, "--records", "--json")
    document = json.loads(as_json.stdout)
    assert document["batch"]["counts"]["accepted"] == 3
    assert [record["mis_identifier"] for record in document["records"]] == ["CLI-00000", "CLI-00001", "CLI-00002"]

    listed = json.loads((await _lrs(system, ao, "batch", "list", "--json", "--limit", "200")).stdout)
    assert batch_id in [batch["batch_id"] for batch in listed]
    another = (await _lrs(system, ao, "batch", "submit", str(_batch_file(tmp_path, learners[:2], "two.csv")))).stdout
    newest = await _lrs(system, ao, "batch", "list", "--limit", "1")
    assert newest.returncode == OK and another.strip() in newest.stdout and batch_id not in newest.stdout
    shown, more = newest.stderr.splitlines()
    assert shown.startswith("lrs: the newest 1 of ") and shown.endswith(
        " batches: --all or a larger --limit shows more"
    )
    assert more.startswith("more: the same command with --after "), newest.stderr

    again = await _lrs(system, ao, "batch", "submit", str(file))
    assert again.returncode == OK
    assert again.stdout.strip() == batch_id
    assert f"three.csv was sent before, as batch {batch_id}: nothing new was submitted" in " ".join(
        again.stderr.split()
    )

    plr = await _lrs(system, "operator:tests", "plr", "show", learners[0]["uln"], "--after-batch", batch_id, "--json")
    assert plr.returncode == OK, plr.stderr
    assert [event["grade"] for event in json.loads(plr.stdout)["learning_events"]] == [
        parse_batch(file.read_bytes(), BatchFormat.CSV).records[0].grade
    ]

    other = await _lrs(system, "ao:RN9008", "batch", "status", batch_id)
    assert other.returncode == FAILED
    assert other.stderr.startswith("lrs: HTTP 404")


async def test_a_batch_failed_by_rs005_exits_1_and_check_projects_it(system: SystemUnderTest, tmp_path: Path) -> None:
    unregistered = [new_learner() for _ in range(4)]  # RV004 for every record: RS005
    file = _batch_file(tmp_path, unregistered, "unregistered.csv")
    ao = _ao(file)

    submitted = await _lrs(system, ao, "batch", "submit", str(file), "--wait", "90")
    assert submitted.returncode == FAILED, submitted.stdout + submitted.stderr
    batch_id = submitted.stdout.splitlines()[0]
    assert f"batch {batch_id}: failed" in submitted.stdout
    assert "RS005" in submitted.stdout

    status = await _lrs(system, ao, "batch", "status", batch_id, "--records")
    assert status.returncode == FAILED
    assert status.stdout.count("RV004") == 4

    # --only goes on to the CSV: ingest's records.csv of that result only
    for only, rows in (("rejected", 4), ("accepted", 0)):
        written = tmp_path / f"{only}.csv"
        chosen = await _lrs(system, ao, "batch", "status", batch_id, "--only", only, "--csv", str(written))
        assert chosen.returncode == FAILED, chosen.stderr
        with written.open(newline="", encoding="utf-8-sig") as results:
            assert [row["Status"] for row in csv.DictReader(results)] == [only] * rows
        assert f"wrote the {only} records' results to {written}" in chosen.stderr

    unknown_grades = tmp_path / "bad-grades.csv"
    parsed = parse_batch(file.read_bytes(), BatchFormat.CSV)
    bad = tuple(record.model_copy(update={"grade": "Q9"}) for record in parsed.records)
    unknown_grades.write_bytes(write_batch(ParsedBatch(parsed.header, bad, BatchFormat.CSV), BatchFormat.CSV))
    checked = await _lrs(system, ao, "batch", "check", str(unknown_grades))
    assert checked.returncode == FAILED
    assert "PROJECTED OUTCOME: the whole batch fails with RS005" in checked.stdout


async def test_ten_thousand_records_are_all_listed_and_a_short_wait_exits_3(
    system: SystemUnderTest, tmp_path: Path
) -> None:
    learners = [new_learner() for _ in range(10_000)]
    await _register(system, tmp_path, learners)
    file = _batch_file(tmp_path, learners, "ten-thousand.csv")
    ao = _ao(file)

    # Validation decides 10,000 records in well under a second, faster than the CLI starts: it is
    # held still while the batch goes in, so the short wait surely ends before the decision.
    with system.processes["validation"].paused():
        submitted = await _lrs(system, ao, "batch", "submit", str(file), "--json")
        assert submitted.returncode == OK, submitted.stderr
        accepted = json.loads(submitted.stdout)
        assert accepted["replay"] is False
        batch_id = accepted["batch_id"]

        early = await _lrs(system, ao, "batch", "status", batch_id, "--wait", "0.01")
        assert early.returncode == NOT_FINAL, early.stdout + early.stderr
        assert "not decided yet" in early.stdout

    results = tmp_path / "results.csv"
    status = await _lrs(system, ao, "batch", "status", batch_id, "--wait", "300", "--records", "--csv", str(results))
    assert status.returncode == OK, status.stderr
    lines = status.stdout.splitlines()
    assert f"batch {batch_id}: completed - 10,000 records, 10,000 accepted" in lines[0]
    assert lines[1] == "  results issued 22 August 2024"  # sample-100's ResultsIssuedDate
    listed = [line.split()[3] for line in lines[2:]]
    assert listed == [f"CLI-{index:05d}" for index in range(10_000)]
    with results.open(newline="", encoding="utf-8") as rows:
        assert sum(1 for _ in csv.DictReader(rows)) == 10_000

    piped = await _lrs(system, ao, "batch", "status", batch_id, "--csv", "-")
    assert piped.returncode == OK, piped.stderr
    # the CSV alone: no summary line before it, nor the byte-order mark the file has for Excel
    assert piped.stdout == results.read_text(encoding="utf-8-sig")


async def test_no_traceback_for_a_missing_file_or_a_refused_connection(system: SystemUnderTest, tmp_path: Path) -> None:
    missing = await _lrs(system, "ao:RN9093", "batch", "submit", str(tmp_path / "missing.csv"))
    assert missing.returncode == USAGE
    assert "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    env = {**os.environ, "LRS_API_KEY": "lrs_x_y", "LRS_INGEST_URL": f"http://127.0.0.1:{closed}"}
    refused = await asyncio.to_thread(
        subprocess.run, [LRS, "batch", "list"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == UNREACHABLE
    assert refused.stderr.startswith("lrs: cannot reach")
    assert "Traceback" not in refused.stderr


async def test_an_operator_links_a_provider_who_may_then_change_sharing(
    system: SystemUnderTest, tmp_path: Path
) -> None:
    learner = new_learner()
    await _register(system, tmp_path, [learner])
    ukprn = f"{int(learner['uln']) % 10**8:08d}"
    provider = f"provider:{ukprn}"

    refused = await _lrs(system, provider, "learners", "sharing", learner["uln"], "unable")
    assert (refused.returncode, refused.stderr.startswith("lrs: HTTP 403")) == (KEY_REFUSED, True), refused.stderr
    linked = await _lrs(system, "operator:tests", "learners", "link", learner["uln"], "--ukprn", ukprn)
    assert (linked.returncode, linked.stderr) == (OK, "")
    assert linked.stdout.strip() == (
        f"provider {ukprn} linked: it may now read the learner's PLR (while they share), report centre"
        " achievements for them and change their ability to share"
    )
    opted_out = await _lrs(system, provider, "learners", "sharing", learner["uln"], "unable")
    assert (opted_out.returncode, opted_out.stdout.strip()) == (
        OK,
        f"learner {learner['uln']} has stopped sharing their PLR: within a few seconds, no learning provider can see"
        " it. The learner still sees all of it, and each awarding organisation sees the results it recorded",
    ), opted_out.stderr
    # the same choice again from the same provider records nothing, and says so (not "is now … once applied")
    opted_out_again = await _lrs(system, provider, "learners", "sharing", learner["uln"], "unable")
    assert (opted_out_again.returncode, opted_out_again.stdout.strip()) == (
        OK,
        f"learner {learner['uln']} already does not share their PLR: nothing changed",
    ), opted_out_again.stderr
    again = await _lrs(system, "operator:tests", "learners", "link", learner["uln"], "--ukprn", ukprn)
    assert again.returncode == OK, again.stderr

    unknown = await _lrs(system, "operator:tests", "learners", "link", random_uln(), "--ukprn", ukprn)
    assert unknown.returncode == FAILED
    assert unknown.stderr.startswith("lrs: HTTP 404") and "no learner is registered under this ULN" in unknown.stderr
    not_an_operator = await _lrs(system, provider, "learners", "link", learner["uln"], "--ukprn", ukprn)
    assert not_an_operator.returncode == KEY_REFUSED
    assert not_an_operator.stderr.startswith("lrs: HTTP 403")
    malformed = await _lrs(system, "operator:tests", "learners", "link", learner["uln"], "--ukprn", "123")
    assert malformed.returncode == USAGE
    assert "a UKPRN is 8 digits" in malformed.stderr


async def test_an_operator_merges_two_ulns_of_one_learner(system: SystemUnderTest, tmp_path: Path) -> None:
    master, other = new_learner(), new_learner()
    await _register(system, tmp_path, [master, other])

    merged = await _lrs(system, "operator:tests", "learners", "merge", master["uln"], other["uln"])
    again = await _lrs(system, "operator:tests", "learners", "merge", master["uln"], other["uln"])
    cycle = await _lrs(system, "operator:tests", "learners", "merge", other["uln"], master["uln"])

    assert (merged.returncode, merged.stderr) == (OK, ""), merged.stderr
    assert merged.stdout.startswith(f"{other['uln']} merged into {master['uln']}: one learner now")
    assert again.returncode == OK, again.stderr  # the same merge again changes nothing
    assert cycle.returncode == FAILED and cycle.stderr.startswith("lrs: HTTP 409"), cycle.stderr


async def test_an_ao_lists_its_open_challenges_a_page_at_a_time(system: SystemUnderTest) -> None:
    ao = f"RN{uuid.uuid4().int % 10**6}"
    raised_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    states = ["raised", "resolved", "acknowledged"] * 3
    connection = await asyncpg.connect(system.database_url)
    try:
        await connection.executemany(
            "INSERT INTO challenges.challenges (challenge_id, achievement_id, ao_id, uln, reason, state, raised_at)"
            " VALUES (gen_random_uuid(), gen_random_uuid(), $1, $2, 'The grade is wrong.', $3, $4)",
            [(ao, random_uln(), state, raised_at + timedelta(hours=n)) for n, state in enumerate(states)],
        )
        newest_open_first = [
            str(row["challenge_id"])
            for row in await connection.fetch(
                "SELECT challenge_id FROM challenges.challenges WHERE ao_id = $1 AND state <> 'resolved'"
                " ORDER BY raised_at DESC",
                ao,
            )
        ]
    finally:
        await connection.close()

    first = await _lrs(system, f"ao:{ao}", "challenges", "list", "--open", "--limit", "4", "--json")
    assert first.returncode == OK, first.stderr
    assert [challenge["challenge_id"] for challenge in json.loads(first.stdout)] == newest_open_first[:4]
    more = first.stderr.strip()
    assert more.startswith("more: the same command with --after ")
    after = more.split()[-1]
    rest = await _lrs(system, f"ao:{ao}", "challenges", "list", "--open", "--limit", "4", "--after", after, "--json")
    assert (rest.returncode, rest.stderr) == (OK, "")
    assert [challenge["challenge_id"] for challenge in json.loads(rest.stdout)] == newest_open_first[4:]
    as_table = await _lrs(system, f"ao:{ao}", "challenges", "list", "--open", "--limit", "4", "--after", after)
    assert all(challenge_id in as_table.stdout for challenge_id in newest_open_first[4:]), as_table.stdout
    resolved = await _lrs(system, f"ao:{ao}", "challenges", "list", "--state", "resolved", "--json")
    assert len(json.loads(resolved.stdout)) == 3 and resolved.stderr == ""


async def test_an_operator_makes_a_key_for_one_duty_and_it_does_only_that(
    system: SystemUnderTest, tmp_path: Path
) -> None:
    key_file = tmp_path / "oncall.key"
    env = {
        **os.environ,
        "DATABASE_URL": system.database_url,
        **{
            f"LRS_{name.upper().replace('-', '_')}_URL": system.url(name)
            for name in ("ingest", "validation", "plr-projector", "challenges", "notifier", "reporting")
        },
    }
    env.pop("LRS_API_KEY", None)

    def lrs(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([LRS, *args], env=env, capture_output=True, text=True, timeout=300, check=False)

    made = await asyncio.to_thread(
        lrs, "credentials", "create", "--principal", "operator:oncall", "--scope", "dead-letters",
        "--output", str(key_file),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "for operator:oncall (scopes: dead-letters); written to" in made.stdout

    listed = await asyncio.to_thread(lrs, "--key-file", str(key_file), "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    refused = await asyncio.to_thread(lrs, "--key-file", str(key_file), "projector", "rebuild", "status")
    assert refused.returncode != 0
    assert "this route needs rebuild" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr

    # an access review: the key is listed with its duties and who made it, never its secret
    keys = await asyncio.to_thread(lrs, "credentials", "list", "--principal", "operator:oncall")
    assert keys.returncode == 0, keys.stderr
    [row] = [line for line in keys.stdout.splitlines() if "operator:oncall" in line]
    assert "dead-letters" in row and "made with lrs credentials by" in row
    # the secret follows the key id (16 hex digits) and may itself hold "_": its last piece alone can be one digit
    secret = re.fullmatch(r".*?[0-9a-f]{16}_(.+)", key_file.read_text().strip())
    assert secret is not None and secret.group(1) not in keys.stdout


async def test_a_batch_that_changed_nothing_shows_the_plr_as_it_is(system: SystemUnderTest, tmp_path: Path) -> None:
    """The projector cannot tell a batch on its way from one that put no event on the PLR; `plr show
    --after-batch` asks ingest, and shows the PLR rather than waiting for what will never come."""
    learners = [new_learner() for _ in range(2)]
    await _register(system, tmp_path, learners)
    file = _batch_file(tmp_path, learners, "first.csv")
    ao = _ao(file)
    first = (await _lrs(system, ao, "batch", "submit", str(file), "--wait", "90")).stdout.strip()
    parsed = parse_batch(file.read_bytes(), BatchFormat.CSV)
    same_facts = tmp_path / "again.csv"  # other bytes (the records in another order), the same facts
    same_facts.write_bytes(
        write_batch(ParsedBatch(parsed.header, parsed.records[::-1], BatchFormat.CSV), BatchFormat.CSV)
    )
    second = await _lrs(system, ao, "batch", "submit", str(same_facts), "--wait", "90", "--json")
    assert second.stdout, (second.returncode, second.stderr)
    decided = json.loads(second.stdout)
    assert decided["batch_id"] != first and decided["batch"]["counts"]["no_ops"] == 2, decided
    assert decided["status"] == decided["batch"]["status"] == "completed"  # the batch's, not the 202's "accepted"

    shown = await _lrs(
        system, "operator:tests", "plr", "show", learners[0]["uln"], "--after-batch", decided["batch_id"], "--json"
    )

    assert shown.returncode == OK, shown.stderr
    assert "was completed without accepting any record: showing the PLR as it is" in shown.stderr
    assert len(json.loads(shown.stdout)["learning_events"]) == 1
