"""A job's console shows what the operation printed: TensorFlow's start-up notices stay in the job folder's log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepforge_panel.jobgen import is_startup_chatter, job_environment
from tests.deepforge_panel.helpers import new_project
from tests.deepforge_panel.test_orchestrator import _orchestrator, _run

CHATTER = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796067067.965617   24667 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.",
    "I0000 00:00:1796067067.965972   24667 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    "GPU will not be used.",
    "I0000 00:00:1796067068.242986   24667 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate "
    "compiler flags.",
    "E0000 00:00:1796067071.922108   24667 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    "Failed call to cuInit: UNKNOWN ERROR (303)",
    "E0000 00:00:1758131045.203198 3722035 cuda_dnn.cc:8579] Unable to register cuDNN factory: Attempting to "
    "register factory for plugin cuDNN when one has already been registered",
]

CHATTY = f"""
import os, sys
CHATTER = {json.dumps(CHATTER)}

class Chatty:
    def execute(self):
        for line in CHATTER:
            print(line, file=sys.stderr, flush=True)
        print("my own warning", file=sys.stderr, flush=True)
        print("level", os.environ["TF_CPP_MIN_LOG_LEVEL"], flush=True)
"""

IMPORTS_TF = """
import sys

class UsesTensorFlow:
    def execute(self):
        import tensorflow as tf
        print("sum", int(tf.constant(1) + 1), flush=True)
        print("my own warning", file=sys.stderr, flush=True)
"""


def test_chatter_is_recognised_and_an_operations_own_lines_are_not() -> None:
    assert all(is_startup_chatter(line) for line in CHATTER)
    for own in ("my own warning", "E0000 00:00:1.0 123 model.cc:1] shapes do not match", "Traceback (most recent call"):
        assert not is_startup_chatter(own)


def test_quiet_and_verbose_set_different_log_levels() -> None:
    quiet, verbose = job_environment(), job_environment(log_level="verbose")
    assert quiet["TF_CPP_MIN_LOG_LEVEL"] != verbose["TF_CPP_MIN_LOG_LEVEL"]
    assert "TF_ENABLE_ONEDNN_OPTS" not in quiet, "log levels only: oneDNN changes numerics"
    with pytest.raises(ValueError, match="'loud'"):
        job_environment(log_level="loud")


def test_start_up_chatter_stays_out_of_the_console_unless_the_project_asks_for_it(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, project.operations.add(CHATTY), name="chatty")
    assert project.job_log_level == "quiet"
    orchestrator = _orchestrator(project, tmp_path)

    quiet = _run(orchestrator, "p").job("chatty")
    assert quiet.status == "succeeded"
    assert quiet.stderr == "my own warning\n" and quiet.stdout == "level 2\n"
    log = (tmp_path / "jobs").glob("*/*/stderr.log")
    assert any(CHATTER[2] in path.read_text() for path in log), "the job folder's log keeps everything"

    project.job_log_level = "verbose"
    verbose = _run(orchestrator, "p", cache=False).job("chatty")  # the log level is not part of a job's key
    assert verbose.stderr == "\n".join([*CHATTER, "my own warning"]) + "\n" and verbose.stdout == "level 0\n"
    with pytest.raises(ValueError, match="'loud'"):
        project.job_log_level = "loud"


@pytest.mark.slow
def test_a_job_importing_tensorflow_has_a_clean_console(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, project.operations.add(IMPORTS_TF), name="tf")
    job = _run(_orchestrator(project, tmp_path), "p").job("tf")
    assert job.status == "succeeded", job.error
    assert job.stdout == "sum 2\n" and job.stderr == "my own warning\n"
