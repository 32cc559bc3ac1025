"""The ``deepforge-panel`` command: list projects, run pipelines headless, read history; libraries add their own."""

from __future__ import annotations

import argparse
import ast
import asyncio
import signal
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from deepforge_panel.cli_artifacts import add_commands as artifact_commands
from deepforge_panel.cli_exports import add_commands as export_commands
from deepforge_panel.cli_notebooks import add_commands as notebook_commands
from deepforge_panel.cli_peers import add_commands as peer_commands
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.jobgen import JOB_LOG_LEVELS
from deepforge_panel.libraries import loaded_libraries

if TYPE_CHECKING:
    from deepforge_panel.events import ListenerEvent


def _parse_sets(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``NODE.ATTR=VALUE`` pairs; VALUE is a Python literal where it parses as one, else a string.

    Split at the last dot: a node's name may hold dots, an attribute's never does.
    """
    overrides: dict[str, dict[str, Any]] = {}
    for item in items:
        target, sep, raw = item.partition("=")
        node, dot, attr = target.rpartition(".")
        if not sep or not dot or not node or not attr:
            raise SystemExit(f"--set {item!r}: expected NODE.ATTR=VALUE, e.g. train.epochs=5")
        overrides.setdefault(node, {})[attr] = _literal(raw)
    return overrides


def _workspace(args: argparse.Namespace):
    from deepforge_panel.workspace import Workspace

    return Workspace(args.home)


def cmd_projects(args: argparse.Namespace) -> int:
    workspace = _workspace(args)
    entries = workspace.projects()
    if not entries:
        print(f"no projects in {workspace.path}")
    for entry in entries:
        project = workspace.open(entry.id)
        names = ", ".join(p.name for p in project.pipelines.all()) or "no pipelines"
        changed = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.modified))
        print(f"{entry.name}\t(last change {changed})\tpipelines: {names}")
        project.store.close()
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    project = _workspace(args).open(args.project)
    for commit in project.log():
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(commit.time))
        print(f"{commit.id}  {when}  {commit.author}: {commit.message}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    workspace = _workspace(args)
    project = workspace.open(args.project)
    overrides = _parse_sets(args.set or [])
    from deepforge_panel.run_settings import ComputeSettings

    compute = args.compute or ("dask" if args.scheduler else None)  # None: as the project's settings say
    settings = ComputeSettings.of(project)
    options = _compute_options(args, compute or settings.adapter)
    if args.scheduler:
        options["address"] = args.scheduler
    if compute is None:
        compute, options = settings.adapter, {**settings.options(), **options}
    orchestrator = workspace.orchestrator(project, compute=compute, compute_options=options)
    return asyncio.run(_run(project, orchestrator, args.pipeline, overrides, cache=not args.no_cache))


def _compute_options(args: argparse.Namespace, adapter: str | None = None) -> dict[str, Any]:
    """``--compute-option KEY=VALUE`` pairs (VALUE a Python literal where it parses as one), and ``--jobs`` for
    the local adapter (``adapter``, default ``--compute``)."""
    options: dict[str, Any] = {}
    for item in getattr(args, "compute_option", None) or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise SystemExit(f"--compute-option {item!r}: expected KEY=VALUE, e.g. n_workers=4")
        options[key] = _literal(raw)
    if (adapter or args.compute) == "local" and getattr(args, "jobs", None):
        options["max_workers"] = args.jobs
    return options


def _literal(raw: str) -> Any:
    """A Python literal where ``raw`` parses as one, else the string itself."""
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def _print_event(execution: str, job: str, event: ListenerEvent) -> None:
    from deepforge_panel.events import ExecutionStatus, JobStatus, Line, Malformed

    match event:
        case JobStatus(status=status, error=error):
            detail = f"\n{error.rstrip()}" if status == "failed" and error else ""
            print(f"[{job}] {status}{detail}", flush=True)
        case Line(stream="stdout", text=text):
            print(f"[{job}] {text}", flush=True)
        case Line(stream="stderr", text=text):
            print(f"[{job}] ! {text}", file=sys.stderr, flush=True)
        case Malformed(note=note):
            print(f"[{job}] ! {note}", file=sys.stderr, flush=True)
        case ExecutionStatus(status=status):
            print(f"execution {execution} {status}", flush=True)


async def _run(project, orchestrator, pipeline: str, overrides: dict[str, dict[str, Any]], cache: bool = True) -> int:
    """Run to the end; a stop signal (_STOP_SIGNALS) cancels the execution cleanly before the CLI exits."""
    loop = asyncio.get_running_loop()
    stopped_by: list[int] = []
    await orchestrator.compute.start()
    try:
        execution_id = orchestrator.start(pipeline, overrides, listener=_print_event, cache=cache)

        def stop(signum: int) -> None:
            stopped_by.append(signum)
            orchestrator.cancel(execution_id)

        for signum in _STOP_SIGNALS:
            loop.add_signal_handler(signum, stop, signum)
        print(f"running pipeline {pipeline!r} of project {project.name!r} as execution {execution_id}", flush=True)
        try:
            execution = await orchestrator.wait(execution_id)
        except asyncio.CancelledError:
            orchestrator.cancel(execution_id)
            execution = await orchestrator.wait(execution_id)
        for job in execution.jobs.values():
            for _port, artifact_id in sorted(job.outputs.items()):
                artifact = project.artifacts.get(artifact_id)
                print(f"artifact {artifact.name}: {artifact.type}, {artifact.size} bytes, sha256 {artifact.hash[:12]}")
        if execution.error and execution.status != "cancelled":
            print(f"execution {execution.id} {execution.status}: {execution.error}", file=sys.stderr, flush=True)
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await orchestrator.compute.stop()
        project.store.close()
    if stopped_by:
        return 128 + stopped_by[0]
    return 0 if execution.status == "succeeded" else 1


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that stop a headless run (Ctrl-C, kill, a closed terminal): the execution is cancelled, its jobs
killed and recorded as cancelled, and the CLI exits with 128 + the signal's number."""


def cmd_serve(args: argparse.Namespace) -> int:
    from deepforge_panel.server import serve

    serve(
        args.home,
        port=args.port,
        address=args.address,
        compute=args.compute,
        compute_options=_compute_options(args),
        auth=not args.no_token,
    )
    return 0


def cmd_artifacts(args: argparse.Namespace) -> int:
    project = _workspace(args).open(args.project)
    for artifact in project.artifacts.all():
        provenance = artifact.provenance or {}
        if "node" in provenance:
            made = f"by {provenance['node']} ({provenance.get('pipeline', '')})"
        elif "imported" in provenance:
            made = f"imported from {provenance['imported'].get('from', '?')}"
        elif isinstance(provenance.get("uploaded"), dict):
            uploaded = provenance["uploaded"]
            made = f"uploaded by {uploaded.get('by') or '?'} from {uploaded.get('filename') or '?'}"
        else:
            made = "uploaded"
        print(f"{artifact.id}  {artifact.name}\t{artifact.type}\t{artifact.size} bytes\t{made}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deepforge_panel.components.execution_report import execution_report

    project = _workspace(args).open(args.project)
    try:
        page = execution_report(project, args.execution)
    finally:
        project.store.close()
    out = Path(args.out)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot write the report to {str(out)!r}: {exc.strerror or exc}") from None
    print(f"wrote {out} ({len(page.encode()) / 1024:.0f} KiB): open it in any web browser, offline")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from deepforge_panel.deepforge_import import import_webgmex

    project, report = import_webgmex(_workspace(args), args.file, name=args.name)
    project.close()
    print(report.summary())
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    workspace = _workspace(args)
    project = workspace.open(args.project)
    try:
        _settle_compute(args, project)
        _settle_storage(args, project, workspace)
        if args.job_log_level is not None:
            project.job_log_level = args.job_log_level
        if args.time_limit is not None or args.memory_limit is not None:
            from deepforge_panel.adapters.compute import Limits

            limits = project.job_limits
            time_s = limits.time_s if args.time_limit is None else _limit(args.time_limit)
            memory_mb = limits.memory_mb if args.memory_limit is None else _limit(args.memory_limit)
            project.job_limits = Limits(time_s, memory_mb)
        limits = project.job_limits
        print(f"job-log-level\t{project.job_log_level}")
        print(f"time-limit\t{'none' if limits.time_s is None else f'{limits.time_s:g} s'}")
        print(f"memory-limit\t{'none' if limits.memory_mb is None else f'{limits.memory_mb:g} MiB'}")
        from deepforge_panel.run_settings import ComputeSettings, StorageSettings

        storage = StorageSettings.of(project)
        keys = storage.kind == "s3" and workspace.secrets.has_s3_credentials(
            storage.endpoint or "", storage.bucket or ""
        )
        print(f"compute\t{ComputeSettings.of(project).describe()}")
        print(f"storage\t{storage.describe()}" + (" (keys in the home's secrets file)" if keys else ""))
    finally:
        project.store.close()
    return 0


def _settle_compute(args: argparse.Namespace, project: Any) -> None:
    """``settings --compute/--jobs/--scheduler/--workers``: a new ComputeSettings from the given and the kept."""
    from dataclasses import replace

    from deepforge_panel.run_settings import ComputeSettings

    given = {"adapter": args.compute, "max_workers": args.jobs, "scheduler": args.scheduler, "n_workers": args.workers}
    given = {key: value for key, value in given.items() if value is not None}
    if not given:
        return
    if args.scheduler == "none":
        given["scheduler"] = None
    replace(ComputeSettings.of(project), **given).save(project)


def _settle_storage(args: argparse.Namespace, project: Any, workspace: Any) -> None:
    """``settings --storage/--folder/--endpoint/--bucket/--prefix/--access-key/--secret-key``; keys go to the
    home's secrets file, never into the project."""
    from dataclasses import replace

    from deepforge_panel.run_settings import StorageSettings

    given = {
        "kind": args.storage,
        "folder": args.folder,
        "endpoint": args.endpoint,
        "bucket": args.bucket,
        "prefix": args.prefix,
    }
    given = {key: value for key, value in given.items() if value is not None}
    settings = replace(StorageSettings.of(project), **given) if given else StorageSettings.of(project)
    if given:
        settings.save(project)
    if args.access_key or args.secret_key:
        if settings.kind != "s3" or not (args.access_key and args.secret_key):
            raise ValueError("--access-key and --secret-key go together, for S3 storage (--storage s3 --bucket ...)")
        workspace.secrets.set_s3_credentials(
            settings.endpoint or "", settings.bucket or "", args.access_key, args.secret_key
        )


def _limit(text: str) -> float | None:
    """A limit given on the command line: a number above 0, or ``none``."""
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"a limit is a number or 'none', not {text!r}") from None


def _add_compute_arguments(parser: argparse.ArgumentParser, default: str | None = "local") -> None:
    what = "the project's setting" if default is None else default
    parser.add_argument("--compute", default=default, help=f"compute adapter: local or dask (default: {what})")
    parser.add_argument(
        "--compute-option",
        action="append",
        metavar="KEY=VALUE",
        help="an option of the compute adapter, e.g. n_workers=4, or address=tcp://host:8786 for dask",
    )


def _global_options(default: Any) -> argparse.ArgumentParser:
    """The options every command takes, as a parent parser whose options default to ``default``."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--home",
        default=default,
        help="folder holding the projects (default: $DEEPFORGE_PANEL_HOME or ~/.deepforge-panel)",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    """The parser; global options go before or after the subcommand.

    The subcommands' copies leave an option out of the namespace unless given there
    (``argparse.SUPPRESS``), so they never overwrite what was given before the subcommand.
    """
    parser = argparse.ArgumentParser(prog="deepforge-panel", description=__doc__, parents=[_global_options(None)])
    common = _global_options(argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("projects", parents=[common], help="list projects with their pipelines")
    p.set_defaults(func=cmd_projects)
    p = sub.add_parser("log", parents=[common], help="a project's history, newest first")
    p.add_argument("project")
    p.set_defaults(func=cmd_log)
    p = sub.add_parser("run", parents=[common], help="run a pipeline headless, printing each job as it goes")
    p.add_argument("project")
    p.add_argument("pipeline")
    p.add_argument("--set", action="append", metavar="NODE.ATTR=VALUE", help="override an attribute for this run")
    _add_compute_arguments(p, default=None)
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask scheduler at ADDRESS (tcp://host:8786)")
    p.add_argument("--jobs", type=int, default=None, help="jobs at once on the local adapter (default: CPU count)")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="run every job, even those whose code, attributes and inputs have a result already",
    )
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("serve", parents=[common], help="start the workbench in the browser")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument(
        "--no-token",
        action="store_true",
        help="serve without sign-in (only on a loopback address); by default every request needs the home's token",
    )
    _add_compute_arguments(p)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("artifacts", parents=[common], help="a project's artifacts, oldest first")
    p.add_argument("project")
    p.set_defaults(func=cmd_artifacts)
    p = sub.add_parser(
        "report", parents=[common], help="write an execution as one self-contained HTML file (opens offline)"
    )
    p.add_argument("project")
    p.add_argument("execution", help="the execution's id, a pipeline's name (its newest execution) or 'latest'")
    p.add_argument("--out", required=True, metavar="FILE.html", help="the HTML file to write (overwritten)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("import", parents=[common], help="import a DeepForge project export (.webgmex) as a project")
    p.add_argument("file", help="the .webgmex file DeepForge exported")
    p.add_argument("--name", help="the new project's name (default: the exported project's)")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("settings", parents=[common], help="show or change a project's settings")
    p.add_argument("project")
    p.add_argument(
        "--job-log-level",
        choices=JOB_LOG_LEVELS,
        help="quiet: hide TensorFlow's start-up messages in job consoles (default); verbose: show everything",
    )
    p.add_argument("--compute", choices=["local", "dask"], help="where the project's jobs run")
    p.add_argument("--jobs", type=int, help="local: jobs at once")
    p.add_argument("--scheduler", help="dask: the scheduler's address (tcp://host:8786); none: a local cluster")
    p.add_argument("--workers", type=int, help="dask, local cluster: worker processes")
    p.add_argument("--storage", choices=["local", "s3"], help="where the project's artifacts are kept")
    p.add_argument("--folder", help="local storage: an absolute folder (default: the project's artifacts folder)")
    p.add_argument("--endpoint", help="s3: the service's URL, e.g. http://127.0.0.1:9000 (default: AWS)")
    p.add_argument("--bucket", help="s3: the bucket")
    p.add_argument("--prefix", help="s3: a prefix inside the bucket")
    p.add_argument("--access-key", help="s3: the access key, kept in the home's secrets file only")
    p.add_argument("--secret-key", help="s3: the secret key, kept in the home's secrets file only")
    p.add_argument("--time-limit", metavar="SECONDS", help="stop a job running longer (its node may set its own); none")
    p.add_argument("--memory-limit", metavar="MIB", help="stop a job using more memory than this; none: no limit")
    p.set_defaults(func=cmd_settings)
    peer_commands(sub, common)
    notebook_commands(sub, common)
    export_commands(sub, common)
    artifact_commands(sub, common)
    for lib in loaded_libraries():
        lib.add_commands(sub, common)
    return parser


_CLI_ERRORS: tuple[type[Exception], ...] = (*USER_ERRORS, ValueError)
"""Shown as one line: what users cause, and the arguments an adapter or registry refuses (ValueError)."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _CLI_ERRORS as exc:
        print(f"deepforge-panel: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
