"""One rank of the 2-process gloo test: train the toy model, save the final parameters."""

from __future__ import annotations

import warnings

import safetensors.torch
import torch
import torch.distributed as dist

from tests.train._toy import toy_config, toy_data, toy_model
from xmodal.train import Trainer, make_loss


def rank_main(rank: int, world: int, init_file: str, out: str, overrides: dict) -> None:
    warnings.simplefilter("ignore")
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        cfg = toy_config(out, **overrides)
        model = toy_model()
        loss = make_loss(cfg)  # distributed: every rank's features are negatives
        result = Trainer(model, loss, cfg, data=toy_data()).fit()
        state = {k: v.clone() for k, v in model.module.state_dict().items()}
        state["log_scale"] = loss.logit_scale.log_scale.detach().clone()
        state["losses"] = torch.tensor(result.losses, dtype=torch.float64)
        safetensors.torch.save_file(state, f"{out}/rank{rank}.safetensors")
        # both ranks done before either tears gloo down: a rank that destroys the group while
        # the other's last collective is in flight aborts ("terminate called without an active
        # exception", seen once in CI under load)
        dist.barrier()
    finally:
        dist.destroy_process_group()
