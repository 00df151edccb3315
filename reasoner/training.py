"""What a training run is made of: its state, saved and restored in one place, and the step that
advances it. `python -m reasoner.train` (reasoner/train.py) puts these together.

A run directory holds `data.npz` (the exact training and validation puzzles, written once) and
`train_state.pt` (everything else, written at every checkpoint): `RunData` and `RunState` each
write and read their file side by side, so the two directions cannot drift apart.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .act import ACTState, Batch, act_train_segment
from .checkpoint import CheckpointCard, load_train_state, save_checkpoint, save_train_state
from .config import ModelConfig, TrainConfig
from .distributed import Processes
from .evaluate import autocast, tally
from .losses import act_loss
from .model import HRM
from .optim import EMA, AdamATan2, SignSGD, lr_factor
from .tasks import Examples, Task, make_task

STATE_FILE = "train_state.pt"
DATA_FILE = "data.npz"
LOG_FILE = "log.jsonl"


class WeightsDoNotFit(ValueError):
    """Weights to start a run from have other shapes than the configured model's."""


@dataclass
class RunData:
    """The puzzles of a run, fixed when it starts."""

    train: Examples
    val: Examples

    def save(self, path: Path) -> None:
        np.savez(path, train_inputs=self.train.inputs, train_labels=self.train.labels,
                 train_puzzle_ids=self.train.puzzle_ids, val_inputs=self.val.inputs, val_labels=self.val.labels,
                 val_puzzle_ids=self.val.puzzle_ids)

    @classmethod
    def load(cls, path: Path) -> "RunData":
        with np.load(path, allow_pickle=False) as arrays:
            return cls(Examples(arrays["train_inputs"], arrays["train_labels"], arrays["train_puzzle_ids"]),
                       Examples(arrays["val_inputs"], arrays["val_labels"], arrays["val_puzzle_ids"]))


@dataclass
class RunSpec:
    """What a run is (the "meta" JSON of train_state.pt, and most of a checkpoint's card)."""

    task: Task
    model: ModelConfig
    train: TrainConfig
    data: dict[str, Any]  # sources, puzzle counts, augmentation, and where --init-from weights came from
    commands: list[str]  # every command that worked on the run: the first made it, the others resumed it

    def to_json(self) -> str:
        return json.dumps({"task": self.task.spec(), "model": self.model.model_dump(), "train": self.train.model_dump(),
                           "data": self.data, "commands": self.commands})

    @classmethod
    def from_json(cls, text: str) -> "RunSpec":
        meta = json.loads(text)
        return cls(make_task(**meta["task"]), ModelConfig.model_validate(meta["model"]),
                   TrainConfig.model_validate(meta["train"]), meta["data"], meta.get("commands", []))


class Sampler:
    """Draws training puzzles: random rows of the pool, freshly augmented each time."""

    def __init__(self, task: Task, pool: Examples, rng: np.random.Generator, augment: bool):
        self.task, self.pool, self.rng, self.augment = task, pool, rng, augment

    def draw(self, count: int, keep: slice = slice(None)) -> Batch:
        """`count` fresh puzzles, of which the rows `keep` are returned. Processes that share the
        random state draw for all of them alike and each keeps its own rows: the stream of puzzles
        is the same for any number of processes."""
        part = self.pool.take(self.rng.integers(0, len(self.pool), count))
        if self.augment:
            part = self.task.augment(part, self.rng)
        part = part.take(keep)
        return Batch(torch.from_numpy(part.inputs), torch.from_numpy(part.labels), torch.from_numpy(part.puzzle_ids))


