"""TrainConfig: files, overrides, type checks, path resolution, validation, round trip."""

from __future__ import annotations

import json

import pytest

from xmodal.train.config import TrainConfig


def _write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_file_loads(tmp_path):
    path = _write(tmp_path, "run.yaml", "data: /d/pairs.jsonl\nsteps: 12\nlr: 1e-3\n"
                  "towers: [aisfx, minilm]\nbatch-size: 64\ntemperature: null\n")
    cfg = TrainConfig.from_file(path)
    assert cfg.steps == 12 and cfg.batch_size == 64
    assert cfg.lr == pytest.approx(1e-3) and isinstance(cfg.lr, float)  # YAML reads 1e-3 as str
    assert cfg.towers == ("aisfx", "minilm")
    assert cfg.temperature is None and cfg.data == "/d/pairs.jsonl"
    assert cfg.loss == "clip"  # untouched fields keep their defaults


def test_json_file_loads(tmp_path):
    path = _write(tmp_path, "run.json", json.dumps(
        {"data": "/d", "loss": "siglip", "dim": 128, "dedup": False, "extra": {"note": "x"}}))
    cfg = TrainConfig.from_file(path)
    assert (cfg.loss, cfg.dim, cfg.dedup, cfg.extra) == ("siglip", 128, False, {"note": "x"})


def test_empty_yaml_gives_defaults(tmp_path):
    assert TrainConfig.from_file(_write(tmp_path, "run.yml", "")) == TrainConfig()


def test_other_suffix_or_missing_file(tmp_path):
    with pytest.raises(ValueError, match="yaml"):
        TrainConfig.from_file(_write(tmp_path, "run.toml", "steps = 1"))
    with pytest.raises(FileNotFoundError):
        TrainConfig.from_file(tmp_path / "nope.yaml")


def test_non_mapping_file_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="mapping"):
        TrainConfig.from_file(_write(tmp_path, "run.json", "[1, 2]"))


def test_unknown_field_lists_the_known_ones(tmp_path):
    path = _write(tmp_path, "run.json", json.dumps({"data": "/d", "stepz": 3}))
    with pytest.raises(ValueError, match="stepz") as info:
        TrainConfig.from_file(path)
    assert "batch_size" in str(info.value) and "hard_negatives" in str(info.value)


@pytest.mark.parametrize(("field", "value"), [
    ("steps", "ten"), ("dim", 1.5), ("audio_augment", "yes"), ("lr", "fast"),
    ("data", 3), ("towers", 5), ("towers", [1, 2]), ("extra", [1]), ("batch_size", True),
])
def test_wrong_type_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig.from_dict({field: value})


def test_whole_floats_become_ints():
    cfg = TrainConfig.from_dict({"steps": 20.0})
    assert cfg.steps == 20 and isinstance(cfg.steps, int)


def test_overrides_dashes_underscores_and_equals():
    cfg = TrainConfig(data="/d").with_overrides(
        ["--batch-size", "64", "--lr=1e-4", "--hard_negative_ratio", "0.5", "--audio-augment",
         "true", "--loss=infonce", "--mine-with", "st:/m"])
    assert cfg.batch_size == 64 and cfg.lr == pytest.approx(1e-4)
    assert cfg.hard_negative_ratio == pytest.approx(0.5) and cfg.audio_augment is True
    assert cfg.loss == "infonce" and cfg.mine_with == "st:/m"


@pytest.mark.parametrize("word", ["none", "null", "None", "NULL"])
def test_override_none_and_null(word):
    cfg = TrainConfig(data="/d", temperature=0.05, mini_batch_size=8)
    cfg = cfg.with_overrides(["--temperature", word, f"--mini-batch-size={word}"])
    assert cfg.temperature is None and cfg.mini_batch_size is None


@pytest.mark.parametrize("value", ["aisfx,minilm", '["aisfx", "minilm"]', " aisfx , minilm "])
def test_override_towers_as_a_list(value):
    assert TrainConfig(data="/d").with_overrides(["--towers", value]).towers == ("aisfx",
                                                                                  "minilm")


def test_override_errors():
    cfg = TrainConfig(data="/d")
    with pytest.raises(ValueError, match="nope"):
        cfg.with_overrides(["--nope", "1"])
    with pytest.raises(ValueError, match="steps"):
        cfg.with_overrides(["--steps", "ten"])
    with pytest.raises(ValueError, match="--steps needs a value"):
        cfg.with_overrides(["--steps"])
    with pytest.raises(ValueError, match="unexpected argument"):
        cfg.with_overrides(["steps", "3"])


def test_file_then_overrides(tmp_path):
    path = _write(tmp_path, "run.yaml", "data: /d\nsteps: 5\nlr: 0.01\n")
    cfg = TrainConfig.from_file(path, ["--steps", "7"])
    assert cfg.steps == 7 and cfg.lr == pytest.approx(0.01)


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    sub = tmp_path / "configs"
    sub.mkdir()
    monkeypatch.chdir(tmp_path)
    path = _write(sub, "run.yaml", "data: pairs.jsonl\nout: runs/one\n")
    cfg = TrainConfig.from_file(path)
    assert cfg.data == str(sub / "pairs.jsonl") and cfg.out == str(sub / "runs/one")


def test_absolute_paths_and_sources_stay(tmp_path):
    path = _write(tmp_path, "run.yaml", "data: source:sonic-pi\nout: /abs/run\n")
    cfg = TrainConfig.from_file(path)
    assert cfg.data == "source:sonic-pi" and cfg.out == "/abs/run"


@pytest.mark.parametrize(("values", "message"), [
    ({"loss": "softmax"}, "loss must be one of"),
    ({"batch_size": 1}, "batch_size"),
    ({"holdout": 1.0}, "holdout"),
    ({"holdout": -0.1}, "holdout"),
    ({"hard_negatives": "mined"}, "mine_with"),
    ({"hard_negatives": "random"}, "hard_negatives"),
    ({"model": "clip:/m"}, "model must be"),
    ({"schedule": "linear"}, "schedule"),
    ({"steps": 0}, "steps"),
    ({"temperature": 2.0}, "temperature"),
    ({"lr": 0.0}, "lr"),
    ({"towers": ("minilm",)}, "towers"),
    ({"data_limit": 1}, "data_limit"),
    ({"bridge_text": "words"}, "bridge_text must be one of"),
])
def test_invalid_values_are_rejected(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(data="/d", **values)


def test_valid_model_specs():
    for model in ("lit", "lit:/m", "hf-clip:/m", "hf-siglip:/m", "st:/m"):
        assert TrainConfig(model=model).model == model
    assert TrainConfig(hard_negatives="mined", mine_with="st:/m").mine_with == "st:/m"


def test_round_trip_through_dict_and_json():
    cfg = TrainConfig(data="source:x", towers=("aisfx", "minilm"), steps=3, temperature=0.05,
                      hard_negatives="synthetic", negatives_per_row=2, extra={"a": [1, 2]},
                      mini_batch_size=16, hard_negative_ratio=None)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()


def test_frozen():
    with pytest.raises(AttributeError):
        TrainConfig().steps = 3  # type: ignore[misc]
