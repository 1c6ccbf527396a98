"""KIF: the 27-node medical knowledge graph encoder and the cross-modal semantic fusion (notes §7).

Graph facts from the KIF-ISD repository (``models/tagencoder.py``): node names, each node's organ group
(``NODE_GROUPS``, also its positional-encoding index) and finding type (``NODE_TYPES``); position 0 is a
global node. Node *i* may attend to node *j* iff either is the global node, or they share a group or a
type.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NODES = ("normal", "other finding", "heart", "cardiomegaly", "spine", "scoliosis", "pleural", "effusion",
         "thickening", "pneumothorax", "bone", "bone fractures", "lung", "emphysema", "pneumonia", "edema",
         "atelectasis", "clcatrix", "opacity", "lesion", "mediastinum", "hernia", "calcinosis", "foreign object",
         "airspace", "airspace disease", "hypoinflation")
# index 0 = the global node, then one entry per node in NODES
NODE_GROUPS = (0, 1, 2, 3, 3, 4, 4, 5, 5, 5, 5, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8, 9, 10, 10, 10)
NODE_TYPES = (0, 2, 3, 1, 4, 1, 5, 1, 6, 6, 6, 1, 7, 1, 8, 8, 8, 8, 8, 8, 8, 1, 9, 9, 10, 1, 11, 11)


def adjacency_mask() -> torch.Tensor:
    """``[28, 28]`` bool: global node ↔ all, and nodes sharing an organ group or a finding type."""
    g = torch.tensor(NODE_GROUPS)
    t = torch.tensor(NODE_TYPES)
    mask = (g[:, None] == g[None, :]) | (t[:, None] == t[None, :])
    mask[0, :] = True
    mask[:, 0] = True
    return mask


def _sinusoid(n: int, d: int) -> torch.Tensor:
    pe = torch.zeros(n, d)
    pos = torch.arange(n).unsqueeze(1).float()
    div = torch.exp(torch.arange(0, d, 2).float() * -(math.log(10000.0) / d))
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class KnowledgeGraphEncoder(nn.Module):
    """Node word-piece embeddings (randomly initialised, averaged over a node's pieces) + group positional
    encodings → a Transformer encoder whose attention is restricted by :func:`adjacency_mask`."""

    def __init__(self, node_token_ids: list[list[int]], vocab_size: int, dim: int, heads: int, ff: int,
                 layers: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        width = max(len(ids) for ids in node_token_ids)
        ids = torch.zeros(len(node_token_ids), width, dtype=torch.long)
        valid = torch.zeros(len(node_token_ids), width)
        for i, toks in enumerate(node_token_ids):
            ids[i, :len(toks)] = torch.tensor(toks)
            valid[i, :len(toks)] = 1
        self.register_buffer("node_ids", ids, persistent=False)
        self.register_buffer("node_valid", valid, persistent=False)
        self.register_buffer("pe", _sinusoid(max(NODE_GROUPS) + 1, dim)[list(NODE_GROUPS)], persistent=False)
        self.register_buffer("attn_mask", ~adjacency_mask(), persistent=False)  # True = blocked
        self.embed = nn.Embedding(vocab_size, dim)
        self.global_node = nn.Parameter(torch.zeros(1, dim))
        self.norm = nn.LayerNorm(dim)
        layer = nn.TransformerEncoderLayer(dim, heads, ff, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self) -> torch.Tensor:
        """``[28, dim]`` node features (global node first)."""
        emb = (self.embed(self.node_ids) * self.node_valid.unsqueeze(-1)).sum(1)
        emb = emb / self.node_valid.sum(1, keepdim=True).clamp_min(1)
        x = self.norm(torch.cat([self.global_node, emb], 0) + self.pe)
        return self.encoder(x.unsqueeze(0), mask=self.attn_mask).squeeze(0)


class CrossModalFusion(nn.Module):
    """Patches (projected) cross-attend to the graph nodes; an MLP maps back to the image width."""

    def __init__(self, img_dim: int, dim: int, heads: int, ff: int, hidden: int, layers: int = 2,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.proj = nn.Linear(img_dim, dim)
        layer = nn.TransformerDecoderLayer(dim, heads, ff, dropout, batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, layers)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, img_dim))  # original `mlpp`

    def forward(self, patches: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
        mem = nodes.unsqueeze(0).expand(patches.shape[0], -1, -1)
        return self.mlp(self.decoder(self.proj(patches), mem))
