"""Operations and Keras models the API tests send."""

from __future__ import annotations

SLOW = """
class Slow:
    def __init__(self, lines: int = 3, pause: float = 0.3):
        self.lines = lines
        self.pause = pause

    def execute(self, data):
        import time
        for i in range(self.lines):
            print("line", i, flush=True)
            time.sleep(self.pause)
        result = data
        return result
"""


TINY = {
    "class_name": "Sequential",
    "config": {
        "name": "tiny",
        "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [None, 3], "name": "x"}},
            {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "relu"}},
        ],
    },
}
ODD = {
    "class_name": "Sequential",
    "config": {
        "name": "odd",
        "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [None, 3], "name": "x"}},
            {"class_name": "Mystery", "config": {"name": "m"}},
        ],
    },
}
