"""GradCache must give the gradients of plain backprop: every encoder and loss parameter."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from xmodal.losses import LogitScale, clip_loss, info_nce, siglip_loss
from xmodal.train.gradcache import GradCache, gradcache_step

N = 24
RTOL = 1e-10


def tower(d_in: int) -> nn.Module:
    net = nn.Sequential(nn.Linear(d_in, 16), nn.GELU(), nn.Dropout(0.1), nn.Linear(16, 6))
    return net.double()


def normed(net: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: F.normalize(net(x), dim=-1)


def make_problem(loss_name: str, seed: int = 0):
    torch.manual_seed(seed)
    net_a, net_b = tower(8), tower(5)
    ls = LogitScale().double()
    bias = nn.Parameter(torch.tensor(-3.0, dtype=torch.float64))
    losses = {
        "clip": lambda a, b: clip_loss(a, b, logit_scale=ls()),
        "siglip": lambda a, b: siglip_loss(a, b, logit_scale=ls(), logit_bias=bias),
        "info_nce": lambda a, b: info_nce(a, b, logit_scale=ls()),
    }
    x, y = torch.randn(N, 8, dtype=torch.float64), torch.randn(N, 5, dtype=torch.float64)
    params = [*net_a.parameters(), *net_b.parameters(), ls.log_scale]
    if loss_name == "siglip":
        params.append(bias)
    return (net_a, net_b), (x, y), losses[loss_name], params


def grads(params: list[torch.Tensor]) -> list[torch.Tensor]:
    out = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    return out


def assert_close(got: list[torch.Tensor], want: list[torch.Tensor]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert w.abs().max() > 0
        torch.testing.assert_close(g, w, rtol=RTOL, atol=RTOL * float(w.abs().max()))


def test_cpu_dropout_masks_do_not_depend_on_chunking():
    """The train-mode comparisons below run plain backprop on the whole batch while GradCache
    draws dropout masks per mini-batch; they agree because CPU masks are drawn sequentially."""
    torch.manual_seed(3)
    whole = F.dropout(torch.ones(N, 16, dtype=torch.float64), 0.1)
    torch.manual_seed(3)
    parts = torch.cat([F.dropout(torch.ones(m, 16, dtype=torch.float64), 0.1) for m in (5,) * 4])
    last = F.dropout(torch.ones(N - 20, 16, dtype=torch.float64), 0.1)
    assert torch.equal(whole, torch.cat([parts, last]))


@pytest.mark.parametrize("loss_name", ["clip", "siglip", "info_nce"])
@pytest.mark.parametrize("mini_batch_size", [1, 5, 8, 24])
def test_equals_plain_backprop_in_train_mode(loss_name: str, mini_batch_size: int):
    (net_a, net_b), (x, y), loss_fn, params = make_problem(loss_name)
    net_a.train(), net_b.train()

    torch.manual_seed(1)
    want_loss = loss_fn(normed(net_a)(x), normed(net_b)(y))
    want_loss.backward()
    want, want_rng = grads(params), torch.get_rng_state()

    torch.manual_seed(1)
    got_loss = gradcache_step(
        [normed(net_a), normed(net_b)], [x, y], loss_fn, mini_batch_size=mini_batch_size
    )
    assert not got_loss.requires_grad
    torch.testing.assert_close(got_loss, want_loss.detach(), rtol=RTOL, atol=0)
    assert_close(grads(params), want)
    assert torch.equal(torch.get_rng_state(), want_rng)  # the caller's stream: one forward


def test_dropout_is_replayed_not_redrawn(monkeypatch: pytest.MonkeyPatch):
    """Dropout is active (train ≠ eval), and replaying without the saved RNG state is caught."""
    (net_a, net_b), (x, y), loss_fn, params = make_problem("clip")
    encoders = [normed(net_a), normed(net_b)]
    torch.manual_seed(1)
    loss_fn(encoders[0](x), encoders[1](y)).backward()
    want = grads(params)

    import xmodal.train.gradcache as gc

    monkeypatch.setattr(gc, "_set_rng", lambda state: None)  # a drifted copy: no replay
    torch.manual_seed(1)
    gradcache_step(encoders, [x, y], loss_fn, mini_batch_size=5)
    assert not torch.allclose(grads(params)[0], want[0])
    monkeypatch.undo()

    net_a.eval(), net_b.eval()
    gradcache_step(encoders, [x, y], loss_fn, mini_batch_size=5)
    assert not torch.allclose(grads(params)[0], want[0])


@pytest.mark.parametrize("mini_batch_size", [1, 7, 24, 100])
def test_eval_mode_any_mini_batch_size(mini_batch_size: int):
    (net_a, net_b), (x, y), loss_fn, params = make_problem("siglip", seed=4)
    net_a.eval(), net_b.eval()
    want_loss = loss_fn(normed(net_a)(x), normed(net_b)(y))
    want_loss.backward()
    want = grads(params)
    step = GradCache(mini_batch_size=mini_batch_size)
    got_loss = step([normed(net_a), normed(net_b)], [x, y], loss_fn)
    torch.testing.assert_close(got_loss, want_loss.detach(), rtol=RTOL, atol=0)
    assert_close(grads(params), want)


class HashText(nn.Module):
    """Strings → hashed word ids → mean embedding → linear; a tiny text tower."""

    def __init__(self, buckets: int = 97, dim: int = 6) -> None:
        super().__init__()
        self.buckets = buckets
        self.emb = nn.EmbeddingBag(buckets, 12, mode="mean")
        self.drop = nn.Dropout(0.2)
        self.proj = nn.Linear(12, dim)

    def forward(self, texts: list[str]) -> torch.Tensor:
        ids = [[zlib.crc32(w.encode()) % self.buckets for w in t.split()] for t in texts]
        flat = torch.tensor([i for row in ids for i in row])
        offsets = torch.tensor([0, *torch.tensor([len(r) for r in ids]).cumsum(0)[:-1].tolist()])
        return F.normalize(self.proj(self.drop(self.emb(flat, offsets))), dim=-1)


@pytest.mark.parametrize("mini_batch_size", [1, 5, 24])
def test_list_inputs(mini_batch_size: int):
    torch.manual_seed(0)
    text_a, text_b = HashText().double(), HashText().double()
    ls = LogitScale().double()
    words = ["red", "green", "blue", "cat", "dog", "sun", "moon", "tree", "river", "stone"]
    queries = [f"{words[i % 10]} {words[(3 * i) % 10]} {words[(7 * i + 1) % 10]}" for i in range(N)]
    docs = [f"a {q} here" for q in queries]
    assert isinstance(queries, list) and isinstance(docs[0], str)

    def loss_fn(a, b):
        return clip_loss(a, b, logit_scale=ls())

    params = [*text_a.parameters(), *text_b.parameters(), ls.log_scale]
    torch.manual_seed(2)
    want_loss = loss_fn(text_a(queries), text_b(docs))
    want_loss.backward()
    want = grads(params)
    torch.manual_seed(2)
    got_loss = gradcache_step(
        [text_a, text_b], [queries, docs], loss_fn, mini_batch_size=mini_batch_size
    )
    torch.testing.assert_close(got_loss, want_loss.detach(), rtol=RTOL, atol=0)
    assert_close(grads(params), want)


def test_mixed_tensor_and_list_sides_and_frozen_side():
    torch.manual_seed(0)
    net, text = tower(8), HashText().double()
    text.requires_grad_(False)  # a frozen tower: no replay needed, nothing breaks
    x = torch.randn(6, 8, dtype=torch.float64)
    texts = [f"w{i} w{i + 1}" for i in range(6)]
    loss = gradcache_step(
        [normed(net), text], [x, texts], lambda a, b: info_nce(a, b, logit_scale=10.0),
        mini_batch_size=4,
    )
    assert loss.ndim == 0 and net[0].weight.grad is not None and text.proj.weight.grad is None


def test_errors():
    net = tower(8)
    enc = normed(net)
    x = torch.randn(N, 8, dtype=torch.float64)

    def loss_fn(a, b):
        return clip_loss(a, b, logit_scale=10.0)

    with pytest.raises(ValueError, match="mini_batch_size"):
        gradcache_step([enc, enc], [x, x], loss_fn, mini_batch_size=0)
    with pytest.raises(ValueError, match="mini_batch_size"):
        GradCache(mini_batch_size=-1)
    with pytest.raises(ValueError, match=r"same batch size, got \[24, 23\]"):
        gradcache_step([enc, enc], [x, x[:-1]], loss_fn, mini_batch_size=4)
    with pytest.raises(ValueError, match="one input per encoder"):
        gradcache_step([enc, enc], [x], loss_fn, mini_batch_size=4)

    def bad(batch: torch.Tensor) -> torch.Tensor:
        return enc(batch)[:1]

    with pytest.raises(ValueError, match=r"side 1 .* rows 0:5; expected first dimension 5"):
        gradcache_step([enc, bad], [x, x], loss_fn, mini_batch_size=5)
    with pytest.raises(ValueError, match="scalar"):
        gradcache_step([enc, enc], [x, x], lambda a, b: (a * b).sum(-1), mini_batch_size=5)
    assert net[0].weight.grad is None  # failures before any backward leave no gradient behind
