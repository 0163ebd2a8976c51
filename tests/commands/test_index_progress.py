"""``xmodal index``'s progress: plain lines off a terminal, a live display (rate, ETA,
failures so far) on one; the display is driven with a forced-terminal rich Console into a
buffer and a hand-driven clock."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.api.toy import toy_encoders
from xmodal.cli import app
from xmodal.commands import index as index_command
from xmodal.commands.index_progress import IndexProgress, KindProgress, eta_text


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> None:
    encoders = toy_encoders()
    monkeypatch.setattr(index_command, "_encoders", lambda models, wanted, **how: {
        m: encoders[m] for m, spec in models.items() if m in wanted and spec})


def terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=120, color_system=None), buf


def last_line(buf: io.StringIO, kind: str) -> str:
    """The last rendering of ``kind``'s line (control codes removed)."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", buf.getvalue())
    return [line for line in text.splitlines() if line.strip().startswith(kind)][-1]


def test_off_a_terminal_progress_is_plain_lines(toys, corpus, uri):
    result = CliRunner().invoke(app, ["index", str(corpus), "--index", uri])
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("  ")]
    # the text documents go to the image and audio models' text sides too (issue 17)
    assert sorted(lines) == ["  audio: 2/2", "  image: 4/4", "  text: 2/2",
                             "  toy-audio.text: 2/2", "  toy-image.text: 2/2"]
    assert "\x1b[" not in result.stderr and "items/s" not in result.stderr


def test_rate_eta_and_failures_against_hand_computed_values():
    console, buf = terminal()
    times = iter([100.0, 104.0, 110.0, 112.5, 117.5])
    show = IndexProgress(console, clock=lambda: next(times))
    with show:  # starts at 100 s
        show.stored("image", 63)
        show("image", 64, 256)  # 64 in 4 s: 16.0/s; 192 left: 12 s; 1 failed
        assert "16.0 items/s" in last_line(buf, "image")
        assert "ETA 0:12" in last_line(buf, "image") and "1 failed" in last_line(buf, "image")
        assert "64/256" in last_line(buf, "image")
        show.stored("image", 190)
        show("image", 256, 256)  # 256 in 10 s: 25.6/s, none left, 3 failed (256 - 253)
        show.stored("audio", 10)
        show("audio", 10, 30)  # audio began at image's end (110 s): 10 in 2.5 s: 4.0/s, 5 s
    image, audio = last_line(buf, "image"), last_line(buf, "audio")
    assert "256/256" in image and "25.6 items/s" in image and "ETA 0:00" in image
    assert "3 failed" in image
    assert "10/30" in audio and "4.0 items/s" in audio and "ETA 0:05" in audio
    assert "failed" not in audio  # none: the column stays empty
    assert next(times) == 117.5  # one clock reading per report, one at the start


def test_kind_progress_before_any_time_has_no_eta():
    at = KindProgress("text", 0, 10, 0, 0.0)
    assert (at.rate, at.eta_s, eta_text(at.eta_s)) == (0.0, None, "-:--")
    assert KindProgress("text", 5, 10, 0, 2.0).eta_s == pytest.approx(2.0)
    assert eta_text(59.01) == "1:00" and eta_text(3600) == "1:00:00"


def test_index_on_a_terminal_shows_the_live_display(toys, corpus, uri, monkeypatch):
    console, buf = terminal()
    monkeypatch.setattr(IndexProgress, "for_stderr", classmethod(lambda cls: cls(console)))
    result = CliRunner().invoke(app, ["index", str(corpus), "--index", uri])
    assert result.exit_code == 0 and "indexed 7" in result.stdout
    image = last_line(buf, "image")
    assert "4/4" in image and "items/s" in image and "1 failed" in image  # broken.png
    assert "failed" not in last_line(buf, "text")
    assert not [line for line in result.stderr.splitlines() if line.startswith("  image:")]


def test_no_progress_with_json(toys, corpus, uri, monkeypatch):
    console, buf = terminal()
    monkeypatch.setattr(IndexProgress, "for_stderr", classmethod(lambda cls: cls(console)))
    result = CliRunner().invoke(app, ["index", str(corpus), "--index", uri, "--json"])
    assert result.exit_code == 0 and "items/s" not in buf.getvalue()
    assert "image:" not in result.stderr
    assert Path(uri.split(":", 1)[1]).is_dir()
