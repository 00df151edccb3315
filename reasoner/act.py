"""Adaptive computation time around the HRM step function.

Training keeps a persistent batch of puzzles: every optimizer step runs ONE segment on every row.
A row stays until it halts (Q-head says halt, or M_max segments), then its slot takes a fresh
puzzle and its carry is reset. Evaluation runs a fixed number of segments for every row and
records where the Q-head would have halted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .commit import Commit, commit_surest
from .losses import log_stablemax, q_continue_target
from .model import HRM, Carry, SegmentOutput


@dataclass
class Batch:
    inputs: torch.Tensor  # [batch, seq] token ids
    labels: torch.Tensor  # [batch, seq] token ids, IGNORE_LABEL where not supervised
    puzzle_ids: torch.Tensor  # [batch]

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.inputs.to(device), self.labels.to(device), self.puzzle_ids.to(device))


@dataclass
class ACTState:
    """What persists across optimizer steps during training."""

    carry: Carry
    batch: Batch  # the puzzle each row is currently working on
    steps: torch.Tensor  # [batch] segments already spent on that puzzle
    halted: torch.Tensor  # [batch] True: the slot needs a new puzzle before the next step

    @classmethod
    def empty(cls, model: HRM, batch: Batch) -> "ACTState":
        n = batch.inputs.shape[0]
        device = batch.inputs.device
        return cls(
            carry=model.initial_carry(n, device),
            batch=batch,
            steps=torch.zeros(n, dtype=torch.long, device=device),
            halted=torch.ones(n, dtype=torch.bool, device=device),  # every slot starts empty
        )

    def refill(self, model: HRM, fresh: Batch) -> "ACTState":
        """Put `fresh` puzzles (one per halted row, in order) into the halted slots."""
        slots = self.halted.nonzero().squeeze(-1)
        if slots.numel() != fresh.inputs.shape[0]:
            raise ValueError(f"{slots.numel()} halted slots but {fresh.inputs.shape[0]} fresh puzzles")
        batch = Batch(self.batch.inputs.clone(), self.batch.labels.clone(), self.batch.puzzle_ids.clone())
        batch.inputs[slots], batch.labels[slots], batch.puzzle_ids[slots] = fresh.inputs, fresh.labels, fresh.puzzle_ids
        return ACTState(
            carry=model.reset_carry(self.carry, self.halted),
            batch=batch,
            steps=torch.where(self.halted, 0, self.steps),
            halted=torch.zeros_like(self.halted),
        )


@dataclass
class TrainSegment:
    out: SegmentOutput
    state: ACTState  # state for the next optimizer step (halted rows marked)
    target_q_continue: torch.Tensor | None


def wants_halt(model: HRM, q_halt: torch.Tensor, q_continue: torch.Tensor) -> torch.Tensor:
    """The Q-head's decision: halt when Q(halt) beats Q(continue), or (no continue head) Q(halt) > 0."""
    return q_halt > (q_continue if model.cfg.act_continue_loss else 0)


def act_train_segment(
    model: HRM,
    state: ACTState,
    generator: torch.Generator | None = None,
    forward: torch.nn.Module | None = None,
    max_steps: int | None = None,
    global_rows: tuple[slice, int] | None = None,
) -> TrainSegment:
    """One training segment with halting decisions and the Q-learning target.

    `state` must have no halted rows (call `refill` first). `forward` is the module to call when
    it differs from `model` (a compiled wrapper of it). `max_steps` lowers the segment limit below
    the config's M_max (a training ramp). `global_rows` (rows, global batch size): `state` holds
    these rows of a batch split over processes; exploration is drawn for the whole batch and these
    rows kept, so the split does not change which rows explore.
    """
    cfg = model.cfg
    forward = model if forward is None else forward
    max_steps = min(max_steps or cfg.halt_max_steps, cfg.halt_max_steps)
    out = forward(state.carry, state.batch.inputs, state.batch.puzzle_ids)
    steps = state.steps + 1
    is_last_step = steps >= max_steps
    halted = is_last_step.clone()

    target = None
    with torch.no_grad():
        if max_steps > 1:
            halted |= wants_halt(model, out.q_halt, out.q_continue)
            # Exploration: some rows must run a random minimum number of segments first, so the
            # Q-head also sees what happens after segments it would have halted at.
            device = steps.device
            rows, total = global_rows or (slice(None), steps.shape[0])
            explore = (torch.rand(total, generator=generator, device=device) < cfg.halt_exploration_prob)[rows]
            min_steps = torch.randint(2, max_steps + 1, (total,), generator=generator, device=device)[rows]
            halted &= steps >= torch.where(explore, min_steps, 0)

            if cfg.act_continue_loss:
                # Bootstrapped target from a second pass of the next segment (no replay buffer or
                # target network, as in the paper).
                nxt = forward(out.carry, state.batch.inputs, state.batch.puzzle_ids)
                target = q_continue_target(nxt.q_halt, nxt.q_continue, is_last_step)

    new_state = ACTState(carry=out.carry, batch=state.batch, steps=steps, halted=halted)
    return TrainSegment(out=out, state=new_state, target_q_continue=target)


@dataclass
class SegmentTrace:
    """Everything an evaluation or inference run over a fixed number of segments produces."""

    probs: list[torch.Tensor]  # per segment: [batch, seq, vocab] fp32 probabilities
    q_halt: torch.Tensor  # [segments, batch] logits
    halt: torch.Tensor  # [segments, batch] bool: the Q-head would halt after this segment
    carries: list[Carry] | None = None  # per segment, when requested (analysis)

    @property
    def halt_step(self) -> torch.Tensor:
        """1-based segment at which ACT would halt each row (the last segment if never)."""
        halt = self.halt.clone()
        halt[-1] = True
        return halt.float().argmax(0) + 1


@torch.inference_mode()  # the inference path: weights prepared once (HRM.inference_weights)
def run_segments(
    model: HRM, inputs: torch.Tensor, puzzle_ids: torch.Tensor, segments: int, keep_carries: bool = False,
    commit: Commit | None = None,
) -> SegmentTrace:
    """Run `segments` segments from the initial state, without halting (the batch stays aligned);
    with `commit`, committed decoding (reasoner/commit.py) rewrites the inputs as it goes."""
    carry = model.initial_carry(inputs.shape[0], inputs.device)
    probs, q_halt, halt, carries = [], [], [], []
    for segment in range(1, segments + 1):
        out = model(carry, inputs, puzzle_ids)
        carry = out.carry
        probs.append(answer_probabilities(out.logits, model.cfg.loss))
        if commit is not None and commit.due(segment):
            inputs = commit_surest(inputs, probs[-1], out.q_halt, commit)
        q_halt.append(out.q_halt)
        halt.append(wants_halt(model, out.q_halt, out.q_continue))
        if keep_carries:
            carries.append(carry)
    return SegmentTrace(probs, torch.stack(q_halt), torch.stack(halt), carries if keep_carries else None)


def answer_probabilities(logits: torch.Tensor, loss_kind: str) -> torch.Tensor:
    """Per-token probabilities under the normalisation the model was trained with."""
    if loss_kind == "stablemax":
        return log_stablemax(logits).exp().float()
    return logits.float().softmax(-1)
