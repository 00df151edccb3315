"""Typed configuration for the model and for training.

Everything the paper or its follow-ups ablate is a switch here, not a copy of the model file:
  architecture   hrm (separate H and L networks) | trm (one shared network)
  gradient       one_step (HRM) | last_cycle (TRM) | full_segment (BPTT inside a segment)
  pos_encoding   rope | learned | grid | none
  attention      global | relations (the task's cell relation: a maze's grid window, a sudoku's
                 row/column/box peers), with or without a learned bias per kind of relation
  loss           stablemax | softmax
  optimizer      adam_atan2 | adamw
Defaults describe a CPU-sized model; `PRESETS` holds named configurations, including the paper's.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GridSizeError(ValueError):
    """A model with absolute positions was asked to run on a grid of another size."""


class ModelConfig(BaseModel):
    """Shape and behaviour of one HRM. `vocab_size`/`seq_len` come from the task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocab_size: int = Field(gt=1)
    seq_len: int = Field(gt=0)
    # Rows of the per-puzzle embedding table. Sudoku/Maze use 1 (a single learned prefix token);
    # ARC gives each augmented puzzle its own row.
    num_puzzle_identifiers: int = Field(default=1, ge=1)
    # Prefix positions the puzzle embedding occupies; position 0 is also where the Q-head reads.
    puzzle_emb_len: int = Field(default=1, ge=1)

    hidden_size: int = Field(default=128, gt=0)
    num_heads: int = Field(default=4, gt=0)
    expansion: float = Field(default=4.0, gt=0)
    # SwiGLU width is round(expansion * hidden * 2/3) rounded up to this multiple (256 in the
    # reference; at hidden 128 that inflates 341 -> 512, so small models use a smaller multiple).
    mlp_multiple_of: int = Field(default=64, ge=1)

    H_layers: int = Field(default=2, ge=1)
    L_layers: int = Field(default=2, ge=1)
    H_cycles: int = Field(default=2, ge=1)  # N: high-level updates per segment
    L_cycles: int = Field(default=2, ge=1)  # T: low-level updates per high-level update

    architecture: Literal["hrm", "trm"] = "hrm"
    gradient: Literal["one_step", "last_cycle", "full_segment"] = "one_step"
    pos_encoding: Literal["rope", "learned", "grid", "none"] = "learned"
    rope_theta: float = 10000.0
    # For pos_encoding "grid": the sequence is a rows x cols grid; every cell's position is the
    # sum of learned row, column and (with grid_box) box embeddings, so cells that share a row,
    # column or box share a component from the first step. Tasks fill these in.
    grid_shape: tuple[int, int] | None = None
    grid_box: tuple[int, int] | None = None
    # Relational attention: a grid cell attends only to the cells the task relates to it, plus
    # the puzzle prefix, which sees and is seen by everything. The task names its relation:
    #   "window"  cells within attention_radius (distance "chebyshev": the (2r+1)^2 square;
    #             "manhattan": the diamond, radius 1 = the four steps a maze path may take). Every
    #             layer moves information one step across the grid, like a recurrent convolution.
    #   "peers"   cells that share a row, column or grid_box (sudoku's constraints): every layer
    #             passes messages along the rules, as recurrent relational networks do.
    # relation_bias adds a learned score per head for each kind of relation (each offset in the
    # window; row / column / box for peers). It is relative position information that does not
    # depend on the grid's size, so with pos_encoding "none" one model runs on any grid size.
    attention: Literal["global", "relations"] = "global"
    relation: Literal["window", "peers"] = "window"
    attention_radius: int = Field(default=1, ge=1)
    attention_distance: Literal["chebyshev", "manhattan"] = "chebyshev"
    relation_bias: bool = False
    rms_norm_eps: float = 1e-5

    # Adaptive computation time.
    halt_max_steps: int = Field(default=8, ge=1)  # M_max segments
    halt_exploration_prob: float = Field(default=0.1, ge=0, le=1)
    # The paper's Q-learning "continue" target needs a second forward pass per step; TRM drops it
    # and halts on sign(q_halt) alone.
    act_continue_loss: bool = True

    loss: Literal["stablemax", "softmax"] = "stablemax"

    @model_validator(mode="before")
    @classmethod
    def _read_legacy_radius(cls, data: Any) -> Any:
        # Cards written before `attention` existed said "attention_radius: R" for window attention
        # and "attention_radius: null" for global attention.
        if isinstance(data, dict) and "attention_radius" in data and data["attention_radius"] is None:
            data = {k: v for k, v in data.items() if k != "attention_radius"}
            data.setdefault("attention", "global")
        elif isinstance(data, dict) and "attention_radius" in data and "attention" not in data:
            data = {**data, "attention": "relations", "relation": "window"}
        return data

    @model_validator(mode="after")
    def _check(self) -> "ModelConfig":
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.pos_encoding == "rope" and self.head_dim % 2:
            raise ValueError("rotary positions need an even head dimension")
        if self.pos_encoding == "grid":
            if self.grid_shape is None or self.grid_shape[0] * self.grid_shape[1] != self.seq_len:
                raise ValueError(f"pos_encoding 'grid' needs grid_shape with rows * cols = seq_len ({self.seq_len})")
            if self.grid_box and (self.grid_shape[0] % self.grid_box[0] or self.grid_shape[1] % self.grid_box[1]):
                raise ValueError(f"grid_box {self.grid_box} does not tile grid_shape {self.grid_shape}")
        if self.attention == "relations" and self.grid_shape is None:
            raise ValueError("attention 'relations' needs grid_shape (the task's grid geometry)")
        if self.attention == "relations" and self.relation == "peers" and self.grid_box is None:
            raise ValueError("relation 'peers' needs grid_box (the task's box shape)")
        if self.relation_bias and self.attention != "relations":
            raise ValueError("relation_bias needs attention 'relations'")
        if self.architecture == "trm" and self.H_layers != self.L_layers:
            raise ValueError("architecture 'trm' shares one network: set H_layers == L_layers")
        return self

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        width = round(self.expansion * self.hidden_size * 2 / 3)
        return self.mlp_multiple_of * math.ceil(width / self.mlp_multiple_of)

    @property
    def size_free(self) -> bool:
        """No parameter or buffer depends on the grid's size: no absolute positions (relative
        information only, e.g. relation_bias), so the same weights run on any grid size."""
        return self.pos_encoding == "none" and self.num_puzzle_identifiers == 1

    def on_grid(self, grid_shape: tuple[int, int]) -> "ModelConfig":
        """This model on a grid of another size (only for `size_free` models). M_max grows with the
        side: information crosses the grid a few cells per segment, so a path twice as long needs
        about twice the segments."""
        if tuple(grid_shape) == tuple(self.grid_shape or ()):
            return self
        if not self.size_free:
            raise GridSizeError(f"this model was built for a {self.grid_shape} grid and has absolute positions "
                             f"({self.pos_encoding!r}); only a model with pos_encoding 'none' runs on other sizes")
        rows, cols = grid_shape
        segments = max(self.halt_max_steps, math.ceil(self.halt_max_steps * max(rows, cols) / max(self.grid_shape)))
        return self.model_copy(update={"grid_shape": (rows, cols), "seq_len": rows * cols, "halt_max_steps": segments})

    @property
    def total_len(self) -> int:
        """Sequence length inside the model: the puzzle prefix plus the grid."""
        return self.puzzle_emb_len + self.seq_len


