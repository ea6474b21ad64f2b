"""A command whose optional extra is missing names the extra to install (ADR 0039): the missing
import is simulated by blocking the module in a real ``jinqiao`` process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BLOCKING_RUN = (
    "import sys; sys.modules['pyarrow'] = None; "
    "from jinqiao.cli.main import main; sys.argv = ['jinqiao', *sys.argv[1:]]; main()"
)


def test_export_without_its_extra_names_the_extra(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKING_RUN, "export", "--output", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "pip install 'jinqiao[export]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
