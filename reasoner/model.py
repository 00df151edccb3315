"""The Hierarchical Reasoning Model, readable top to bottom.

Two recurrent transformer modules share one hidden size: L (fast, "computes") and H (slow,
"plans"). One *segment* runs N = H_cycles high-level updates, each after T = L_cycles low-level
updates:

    z_L <- L(z_L, inject = z_H + x)      (T times)
    z_H <- H(z_H, inject = z_L)          (once per cycle)

Only the last few calls of a segment build a graph (`gradient` switch), so backward memory does
not grow with N*T. `segment` below runs these updates; in inference mode the blocks read weights
prepared once (HRM.inference_weights). The carry (z_H, z_L) leaves the segment detached: deep
supervision trains each segment on its own. The answer is read from z_H; a Q-head reads position 0
(the puzzle prefix) and scores "halt" against "continue" for adaptive computation time (see act.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

# --------------------------------------------------------------------------------------------
# Initialisation and small layers
# --------------------------------------------------------------------------------------------

# A normal truncated at +-2 sigma has a standard deviation of 0.8796 sigma; dividing by it gives
# the requested std after truncation (the JAX convention the reference follows).
_TRUNC_STD_CORRECTION = 0.87962566103423978


def trunc_normal_(tensor: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    if std == 0:
        return tensor.zero_()
    sigma = std / _TRUNC_STD_CORRECTION
    return nn.init.trunc_normal_(tensor, mean=0.0, std=sigma, a=-2 * sigma, b=2 * sigma, generator=generator)


def lecun_linear(fan_in: int, fan_out: int) -> nn.Linear:
    """Bias-free linear layer with truncated LeCun-normal weights (std = 1/sqrt(fan_in))."""
    layer = nn.Linear(fan_in, fan_out, bias=False)
    with torch.no_grad():
        trunc_normal_(layer.weight, std=1.0 / math.sqrt(fan_in))
    return layer


def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Parameter-free RMSNorm, computed in fp32 for stability and cast back (one fused kernel)."""
    return F.rms_norm(x.float(), (x.shape[-1],), eps=eps).to(x.dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


class RotaryEmbedding(nn.Module):
    """1-D rotary position tables over the flattened sequence (prefix + grid)."""

    def __init__(self, head_dim: int, length: int, theta: float):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
        angles = torch.cat((angles, angles), dim=-1)  # [length, head_dim]
        # Not saved: derived from the config, so checkpoints stay small and exact.
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """x: [batch, seq, heads, head_dim]; rotation done in fp32."""
        dtype = x.dtype
        x = x.float()
        cos, sin = self.cos[:, None, :], self.sin[:, None, :]
        return (x * cos + rotate_half(x) * sin).to(dtype)


@dataclass
class WindowRelation:
    """Window attention in shifted form, for large grids (a maze's 3x3 window: 10 keys of 901 at
    30x30). A grid cell's keys are the grid shifted by each `offsets` (dr, dc) (zero-padded at the
    border) plus the prefix; `bias` [heads or 1, rows, cols, len(offsets) + prefix] holds the
    scores added to each (-inf where the offset leaves the grid or the relation). The prefix rows
    attend to everything with `prefix_bias`. Same result as the dense mask, without the
    [seq, seq] score matrix."""

    prefix: int
    grid: tuple[int, int]
    radius: int
    offsets: list[tuple[int, int]]
    bias: torch.Tensor
    prefix_bias: torch.Tensor | None  # [heads, prefix, total_len], or None (no bias)


# What attention is given: None (global), a dense boolean mask or float scores, or the window form.
Pattern = torch.Tensor | WindowRelation | None


def window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rel: WindowRelation) -> torch.Tensor:
    """q, k, v: [batch, heads, seq, head_dim] -> [batch, heads, seq, head_dim]."""
    p, (rows, cols), r = rel.prefix, rel.grid, rel.radius
    head = (F.scaled_dot_product_attention(q[:, :, :p], k, v) if rel.prefix_bias is None
            else masked_attention(q[:, :, :p], k, v, rel.prefix_bias))  # one rule for masked attention

    def padded(t: torch.Tensor) -> torch.Tensor:  # [batch, heads, rows + 2r, cols + 2r, head_dim]
        return F.pad(t[:, :, p:].unflatten(2, (rows, cols)), (0, 0, r, r, r, r))

    def shifted(t: torch.Tensor, dr: int, dc: int) -> torch.Tensor:
        return t[:, :, r + dr : r + dr + rows, r + dc : r + dc + cols]

    query, keys, values = q[:, :, p:].unflatten(2, (rows, cols)), padded(k), padded(v)
    scores = [(query * shifted(keys, dr, dc)).sum(-1) for dr, dc in rel.offsets]
    scores = torch.cat((torch.stack(scores, -1), query @ k[:, :, None, :p].transpose(-1, -2)), -1)
    weights = (scores.float() / math.sqrt(q.shape[-1]) + rel.bias).softmax(-1).to(v.dtype)
    out = weights[..., -p:] @ v[:, :, None, :p]
    for i, (dr, dc) in enumerate(rel.offsets):
        out = out + weights[..., i, None] * shifted(values, dr, dc)
    return torch.cat((head, out.flatten(2, 3)), dim=2)


def masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + mask) v. On the CPU SDPA's kernels are slow once given a mask: at
    82 positions (head size 32, batch 64, one thread) these plain ops took half the time in bf16,
    forward and backward, and in fp32 inference (docs/results.md, session 11); without a mask, or
    for fp32 training, SDPA stays faster."""
    use_sdpa = q.device.type != "cpu" or (q.requires_grad and q.dtype == torch.float32)
    if use_sdpa:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype) if mask.is_floating_point() else mask)
    scores = ((q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)).float()  # scaling q: 82x32, not 82x82
    scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return scores.softmax(-1).to(v.dtype) @ v


class BlockWeights(NamedTuple):
    """One block's matrices, as the block functions below take them: its modules' parameters, or in
    inference mode plain copies in the compute dtype (HRM.inference_weights)."""

    qkv: torch.Tensor  # [3 * hidden, hidden]
    out: torch.Tensor  # [hidden, hidden]
    gate_up: torch.Tensor  # [2 * mlp_hidden, hidden]
    down: torch.Tensor  # [hidden, mlp_hidden]


def attention(x: torch.Tensor, qkv: torch.Tensor, out: torch.Tensor, heads: int, rotary: RotaryEmbedding | None,
              mask: Pattern) -> torch.Tensor:
    """Non-causal multi-head self-attention through PyTorch's fused SDPA kernel. x: [batch, seq, hidden]."""
    batch, seq, _ = x.shape
    q, k, v = F.linear(x, qkv).view(batch, seq, 3, heads, -1).unbind(2)
    if rotary is not None:
        q, k = rotary.apply(q), rotary.apply(k)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [batch, heads, seq, head_dim]
    if isinstance(mask, WindowRelation):
        o = window_attention(q, k, v, mask)
    elif mask is not None:
        o = masked_attention(q, k, v, mask)
    else:
        o = F.scaled_dot_product_attention(q, k, v)
    return F.linear(o.transpose(1, 2).reshape(batch, seq, -1), out)


def swiglu(x: torch.Tensor, gate_up: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
    gate, up = F.linear(x, gate_up).chunk(2, dim=-1)
    return F.linear(F.silu(gate) * up, down)


def block(h: torch.Tensor, w: BlockWeights, heads: int, eps: float, rotary: RotaryEmbedding | None,
          mask: Pattern) -> torch.Tensor:
    """Post-norm transformer block: h = norm(h + attn(h)); h = norm(h + mlp(h))."""
    h = rms_norm(h + attention(h, w.qkv, w.out, heads, rotary, mask), eps)
    return rms_norm(h + swiglu(h, w.gate_up, w.down), eps)


def level(blocks: list[BlockWeights], state: torch.Tensor, injection: torch.Tensor, heads: int, eps: float,
          rotary: RotaryEmbedding | None, mask: Pattern) -> torch.Tensor:
    """One L or H update: a stack of blocks whose input is its own state plus an injected signal (added)."""
    h = state + injection
    for w in blocks:
        h = block(h, w, heads, eps, rotary, mask)
    return h


# The modules own the parameters (and so the checkpoint's names); the functions above do the work.


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_heads = cfg.num_heads
        self.qkv_proj = lecun_linear(cfg.hidden_size, 3 * cfg.hidden_size)
        self.o_proj = lecun_linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor, rotary: RotaryEmbedding | None, mask: Pattern) -> torch.Tensor:
        return attention(x, self.qkv_proj.weight, self.o_proj.weight, self.num_heads, rotary, mask)


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_up_proj = lecun_linear(cfg.hidden_size, 2 * cfg.mlp_hidden)
        self.down_proj = lecun_linear(cfg.mlp_hidden, cfg.hidden_size)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.heads, self.eps = cfg.num_heads, cfg.rms_norm_eps
        self.attn = Attention(cfg)
        self.mlp = SwiGLU(cfg)

    def weights(self) -> BlockWeights:
        return BlockWeights(self.attn.qkv_proj.weight, self.attn.o_proj.weight, self.mlp.gate_up_proj.weight,
                            self.mlp.down_proj.weight)

    def forward(self, h: torch.Tensor, rotary: RotaryEmbedding | None, mask: Pattern) -> torch.Tensor:
        return block(h, self.weights(), self.heads, self.eps, rotary, mask)


