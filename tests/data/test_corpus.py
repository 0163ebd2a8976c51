"""Corpus scanning: modalities, side-car captions, skipped files with reasons."""

from __future__ import annotations

import hashlib
import json

import pytest

from xmodal.data.corpus import MAX_TEXT_BYTES, scan_corpus


def test_side_cars_listings_documents_and_skips(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "cat.png").write_bytes(b"png-bytes")
    (tmp_path / "a" / "cat.txt").write_text("  a  grey\ncat ")
    (tmp_path / "a" / "dog.flac").write_bytes(b"flac-bytes")
    (tmp_path / "a" / "captions.jsonl").write_text(
        json.dumps({"file": "dog.flac", "caption": "a dog barking"}) + "\n\n")
    (tmp_path / "a" / "readme.md").write_text("# About")
    (tmp_path / "a" / "empty.txt").write_text("")
    (tmp_path / "a" / "huge.txt").write_bytes(b"x" * (MAX_TEXT_BYTES + 1))
    (tmp_path / "a" / "model.bin").write_bytes(b"\0")
    (tmp_path / "a" / ".hidden.png").write_bytes(b"png")
    scan = scan_corpus([tmp_path / "a", tmp_path / "a" / "cat.png"])  # the file twice
    got = [(f.path.name, f.modality, f.caption) for f in scan.files]
    assert got == [("cat.png", "image", "a grey cat"), ("dog.flac", "audio", "a dog barking"),
                   ("readme.md", "text", None)]
    assert scan.files[0].sha256 == hashlib.sha256(b"png-bytes").hexdigest()
    reasons = {p.item.rsplit("/", 1)[-1]: p.reason for p in scan.skipped}
    assert reasons == {"empty.txt": "empty file", "model.bin": "unsupported file type .bin",
                       "huge.txt": f"text file of {MAX_TEXT_BYTES + 1:,} bytes is over the "
                                   f"{MAX_TEXT_BYTES:,}-byte limit"}
    assert [f.path.name for f in scan.by_modality("audio")] == ["dog.flac"]


def test_a_bad_caption_listing_skips_its_media_with_the_line(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"wav")
    (tmp_path / "captions.jsonl").write_text('{"file": "x.wav"\n')
    scan = scan_corpus([tmp_path])
    assert not scan.files
    assert "captions.jsonl:1: not JSON" in scan.skipped[0].reason


def test_a_missing_root_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        scan_corpus([tmp_path / "nope"])


def test_sound_in_a_video_container_is_audio(tmp_path):
    pytest.importorskip("av")
    import numpy as np
    from PIL import Image

    from xmodal.data.video_compose import compose_audio, compose_video

    tone = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    compose_audio(tmp_path / "memo.m4a", tone, 8000, audio_rate=16000)
    compose_audio(tmp_path / "podcast.webm", tone, 8000)
    compose_video(tmp_path / "clip.mkv", [(Image.new("RGB", (8, 8), "red"), 0.4)], fps=5,
                  size=(32, 24), audio=[(tone, 8000)])
    (tmp_path / "podcast.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    (tmp_path / "broken.mkv").write_bytes(b"junk" * 100)  # the video reader reports it
    scan = scan_corpus([tmp_path])
    kinds = {f.path.name: f.modality for f in scan.files}
    assert kinds == {"broken.mkv": "video", "clip.mkv": "video", "memo.m4a": "audio",
                     "podcast.webm": "audio"}
    podcast = next(f for f in scan.files if f.path.name == "podcast.webm")
    assert podcast.sha256 == hashlib.sha256((tmp_path / "podcast.webm").read_bytes()).hexdigest()
