"""The server starts fast: no TensorFlow, no ML library, only the UI it needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_building_the_server_imports_no_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from deepforge_panel.server import make_server\n"
        f"server, hub = make_server({str(tmp_path / 'home')!r}, port=0)\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'torch', 'sklearn') if m in sys.modules)\n"
        "print('heavy:', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "heavy: []" in done.stdout
