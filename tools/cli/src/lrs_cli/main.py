"""`lrs`: the command line for AOs (check, submit, status) and operators (keys, data, replay)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from lrs_cli import (
    admin_commands,
    batch_commands,
    check_command,
    credential_commands,
    dlq_commands,
    projector_commands,
    user_commands,
)
from lrs_cli.client import CommandError, Connection


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lrs", description="Learning Records Service command line")
    parser.add_argument("--key-file", help="file holding the API key (default: $LRS_API_KEY)")
    commands = parser.add_subparsers(dest="command", required=True)

    batch = commands.add_parser("batch", help="check, submit and follow achievement batches").add_subparsers(
        dest="action", required=True
    )
    check = batch.add_parser("check", help="run every rule that needs no server (the Batch Toolkit)")
    check.add_argument("file")
    check.add_argument("--reference-dir", help="reference data folder (default: the project's reference/)")
    submit = batch.add_parser("submit", help="submit a batch file (CSV, XML or JSON)")
    submit.add_argument("file")
    submit.add_argument("--idempotency-key")
    status = batch.add_parser("status", help="show a batch's status and outcomes")
    status.add_argument("batch_id")
    status.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the decision")
    status.add_argument("--records", action="store_true", help="list every record's outcome")

    creds = commands.add_parser("credentials", help="operator: create, rotate or revoke API keys")
    creds.add_argument("action", choices=["create", "rotate", "revoke"])
    creds.add_argument("--principal", required=True, help="ao:<id>, provider:<ukprn>, learner:<uln>, operator:<name>")
    creds.add_argument("--label")
    creds.add_argument("--output", help="write the key to this file (mode 600) instead of printing it")

    reference = commands.add_parser("reference", help="operator: reference data").add_subparsers(
        dest="action", required=True
    )
    reference.add_parser("load", help="reload the qualification catalogue and awarding organisations")

    learners = commands.add_parser("learners", help="operator: learner registry").add_subparsers(
        dest="action", required=True
    )
    learner_import = learners.add_parser("import", help="register learners from a CSV file")
    learner_import.add_argument("file")

    projector_commands.register(commands)
    dlq_commands.register(commands)
    user_commands.register(commands)
    credential_commands.register(commands)
    return parser


def _dispatch(args: argparse.Namespace) -> str:
    connection = Connection.from_environment(args.key_file)
    handlers: dict[tuple[str, str | None], Callable[[], str]] = {
        ("batch", "check"): lambda: check_command.check(args.file, args.reference_dir),
        ("batch", "submit"): lambda: batch_commands.submit(connection, args.file, args.idempotency_key),
        ("batch", "status"): lambda: batch_commands.status(connection, args.batch_id, args.wait, args.records),
        ("credentials", args.__dict__.get("action")): lambda: admin_commands.credentials(
            args.action, args.principal, args.label, args.output
        ),
        ("reference", "load"): lambda: admin_commands.load_reference(connection),
        ("learners", "import"): lambda: admin_commands.import_learners(connection, args.file),
    }
    handler = handlers.get((args.command, getattr(args, "action", None)))
    if handler is None and hasattr(args, "run"):
        result: str = args.run(connection, args)
        return result
    if handler is None:
        raise CommandError(f"unknown command {args.command}")
    return handler()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        output = _dispatch(args)
    except CommandError as error:
        sys.stderr.write(f"lrs: {error}\n")
        return 1
    if output:
        sys.stdout.write(output + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
