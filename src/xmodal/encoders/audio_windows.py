"""A clip's vector from its windows, the one rule of every encoder that embeds audio window by
window (:class:`~xmodal.encoders.hf_clap.ClapEncoder`, multimodal sentence-transformers): the
clip cut into consecutive windows (:func:`xmodal.data.audio.windows`), each embedded whole,
their vectors averaged by real length (:func:`xmodal.data.audio.window_weights`): no random
crop, a short last window counting for its real part.

Example:
    >>> import numpy as np
    >>> embed = lambda parts: np.array([[len(p), 1.0] for p in parts])  # (n_windows, 2)
    >>> # weights 1, 1, 0.5: (10 + 10 + 5 * 0.5) / 2.5 = 9
    >>> pool_windows([np.zeros(25)], sample_rate=1, window_s=10, embed=embed)  # 10, 10, 5 s
    array([[9., 1.]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["pool_windows"]


def pool_windows(waves: Sequence[np.ndarray], *, sample_rate: int, window_s: float,
                 embed: Callable[[list[np.ndarray]], np.ndarray]) -> np.ndarray:
    """Embed each wave as the length-weighted mean of its windows' vectors.

    Args:
        waves: Mono waves at ``sample_rate``.
        sample_rate: Samples per second.
        window_s: The window length in seconds.
        embed: Embeds every window of every wave in one call (it batches as it likes):
            ``(total_windows, d)``, in order.

    Returns:
        ``(n_waves, d)`` (not normalised: the caller's checks do it).
    """
    from xmodal.data.audio import window_weights, windows

    parts: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for wave in waves:
        cut = windows(wave, sample_rate=sample_rate, window_s=window_s)  # (n_windows, length)
        w = window_weights(wave, sample_rate=sample_rate, window_s=window_s)  # (n_windows,)
        real = np.rint(w * cut.shape[1]).astype(int)
        parts.extend(row[:n] for row, n in zip(cut, real, strict=True))
        weights.append(w)
    vectors = embed(parts)  # (total_windows, d)
    pooled, at = [], 0
    for w in weights:
        pooled.append(w @ vectors[at : at + len(w)] / w.sum())  # (d,)
        at += len(w)
    return np.stack(pooled)  # (n_waves, d)
