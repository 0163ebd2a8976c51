"""Float64 reference formulas written straight from the papers' equations, for the tests.

Deliberately naive: full matrices, explicit label/weight matrices, no shared code with
``xmodal.losses``. Every function returns a differentiable float64 scalar.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _f64(*xs):
    return [None if x is None else x.to(torch.float64) for x in xs]


def _weights(n, k, groups, offset):
    """Row i's candidate set over columns: (n, K) mask of in-batch negatives."""
    neg = torch.ones(n, k, dtype=torch.bool)
    for i in range(n):
        neg[i, i + offset] = False
        if groups is not None:
            for j in range(k):
                if groups[1][j] == groups[0][i]:
                    neg[i, j] = False
    return neg


def softmax_rows(a, b, s, negatives=None, groups=None, ratio=None, offset=0):
    """Per-row -log p(positive) for rows a vs columns b (+ per-row hard negatives), float64.

    p = exp(l_pos) / (exp(l_pos) + Σ_{in-batch negatives} exp(l_ij) + Σ_m w_i exp(l_im)),
    w_i = ratio · n_r(i) / M (1 when ratio is None), n_r(i) = number of in-batch negatives.
    """
    a, b, s = _f64(a, b, s)
    n, k = a.shape[0], b.shape[0]
    logits = s * a @ b.T
    neg = _weights(n, k, groups, offset)
    out = []
    for i in range(n):
        pos = logits[i, i + offset]
        terms = [torch.exp(pos), torch.exp(logits[i][neg[i]]).sum()]
        if negatives is not None:
            h = s * negatives[i].to(torch.float64) @ a[i]  # (M,)
            m = h.shape[0]
            w = 1.0 if ratio is None else ratio * int(neg[i].sum()) / m
            terms.append(w * torch.exp(h).sum())
        out.append(-pos + torch.log(sum(terms)))
    return torch.stack(out)


def info_nce(a, p, s, negatives=None, groups=None, ratio=None):
    g = None if groups is None else (groups, groups)
    return softmax_rows(a, p, s, negatives, g, ratio).mean()


def clip(img, txt, s, text_negatives=None, image_negatives=None, groups=None, ratio=None):
    g = None if groups is None else (groups, groups)
    i2t = softmax_rows(img, txt, s, text_negatives, g, ratio).mean()
    t2i = softmax_rows(txt, img, s, image_negatives, g, ratio).mean()
    return (i2t + t2i) / 2


def siglip(img, txt, s, bias, text_negatives=None, image_negatives=None, groups=None,
           ratio=None, normalization="paper"):
    """-(1/N) Σ_ij log σ(z_ij (s x_i·y_j + b)), z = +1 on matches (and same group), else -1."""
    img, txt, s, bias = _f64(img, txt, s, bias)
    n = img.shape[0]
    logits = s * img @ txt.T + bias
    labels = -torch.ones(n, n, dtype=torch.float64)
    for i in range(n):
        for j in range(n):
            if i == j or (groups is not None and groups[i] == groups[j]):
                labels[i, j] = 1.0
    total = -F.logsigmoid(labels * logits).sum()
    for anchors, negs in ((img, text_negatives), (txt, image_negatives)):
        if negs is None:
            continue
        h = s * torch.einsum("nmd,nd->nm", negs.to(torch.float64), anchors) + bias
        m = h.shape[1]
        for i in range(n):
            n_r = int((labels[i] < 0).sum())
            w = 1.0 if ratio is None else ratio * n_r / m
            total = total - w * F.logsigmoid(-h[i]).sum()
    return total / (n if normalization == "paper" else n * n)
