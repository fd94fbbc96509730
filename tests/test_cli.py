"""The command line: one line on error, non-zero exit, nothing written; the demo writes what it promises."""

from __future__ import annotations

import subprocess
import sys

from spectrolab.cli.main import main


def test_error_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["data", "info", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "nowhere" in err and err.startswith("spectrolab data")


def test_console_script_runs_as_module():
    result = subprocess.run([sys.executable, "-m", "spectrolab.cli.main", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("spectrolab ")