class ReasoningModule(nn.Module):
    def __init__(self, cfg: ModelConfig, num_layers: int):
        super().__init__()
        self.heads, self.eps = cfg.num_heads, cfg.rms_norm_eps
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(num_layers))

    def weights(self) -> list[BlockWeights]:
        return [b.weights() for b in self.blocks]

    def forward(
        self, state: torch.Tensor, injection: torch.Tensor, rotary: RotaryEmbedding | None, mask: Pattern
    ) -> torch.Tensor:
        return level(self.weights(), state, injection, self.heads, self.eps, rotary, mask)


class GridPositions(nn.Module):
    """Learned positions that know the grid: prefix slots, then row + column (+ box) per cell."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.hidden_size
        rows, cols = cfg.grid_shape
        cell = torch.arange(rows * cols)
        index = [cell // cols, cell % cols]
        sizes = [rows, cols]
        if cfg.grid_box:
            box_rows, box_cols = cfg.grid_box
            index.append((index[0] // box_rows) * (cols // box_cols) + index[1] // box_cols)
            sizes.append((rows // box_rows) * (cols // box_cols))
        self.register_buffer("index", torch.stack(index, dim=-1), persistent=False)  # [cells, features]
        self.prefix = nn.Parameter(trunc_normal_(torch.empty(cfg.puzzle_emb_len, d), std=1.0 / math.sqrt(d)))
        self.tables = nn.ParameterList(nn.Parameter(trunc_normal_(torch.empty(n, d), std=1.0 / math.sqrt(d))) for n in sizes)

    def forward(self) -> torch.Tensor:
        cells = sum(table[self.index[:, k]] for k, table in enumerate(self.tables)) / math.sqrt(len(self.tables))
        return torch.cat((self.prefix, cells), dim=0)  # [total_len, hidden]


def relation_kinds(cfg: ModelConfig) -> tuple[torch.Tensor, int]:
    """The task's cell relation as [total_len, total_len] int64 kinds (0: no attention) and the
    number of kinds. The prefix sees and is seen by everything, as its own kind (the last one).

    window: kind 1 + the offset's index in the (2r+1)^2 square, for offsets within the distance.
    peers:  kind = same row (1) + same column (2) + same box (4); a cell and itself is 7.
    """
    rows, cols = cfg.grid_shape
    cell = torch.arange(rows * cols)
    r, c = cell // cols, cell % cols
    dr, dc = r[:, None] - r[None, :], c[:, None] - c[None, :]
    if cfg.relation == "window":
        radius = cfg.attention_radius
        distance = torch.maximum(dr.abs(), dc.abs()) if cfg.attention_distance == "chebyshev" else dr.abs() + dc.abs()
        offset = 1 + (dr + radius) * (2 * radius + 1) + (dc + radius)
        grid_kinds = torch.where(distance <= radius, offset, 0)
        num_kinds = (2 * radius + 1) ** 2 + 2
    else:
        box_rows, box_cols = cfg.grid_box
        box = (r // box_rows) * (cols // box_cols) + c // box_cols
        grid_kinds = (dr == 0).long() + 2 * (dc == 0).long() + 4 * (box[:, None] == box[None, :]).long()
        num_kinds = 9
    prefix_kind = num_kinds - 1
    kinds = torch.full((cfg.total_len, cfg.total_len), prefix_kind, dtype=torch.long)
    kinds[cfg.puzzle_emb_len :, cfg.puzzle_emb_len :] = grid_kinds
    return kinds, num_kinds


# Grids from this many cells up (15x15) run window attention in its shifted form.
WINDOW_FORM_MIN_CELLS = 225

# --------------------------------------------------------------------------------------------
# The HRM core: a pure step function over a carry
# --------------------------------------------------------------------------------------------


@dataclass
class Carry:
    """Latent state handed from one segment to the next ([batch, prefix + seq, hidden] each)."""

    z_H: torch.Tensor
    z_L: torch.Tensor


@dataclass
class SegmentOutput:
    carry: Carry  # detached
    logits: torch.Tensor  # [batch, seq, vocab] over the grid positions only
    q_halt: torch.Tensor  # [batch] fp32
    q_continue: torch.Tensor  # [batch] fp32


# One L or H update: (state, injection) -> new state.
Level = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def segment(L: Level, H: Level, z_H: torch.Tensor, z_L: torch.Tensor, x: torch.Tensor, cfg: ModelConfig,
            grad_calls: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The updates of one segment (the equations at the top): H_cycles times, L_cycles updates of z_L
    then one of z_H. Only the last `grad_calls` updates build a graph (when grad is enabled at all)."""
    first_grad_call = cfg.H_cycles * (cfg.L_cycles + 1) - grad_calls
    grad_wanted = torch.is_grad_enabled()
    call = 0
    for _ in range(cfg.H_cycles):
        for _ in range(cfg.L_cycles):
            with torch.set_grad_enabled(grad_wanted and call >= first_grad_call):
                z_L = L(z_L, z_H + x)
            call += 1
        with torch.set_grad_enabled(grad_wanted and call >= first_grad_call):
            z_H = H(z_H, z_L)
        call += 1
    return z_H, z_L


