"""Sound in containers is indexed as audio, end to end: ``xmodal index`` on a folder holding
``a.m4a`` and an audio-only ``b.mkv`` (composed here with PyAV, tones of known bands) stores both
as ``"audio"`` documents, the long one with its spans of sound (as a long ``.wav``); a container
with neither stream is reported with the reason; ``xmodal search --audio`` finds each by its tone.

Oracle: the tones of :mod:`tests.index.recordings` (one band each, :class:`ToneEncoder`)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.index.conftest import uri_for
from tests.index.recordings import RATE, band_hz, tone, write_wave
from tests.index.video_toys import video_encoders
from xmodal.data.video_compose import compose_audio
from xmodal.index import open_index
from xmodal.index.ingest import ingest, load_manifest, manifest_path

av = pytest.importorskip("av")

PARTS = ((21, 12.0), (27, 13.0))  # b.mkv: (band, seconds) per part; 25 s: 2 + 2 spans of sound


def subtitles_only(path: Path) -> Path:
    """A Matroska file with a subtitle stream and nothing else."""
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_mux_stream("subrip", time_base=Fraction(1, 1000))
        packet = av.Packet(b"hello")
        packet.stream, packet.pts, packet.dts, packet.duration = stream, 0, 0, 1000
        out.mux(packet)
    return path


def write_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    compose_audio(folder / "a.m4a", tone(band_hz(9), 4.0), RATE, audio_rate=16000)
    long = np.concatenate([tone(band_hz(b), s, seed=k) for k, (b, s) in enumerate(PARTS)])
    compose_audio(folder / "b.mkv", long, RATE, audio_rate=16000)
    subtitles_only(folder / "c.mkv")
    return folder


def cli_encoders(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    import xmodal.encoders

    encoders = video_encoders()
    by_spec = {"starter-image": encoders["image"], "starter-audio": encoders["audio"],
               "minilm": encoders["text"], **{e.card.name: e for e in encoders.values()}}
    monkeypatch.setattr(xmodal.encoders, "load_encoder", lambda spec, **kw: by_spec[spec])
    return encoders


@pytest.mark.parametrize("kind", ["exact", "qdrant-edge"])
def test_cli_indexes_sound_containers_as_audio_and_finds_them(tmp_path, kind, monkeypatch):
    from typer.testing import CliRunner

    from xmodal.cli import app

    cli_encoders(monkeypatch)
    folder = write_folder(tmp_path / "c")
    uri = uri_for(kind, tmp_path)
    runner = CliRunner()
    done = runner.invoke(app, ["index", str(folder), "--index", uri, "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["indexed"] == 2
    assert [(Path(p["path"]).name, p["reason"]) for p in report["failed"]] == [
        ("c.mkv", "no video or audio stream")]
    entries = load_manifest(manifest_path(uri))
    b = entries[str((folder / "b.mkv").resolve())]
    assert b["collections"] == ["tone.audio"] and b["segments"] == {"tone.audio": {"window": 4}}
    assert "segments" not in entries[str((folder / "a.m4a").resolve())]
    q = write_wave(tmp_path / "q9.wav", tone(band_hz(9), 3.0))
    done = runner.invoke(app, ["search", "--audio", str(q), "--index", uri, "--json"])
    assert done.exit_code == 0, done.output
    hit = json.loads(done.stdout)["hits"][0]
    assert Path(hit["path"]).name == "a.m4a" and hit["modality"] == "audio"
    q = write_wave(tmp_path / "q27.wav", tone(band_hz(27), 8.0))
    done = runner.invoke(app, ["search", "--audio", str(q), "--index", uri, "--json"])
    hit = json.loads(done.stdout)["hits"][0]
    assert Path(hit["path"]).name == "b.mkv" and hit["modality"] == "audio"
    assert 11.9 <= hit["t_start"] < hit["t_end"] <= 25.0  # a span of the second part (12..25 s)


def test_ingest_stores_audio_payloads_with_the_container_duration(tmp_path):
    folder = write_folder(tmp_path / "c")
    (folder / "c.mkv").unlink()
    uri = f"exact:{tmp_path / 'i'}"
    with open_index(uri) as index:
        report = ingest(index, [folder], encoders=video_encoders(), manifest=manifest_path(uri))
        assert report.indexed == 2 and not report.failed
        entries = load_manifest(manifest_path(uri))
        names = ("a.m4a", "b.mkv")
        docs = [entries[str((folder / n).resolve())]["doc"] for n in names]
        got = dict(zip(names, (r.payload for r in index.collection("tone.audio").get(docs)),
                       strict=True))
    assert {p["modality"] for p in got.values()} == {"audio"}
    assert got["b.mkv"]["duration_s"] == pytest.approx(25.0, abs=0.1)
    assert got["a.m4a"]["duration_s"] == pytest.approx(4.0, abs=0.1)
    assert got["a.m4a"]["ext"] == "m4a"
