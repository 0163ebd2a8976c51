"""Fine-tuning guards: the settings the field has learned to distrust, checked before a run.

Each guard returns a message with the reason; the trainer issues it as a warning, writes it to
the log, and repeats it in the run summary. None stops a run: a user may know better.

- **Learning rate above 5e-4 on a pretrained model.** Contrastive fine-tuning at from-scratch
  rates overwrites the pretrained alignment within a few hundred steps (catastrophic
  forgetting); full fine-tuning of CLIP/BGE-size models uses 1e-6 to 5e-5. New heads over frozen
  towers (LiT) start from scratch and are exempt.
- **Effective batch below 256.** The softmax losses learn from in-batch negatives: with fewer
  than a few hundred, most negatives are easy and the model learns less per step and separates
  near neighbours worse. GradCache (``mini_batch_size``) raises the batch at constant memory.

Example:
    >>> check_guards(lr=1e-3, pretrained=True, effective_batch=1024)[0][:40]
    'learning rate 0.001 is above 5e-04 for a'
    >>> check_guards(lr=1e-3, pretrained=False, effective_batch=1024)
    []
"""

from __future__ import annotations

MAX_FINE_TUNE_LR = 5e-4
"""Above this learning rate, fine-tuning a pretrained model is warned about."""
MIN_EFFECTIVE_BATCH = 256
"""Below this effective batch, a contrastive run is warned about."""


def check_guards(*, lr: float, pretrained: bool, effective_batch: int,
                 gradcache: bool = False) -> list[str]:
    """The guard messages that apply to these settings (empty when none do).

    Args:
        lr: Peak learning rate.
        pretrained: Whether the trained weights start from a pretrained model.
        effective_batch: Pairs per optimiser step over all processes.
        gradcache: Whether GradCache is already on (the advice then differs).

    Returns:
        One message per guard that fired, each saying what and why.
    """
    messages = []
    if pretrained and lr > MAX_FINE_TUNE_LR:
        messages.append(
            f"learning rate {lr:g} is above {MAX_FINE_TUNE_LR:.0e} for a pretrained model: "
            "contrastive fine-tuning at this rate usually overwrites the pretrained alignment "
            "(catastrophic forgetting); full fine-tuning typically uses 1e-6 to 5e-5"
        )
    if effective_batch < MIN_EFFECTIVE_BATCH:
        how = ("raise batch_size" if gradcache else
               "raise batch_size and set mini_batch_size to what fits in memory (GradCache)")
        messages.append(
            f"effective batch {effective_batch} is below {MIN_EFFECTIVE_BATCH}: contrastive "
            "losses learn from in-batch negatives, and with this few most are easy, so the "
            f"model separates near neighbours worse; {how}"
        )
    return messages
