class Input:
    """Feed an artifact of the project into the pipeline: set artifact to its name (the newest of that name) or id.

    The workbench passes the stored artifact on as this node's output without running a job.
    """

    def __init__(self, artifact: str = ""):
        self.artifact = artifact

    def execute(self):
        data = _outside_the_workbench(self.artifact)
        return data


def _outside_the_workbench(artifact):
    raise RuntimeError(
        f"Input {artifact!r} is resolved by the workbench, which passes the stored artifact on; "
        "run by hand, give the data to the operations that use it instead"
    )
