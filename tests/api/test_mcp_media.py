"""The media the MCP tools return (``fetch_item``'s thumbnail, keyframe or clip; ``search``'s
``thumbnails``) and the opt-in ``index_paths`` tool, through the SDK's in-memory client.

The index is built by hand: an exact store whose manifest lists each file written here, so
every oracle is the file itself. Images: PIL's resize of the source (mean absolute difference),
an EXIF-rotated JPEG's colours top and bottom. Audio: the source samples from the segment's
``t_start``, resampled to 16 kHz (correlation; a recording of tones,
``tests/index/recordings.py``). Video: the colour of the shot shown at the segment's middle (as
``test_video_media.py`` checks ``/media/{doc}/frame``)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("mcp")

from mcp import Client
from PIL import Image

from tests.api.served import build_index, loader
from tests.index.recordings import RATE, write_recording
from xmodal.api.limits import ServeLimits
from xmodal.api.mcp import create_mcp_server
from xmodal.api.mcp_media import CLIP_RATE, THUMB_SIDE
from xmodal.api.service import SearchService
from xmodal.index import open_index
from xmodal.index.ingest import manifest_path
from xmodal.index.manifest import save_manifest
from xmodal.index.segments import segment_id, segment_payload

IMAGES, AUDIO, VIDEO = "thumb.image", "tone.audio", "clip.image"
PARTS = [(3, 20.0), (9, 25.0), (15, 20.0)]  # 65 s of three tones at 8 kHz
SEGMENT = (20.0, 45.0)  # the second part: the audio segment fetched
SHOTS = [(220, 30, 30), (30, 200, 40), (30, 40, 220)]  # red, green, blue: 1 s each
MAX_PIXELS = 1_000_000


def gradient(size: tuple[int, int]) -> Image.Image:
    """A smooth RGB picture (JPEG keeps it within a few levels)."""
    w, h = size
    x, y = np.meshgrid(np.linspace(0, 255, w), np.linspace(0, 255, h))  # (h, w) each
    return Image.fromarray(np.stack([x, y, 255 - x], axis=-1).astype(np.uint8))


def write_tall_jpeg(path: Path) -> Path:
    """A 300×800 portrait (red top, blue bottom) stored sideways with EXIF orientation 6."""
    upright = Image.new("RGB", (300, 800), (220, 30, 30))
    upright.paste((30, 40, 220), (0, 400, 300, 800))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    upright.transpose(Image.Transpose.ROTATE_90).save(path, "JPEG", quality=95, exif=exif)
    return path


def write_files(root: Path) -> dict[str, Path]:
    files = {"photo.jpg": root / "photo.jpg", "tall.jpg": write_tall_jpeg(root / "tall.jpg"),
             "broken.png": root / "broken.png", "huge.png": root / "huge.png",
             "garbage.png": root / "garbage.png",
             "walk.wav": root / "walk.wav"}
    gradient((900, 600)).save(files["photo.jpg"], "JPEG", quality=95)
    gradient((300, 200)).save(files["broken.png"], "PNG")
    data = files["broken.png"].read_bytes()
    files["broken.png"].write_bytes(data[: len(data) // 2])  # truncated
    files["garbage.png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    Image.new("RGB", (1100, 1000), "white").save(files["huge.png"])  # over MAX_PIXELS
    write_recording(files["walk.wav"], PARTS)
    return files


def write_video(path: Path) -> Path:
    from xmodal.data.video_compose import compose_video

    shots = [(Image.new("RGB", (160, 120), c), 1.0) for c in SHOTS]
    return compose_video(path, shots, fps=10, size=(160, 120), grain=0, options={"g": "4"})


def doc_payload(path: Path, modality: str) -> dict[str, Any]:
    return {"path": str(path), "modality": modality, "representation": modality}


def store(uri: str, files: dict[str, Path]) -> None:
    """The collections and the manifest (document ``doc-NAME`` for each file)."""
    with open_index(uri) as index:
        images = index.create_collection(IMAGES, dim=5, model="thumb", modality="image")
        names = ["photo.jpg", "tall.jpg", "broken.png", "huge.png", "garbage.png"]
        images.upsert([f"doc-{n}" for n in names], np.eye(5),  # e0 + e1 finds photo, tall
                      [doc_payload(files[n], "image") for n in names])
        sound = doc_payload(files["walk.wav"], "audio")
        seg = segment_payload(sound, document_id="doc-walk.wav", representation="window",
                              n=1, t_start=SEGMENT[0], t_end=SEGMENT[1])
        audio = index.create_collection(AUDIO, dim=2, model="tone", modality="audio")
        audio.upsert(["doc-walk.wav", segment_id("doc-walk.wav", "window", 1)], np.eye(2),
                     [sound, seg])
        if "shots.mp4" in files:
            video = doc_payload(files["shots.mp4"], "video")
            ids = ["doc-shots.mp4"] + [segment_id("doc-shots.mp4", "frame", k) for k in range(3)]
            payloads = [video] + [segment_payload(video, document_id="doc-shots.mp4",
                                                  representation="frame", n=k,
                                                  t_start=float(k), t_end=k + 1.0)
                                  for k in range(3)]
            col = index.create_collection(VIDEO, dim=4, model="clip", modality="image")
            col.upsert(ids, np.eye(4), payloads)
    manifest = {str(p): {"doc": f"doc-{n}", "sha256": "0" * 64, "collections": []}
                for n, p in files.items()}
    save_manifest(manifest_path(uri), manifest)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mcp-media")
    out = write_files(root)
    try:
        import av  # noqa: F401
    except ImportError:
        return out
    out["shots.mp4"] = write_video(root / "shots.mp4")
    return out


@pytest.fixture(scope="module")
def service(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[SearchService]:
    uri = "exact:" + str(tmp_path_factory.mktemp("mcp-media-idx"))
    store(uri, files)
    with SearchService(uri, router_model=None,
                       limits=ServeLimits(max_image_pixels=MAX_PIXELS)) as s:
        yield s


def call(service: SearchService, calls: list[tuple[str, dict[str, Any]]], *,
         allow_index: bool = False) -> tuple[list[str], list[Any]]:
    """(tool names, one call_tool result per call) over one in-memory session."""

    async def talk() -> tuple[list[str], list[Any]]:
        server = create_mcp_server(service, allow_index=allow_index)
        async with Client(server, mode="legacy") as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            return tools, [await client.call_tool(name, args) for name, args in calls]

    return asyncio.run(talk())


def fetch(service: SearchService, collection: str, id: str) -> Any:
    got = call(service, [("fetch_item", {"collection": collection, "id": id})])[1][0]
    assert not got.is_error, got.content
    assert got.structured_content["id"] == id  # the record, as before
    return got


def blocks(result: Any, kind: str) -> list[Any]:
    return [c for c in result.content if c.type == kind]


def decoded_image(block: Any) -> Image.Image:
    assert block.mime_type in ("image/png", "image/jpeg")
    image = Image.open(io.BytesIO(base64.b64decode(block.data)))
    assert image.format == block.mime_type.split("/")[1].upper()
    return image.convert("RGB")


def mean_colour(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    part = image.crop(box) if box else image
    return np.asarray(part, dtype=float).reshape(-1, 3).mean(axis=0)


def test_image_item_comes_with_its_thumbnail(service, files):
    got = fetch(service, IMAGES, "doc-photo.jpg")
    assert got.structured_content["payload"]["path"] == str(files["photo.jpg"])
    assert len(blocks(got, "text")) == 1  # the record's JSON, as without media
    [block] = blocks(got, "image")
    thumb = decoded_image(block)
    assert max(thumb.size) == THUMB_SIDE and thumb.size == (512, 341)  # 900×600, aspect kept
    oracle = Image.open(files["photo.jpg"]).convert("RGB").resize(thumb.size,
                                                                 Image.Resampling.LANCZOS)
    diff = np.abs(np.asarray(thumb, float) - np.asarray(oracle, float)).mean()
    assert diff < 4.0, diff


def test_exif_rotated_jpeg_comes_out_upright(service):
    thumb = decoded_image(blocks(fetch(service, IMAGES, "doc-tall.jpg"), "image")[0])
    assert thumb.size == (192, 512)  # portrait, as shown, not as stored (800×300)
    w, h = thumb.size
    top, bottom = mean_colour(thumb, (0, 0, w, h // 3)), mean_colour(thumb, (0, 2 * h // 3, w, h))
    assert np.abs(top - (220, 30, 30)).max() < 20, top
    assert np.abs(bottom - (30, 40, 220)).max() < 20, bottom


@pytest.mark.parametrize(("id", "words"), [("doc-broken.png", "truncated or corrupt"),
                                           ("doc-garbage.png", "not an image file"),
                                           ("doc-huge.png", "1,100,000 pixels")])
def test_corrupt_or_huge_image_is_a_text_naming_the_item(service, id, words):
    got = fetch(service, IMAGES, id)  # the record still comes back
    assert not blocks(got, "image")
    [note] = [c.text for c in blocks(got, "text") if c.text.startswith("no image")]
    assert id in note and IMAGES in note and words in note, note


def decoded_wav(block: Any) -> np.ndarray:
    import soundfile as sf

    assert block.mime_type == "audio/wav"
    with sf.SoundFile(io.BytesIO(base64.b64decode(block.data))) as f:
        assert (f.format, f.samplerate, f.channels) == ("WAV", CLIP_RATE, 1)
        return f.read(dtype="float32")


def source_clip(path: Path, start_s: float, seconds: float = 30.0) -> np.ndarray:
    """The oracle: the source's samples from ``start_s``, resampled 8 → 16 kHz."""
    import soundfile as sf
    from scipy.signal import resample_poly

    wave, rate = sf.read(str(path), dtype="float64")
    assert rate == RATE
    a = round(start_s * rate)
    return resample_poly(wave[a: a + round(seconds * rate)], CLIP_RATE // RATE, 1)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.size, b.size)
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def test_audio_segment_comes_with_a_clip_from_its_start(service, files):
    seg = segment_id("doc-walk.wav", "window", 1)
    got = fetch(service, AUDIO, seg)
    assert got.structured_content["payload"]["t_start"] == SEGMENT[0]
    [block] = blocks(got, "audio")
    clip = decoded_wav(block)
    assert clip.size == 30 * CLIP_RATE  # 30 s of the 45 s left after t_start
    assert correlation(clip, source_clip(files["walk.wav"], SEGMENT[0])) > 0.95
    assert abs(correlation(clip, source_clip(files["walk.wav"], 0.0))) < 0.2  # not the start
    whole = decoded_wav(blocks(fetch(service, AUDIO, "doc-walk.wav"), "audio")[0])
    assert whole.size == 30 * CLIP_RATE
    assert correlation(whole, source_clip(files["walk.wav"], 0.0)) > 0.95


def shot_of(image: Image.Image) -> int:
    mean = mean_colour(image)
    dist = [float(np.abs(mean - c).max()) for c in SHOTS]
    assert min(dist) < 25, (mean, dist)
    return int(np.argmin(dist))


def test_video_segment_and_document_come_with_their_keyframe(service, files):
    if "shots.mp4" not in files:
        pytest.skip("PyAV is not installed (pip install 'xmodal[video]')")
    middle = fetch(service, VIDEO, segment_id("doc-shots.mp4", "frame", 1))
    [block] = blocks(middle, "image")
    assert block.mime_type == "image/jpeg"
    assert shot_of(decoded_image(block)) == 1  # t = 1.5 s: the green shot
    doc = fetch(service, VIDEO, "doc-shots.mp4")  # its first segment's middle, 0.5 s
    assert shot_of(decoded_image(blocks(doc, "image")[0])) == 0


def test_search_thumbnail_of_a_video_hit_is_its_segment_keyframe(service, files):
    if "shots.mp4" not in files:
        pytest.skip("PyAV is not installed (pip install 'xmodal[video]')")
    args = {"vector": [0.0, 0.0, 0.0, 1.0], "collection": VIDEO, "k": 1, "thumbnails": 1}
    got = call(service, [("search", args)])[1][0]
    [hit] = got.structured_content["hits"]
    assert (hit["document_id"], hit["t_start"], hit["t_end"]) == ("doc-shots.mp4", 2.0, 3.0)
    [block] = blocks(got, "image")
    assert shot_of(decoded_image(block)) == 2  # t = 2.5 s: the blue shot


def test_text_item_is_unchanged(tmp_path):
    uri, encoders, _ = build_index(tmp_path)
    with SearchService(uri, load=loader(encoders), router_model=None) as s:
        doc = next(h["id"] for h in s.search(query="copy file python", k=3,
                                             modalities=["text"])["hits"])
        got = fetch(s, "toy-text.text", doc)
    assert [c.type for c in got.content] == ["text"]
    assert json.loads(got.content[0].text) == got.structured_content


def test_search_thumbnails_attach_the_top_images(service):
    args = {"vector": [1.0, 0.9, 0.0, 0.0, 0.0], "collection": IMAGES, "k": 4}
    plain, shown = call(service, [("search", args), ("search", {**args, "thumbnails": 2})])[1]
    oracle = service.search(vector=args["vector"], collection=IMAGES, k=4)
    assert [h["id"] for h in oracle["hits"][:2]] == ["doc-photo.jpg", "doc-tall.jpg"]
    assert plain.structured_content == shown.structured_content == oracle
    assert [c.type for c in plain.content] == ["text"]  # default: no image
    assert json.loads(plain.content[0].text) == oracle
    images = blocks(shown, "image")
    assert len(images) == 2
    assert [decoded_image(b).size for b in images] == [(512, 341), (192, 512)]
    labels = [c.text for c in blocks(shown, "text")[1:]]
    assert [label.split()[:3] for label in labels] == [["hit", "1:", "doc-photo.jpg"],
                                                      ["hit", "2:", "doc-tall.jpg"]]


def test_search_thumbnails_are_bounded(service):
    args = {"vector": [1.0, 0.0, 0.0, 0.0, 0.0], "collection": IMAGES, "k": 2,
            "thumbnails": 9}
    got = call(service, [("search", args)])[1][0]
    assert got.is_error and "thumbnails" in " ".join(c.text for c in got.content)


def test_index_tool_is_opt_in_and_confined_to_the_root(tmp_path):
    uri, encoders, corpus = build_index(tmp_path)
    (corpus / "new").mkdir()
    (corpus / "new" / "dogs.md").write_text("a dog will bark", "utf-8")
    with SearchService(uri, load=loader(encoders), router_model=None,
                       index_root=corpus) as s:
        tools, _ = call(s, [])
        assert "index_paths" not in tools  # off by default
        tools, got = call(s, [("index_paths", {"paths": ["/etc"]}),
                              ("index_paths", {"paths": ["../idx"]}),
                              ("index_paths", {"paths": ["new"]})], allow_index=True)
        assert {"search", "fetch_item", "describe_collections", "index_paths"} == set(tools)
        texts = [" ".join(c.text for c in r.content) for r in got]
        assert got[0].is_error and "'/etc': outside the root" in texts[0], texts[0]
        assert got[1].is_error and "may not contain '..'" in texts[1], texts[1]
        assert not got[2].is_error, texts[2]
        assert got[2].structured_content["indexed"] == 1
        hits = s.search(query="dog bark", k=1, modalities=["text"])["hits"]
    assert Path(hits[0]["path"]).name == "dogs.md"


def test_cli_flag_reaches_the_server(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import xmodal.api.mcp as module
    from xmodal.cli import app

    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(module, "run_mcp", lambda index, **kw: seen.append(kw) or 0)
    args = ["mcp", "--index", str(tmp_path), "--allow-index", "--root", str(tmp_path)]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert CliRunner().invoke(app, ["mcp", "--index", str(tmp_path)]).exit_code == 0
    assert [(kw["allow_index"], kw["root"]) for kw in seen] == [(True, str(tmp_path)),
                                                                (False, None)]


@pytest.mark.parametrize(("kw", "words"), [
    ({"allow_index": True}, "--allow-index needs --root"),
    ({"root": "."}, "add --allow-index"),
    ({"allow_index": True, "root": "/no/such/folder"}, "is not a folder"),
])
def test_index_flags_are_checked(tmp_path, capsys, kw, words):
    from xmodal.api.mcp import run_mcp

    assert run_mcp("exact:" + str(tmp_path), router_model=None, **kw) == 2
    assert words in capsys.readouterr().err
