"""The command line's global options, as a real process: they work before or after the subcommand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepforge_panel.crdt import Home


def run_cli(*args: str | Path, default_home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deepforge_panel.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "DEEPFORGE_PANEL_HOME": str(default_home)},
    )


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    """Two homes, each with one project and no examples: the default one and one chosen with --home."""
    default, chosen = tmp_path / "default", tmp_path / "chosen"
    for folder, name in ((default, "in-default"), (chosen, "in-chosen")):
        Home(folder).create(name).close()
        (folder / ".initialized").write_text("no examples\n")
    return default, chosen


@pytest.mark.parametrize(
    "args",
    [("--home", "{chosen}", "projects"), ("projects", "--home", "{chosen}")],
    ids=["before", "after"],
)
def test_home_is_honoured_before_or_after_the_subcommand(homes: tuple[Path, Path], args: tuple[str, ...]) -> None:
    default, chosen = homes
    done = run_cli(*(a.format(chosen=chosen) for a in args), default_home=default)
    assert done.returncode == 0, done.stderr
    assert "in-chosen" in done.stdout and "in-default" not in done.stdout


def test_without_home_the_default_home_is_listed(homes: tuple[Path, Path]) -> None:
    default, _chosen = homes
    done = run_cli("projects", default_home=default)
    assert done.returncode == 0, done.stderr
    assert "in-default" in done.stdout and "in-chosen" not in done.stdout


def test_home_before_a_library_command_reaches_its_nested_subcommand(homes: tuple[Path, Path]) -> None:
    default, chosen = homes
    done = run_cli("--home", chosen, "architecture", "export", "in-chosen", "nothing", default_home=default)
    assert done.returncode == 2
    assert "project 'in-chosen' has no architecture 'nothing'" in done.stderr, done.stderr


def test_set_splits_at_the_last_dot_so_node_names_may_hold_dots() -> None:
    from deepforge_panel.cli import _parse_sets

    assert _parse_sets(["v1.2.epochs=3", "train.rate=0.5"]) == {"v1.2": {"epochs": 3}, "train": {"rate": 0.5}}
    with pytest.raises(SystemExit, match=r"expected NODE\.ATTR=VALUE"):
        _parse_sets([".epochs=3"])


NO_LIMITS = (
    "time-limit\tnone\nmemory-limit\tnone\ncompute\tlocal, one per CPU jobs at once\n"
    "storage\tthe project's artifacts folder\n"
)


def test_settings_show_and_change_the_job_log_level(homes: tuple[Path, Path]) -> None:
    default, _chosen = homes
    shown = run_cli("settings", "in-default", default_home=default)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "job-log-level\tquiet\n" + NO_LIMITS
    changed = run_cli("settings", "in-default", "--job-log-level", "verbose", default_home=default)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout == "job-log-level\tverbose\n" + NO_LIMITS
    assert run_cli("settings", "in-default", default_home=default).stdout == "job-log-level\tverbose\n" + NO_LIMITS
    refused = run_cli("settings", "in-default", "--job-log-level", "loud", default_home=default)
    assert refused.returncode == 2 and "invalid choice: 'loud'" in refused.stderr


def test_settings_set_and_clear_the_job_limits(homes: tuple[Path, Path]) -> None:
    default, _chosen = homes
    limited = run_cli("settings", "in-default", "--time-limit", "90", "--memory-limit", "2048", default_home=default)
    assert limited.returncode == 0, limited.stderr
    assert "time-limit\t90 s\nmemory-limit\t2048 MiB\n" in limited.stdout
    cleared = run_cli("settings", "in-default", "--time-limit", "none", default_home=default)
    assert "time-limit\tnone\nmemory-limit\t2048 MiB\n" in cleared.stdout
    refused = run_cli("settings", "in-default", "--memory-limit", "-1", default_home=default)
    assert refused.returncode == 2 and "must be above 0" in refused.stderr


def test_settings_choose_where_jobs_run(homes: tuple[Path, Path]) -> None:
    default, _chosen = homes
    dask = run_cli("settings", "in-default", "--compute", "dask", "--workers", "3", default_home=default)
    assert dask.returncode == 0, dask.stderr
    assert "compute\ta local Dask cluster of 3 workers\n" in dask.stdout
    remote = run_cli("settings", "in-default", "--scheduler", "tcp://127.0.0.1:8786", default_home=default)
    assert "compute\tDask at tcp://127.0.0.1:8786\n" in remote.stdout
    refused = run_cli("settings", "in-default", "--scheduler", "my laptop", default_home=default)
    assert refused.returncode == 2 and "tcp://host:8786" in refused.stderr
    keys = run_cli("settings", "in-default", "--access-key", "k", default_home=default)
    assert keys.returncode == 2 and "--access-key and --secret-key go together" in keys.stderr
