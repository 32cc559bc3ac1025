class Output:
    """Save what reaches this node as an artifact of the project named name (the workbench records it; no job runs)."""

    def __init__(self, name: str = "result"):
        self.name = name

    def execute(self, data):
        _outside_the_workbench(self.name)


def _outside_the_workbench(name):
    raise RuntimeError(
        f"Output {name!r} is recorded by the workbench, which names what reached it; "
        "run by hand, save the data where you need it instead"
    )
