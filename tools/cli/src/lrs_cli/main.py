"""`lrs`: the command line for AOs (check, submit, status) and operators (keys, data, replay).

Exit statuses (docs/operations.md): 0 done, a batch completed even with some of its records rejected; 1 a batch
refused at the door, failed (RS005, also when `batch check` projects it) or abandoned, or another error a service
answered (404, 409, 422, 500); 2 usage, or a configuration no retry mends (a URL variable malformed or not set, a
certificate not trusted); 3 a batch still not decided at the end of --wait, a Sandpit reset or a replay still under
way; 4 a service (for `lrs credentials`, the database) could not be reached, or answered that it is unavailable
(502, 503, 504): try again later; 5 the API key was refused (401, 403; a 403 BATCH_OF_ANOTHER_AO is 1); 130 interrupted (Ctrl-C); 141 (SIGPIPE) the
output's reader stopped reading; 143 terminated (SIGTERM), said as Ctrl-C is. An expected error is one line on
stderr, never a traceback.
"""

from __future__ import annotations

import functools
import inspect
import signal
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Protocol

import httpx
import typer
from typer.core import TyperArgument, TyperOption

from lrs_cli import (
    admin_commands,
    batch_commands,
    challenge_commands,
    credential_key_commands,
    dlq_commands,
    email_commands,
    erasure_commands,
    hidden_report_commands,
    keyring_commands,
    maintenance_commands,
    personal_data_commands,
    plr_commands,
    projector_commands,
    report_commands,
    sandpit_commands,
    user_commands,
)
from lrs_cli.client import (
    CommandError,
    Connection,
    ExitCode,
    environment_from,
    misconfigured,
    others_may_read,
    unreachable_text,
    variable_of,
)
from lrs_cli.output import mark_environment, stderr, warn

_display_type_of_any_option = TyperOption.display_type_rich


def _display_type_unless_a_flag(option: TyperOption, ctx: Any) -> str | None:
    """`--json`, not `--json <bool>`: a flag takes no value. Typer's rich help shows every option's type, flags
    (--help too) included; its plain help already leaves them out."""
    if option.is_flag or option.count:
        return None
    return _display_type_of_any_option(option, ctx)


TyperOption.display_type_rich = _display_type_unless_a_flag  # type: ignore[method-assign,assignment]


def _argument_name(argument: TyperArgument) -> str:
    """An argument as the help's own words name it, `BATCH_ID`, `FILE`: its metavar, else its name in capitals.
    Typer shows the parameter's name (`batch_id`) instead, in the usage line, the help's list and the errors."""
    return argument.metavar if argument.metavar is not None else (argument.name or "").upper()


def _usage_name(argument: TyperArgument) -> str:
    """`lrs plr show [OPTIONS] ULN`: Typer 0.29 wraps a required argument in braces (`{uln}`), which reads as a
    placeholder left unfilled; an optional one keeps its brackets (`[CHOICE]`), as Click writes them."""
    name = _argument_name(argument) if argument.required else f"[{_argument_name(argument)}]"
    return name if argument.nargs == 1 else f"{name}..."


TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[assignment,method-assign]
TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign,assignment]

app = typer.Typer(
    name="lrs",
    help="Learning Records Service command line. Exit status: 0 done (a batch completed, even with records"
    " rejected), 1 refused/failed (RS005)/abandoned or another error answer (404, 409, 422, 500), 2 usage or"
    " configuration (a URL variable malformed or not set, a certificate not trusted), 3 not final (at the end of"
    " --wait, a reset or replay under way, a PLR read after a batch maintenance holds), 4 LRS unreachable or"
    " unavailable (502, 503, 504: try again later), 5 API key refused (401, 403), 130 Ctrl-C, 143 SIGTERM. Where the"
    " services are: $LRS_API_URL (https://api.<host>), or each service's own $LRS_<SERVICE>_URL (LRS_INGEST_URL,"
    " LRS_PLR_PROJECTOR_URL, ...); SSL_CERT_FILE names the CA bundle to trust.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(batch_commands.app, name="batch")
app.add_typer(plr_commands.app, name="plr")
app.add_typer(challenge_commands.app, name="challenges")
app.add_typer(report_commands.app, name="reports")
app.command("credentials")(admin_commands.credentials_command)
app.add_typer(admin_commands.reference_app, name="reference")
admin_commands.learners_app.command("erase")(erasure_commands.erase_command)
admin_commands.learners_app.command("erasures")(erasure_commands.erasures_command)
admin_commands.learners_app.command("personal-data")(personal_data_commands.personal_data_command)
admin_commands.learners_app.command("disclosures")(personal_data_commands.disclosures_command)
admin_commands.learners_app.command("hidden-reports")(hidden_report_commands.hidden_reports_command)
app.add_typer(admin_commands.learners_app, name="learners")
app.add_typer(projector_commands.app, name="projector")
app.add_typer(dlq_commands.app, name="dlq")
app.add_typer(email_commands.app, name="emails")
app.add_typer(user_commands.app, name="users")
app.add_typer(maintenance_commands.app, name="maintenance")
app.add_typer(sandpit_commands.app, name="sandpit")
app.add_typer(keyring_commands.app, name="keyring")
app.add_typer(credential_key_commands.app, name="credential-keys")


def _version(shown: bool) -> None:
    if shown:
        print(f"lrs {metadata.version('lrs-cli')}")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def lrs(
    ctx: typer.Context,
    key_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="File holding the API key (default: $LRS_API_KEY, in the Sandpit $LRS_SANDPIT_API_KEY).",
        ),
    ] = None,
    sandpit: Annotated[
        bool,
        typer.Option(
            "--sandpit",
            help="Use the Sandpit (also LRS_ENVIRONMENT=sandpit): URLs from $LRS_SANDPIT_<SERVICE>_URL, output"
            " marked SANDPIT.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="Print the release of lrs (its exit statuses) and end."
        ),
    ] = False,
) -> None:
    """Learning Records Service command line."""
    environment = environment_from(sandpit)
    mark_environment(environment)
    ctx.obj = Connection.from_environment(key_file, environment)
    if key_file and (mode := others_may_read(key_file)) is not None:
        warn(
            f"the key file {key_file} can be read by other users (mode {mode:04o}): chmod 600 it, and make a new key"
            " if anyone else may have read it"
        )