class TrainConfig(BaseModel):
    """Optimisation and bookkeeping. One optimizer step = one segment of the batch (deep supervision)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    batch_size: int = Field(default=64, gt=0)  # the global batch: split over the processes of a multi-process run
    steps: int = Field(default=2000, gt=0)

    optimizer: Literal["adam_atan2", "adamw"] = "adam_atan2"
    lr: float = Field(default=1e-3, gt=0)
    lr_warmup_steps: int = Field(default=100, ge=0)
    # "wsd" holds the rate constant and decays it only over the last `lr_decay_steps`: the stable
    # part is the constant run's, so a constant run can be resumed into its decay (--resume).
    lr_schedule: Literal["constant", "cosine", "wsd"] = "constant"
    lr_min_ratio: float = Field(default=1.0, ge=0, le=1)
    lr_decay_steps: int = Field(default=0, ge=0)
    beta1: float = 0.9
    beta2: float = 0.95
    weight_decay: float = Field(default=0.1, ge=0)
    puzzle_emb_lr: float = Field(default=1e-3, ge=0)
    puzzle_emb_weight_decay: float = Field(default=0.1, ge=0)
    # Training's segment limit grows linearly from 1 to M_max over this many steps (0: M_max from
    # the start). Every segment costs a forward pass, and while the model knows nothing the later
    # segments teach little: on two CPU cores the ramp buys many more distinct puzzles early on.
    segment_ramp_steps: int = Field(default=0, ge=0)
    # Exponential moving average of the weights (TRM: 0.999); evaluation and export use it.
    ema_decay: float | None = Field(default=None, gt=0, lt=1)

    # bf16 autocast is 2-3x faster than fp32 on CPUs with AVX512-BF16 or AMX and on recent GPUs, and
    # 4-20x slower on CPUs without them (emulated: measured on an AVX2-only CPU). "auto" picks bf16
    # where the device computes it natively, at every start, so a run resumed on another machine
    # adapts.
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    compile: bool = False

    eval_every: int = Field(default=250, gt=0)
    eval_size: int = Field(default=256, gt=0)
    checkpoint_every: int = Field(default=250, gt=0)

    @model_validator(mode="after")
    def _decay_is_given(self) -> TrainConfig:
        if self.lr_schedule == "wsd" and self.lr_decay_steps == 0:
            raise ValueError("lr_schedule 'wsd' decays over the last lr_decay_steps steps: give lr_decay_steps > 0")
        return self


# Named model shapes: plain field values on top of ModelConfig's defaults.
PRESETS: dict[str, dict] = {
    # The HRM paper's configuration (27,275,266 parameters for Sudoku; GPU-sized).
    "paper-27m": dict(
        hidden_size=512, num_heads=8, expansion=4, mlp_multiple_of=256, H_layers=4, L_layers=4,
        H_cycles=2, L_cycles=2, pos_encoding="rope", halt_max_steps=16, loss="stablemax",
    ),
    # TRM-Att (Jolicoeur-Martineau 2025): one 2-layer network, T=3, n=6, last-cycle gradient.
    "trm-paper": dict(
        hidden_size=512, num_heads=8, expansion=4, mlp_multiple_of=256, puzzle_emb_len=16,
        H_layers=2, L_layers=2, H_cycles=3, L_cycles=6, architecture="trm", gradient="last_cycle",
        pos_encoding="rope", halt_max_steps=16, act_continue_loss=False, loss="stablemax",
    ),
    # About 0.9M parameters: 9x9 Sudoku on two CPU cores. Grid-aware positions and softmax
    # learned much faster than 1-D positions / stablemax here (docs/results.md).
    "cpu-small": dict(pos_encoding="grid", loss="softmax"),
    # Tens of thousands of parameters: 4x4 Sudoku in seconds, used by the tests.
    "cpu-tiny": dict(
        hidden_size=32, num_heads=2, expansion=2, mlp_multiple_of=16, H_layers=1, L_layers=1,
        H_cycles=2, L_cycles=2, halt_max_steps=4, pos_encoding="grid", loss="softmax",
    ),
}


# The presets sized for two CPU cores, on which a task's `cpu_model_hints` apply.
CPU_PRESETS = frozenset({"cpu-small", "cpu-tiny"})


def preset_config(name: str, vocab_size: int, seq_len: int, num_puzzle_identifiers: int = 1, **overrides) -> ModelConfig:
    """A preset for a task's vocabulary and length, with `overrides` (e.g. the task's grid geometry).

    Grid positions need the grid's shape; without it the preset falls back to learned positions.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(sorted(PRESETS))}")
    values = {**PRESETS[name], **overrides}
    if values.get("pos_encoding") == "grid" and values.get("grid_shape") is None:
        values["pos_encoding"] = "learned"
    return ModelConfig(vocab_size=vocab_size, seq_len=seq_len, num_puzzle_identifiers=num_puzzle_identifiers, **values)


def paper_27m(vocab_size: int, seq_len: int, num_puzzle_identifiers: int = 1, **overrides) -> ModelConfig:
    return preset_config("paper-27m", vocab_size, seq_len, num_puzzle_identifiers, **overrides)


def cpu_tiny(vocab_size: int, seq_len: int, num_puzzle_identifiers: int = 1, **overrides) -> ModelConfig:
    return preset_config("cpu-tiny", vocab_size, seq_len, num_puzzle_identifiers, **overrides)
