from __future__ import annotations

from typer.testing import CliRunner

import xmodal
from xmodal.cli import app


def test_version_command():
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == xmodal.__version__


def test_no_arguments_shows_help():
    result = CliRunner().invoke(app, [])
    assert "version" in result.output
