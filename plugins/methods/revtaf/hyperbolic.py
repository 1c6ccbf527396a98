"""Poincaré-ball operations and the Learnable Retrieval Enhancer encoder (REVTAF ``Post_HNN``, c = 0.01).

Formulas (curvature ``-c``): ``expmap0(u) = tanh(√c|u|) u / (√c|u|)``, ``logmap0`` its inverse, Möbius
addition and matrix-vector product as in HNN (Ganea et al. 2018), and the geodesic distance
``d(x, y) = 2/√c · artanh(√c |(-x) ⊕ y|)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5


def _norm(x: torch.Tensor) -> torch.Tensor:
    return x.norm(dim=-1, keepdim=True).clamp_min(EPS)


def project(x: torch.Tensor, c: float) -> torch.Tensor:
    """Pull points back strictly inside the ball of radius 1/√c."""
    max_norm = (1 - 1e-3) / c**0.5
    norm = _norm(x)
    return torch.where(norm > max_norm, x / norm * max_norm, x)


def expmap0(u: torch.Tensor, c: float) -> torch.Tensor:
    sc = c**0.5
    norm = _norm(u)
    return project(torch.tanh(sc * norm) * u / (sc * norm), c)


def logmap0(y: torch.Tensor, c: float) -> torch.Tensor:
    sc = c**0.5
    norm = _norm(y)
    return torch.atanh((sc * norm).clamp(max=1 - 1e-5)) * y / (sc * norm)


def mobius_add(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    xy = (x * y).sum(-1, keepdim=True)
    x2 = (x * x).sum(-1, keepdim=True)
    y2 = (y * y).sum(-1, keepdim=True)
    num = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y
    return num / (1 + 2 * c * xy + c**2 * x2 * y2).clamp_min(EPS)


def mobius_matvec(weight: torch.Tensor, x: torch.Tensor, c: float) -> torch.Tensor:
    sc = c**0.5
    x_norm = _norm(x)
    mx = x @ weight.T
    mx_norm = _norm(mx)
    res = torch.tanh(mx_norm / x_norm * torch.atanh((sc * x_norm).clamp(max=1 - 1e-5))) * mx / (mx_norm * sc)
    return project(res, c)


def distance(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    """Pairwise geodesic distances ``[N, M]`` between ``x [N, D]`` and ``y [M, D]`` on the ball."""
    diff = mobius_add(-x.unsqueeze(1), y.unsqueeze(0), c)
    return 2 / c**0.5 * torch.atanh((c**0.5 * diff.norm(dim=-1)).clamp(max=1 - 1e-5))


class HypLinear(nn.Module):
    """Möbius linear layer with hyperbolic bias, followed by the hyperbolic ReLU (``HypAct``)."""

    def __init__(self, d_in: int, d_out: int, c: float, act: bool = True) -> None:
        super().__init__()
        self.c, self.act = c, act
        self.weight = nn.Parameter(torch.empty(d_out, d_in))
        self.bias = nn.Parameter(torch.zeros(d_out))
        nn.init.xavier_uniform_(self.weight, gain=2**0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = mobius_add(mobius_matvec(self.weight, x, self.c), expmap0(self.bias, self.c), self.c)
        h = project(h, self.c)
        return expmap0(F.relu(logmap0(h, self.c)), self.c) if self.act else h


class PoincareEncoder(nn.Module):
    """``expmap0`` of the input scores then ``layers - 1`` hyperbolic layers (75→512→512 in the paper)."""

    def __init__(self, d_in: int, hidden: int, layers: int = 3, c: float = 0.01) -> None:
        super().__init__()
        self.c = c
        dims = [d_in] + [hidden] * (layers - 1)
        self.layers = nn.ModuleList(HypLinear(a, b, c) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = expmap0(x, self.c)
        for layer in self.layers:
            h = layer(h)
        return h


def hamming_targets(onehot: torch.Tensor) -> torch.Tensor:
    """For each row, the index of the *other* row with the smallest Hamming distance (first on ties)."""
    ham = torch.cdist(onehot.float(), onehot.float(), p=1)
    ham.fill_diagonal_(float("inf"))
    return ham.argmin(1)


def rank_loss(z: torch.Tensor, onehot: torch.Tensor, c: float) -> torch.Tensor:
    """CE over ``-distance`` to the other batch items, target = the label-Hamming nearest neighbour."""
    if z.shape[0] < 2:
        return z.sum() * 0
    logits = -distance(z, z, c)
    logits = logits.masked_fill(torch.eye(len(z), dtype=torch.bool, device=z.device), -float("inf"))
    return F.cross_entropy(logits, hamming_targets(onehot))
