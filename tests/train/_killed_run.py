"""Run the toy training and SIGKILL this process right after step K (its checkpoint written)."""

from __future__ import annotations

import os
import signal
import sys
import warnings

from tests.train._toy import toy_config, toy_data, toy_model
from xmodal.train import Trainer, make_loss


def main(out: str, kill_at: int) -> None:
    cfg = toy_config(out)
    warnings.simplefilter("ignore")

    def die(step: int, loss: float) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    Trainer(toy_model(dropout=0.2), make_loss(cfg), cfg, data=toy_data(), callbacks=[die]).fit()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