@dataclass
class InferenceWeights:
    """What the levels read in inference mode, prepared once (HRM.inference_weights)."""

    stamp: tuple  # each source parameter's (storage, version) when built
    L: list[BlockWeights]  # plain tensors in the compute dtype
    H: list[BlockWeights]
    pattern: Pattern  # dense scores as [1, heads, total_len, total_len] in the compute dtype


class HRM(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden_size
        self.embed_scale = math.sqrt(d)  # tokens enter at about unit variance

        self.embed_tokens = nn.Embedding(cfg.vocab_size, d)
        with torch.no_grad():
            trunc_normal_(self.embed_tokens.weight, std=1.0 / math.sqrt(d))
        # Zero-initialised per-puzzle vectors filling the prefix positions. Trained with sparse
        # sign-SGD (optim.py) because each step touches only the rows of its batch.
        self.puzzle_emb = nn.Parameter(torch.zeros(cfg.num_puzzle_identifiers, cfg.puzzle_emb_len * d))

        self.rotary = None
        if cfg.pos_encoding == "rope":
            self.rotary = RotaryEmbedding(cfg.head_dim, cfg.total_len, cfg.rope_theta)
        elif cfg.pos_encoding == "learned":
            self.embed_pos = nn.Parameter(trunc_normal_(torch.empty(cfg.total_len, d), std=1.0 / math.sqrt(d)))
        elif cfg.pos_encoding == "grid":
            self.grid_pos = GridPositions(cfg)

        # Relational attention: which positions may attend to which (a fixed mask), and with
        # relation_bias a learned score per head and kind of relation, shared by every layer.
        kinds, num_kinds = relation_kinds(cfg) if cfg.attention == "relations" else (None, 0)
        self.register_buffer("relation", kinds, persistent=False)
        self.register_buffer("attn_mask", None if kinds is None else kinds > 0, persistent=False)
        if cfg.relation_bias:
            self.relation_bias = nn.Parameter(torch.zeros(cfg.num_heads, num_kinds))
        # On large grids the window's shifted form is much faster than a dense [seq, seq] mask
        # (measured: docs/results.md); on small ones the fused dense kernel wins.
        self.windowed = cfg.attention == "relations" and cfg.relation == "window" and cfg.seq_len >= WINDOW_FORM_MIN_CELLS
        if self.windowed:
            p, (rows, cols), r = cfg.puzzle_emb_len, cfg.grid_shape, cfg.attention_radius
            self.offsets = [(dr, dc) for dr in range(-r, r + 1) for dc in range(-r, r + 1)]
            cell = torch.arange(rows * cols)
            kind = torch.zeros(rows * cols, len(self.offsets) + p, dtype=torch.long)
            for i, (dr, dc) in enumerate(self.offsets):
                rr, cc = cell // cols + dr, cell % cols + dc
                inside = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
                key = p + (rr.clamp(0, rows - 1) * cols + cc.clamp(0, cols - 1))
                kind[:, i] = torch.where(inside, kinds[p + cell, key], 0)
            kind[:, len(self.offsets) :] = kinds[p + cell][:, :p]
            self.register_buffer("window_kind", kind.view(rows, cols, -1), persistent=False)

        self.L_level = ReasoningModule(cfg, cfg.L_layers)
        # TRM: the same network updates both latents (z_H plays the role of the answer y).
        self.H_level = self.L_level if cfg.architecture == "trm" else ReasoningModule(cfg, cfg.H_layers)

        self.lm_head = lecun_linear(d, cfg.vocab_size)
        self.q_head = nn.Linear(d, 2, bias=True)
        with torch.no_grad():
            # Q(halt) starts near sigmoid(-5) = 0.007, so an untrained model never halts early.
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)

        # Fixed (untrained) initial states, broadcast over batch and positions.
        self.register_buffer("H_init", trunc_normal_(torch.empty(d), std=1.0))
        self.register_buffer("L_init", trunc_normal_(torch.empty(d), std=1.0))
        self._inference: dict[torch.dtype, InferenceWeights] = {}  # by compute dtype
        self._inference_level: Callable[..., torch.Tensor] = level  # torch.compile'd by compile_inference

    def compile_inference(self) -> None:
        """Run inference mode's level updates through torch.compile, which fuses the elementwise work
        around the matmuls (norms, softmax, casts, SwiGLU): 1.25-2x the batched segments a
        second on a CPU (eval/bench_inference.py), after a compile of tens of seconds on first use.
        The batch dimension is dynamic, because a batch shrinks as its puzzles stop; every other
        size stays fixed, which gives faster kernels than dynamic=True. A batch of one runs
        uncompiled: torch.compile would specialise it (a second compile) for little gain.
        Training is unaffected (train.py compiles the stacks itself)."""
        compiled = torch.compile(level)

        def run(blocks: list[BlockWeights], state: torch.Tensor, injection: torch.Tensor, *rest) -> torch.Tensor:
            if state.shape[0] == 1:
                return level(blocks, state, injection, *rest)
            torch._dynamo.mark_dynamic(state, 0)
            torch._dynamo.mark_dynamic(injection, 0)
            return compiled(blocks, state, injection, *rest)

        self._inference_level = run

    # -- carry ---------------------------------------------------------------------------------

    def initial_carry(self, batch_size: int, device: torch.device | str | None = None) -> Carry:
        device = device if device is not None else self.H_init.device
        shape = (batch_size, self.cfg.total_len, self.cfg.hidden_size)
        return Carry(self.H_init.to(device).expand(shape).clone(), self.L_init.to(device).expand(shape).clone())

    def reset_carry(self, carry: Carry, reset: torch.Tensor) -> Carry:
        """Return the carry with rows where `reset` is True put back to the initial states."""
        mask = reset.view(-1, 1, 1)
        return Carry(torch.where(mask, self.H_init, carry.z_H), torch.where(mask, self.L_init, carry.z_L))

    # -- one segment ---------------------------------------------------------------------------

    def embed_input(self, inputs: torch.Tensor, puzzle_ids: torch.Tensor) -> torch.Tensor:
        batch = inputs.shape[0]
        tokens = self.embed_tokens(inputs)
        prefix = F.embedding(puzzle_ids, self.puzzle_emb, sparse=True)
        x = torch.cat((prefix.view(batch, self.cfg.puzzle_emb_len, -1), tokens), dim=1)
        if self.cfg.pos_encoding == "learned":
            x = 0.7071067811865476 * (x + self.embed_pos)  # keeps the sum at unit variance
        elif self.cfg.pos_encoding == "grid":
            x = 0.7071067811865476 * (x + self.grid_pos())
        return self.embed_scale * x

    def attention_mask(self) -> Pattern:
        """What attention gets: None (global), the boolean relation mask, or with relation_bias the
        learned scores per head, -inf where there is no relation ([heads, total_len, total_len]);
        in window form (WindowRelation) on large grids."""
        if self.windowed:
            cfg = self.cfg
            outside = self.window_kind == 0
            if cfg.relation_bias:
                bias = self.relation_bias[:, self.window_kind].float().masked_fill(outside, float("-inf"))
                prefix_bias = self.relation_bias[:, self.relation[: cfg.puzzle_emb_len]]
            else:
                bias, prefix_bias = torch.zeros(outside.shape, device=outside.device).masked_fill(outside, float("-inf"))[None], None
            return WindowRelation(cfg.puzzle_emb_len, cfg.grid_shape, cfg.attention_radius, self.offsets, bias, prefix_bias)
        if not self.cfg.relation_bias:
            return self.attn_mask
        scores = self.relation_bias[:, self.relation]
        return scores.masked_fill(~self.attn_mask, float("-inf"))

    def _num_grad_calls(self) -> int:
        """How many of the segment's final module calls build a graph."""
        calls_per_cycle = self.cfg.L_cycles + 1
        return {
            "one_step": 2,  # last L and last H update (HRM's 1-step approximation)
            "last_cycle": calls_per_cycle,  # TRM: one full recursion
            "full_segment": self.cfg.H_cycles * calls_per_cycle,  # BPTT within the segment
        }[self.cfg.gradient]

    def inference_weights(self, device: torch.device) -> InferenceWeights:
        """The levels' weights and attention pattern for inference mode, built once and kept while the
        compute dtype (autocast's, else the parameters') and the parameters stay the same. Autocast
        does not keep its casts in inference mode, so without this every block call cast its four
        matrices again; and given a 3-D mask SDPA leaves its fused kernel for the math one, which
        upcasts bf16 to fp32 (eval/bench_segment.py measures both)."""
        autocast = torch.is_autocast_enabled(device.type)
        dtype = torch.get_autocast_dtype(device.type) if autocast else self.lm_head.weight.dtype
        L, H = self.L_level.weights(), self.H_level.weights()
        sources = [t for w in L + H for t in w] + ([self.relation_bias] if self.cfg.relation_bias else [])
        stamp = tuple((t.data_ptr(), t._version) for t in sources)  # in-place writes bump _version
        kept = self._inference.get(dtype)
        if kept is None or kept.stamp != stamp:
            pattern = self.attention_mask()
            if isinstance(pattern, torch.Tensor) and pattern.dtype != torch.bool:
                pattern = pattern.to(dtype)[None]

            def cast(blocks: list[BlockWeights]) -> list[BlockWeights]:
                return [BlockWeights(*(t.detach().to(dtype) for t in w)) for w in blocks]

            kept = self._inference[dtype] = InferenceWeights(stamp, cast(L), cast(H), pattern)
        return kept

    def levels(self, device: torch.device) -> tuple[Level, Level]:
        """The L and H updates for one segment. In inference mode the block functions run on the
        weights prepared once (inference_weights); otherwise the modules run on their parameters with
        a fresh pattern, so gradients reach every weight and the relation bias."""
        rotary, heads, eps = self.rotary, self.cfg.num_heads, self.cfg.rms_norm_eps
        if torch.is_inference_mode_enabled():
            w, run = self.inference_weights(device), self._inference_level
            return (lambda z, inject: run(w.L, z, inject, heads, eps, rotary, w.pattern),
                    lambda z, inject: run(w.H, z, inject, heads, eps, rotary, w.pattern))
        mask = self.attention_mask()
        return (lambda z, inject: self.L_level(z, inject, rotary, mask),
                lambda z, inject: self.H_level(z, inject, rotary, mask))

    def forward(self, carry: Carry, inputs: torch.Tensor, puzzle_ids: torch.Tensor) -> SegmentOutput:
        """Run one segment. `inputs` [batch, seq] token ids; `puzzle_ids` [batch]."""
        x = self.embed_input(inputs, puzzle_ids)
        L, H = self.levels(x.device)
        z_H, z_L = segment(L, H, carry.z_H, carry.z_L, x, self.cfg, self._num_grad_calls())
        logits = self.lm_head(z_H[:, self.cfg.puzzle_emb_len :])
        q = self.q_head(z_H[:, 0]).float()
        return SegmentOutput(Carry(z_H.detach(), z_L.detach()), logits, q[:, 0], q[:, 1])


def count_parameters(model: nn.Module, include_puzzle_emb: bool = False) -> int:
    """Trainable parameters; the per-puzzle table is excluded by default, as in the papers' counts."""
    return sum(p.numel() for name, p in model.named_parameters() if include_puzzle_emb or name != "puzzle_emb")
