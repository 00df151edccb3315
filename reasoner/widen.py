"""Widen a trained HRM k-fold without changing what it computes (function-preserving growth, as in
Net2Net), so a larger model can start where a smaller one stopped instead of from scratch.

Hidden size d becomes k*d and the heads k-fold (each head keeps its size). Every hidden vector of
the wide model is its narrow counterpart tiled k times, [h, h, ..., h]:

- A parameter-free RMSNorm of [h, ..., h] is [norm(h), ..., norm(h)]: the mean square is the same.
- A weight that writes hidden vectors has its output rows tiled; the new heads are copies of the old
  ones (so the relation bias is tiled per head).
- A weight that reads hidden vectors gets k column blocks W/k + e_j with sum_j e_j = 0: on a tiled
  input they add up to W exactly, and the random e_j make the copies drift apart once training starts
  (exact copies would receive equal gradients and stay copies).
- Embeddings are tiled and divided by sqrt(k), because the model scales them by sqrt(hidden size).
- The MLP's inner units are not tiled (its width is rounded per hidden size): the old units are kept,
  and the new ones start with fresh input weights and zero output weights.
"""

from __future__ import annotations

import math

import torch

from .config import ModelConfig
from .model import trunc_normal_

# The only fields a widening may change; every other must match the narrow model's.
WIDENED_FIELDS = {"hidden_size", "num_heads"}


def widening_factor(old: ModelConfig, new: ModelConfig) -> int:
    """k such that `new` is `old` widened k-fold; ValueError if `new` is not such a model."""
    k, rest = divmod(new.hidden_size, old.hidden_size)
    if rest or k < 2:
        raise ValueError(f"hidden_size {new.hidden_size} is not a multiple (2x or more) of the checkpoint's {old.hidden_size}")
    if new.num_heads != k * old.num_heads:
        raise ValueError(f"widening hidden_size {k}-fold needs num_heads {k * old.num_heads} (each head keeps its size "
                         f"{old.head_dim}); got num_heads {new.num_heads}")
    other = {f for f in ModelConfig.model_fields if f not in WIDENED_FIELDS and getattr(old, f) != getattr(new, f)}
    if other - {"halt_max_steps", "halt_exploration_prob"}:
        raise ValueError(f"a widening changes only hidden_size and num_heads (and halting); also changed: {', '.join(sorted(other))}")
    return k


def widen(weights: dict[str, torch.Tensor], old: ModelConfig, new: ModelConfig, seed: int = 0,
          noise: float = 0.1) -> dict[str, torch.Tensor]:
    """The weights of `old`, widened to `new` (see the module docstring). `noise` is the size of the
    column blocks' random parts, relative to the standard deviation of the weight they split."""
    k = widening_factor(old, new)
    d, m, new_m = old.hidden_size, old.mlp_hidden, new.mlp_hidden
    gen = torch.Generator().manual_seed(seed)

    def tile(t: torch.Tensor, dim: int) -> torch.Tensor:
        return torch.cat([t] * k, dim=dim)

    def split_columns(t: torch.Tensor) -> torch.Tensor:
        """Reads a tiled hidden vector along its last dimension."""
        parts = torch.randn((k, *t.shape), generator=gen) * (noise * t.std().item())
        parts = parts - parts.mean(0) + t / k
        return torch.cat(list(parts), dim=-1)

    def embedding(t: torch.Tensor) -> torch.Tensor:
        return tile(t, -1) / math.sqrt(k)

    def fresh(*shape: int) -> torch.Tensor:
        return trunc_normal_(torch.empty(shape), std=1.0 / math.sqrt(k * d), generator=gen)  # lecun_linear's init

    wide: dict[str, torch.Tensor] = {}
    for name, t in weights.items():
        t = t.detach().float().cpu()
        if name in ("H_init", "L_init", "relation_bias"):
            wide[name] = tile(t, 0)
        elif name == "puzzle_emb":
            wide[name] = embedding(t.view(t.shape[0], old.puzzle_emb_len, d)).flatten(1)
        elif name in ("embed_tokens.weight", "embed_pos") or name.startswith("grid_pos."):
            wide[name] = embedding(t)
        elif name.endswith("attn.qkv_proj.weight"):
            wide[name] = split_columns(tile(t.view(3, d, d), 1)).reshape(3 * k * d, k * d)
        elif name.endswith("attn.o_proj.weight"):
            wide[name] = split_columns(tile(t, 0))
        elif name.endswith("mlp.gate_up_proj.weight"):
            kept = split_columns(t.view(2, m, d))
            wide[name] = torch.cat((kept, fresh(2, new_m - m, k * d)), dim=1).reshape(2 * new_m, k * d)
        elif name.endswith("mlp.down_proj.weight"):
            wide[name] = torch.cat((tile(t, 0), torch.zeros(k * d, new_m - m)), dim=1)
        elif name in ("lm_head.weight", "q_head.weight"):
            wide[name] = split_columns(t)
        elif name == "q_head.bias":
            wide[name] = t.clone()
        else:
            raise ValueError(f"no rule to widen the parameter {name!r}")  # a new parameter needs its rule here
    return wide
