"""xmodal.data.subtitles: SubRip and WebVTT as players read them, and the writer's round trip."""

from __future__ import annotations

import os
import threading

import pytest

from xmodal.data.subtitles import (
    SubtitleError,
    TimedText,
    clean_cue_text,
    format_srt,
    parse_srt,
    parse_vtt,
    read_subtitles,
)

SRT = (
    "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> there\r\n{\\an8}second line\r\n\r\n"
    "2\r\n00:00:03.25 --> 00:00:04,000 X1:10 X2:20\r\n"
    "<font color=\"#ff0\">Fish &amp; chips</font>\r\n\r\n"
    "3\r\nthis timing line is broken\r\nlost\r\n\r\n"
    "4\r\n00:00:06,000 --> 00:00:05,000\r\nends before it starts\r\n\r\n"
    "5\r\n00:00:07,000 --> 00:00:08,000\r\n<b></b>\r\n\r\n"
    "00:00:00,200 --> 00:00:00,900\r\nno number, out of order\r\n"
)

VTT = """WEBVTT - a header line

NOTE this block is a comment
--> even with an arrow

STYLE
::cue { color: lime }

intro
00:01.000 --> 00:02.000 align:start line:0
<v Roger Bingham>We are in <c.yellow>New York City</c>

1:00:00.500 --> 1:00:01.000
<00:00:00.600>karaoke <00:00:00.800>words&nbsp;here
"""


def test_srt_cues_with_tags_stripped_and_bad_cues_left_out():
    assert parse_srt(SRT) == (
        TimedText(0.2, 0.9, "no number, out of order"),
        TimedText(1.0, 2.5, "Hello there\nsecond line"),
        TimedText(3.25, 4.0, "Fish & chips"),
    )


def test_vtt_cues_skip_header_notes_styles_and_settings():
    assert parse_vtt(VTT) == (
        TimedText(1.0, 2.0, "We are in New York City"),
        TimedText(3600.5, 3601.0, "karaoke words here"),
    )


def test_clean_cue_text_handles_ass_line_breaks_and_blank_lines():
    assert clean_cue_text("{\\i1}one{\\i0}\\Ntwo\n\n  three  ") == "one\ntwo\nthree"
    assert clean_cue_text("a < b and c > d") == "a d"  # as players do: <...> is a tag


def test_format_srt_round_trips():
    cues = (TimedText(0.0, 1.5, "first"), TimedText(3599.999, 3723.004, "two\nlines"))
    text = format_srt(cues)
    assert "01:02:03,004" in text
    assert parse_srt(text) == cues


def test_read_subtitles_by_suffix_and_by_content(tmp_path):
    (tmp_path / "a.srt").write_text(SRT, encoding="utf-8")
    (tmp_path / "b.vtt").write_text(VTT, encoding="utf-8")
    (tmp_path / "c.txt").write_text(VTT, encoding="utf-8")  # sniffed: starts with WEBVTT
    assert len(read_subtitles(tmp_path / "a.srt")) == 3
    assert read_subtitles(tmp_path / "b.vtt") == parse_vtt(VTT)
    assert read_subtitles(tmp_path / "c.txt") == parse_vtt(VTT)


def test_legacy_encoding_is_read_as_windows_1252(tmp_path):
    path = tmp_path / "old.srt"
    path.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nCafé crème\n".encode("cp1252"))
    assert read_subtitles(path) == (TimedText(1.0, 2.0, "Café crème"),)


def test_refused_files(tmp_path):
    with pytest.raises(SubtitleError, match="not found"):
        read_subtitles(tmp_path / "missing.srt")
    big = tmp_path / "big.srt"
    big.write_text("x" * 101)
    with pytest.raises(SubtitleError, match="too large"):
        read_subtitles(big, max_bytes=100)
    binary = tmp_path / "bin.srt"
    binary.write_bytes(b"1\n\x00\x01")
    with pytest.raises(SubtitleError, match="NUL"):
        read_subtitles(binary)
    with pytest.raises(SubtitleError, match="not a regular file"):
        read_subtitles(tmp_path)
    link = tmp_path / "link.srt"
    link.symlink_to(big)
    with pytest.raises(SubtitleError, match="could not be opened"):
        read_subtitles(link)  # a side-car is never followed out of its folder


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.srt"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def read() -> None:
        try:
            read_subtitles(fifo)
        except BaseException as exc:  # collected for the assertion below
            result.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert isinstance(result[0], SubtitleError) and "not a regular file" in str(result[0])
