"""Why running a job again might not give the same bits: said in each output's provenance.

Every job starts from the same seed (``runtime.SEED``), so pure-Python and NumPy work repeats exactly. What
can still differ is work a library spreads over threads or a GPU, where sums are added in another order:
TensorFlow without op determinism, TensorFlow or PyTorch on a GPU, PyTorch without deterministic
algorithms. Only libraries the job imported are looked at (TensorFlow only once it ran an operation: a fork
server may have imported it ahead for another job); nothing is imported here.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["caveats"]


def caveats() -> list[str]:
    """What may make this job's results differ from run to run, as sentences; empty when nothing known does."""
    notes: list[str] = []
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None:
        notes += _tensorflow(tensorflow)
    torch = sys.modules.get("torch")
    if torch is not None:
        notes += _torch(torch)
    return notes


def _tensorflow(tf: Any) -> list[str]:
    notes = []
    context = sys.modules.get("tensorflow.python.eager.context")
    if context is None or getattr(context, "_context", None) is None:
        return []  # imported (perhaps ahead, by a warm process) but never run: nothing of it is in the results
    framework = sys.modules.get("tensorflow.python.framework.config")  # public API has only the setter
    try:
        deterministic = bool(framework.is_op_determinism_enabled())  # type: ignore[union-attr]
        gpus = tf.config.list_logical_devices("GPU")
    except Exception:  # noqa: BLE001 - a TensorFlow without these calls: say nothing rather than fail the job
        return []
    if not deterministic:
        notes.append(
            "TensorFlow ran without op determinism (tf.config.experimental.enable_op_determinism()): "
            "its threaded kernels may add numbers in another order, so results can differ in the last bits"
        )
    if gpus:
        notes.append(
            f"TensorFlow ran on a GPU ({', '.join(d.name for d in gpus)}): results repeat bit for bit only on the "
            "same GPU model, driver and library versions"
        )
    return notes


def _torch(torch: Any) -> list[str]:
    notes = []
    try:
        deterministic = bool(torch.are_deterministic_algorithms_enabled())
        gpu = bool(torch.cuda.is_available() and torch.cuda.is_initialized())
    except Exception:  # noqa: BLE001 - see _tensorflow
        return []
    if not deterministic:
        notes.append(
            "PyTorch ran without deterministic algorithms (torch.use_deterministic_algorithms(True)): "
            "results can differ in the last bits"
        )
    if gpu:
        notes.append(
            "PyTorch ran on a GPU: results repeat bit for bit only on the same GPU model, driver and library versions"
        )
    return notes