def reflowed(text: str) -> str:
    """A docstring as help shows it: each paragraph one line, to be wrapped at the terminal's width. Typer's rich
    help keeps a docstring's single line breaks in a group's list of commands, where they break lines raggedly."""
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in inspect.cleandoc(text).split("\n\n"))


class _Helped(Protocol):
    """A command or group as Typer builds it (on the click it vendors)."""

    help: str | None
    short_help: str | None


def reflow_help(command: _Helped) -> None:
    """Reflows the help of `command` and of every command under it (`reflowed`)."""
    if command.help:
        command.help = reflowed(command.help)
    if command.short_help:
        command.short_help = reflowed(command.short_help)
    for sub in getattr(command, "commands", {}).values():
        reflow_help(sub)


class Terminated(KeyboardInterrupt):
    """SIGTERM (`timeout`, systemd, a Kubernetes job's deadline), raised where the process is, as Ctrl-C is: every
    command says what it says when interrupted (a batch accepted and how to follow it, an upload that may still have
    arrived whole), and lrs ends with 143, as a process SIGTERM ends."""


_terminated = False


def _terminate(signum: int, frame: FrameType | None) -> None:
    global _terminated
    _terminated = True
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        # The process's own run (the `lrs` script): when whoever reads the output stops (`| head -1`), end as
        # Unix tools do, by SIGPIPE (status 141 in a shell), not with exit 1, which says "rejected" to scripts.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, _terminate)
    if sys.stdout is None:  # started with standard output closed (`>&-`): an answer printed would be lost
        _fail("standard output is closed: lrs prints its answers there, so nothing was done; send it to /dev/null")
        return ExitCode.USAGE
    try:
        code = _run(argv)
    except KeyboardInterrupt:  # before Typer runs the command or after it ended: nothing to say
        code = ExitCode.INTERRUPTED
    return ExitCode.TERMINATED if _terminated and code == ExitCode.INTERRUPTED else code


def _run(argv: Sequence[str] | None) -> int:
    command = typer.main.get_command(app)
    reflow_help(command)
    try:
        # Typer reports usage errors itself (exit status 2) and ends every run with SystemExit; Ctrl-C (and SIGTERM,
        # `Terminated`) with 130.
        _main_of(command)(args=list(argv) if argv is not None else None, prog_name="lrs")
    except SystemExit as end:
        return end.code if isinstance(end.code, int) else (ExitCode.OK if end.code is None else ExitCode.FAILED)
    except CommandError as error:
        _fail(str(error))
        return error.exit_code
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:  # no request could be made: not "unreachable"
        _fail(invalid_url_text(error))
        return ExitCode.USAGE
    except httpx.TransportError as error:
        _fail(unreachable_text(error))
        # a certificate not trusted, a loopback default nobody chose: no retry mends it
        return ExitCode.USAGE if misconfigured(error) else ExitCode.UNREACHABLE
    except OSError as error:
        _fail(f"{error.strerror or error}{f': {error.filename}' if error.filename else ''}")
        return ExitCode.FAILED
    return ExitCode.OK


def invalid_url_text(error: httpx.InvalidURL | httpx.UnsupportedProtocol) -> str:
    """A URL no request could be made to, with the variable it came from when a request was made of it."""
    try:
        request = error.request if isinstance(error, httpx.UnsupportedProtocol) else None
    except RuntimeError:  # raised without its request
        request = None
    if request is None:
        return f"a request URL is not valid ({error}): check the LRS_<SERVICE>_URL variables and the values given"
    variable = variable_of(request)
    return f"a request URL is not valid ({error}): lrs asked {request.url}, from {variable}: check {variable}"


def _main_of(command: Any) -> Callable[..., Any]:
    """How the command line is run: on a terminal's stderr as Typer runs it; otherwise (a log, cron's mail) with a
    usage error said as click's own `Error: ...` on one line after the usage, not in Typer's Rich box wrapped at 80
    columns, which splits a long path across lines where a log filter looking for it misses it. Help keeps Rich's
    formatting either way (each command's own `rich_markup_mode` says it)."""
    if sys.stderr is not None and sys.stderr.isatty():
        return command.main  # type: ignore[no-any-return]
    run_plainly = getattr(typer.core, "_main", None)  # what TyperGroup.main runs, given its rich_markup_mode
    if run_plainly is None:
        return command.main  # type: ignore[no-any-return]
    return functools.partial(run_plainly, command, rich_markup_mode=None)


def _fail(message: str) -> None:
    stderr().print(f"lrs: {message}", style="red", markup=False)


if __name__ == "__main__":
    sys.exit(main())
