"""The trainer: GradCache = plain steps, kill/resume = uninterrupted, 2 gloo ranks = 1 process,
hard negatives reach the loss, guards, collapse alarm, freezing, the saved run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.train._toy import toy_config, toy_data, toy_model
from xmodal.losses import clip_loss
from xmodal.train import EmbeddingCollapseError, Trainer, make_loss

ROOT = Path(__file__).resolve().parents[2]


def _fit(out, model=None, data=None, **overrides):
    cfg = toy_config(out, **overrides)
    model = model or toy_model()
    loss = make_loss(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = Trainer(model, loss, cfg, data=data or toy_data()).fit()
    return result, model, loss


def _params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.module.state_dict().items()}


def test_loss_decreases_and_the_run_folder_is_complete(tmp_path):
    result, _, _ = _fit(tmp_path, steps=30)
    assert result.losses[-1] < 0.6 * result.losses[0]
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert (tmp_path / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 31))
    assert records[-1]["temperature"] == pytest.approx(result.temperature)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps"] == 30 and summary["guards"]  # batch 32 < 256 was warned about


@pytest.mark.parametrize("loss", ["clip", "siglip", "infonce"])
def test_gradcache_steps_equal_plain_steps(tmp_path, loss):
    plain, m1, l1 = _fit(tmp_path / "plain", model=toy_model(dropout=0.2), loss=loss, steps=4)
    cached, m2, l2 = _fit(tmp_path / "gc", model=toy_model(dropout=0.2), loss=loss, steps=4,
                          mini_batch_size=5)
    np.testing.assert_allclose(cached.losses, plain.losses, rtol=1e-5)
    for key, value in _params(m1).items():
        torch.testing.assert_close(_params(m2)[key], value, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(l2.logit_scale.log_scale, l1.logit_scale.log_scale)


def test_resume_after_a_kill_gives_the_same_losses(tmp_path):
    whole, _, _ = _fit(tmp_path / "whole", model=toy_model(dropout=0.2))
    run = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "tests.train._killed_run", str(run), "7"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr  # SIGKILL at step 7: checkpoint of step 5 stays
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000005"]
    resumed, _, _ = _fit(run, model=toy_model(dropout=0.2))
    assert resumed.first_step == 5 and len(resumed.losses) == 5
    np.testing.assert_array_equal(resumed.losses, whole.losses[5:])


def test_two_gloo_ranks_take_the_same_steps_as_one_process(tmp_path):
    import safetensors.torch
    import torch.multiprocessing as mp

    from tests.train._ddp import rank_main

    overrides = {"steps": 4, "checkpoint_every": 100}
    single, model, loss = _fit(tmp_path / "one", **overrides)
    out = tmp_path / "two"
    out.mkdir()
    mp.spawn(rank_main, args=(2, str(tmp_path / "init"), str(out), overrides), nprocs=2)
    for rank in (0, 1):
        got = safetensors.torch.load_file(str(out / f"rank{rank}.safetensors"))
        np.testing.assert_allclose(got.pop("losses").numpy(), single.losses, rtol=1e-5)
        torch.testing.assert_close(got.pop("log_scale"), loss.logit_scale.log_scale.detach())
        for key, value in _params(model).items():
            torch.testing.assert_close(got[key], value, rtol=1e-5, atol=1e-6)


def test_hard_negatives_from_the_data_reach_the_loss(tmp_path):
    cfg = toy_config(tmp_path, hard_negatives="data", hard_negative_ratio=0.5, steps=1)
    model, data = toy_model(), toy_data(negatives=2)
    loss = make_loss(cfg)
    from xmodal.data.batching import BatchOrder

    rows = next(iter(BatchOrder(len(data), 32, seed=cfg.seed)))[1]
    with torch.no_grad():  # the oracle: the loss called by hand on the first batch
        a = model.embed(0, model.prepare(0, [data.anchors[i] for i in rows]))
        b = model.embed(1, model.prepare(1, [data.positives[i] for i in rows]))
        flat = [t for i in rows for t in data.negatives[i]]
        negs = model.embed(1, model.prepare(1, flat)).reshape(len(rows), 2, -1)
        want = clip_loss(a, b, logit_scale=loss.logit_scale(), text_negatives=negs,
                         hard_negative_ratio=0.5)
        without = clip_loss(a, b, logit_scale=loss.logit_scale())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = Trainer(model, loss, cfg, data=data).fit()
    assert result.losses[0] == pytest.approx(float(want), rel=1e-6)
    assert abs(float(want) - float(without)) > 1e-3


def test_hard_negatives_requested_without_any_is_an_error(tmp_path):
    cfg = toy_config(tmp_path, hard_negatives="data")
    with pytest.raises(ValueError, match="no negatives"):
        Trainer(toy_model(), make_loss(cfg), cfg, data=toy_data())


def test_guards_warn_with_the_reason(tmp_path):
    model = toy_model()
    model.pretrained = True
    cfg = toy_config(tmp_path, lr=1e-3, steps=1)
    with pytest.warns(UserWarning) as caught:
        result = Trainer(model, make_loss(cfg), cfg, data=toy_data()).fit()
    text = " ".join(str(w.message) for w in caught)
    assert "above 5e-04 for a pretrained model" in text and "below 256" in text
    assert len(result.warnings) == 2
    quiet = toy_config(tmp_path / "q", lr=1e-3, steps=1, batch_size=256)
    assert Trainer(toy_model(), make_loss(quiet), quiet, data=toy_data(300)).guard_messages == []


def test_collapse_is_alarmed_and_can_stop_the_run(tmp_path):
    class Collapsed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(12, 6)

        def forward(self, x):  # every row almost the same vector
            return torch.ones(x.shape[0], 6) + 1e-4 * self.lin(x)

    def collapsed_model():
        model = toy_model()
        model.module[0] = Collapsed()
        return model

    result, _, _ = _fit(tmp_path / "warn", model=collapsed_model(), steps=3)
    assert result.alarms and "collapse" in result.alarms[0].lower()
    with pytest.raises(EmbeddingCollapseError, match="step 1"):
        _fit(tmp_path / "stop", model=collapsed_model(), steps=3, collapse_stop=True)


def test_freeze_layers_keeps_the_first_layers_fixed(tmp_path):
    model = toy_model()
    before = _params(model)
    _fit(tmp_path, model=model, steps=3, freeze_layers=1)
    after = _params(model)
    for key in before:
        same = torch.equal(before[key], after[key])
        assert same == (key.split(".")[1] == "0"), key  # child 0 of each tower is frozen


def test_batch_larger_than_the_data_is_refused(tmp_path):
    cfg = toy_config(tmp_path, batch_size=128)
    with pytest.raises(ValueError, match="larger than the 96 training pairs"):
        Trainer(toy_model(), make_loss(cfg), cfg, data=toy_data())


def test_curriculum_trains_on_random_negatives_first(tmp_path):
    # hard_negative_warmup=2: the first two steps equal a run without hard negatives at all;
    # the third (ratio back at 1:1) differs.
    with_negs, _, _ = _fit(tmp_path / "c", data=toy_data(negatives=2), steps=3,
                           hard_negatives="data", hard_negative_ratio=1.0,
                           hard_negative_warmup=2)
    without, _, _ = _fit(tmp_path / "n", steps=3)
    np.testing.assert_allclose(with_negs.losses[:2], without.losses[:2], rtol=1e-6)
    assert abs(with_negs.losses[2] - without.losses[2]) > 1e-4


class _Stop(Exception):
    pass


def test_sources_give_one_source_batches_and_resume_in_place(tmp_path):
    sources = ["a"] * 40 + ["b"] * 56  # batches of ≤ 32: a in 2 parts, b in 2 parts
    model, seen = toy_model(), []
    prepare = model.prepare

    def recording(side, items, **kw):
        if side == 0:
            seen.append(sorted(int(i) for i in items))
        return prepare(side, items, **kw)

    model.prepare = recording
    cfg = toy_config(tmp_path / "whole", steps=8, checkpoint_every=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = Trainer(model, make_loss(cfg), cfg, data=toy_data(), sources=sources).fit()
    assert len(seen) == 8
    for rows in seen:
        assert len({sources[i] for i in rows}) == 1 and 20 <= len(rows) <= 32
    assert sorted(i for rows in seen[:4] for i in rows) == list(range(96))  # an epoch

    def stop(step, loss):
        if step == 4:
            raise _Stop

    cfg = toy_config(tmp_path / "stopped", steps=8, checkpoint_every=4)
    with warnings.catch_warnings(), pytest.raises(_Stop):
        warnings.simplefilter("ignore")
        Trainer(toy_model(), make_loss(cfg), cfg, data=toy_data(), sources=sources,
                callbacks=[stop]).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed = Trainer(toy_model(), make_loss(cfg), cfg, data=toy_data(),
                          sources=sources).fit()
    assert resumed.first_step == 4
    np.testing.assert_array_equal(resumed.losses, whole.losses[4:])


def test_sources_that_cannot_be_batched_are_refused_at_once(tmp_path):
    cfg = toy_config(tmp_path)
    with pytest.raises(ValueError, match="sources has 3 labels for 96 training pairs"):
        Trainer(toy_model(), make_loss(cfg), cfg, data=toy_data(), sources=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"fewer than 2 rows.*'lonely': 1"):
        Trainer(toy_model(), make_loss(cfg), cfg, data=toy_data(),
                sources=["a"] * 95 + ["lonely"])