def make_optimizers(model: HRM, cfg: TrainConfig) -> tuple[torch.optim.Optimizer, SignSGD]:
    dense = [p for name, p in model.named_parameters() if name != "puzzle_emb"]
    if cfg.optimizer == "adam_atan2":
        main = AdamATan2(dense, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    else:
        main = torch.optim.AdamW(dense, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    sparse = SignSGD([model.puzzle_emb], lr=cfg.puzzle_emb_lr, weight_decay=cfg.puzzle_emb_weight_decay)
    return main, sparse


def amp_dtype(cfg: TrainConfig, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype of `cfg.precision` on `device` (None: fp32)."""
    from .inference import uses_bf16

    return torch.bfloat16 if uses_bf16(str(device), cfg.precision) else None


def train_step(model: HRM, act: ACTState, optimizers: list[torch.optim.Optimizer], batch_size: int, *,
               generator: torch.Generator | None = None, max_segments: int | None = None,
               procs: Processes = Processes(), ema: EMA | None = None,
               autocast_dtype: torch.dtype | None = None) -> tuple[ACTState, torch.Tensor, dict[str, torch.Tensor]]:
    """One optimizer step: one segment on every slot of `act` (none halted: refill them first),
    the loss, its gradient combined over the processes, every optimizer's step and the EMA update.
    `batch_size` is the global batch (this process holds its share of it, procs.share). Returns the
    slots' next state (the halted ones marked), the loss summed over this process's rows and its parts."""
    device = act.steps.device
    with autocast(device, autocast_dtype):
        seg = act_train_segment(model, act, generator, max_steps=max_segments,
                                global_rows=(procs.share(batch_size), batch_size))
        loss, parts = act_loss(seg.out.logits, act.batch.labels, seg.out.q_halt, seg.out.q_continue,
                               seg.target_q_continue, model.cfg.loss)
    # This process's share of the loss over the global batch; the gradients are summed over processes.
    (loss / batch_size).backward()
    procs.sync_gradients(model)
    for opt in optimizers:
        opt.step()
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    if ema is not None:
        ema.update(model)
    return seg.state, loss, parts


@dataclass
class RunState:
    """Everything `train_state.pt` saves and `--resume` restores: with the run's data, the run
    continues exactly as if it had never stopped. Every process holds one; it is the same in all of
    them but for `act` (each its own slots) and `cpu_seconds`."""

    spec: RunSpec
    model: HRM
    main_opt: torch.optim.Optimizer
    sparse_opt: SignSGD
    ema: EMA | None
    sampler: Sampler  # the training pool and the random stream that draws from it
    act_gen: torch.Generator  # ACT exploration
    act: ACTState  # this process's slots: puzzles, segments spent, carries
    step: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's; the main process's includes the earlier sittings'
    run_cpu_seconds: float = 0.0  # summed over the processes at the last count_cpu: what is recorded
    best: dict[str, Any] | None = None  # validation metrics at the best step so far, with that step

    @classmethod
    def start(cls, spec: RunSpec, pool: Examples, device: torch.device, procs: Processes,
              weights: dict[str, torch.Tensor] | None = None) -> "RunState":
        """A new run: the model initialised from the seed (or with `weights`, checked to fit),
        fresh optimizers, EMA and random streams, and a fresh puzzle in every slot."""
        cfg = spec.train
        torch.manual_seed(cfg.seed)
        model = HRM(spec.model).to(device)
        if weights is not None:
            try:
                model.load_state_dict(weights)  # before the EMA copies the weights
            except RuntimeError as err:  # a --model override changed a shape
                raise WeightsDoNotFit(f"its weights do not fit the configured model (change only fields that keep "
                                 f"the shapes, e.g. halt_max_steps):\n{err}") from None
        procs.broadcast_weights(model)
        main_opt, sparse_opt = make_optimizers(model, cfg)
        ema = EMA(model, cfg.ema_decay) if cfg.ema_decay else None
        # The same random streams in every process: each draws for the global batch and keeps its rows.
        sampler = Sampler(spec.task, pool, np.random.default_rng(cfg.seed + 17), augment=spec.data["augment"])
        act_gen = torch.Generator(device=device).manual_seed(cfg.seed)
        act = ACTState.empty(model, sampler.draw(cfg.batch_size, procs.share(cfg.batch_size)).to(device))
        return cls(spec, model, main_opt, sparse_opt, ema, sampler, act_gen, act)

    def save(self, path: Path, procs: Processes) -> None:
        """Write the state (every process calls this; the main process writes)."""
        # Every process's ACT slots, gathered into the global batch; the rest is the same everywhere.
        act = {"inputs": self.act.batch.inputs, "labels": self.act.batch.labels, "puzzle_ids": self.act.batch.puzzle_ids,
               "steps": self.act.steps, "halted": self.act.halted, "z_H": self.act.carry.z_H, "z_L": self.act.carry.z_L}
        act = {key: procs.gather_rows(value).cpu() for key, value in act.items()}
        if not procs.is_main:
            return
        save_train_state(path, {
            "meta": self.spec.to_json(), "model": self.model.state_dict(), "main_opt": self.main_opt.state_dict(),
            "sparse_opt": self.sparse_opt.state_dict(), "ema": self.ema.state_dict() if self.ema else {},
            "step": self.step, "cpu_seconds": self.run_cpu_seconds, "wall_seconds": self.wall_seconds,
            "best": json.dumps(self.best), "sample_rng": json.dumps(self.sampler.rng.bit_generator.state),
            "act_gen": self.act_gen.get_state(), "torch_rng": torch.get_rng_state(), "act": act,
        })

    @classmethod
    def load(cls, path: Path, pool: Examples, device: torch.device, procs: Processes) -> "RunState":
        """The state `save` wrote, for this process (any number of processes that divides the batch).
        It is built as a new run would be, then every saved part is put over it. CheckpointError if
        the file is unreadable."""
        saved = load_train_state(path)
        state = cls.start(RunSpec.from_json(saved["meta"]), pool, device, procs)
        state.model.load_state_dict(saved["model"])
        state.main_opt.load_state_dict(saved["main_opt"])
        state.sparse_opt.load_state_dict(saved["sparse_opt"])
        if state.ema is not None:
            state.ema.load_state_dict(saved["ema"])
        state.step, state.wall_seconds = int(saved["step"]), float(saved["wall_seconds"])
        # The run's CPU time is the sum over processes: the main process carries what came before.
        state.run_cpu_seconds = float(saved["cpu_seconds"])
        state.cpu_seconds = state.run_cpu_seconds if procs.is_main else 0.0
        state.best = json.loads(saved["best"])
        state.sampler.rng.bit_generator.state = json.loads(saved["sample_rng"])
        state.act_gen.set_state(saved["act_gen"])
        torch.set_rng_state(saved["torch_rng"])
        a = {key: value[procs.share(state.spec.train.batch_size)] for key, value in saved["act"].items()}
        carry = state.model.initial_carry(len(a["inputs"]), device)
        carry.z_H.copy_(a["z_H"])  # into the carry's own dtype and device
        carry.z_L.copy_(a["z_L"])
        state.act = ACTState(carry, Batch(a["inputs"], a["labels"], a["puzzle_ids"]).to(device),
                             a["steps"].to(device), a["halted"].to(device))
        return state

    def refill(self, procs: Processes) -> None:
        """Fresh puzzles for the halted slots of every process, drawn as one batch in rank order."""
        n_new = procs.gather_ints(int(self.act.halted.sum()))
        if sum(n_new):
            fresh = self.sampler.draw(sum(n_new), procs.offsets(n_new))
            if n_new[procs.rank]:
                self.act = self.act.refill(self.model, fresh.to(self.act.steps.device))

    def set_learning_rates(self) -> float:
        """Both optimizers' rates for this step; returns the schedule's factor."""
        cfg = self.spec.train
        factor = lr_factor(self.step, cfg.lr_warmup_steps, cfg.steps, cfg.lr_schedule, cfg.lr_min_ratio,
                           cfg.lr_decay_steps)
        for opt, base in ((self.main_opt, cfg.lr), (self.sparse_opt, cfg.puzzle_emb_lr)):
            for group in opt.param_groups:
                group["lr"] = base * factor
        return factor

    def count_cpu(self, procs: Processes) -> float:
        """Sum the CPU time over the processes (a collective) into `run_cpu_seconds`."""
        self.run_cpu_seconds = procs.sum([self.cpu_seconds])[0]
        return self.run_cpu_seconds

    def averaged(self) -> contextlib.AbstractContextManager[HRM]:
        """The model with the EMA weights in it (the model itself without an EMA): what is evaluated and exported."""
        return self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext(self.model)

    def evaluate(self, val: Examples, procs: Processes) -> dict[str, Any]:
        """Each process evaluates its share of the validation puzzles; the counts are added up."""
        puzzles = val.take(slice(0, self.spec.train.eval_size))
        device = self.act.steps.device
        with self.averaged() as model:
            counts = tally(model, puzzles.take(procs.share(len(puzzles))), device=device,
                           autocast_dtype=amp_dtype(self.spec.train, device))
        self.model.train()
        return procs.add_up(counts).metrics()

    def card(self, metrics: dict | None) -> CheckpointCard:
        spec = self.spec
        return CheckpointCard(task=spec.task.spec(), model=spec.model, train=spec.train, data=spec.data,
                              seed=spec.train.seed, steps=self.step, cpu_seconds=round(self.run_cpu_seconds, 1),
                              wall_seconds=round(self.wall_seconds, 1),
                              metrics={"validation": metrics} if metrics else {}, command=spec.commands[0],
                              resumed_with=spec.commands[1:])

    def export(self, path: Path, metrics: dict | None) -> Path:
        """A model checkpoint of the averaged weights, its card recording `metrics`."""
        with self.averaged() as model:
            return save_checkpoint(model, path, self.card(metrics))
