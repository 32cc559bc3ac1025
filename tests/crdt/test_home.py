"""The home of many projects: names stay unique when processes create or rename at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from deepforge_panel.crdt import Home
from tests.conftest import wait_until

CREATOR = """
import sys, time
from pathlib import Path
from deepforge_panel.crdt import Home, StoreError
home, name, go, tag = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
Home(home)
Path(f"{go}.{tag}").touch()
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:  # start together, so the creates race
    time.sleep(0.001)
try:
    Home(home).create(name).close()
    print("created")
except StoreError as exc:
    print("refused:", exc)
"""


def test_processes_creating_one_name_at_once_make_one_project(tmp_path: Path) -> None:
    """The name check and the creation happen under one lock, as the head of a branch does (issue 8.8's sibling)."""
    home, go = tmp_path / "home", tmp_path / "go"
    tags = [str(i) for i in range(4)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATOR, str(home), "same", str(go), tag], stdout=subprocess.PIPE, text=True
        )
        for tag in tags
    ]
    wait_until(lambda: all(Path(f"{go}.{t}").exists() for t in tags), timeout=60)
    go.touch()
    outcomes = [proc.communicate(timeout=60)[0].strip() for proc in procs]
    assert sorted(o.split(":")[0] for o in outcomes) == ["created", "refused", "refused", "refused"], outcomes
    assert [e.name for e in Home(home).entries()] == ["same"]
