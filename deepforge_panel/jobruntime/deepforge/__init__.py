"""The job-side runtime copied into every generated job folder.

Operations may ``from deepforge import progress, metric`` to report progress; outside the
workbench (no events channel, ``DEEPFORGE_EVENTS_FD``) those calls do nothing, so the code
stays portable.
"""

from .feedback import metric, progress

__all__ = ["metric", "progress"]
