"""Train an HRM on a task:  python -m reasoner.train --help

Deep supervision with ACT: the batch is a set of slots, each working on one puzzle; every optimizer
step runs one segment on every slot, and a slot whose puzzle halted gets a fresh (augmented) one.
The run directory holds everything needed to continue later (`--resume`), a JSON-lines log, and
the best and last model checkpoints (safetensors + JSON card).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from .act import ACTState, Batch, act_train_segment
from .checkpoint import (CheckpointCard, CheckpointError, load_checkpoint, load_train_state, save_checkpoint,
                         save_train_state, trim_log)
from .config import CPU_PRESETS, PRESETS, ModelConfig, TrainConfig, preset_config
from .distributed import Processes
from .evaluate import autocast, tally
from .losses import act_loss
from .model import HRM, count_parameters
from .optim import EMA, AdamATan2, SignSGD, lr_factor
from .tasks import Examples, Task, make_task

# Names users type, mapped to task parameters.
TASK_VARIANTS: dict[str, dict[str, Any]] = {
    "sudoku-4x4": {"name": "sudoku", "box_rows": 2, "box_cols": 2},
    "sudoku-6x6": {"name": "sudoku", "box_rows": 2, "box_cols": 3},
    "sudoku-9x9": {"name": "sudoku", "box_rows": 3, "box_cols": 3},
    "maze-9x9": {"name": "maze", "size": 9},
    "maze-11x11": {"name": "maze", "size": 11},
    "maze-15x15": {"name": "maze", "size": 15},
    "maze-21x21": {"name": "maze", "size": 21},
    "maze-30x30": {"name": "maze", "size": 30},
    # ARC: the task sets come with --train-data (docs/arc.md); 30x30 is the reference's canvas,
    # 10x10 keeps only tasks whose grids fit (a CPU-sized sequence of 100 cells).
    "arc": {"name": "arc"},
    "arc-10x10": {"name": "arc", "canvas": 10},
}

STATE_FILE = "train_state.pt"
DATA_FILE = "data.npz"

EXAMPLES = """
examples:
  # 4x4 sudoku in about a minute (tiny model)
  python -m reasoner.train --task sudoku-4x4 --preset cpu-tiny --train-data gen:count=200,blanks=6-10 \\
      --val-data gen:count=100,blanks=6-10 --steps 300 --out runs/s4

  # 9x9 sudoku, ~1M parameters, 40-blank generated puzzles, stop after 20 minutes
  python -m reasoner.train --task sudoku-9x9 --train-data gen:count=3000,blanks=40 \\
      --val-data gen:count=256,blanks=40 --steps 20000 --time-limit 20 --out runs/s9

  # continue that run later, for more steps
  python -m reasoner.train --out runs/s9 --resume --steps 40000

  # ... or end it: the learning rate decays (cosine, to 5%) over the last 2000 of 24000 steps
  python -m reasoner.train --out runs/s9 --resume --steps 24000 --lr-schedule wsd --lr-decay-steps 2000 --lr-min-ratio 0.05

  # fine-tune a shipped checkpoint: its weights and model config, new data, a decaying learning rate
  python -m reasoner.train --task sudoku-9x9 --init-from reasoner/checkpoints/sudoku-9x9.safetensors \\
      --train-data gen:count=20000,blanks=30-55 --lr-schedule cosine --lr-min-ratio 0.05 --steps 4000 --out runs/s9ft

  # the paper's data regime: real Sudoku-Extreme puzzles, last 100 held out, TRM-style variant
  python -m reasoner.train --task sudoku-9x9 \\
      --train-data 'file:../shared/data/sudoku/sudoku_extreme_train_1k_subset.txt[0:900]' \\
      --val-data 'file:../shared/data/sudoku/sudoku_extreme_train_1k_subset.txt[900:1000]' \\
      --model architecture=trm --model gradient=last_cycle --model H_cycles=3 --model L_cycles=6 --out runs/ext
"""


# What --resume may change: how long the run goes and how its learning rate ends (a constant run
# can be resumed into a "wsd" decay; the steps before the decay are the same as a fresh wsd run's).
RESUME_MAY_CHANGE = {"steps", "lr_schedule", "lr_decay_steps", "lr_min_ratio"}


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reasoner.train",
        description="Train a Hierarchical Reasoning Model (runs on CPU, one GPU, or several processes under torchrun; "
                    "--batch-size is then the global batch).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--task", default="sudoku-9x9", choices=sorted(TASK_VARIANTS), help="puzzle type (default: %(default)s)")
    parser.add_argument("--preset", default="cpu-small", choices=sorted(PRESETS), help="model size/shape (default: %(default)s)")
    parser.add_argument("--model", action="append", default=[], metavar="KEY=VALUE",
                        help="override a model config field, e.g. --model hidden_size=256 --model gradient=last_cycle")
    parser.add_argument("--train-data", help="training puzzles: gen:KEY=VALUE,... (sudoku: count=N,blanks=A[-B], or "
                        "count=N,givens=A[-B][,rating=A[-B]] for minimal puzzles rated by the exact solver's dead ends; "
                        "maze: count=N[,walls=A-B][,min_path=K]), file:PATH[start:end], or for ARC arc:eval=SET,train=SET+SET,"
                        "aug=N,... (docs/arc.md); join sources with + to train on all of them, e.g. "
                        "gen:count=4000,blanks=45-56+file:PATH[0:800] (default: the task's own)")
    parser.add_argument("--val-data", help="held-out puzzles, same syntax; any that also occur in the training data "
                        "are dropped (default: the task's own)")
    parser.add_argument("--no-augment", action="store_true", help="train on the puzzles exactly as given")
    parser.add_argument("--out", type=Path, required=True, help="run directory (state, log, checkpoints)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out with its saved config; "
                        "only --steps and the end of the learning-rate schedule (--lr-schedule, --lr-decay-steps, "
                        "--lr-min-ratio) may change")
    parser.add_argument("--init-from", type=Path, metavar="CHECKPOINT",
                        help="start a new run from a checkpoint's weights (.safetensors with its card); the model "
                        "config is the checkpoint's (--model may still change halting fields such as halt_max_steps)")
    parser.add_argument("--export", type=Path, help="when done, copy the best checkpoint to this path (.safetensors + .json)")
    parser.add_argument("--time-limit", type=float, metavar="MINUTES", help="stop (and save) after this much wall time")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to the run directory)")
    train_fields = parser.add_argument_group("training options (defaults from TrainConfig)")
    for name, field in TrainConfig.model_fields.items():
        if field.annotation is bool:
            train_fields.add_argument(flag(name), action=argparse.BooleanOptionalAction, default=None, help=f"(default: {field.default})")
        else:
            train_fields.add_argument(flag(name), default=None, metavar=name.upper(), help=f"(default: {field.default})")
    return parser


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """KEY=VALUE strings -> dict, values parsed as JSON where possible (numbers, true/false)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"error: --model expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def build_configs(args: argparse.Namespace, task: Task, base: ModelConfig | None = None) -> tuple[ModelConfig, TrainConfig]:
    """Model config from the preset (or from `base`, a checkpoint's config) plus --model overrides."""
    if base is not None:
        model_cfg = ModelConfig.model_validate({**base.model_dump(), **parse_overrides(args.model)})
    else:
        cpu_hints = task.cpu_model_hints if args.preset in CPU_PRESETS else {}
        model_cfg = preset_config(args.preset, task.vocab_size, task.seq_len, task.num_puzzle_identifiers,
                                  **{**task.model_hints(), **cpu_hints, **parse_overrides(args.model)})
    return model_cfg, TrainConfig(**given_train_options(args))


def given_train_options(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields set on the command line (the parser's defaults are None)."""
    return {k: getattr(args, k) for k in TrainConfig.model_fields if getattr(args, k) is not None}


def load_sources(task: Task, sources: str, rng: np.random.Generator, progress: bool) -> Examples:
    """`SOURCE+SOURCE+...` -> the examples of every part, in order (a mix such as generated puzzles
    plus rows of a file). Only a `+` that starts another gen:/file: source splits: ARC specs use `+` too."""
    parts = re.split(r"\+(?=(?:gen|file):)", sources)
    return Examples.concat([task.load_examples(part, rng, progress=progress) for part in parts])


def drop_overlap(train: Examples, val: Examples) -> tuple[Examples, int]:
    """Remove validation puzzles whose input also appears in the training set."""
    seen = {row.tobytes() for row in train.inputs}
    keep = np.array([row.tobytes() not in seen for row in val.inputs], dtype=bool)
    return val.take(keep), int((~keep).sum())


@dataclass
class Parent:
    """The checkpoint a new run starts from (`--init-from`)."""

    model: ModelConfig
    state_dict: dict[str, torch.Tensor]
    lineage: dict[str, Any]  # what the card of the new run records about where its weights came from


def load_parent(path: Path, task: Task) -> Parent:
    try:
        model, parent_task, card = load_checkpoint(path)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: --init-from: {err}")
    model_cfg = card.model
    if parent_task.spec() != task.spec():
        # A size-free model (no absolute positions) may continue on another size of its task:
        # the curriculum 9x9 -> 15x15 -> ... for mazes.
        if parent_task.name != task.name or task.vocab_size != card.model.vocab_size or not card.model.size_free:
            raise SystemExit(f"error: --init-from {path} is a checkpoint of {parent_task!r}, not of {task!r}"
                             + (" (only a model with pos_encoding 'none' changes grid size)" if parent_task.name == task.name else ""))
        model_cfg = card.model.on_grid(task.model_hints()["grid_shape"])
    weights = Path(path).with_suffix(".safetensors")
    # Enough to trace the weights back to the commands that made them, and to add up the CPU time.
    lineage = {"path": str(path), "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "steps": card.steps,
               "cpu_seconds": card.cpu_seconds, "data": card.data, "command": card.command,
               "resumed_with": card.resumed_with}
    return Parent(model_cfg, model.state_dict(), lineage)


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


def segment_limit(step: int, ramp_steps: int, max_segments: int) -> int:
    """Training's segment limit at `step`: 1 rising linearly to `max_segments` over `ramp_steps`."""
    if ramp_steps <= 0 or step >= ramp_steps:
        return max_segments
    return 1 + (max_segments - 1) * step // ramp_steps


def new_window() -> dict:
    """Running sums for the progress bar and log between two log lines."""
    return {"rows": 0, "time": time.perf_counter(), "halted": 0, "exact": 0, "loss": 0.0, "steps": 0}


def rng_state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def make_accelerator() -> tuple[Accelerator, Processes]:
    """This process's accelerator and its place among the processes. Launched as several processes
    on a machine without CUDA, accelerate has to be told to use the CPU (the gloo backend); else
    each process would train on its own, all writing the same run directory."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    # Mixed precision is our own autocast rather than accelerate's: accelerate fixes it once per
    # process, and a process (a notebook, the tests) may train several models.
    accelerator = Accelerator(cpu=launched > 1 and not torch.cuda.is_available())
    procs = Processes.current()
    if procs.count != launched:
        raise SystemExit(f"error: launched as {launched} processes, but accelerate set up {procs.count}")
    return accelerator, procs


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out: Path = args.out
    state_path = out / STATE_FILE
    accelerator, procs = make_accelerator()
    progress = not args.no_progress and sys.stderr.isatty() and procs.is_main

    # ---------------------------------------------------------------- configuration and data
    saved = None
    if args.resume and args.init_from:
        raise SystemExit("error: --init-from starts a new run; --resume continues one (its weights come from the run)")
    if args.resume:
        if not state_path.is_file():
            raise SystemExit(f"error: --resume given but {state_path} does not exist")
        try:
            saved = load_train_state(state_path)
        except CheckpointError as err:
            raise SystemExit(f"error: {err}")
        meta = json.loads(saved["meta"])
        task = make_task(**meta["task"])
        model_cfg = ModelConfig.model_validate(meta["model"])
        given = given_train_options(args)
        if fixed := sorted(set(given) - RESUME_MAY_CHANGE):
            raise SystemExit(f"error: --resume keeps the run's saved training options; of them only "
                             f"{', '.join(flag(k) for k in sorted(RESUME_MAY_CHANGE))} may change "
                             f"(got {', '.join(flag(k) for k in fixed)})")
        try:
            train_cfg = TrainConfig.model_validate({**meta["train"], **given})
        except ValueError as err:
            raise SystemExit(f"error: invalid configuration:\n{err}")
        data_meta = meta["data"]
        with np.load(out / DATA_FILE, allow_pickle=False) as arrays:
            train_pool = Examples(arrays["train_inputs"], arrays["train_labels"], arrays["train_puzzle_ids"])
            val = Examples(arrays["val_inputs"], arrays["val_labels"], arrays["val_puzzle_ids"])
    else:
        if state_path.exists():
            raise SystemExit(f"error: {out} already holds a run; pass --resume to continue it or choose another --out")
        task = make_task(**TASK_VARIANTS[args.task])
        parent = load_parent(args.init_from, task) if args.init_from else None
        try:
            model_cfg, train_cfg = build_configs(args, task, parent.model if parent else None)
        except ValueError as err:  # pydantic's ValidationError is a ValueError
            raise SystemExit(f"error: invalid configuration:\n{err}")
        data_rng = np.random.default_rng(train_cfg.seed)
        try:
            args.train_data = args.train_data or task.default_train_source
            args.val_data = args.val_data or task.default_val_source
            train_pool = load_sources(task, args.train_data, data_rng, progress)
            val = load_sources(task, args.val_data, np.random.default_rng(train_cfg.seed + 1_000_003), progress)
        except (ValueError, FileNotFoundError) as err:
            raise SystemExit(f"error: {err}")
        val, dropped = drop_overlap(train_pool, val)
        if len(val) == 0:
            raise SystemExit("error: every validation puzzle also occurs in the training data")
        if task.num_puzzle_identifiers != model_cfg.num_puzzle_identifiers and task.num_puzzle_identifiers > 1:
            # ARC has one puzzle identifier per task and augmentation: known only once data are built.
            model_cfg = model_cfg.model_copy(update={"num_puzzle_identifiers": task.num_puzzle_identifiers})
        data_meta = {"train": args.train_data, "val": args.val_data, "train_puzzles": len(train_pool),
                     "val_puzzles": len(val), "val_dropped_as_overlap": dropped, "augment": not args.no_augment}
        if parent is not None:
            data_meta["init_from"] = parent.lineage
    try:
        local_batch = procs.local_batch(train_cfg.batch_size)
    except ValueError as err:
        raise SystemExit(f"error: --batch-size: {err}")
    if saved is None and procs.is_main:  # every process built the same (seeded) data; one writes it
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / DATA_FILE, train_inputs=train_pool.inputs, train_labels=train_pool.labels,
                 train_puzzle_ids=train_pool.puzzle_ids, val_inputs=val.inputs, val_labels=val.labels,
                 val_puzzle_ids=val.puzzle_ids)

    # ---------------------------------------------------------------- model and optimisers
    device = accelerator.device
    torch.manual_seed(train_cfg.seed)
    model = HRM(model_cfg).to(device)
    if saved is None and args.init_from:
        try:
            model.load_state_dict(parent.state_dict)  # before the EMA copies the weights
        except RuntimeError as err:  # a --model override changed a shape
            raise SystemExit(f"error: --init-from {args.init_from}: its weights do not fit the configured model "
                             f"(change only fields that keep the shapes, e.g. halt_max_steps):\n{err}")
    procs.broadcast_weights(model)
    main_opt, sparse_opt = make_optimizers(model, train_cfg)
    ema = EMA(model, train_cfg.ema_decay) if train_cfg.ema_decay else None
    # The same random streams in every process: each draws for the global batch and keeps its rows.
    sample_rng = np.random.default_rng(train_cfg.seed + 17)
    act_gen = torch.Generator(device=device).manual_seed(train_cfg.seed)
    my_rows = procs.share(train_cfg.batch_size)

    step, cpu_seconds, wall_seconds, best = 0, 0.0, 0.0, None
    act_state = None
    if saved is not None:
        model.load_state_dict(saved["model"])
        main_opt.load_state_dict(saved["main_opt"])
        sparse_opt.load_state_dict(saved["sparse_opt"])
        if ema is not None:
            ema.load_state_dict(saved["ema"])
        step, wall_seconds = int(saved["step"]), float(saved["wall_seconds"])
        # The run's CPU time is the sum over processes: the main process carries what came before.
        cpu_seconds = float(saved["cpu_seconds"]) if procs.is_main else 0.0
        best = json.loads(saved["best"])
        sample_rng.bit_generator.state = json.loads(saved["sample_rng"])
        act_gen.set_state(saved["act_gen"])
        torch.set_rng_state(saved["torch_rng"])
        a = {key: value[my_rows] for key, value in saved["act"].items()}  # saved for the global batch
        act_state = ACTState(model.initial_carry(local_batch, device), Batch(a["inputs"], a["labels"], a["puzzle_ids"]).to(device),
                             a["steps"].to(device), a["halted"].to(device))
        act_state.carry.z_H.copy_(a["z_H"])
        act_state.carry.z_L.copy_(a["z_L"])

    core = model  # attributes (cfg, carries) live on the unwrapped module
    if train_cfg.compile:
        # Only the transformer stacks: inductor cannot compile the sparse puzzle-embedding lookup.
        for module in {id(m): m for m in (core.L_level, core.H_level)}.values():
            module.compile()
    # No accelerator.prepare: its DistributedDataParallel cannot combine the sparse puzzle-embedding
    # gradient on GPUs; procs.sync_gradients combines every gradient (reasoner/distributed.py).
    sampler = Sampler(task, train_pool, sample_rng, augment=data_meta["augment"])
    if act_state is None:
        act_state = ACTState.empty(core, sampler.draw(train_cfg.batch_size, my_rows).to(device))

    # Every command that worked on this run: the first made it, the others resumed it.
    commands = (json.loads(saved["meta"]).get("commands", []) if saved is not None else [])
    commands.append("python -m reasoner.train " + shlex.join(argv if argv is not None else sys.argv[1:]))
    meta = {"task": task.spec(), "model": model_cfg.model_dump(), "train": train_cfg.model_dump(), "data": data_meta,
            "commands": commands}
    amp_dtype = torch.bfloat16 if train_cfg.precision == "bf16" else None
    if saved is not None and procs.is_main:  # the steps after the saved state are run, and logged, again
        trim_log(out / "log.jsonl", step)
    log_file = (out / "log.jsonl").open("a") if procs.is_main else None

    def log(record: dict) -> None:
        if log_file is not None:
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()

    def run_eval() -> dict:
        """Each process evaluates its share of the validation puzzles; the counts are added up."""
        puzzles = val.take(slice(0, train_cfg.eval_size))
        context = ema.applied(core) if ema is not None else contextlib.nullcontext(core)
        with context:
            counts = tally(core, puzzles.take(procs.share(len(puzzles))), device=device, autocast_dtype=amp_dtype)
        core.train()
        return procs.add_up(counts).metrics()

    def card(metrics: dict | None) -> CheckpointCard:
        return CheckpointCard(task=task.spec(), model=model_cfg, train=train_cfg, data=data_meta, seed=train_cfg.seed,
                              steps=step, cpu_seconds=round(run_cpu_seconds, 1), wall_seconds=round(wall_seconds, 1),
                              metrics={"validation": metrics} if metrics else {}, command=commands[0],
                              resumed_with=commands[1:])

    def export(name: str, metrics: dict | None) -> Path:
        context = ema.applied(core) if ema is not None else contextlib.nullcontext(core)
        with context:
            return save_checkpoint(core, out / name, card(metrics))

    def save_state() -> None:
        # Every process's ACT slots, gathered into the global batch; the rest is the same everywhere.
        act = {"inputs": act_state.batch.inputs, "labels": act_state.batch.labels, "puzzle_ids": act_state.batch.puzzle_ids,
               "steps": act_state.steps, "halted": act_state.halted, "z_H": act_state.carry.z_H, "z_L": act_state.carry.z_L}
        act = {key: procs.gather_rows(value).cpu() for key, value in act.items()}
        if not procs.is_main:
            return
        save_train_state(state_path, {
            "meta": json.dumps(meta), "model": core.state_dict(), "main_opt": main_opt.state_dict(),
            "sparse_opt": sparse_opt.state_dict(), "ema": ema.state_dict() if ema else {}, "step": step,
            "cpu_seconds": run_cpu_seconds, "wall_seconds": wall_seconds, "best": json.dumps(best),
            "sample_rng": rng_state(sample_rng), "act_gen": act_gen.get_state(), "torch_rng": torch.get_rng_state(),
            "act": act,
        })

    if procs.is_main:
        print(f"task {task!r}; {count_parameters(core):,} parameters; {len(train_pool)} training / {len(val)} validation puzzles;"
              f" device {device}, precision {train_cfg.precision}, {procs.count} process(es) x {local_batch} slots;"
              f" run directory {out}", file=sys.stderr)

    # ---------------------------------------------------------------- the loop
    core.train()
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    last_wall, last_cpu = started_wall, started_cpu
    window = new_window()
    run_cpu_seconds = cpu_seconds
    bar = tqdm(total=train_cfg.steps, initial=step, disable=not progress, desc="training", dynamic_ncols=True)
    stop_reason = "finished"
    while step < train_cfg.steps:
        # Fresh puzzles for the halted slots of every process, drawn as one batch in rank order.
        n_new = procs.gather_ints(int(act_state.halted.sum()))
        if sum(n_new):
            fresh = sampler.draw(sum(n_new), procs.offsets(n_new))
            if n_new[procs.rank]:
                act_state = act_state.refill(core, fresh.to(device))
        factor = lr_factor(step, train_cfg.lr_warmup_steps, train_cfg.steps, train_cfg.lr_schedule,
                           train_cfg.lr_min_ratio, train_cfg.lr_decay_steps)
        for opt, base in ((main_opt, train_cfg.lr), (sparse_opt, train_cfg.puzzle_emb_lr)):
            for group in opt.param_groups:
                group["lr"] = base * factor

        max_segments = segment_limit(step, train_cfg.segment_ramp_steps, model_cfg.halt_max_steps)
        with autocast(device, amp_dtype):
            seg = act_train_segment(core, act_state, act_gen, max_steps=max_segments,
                                    global_rows=(my_rows, train_cfg.batch_size))
            loss, parts = act_loss(seg.out.logits, act_state.batch.labels, seg.out.q_halt, seg.out.q_continue,
                                   seg.target_q_continue, model_cfg.loss)
        # This process's share of the loss over the global batch; the gradients are summed over processes.
        accelerator.backward(loss / train_cfg.batch_size)
        procs.sync_gradients(core)
        main_opt.step()
        sparse_opt.step()
        main_opt.zero_grad(set_to_none=True)
        sparse_opt.zero_grad(set_to_none=True)
        if ema is not None:
            ema.update(core)
        act_state = seg.state
        step += 1

        # Metrics over the puzzles that finished this step (as in the reference).
        done = act_state.halted
        window["rows"] += train_cfg.batch_size
        window["steps"] += 1
        window["loss"] += loss.item() / train_cfg.batch_size
        window["halted"] += int(done.sum())
        window["exact"] += int(parts["seq_correct"][done].sum())
        bar.update()
        now_wall, now_cpu = time.perf_counter(), time.process_time()
        wall_seconds += now_wall - last_wall
        cpu_seconds += now_cpu - last_cpu
        last_wall, last_cpu = now_wall, now_cpu

        if step % 20 == 0 or step == train_cfg.steps:
            window["loss"], window["halted"], window["exact"] = procs.sum([window["loss"], window["halted"], window["exact"]])
            elapsed = max(1e-9, time.perf_counter() - window["time"])
            record = {"step": step, "loss": window["loss"] / window["steps"],
                      "train_exact_at_halt": window["exact"] / max(1, window["halted"]),
                      "segments_per_s": window["rows"] / elapsed, "puzzles_per_s": window["halted"] / elapsed,
                      "segment_limit": max_segments, "lr": train_cfg.lr * factor}
            bar.set_postfix(loss=f"{record['loss']:.3f}", exact=f"{record['train_exact_at_halt']:.2f}",
                            seg_s=f"{record['segments_per_s']:.0f}", best=f"{(best or {}).get('exact_accuracy', 0):.3f}")
            log(record)
            window = new_window()

        # The main process's clock decides for all, so that every process stops at the same step.
        time_up = args.time_limit is not None and procs.any(
            procs.is_main and time.perf_counter() - started_wall > 60 * args.time_limit)
        evaluating = step % train_cfg.eval_every == 0 or step == train_cfg.steps or time_up
        saving = step % train_cfg.checkpoint_every == 0 or step == train_cfg.steps or time_up
        if evaluating or saving:
            run_cpu_seconds = procs.sum([cpu_seconds])[0]
        if evaluating:
            metrics = run_eval()
            log({"step": step, "eval": metrics, "cpu_seconds": run_cpu_seconds})
            if procs.is_main:
                tqdm.write(f"step {step}: validation exact {metrics['exact_accuracy']:.3f} (by segment "
                           f"{metrics['exact_accuracy_by_segment']}), token {metrics['token_accuracy']:.3f}, "
                           f"mean halt {metrics['mean_halt_step']:.2f}", file=sys.stderr)
            if best is None or metrics["exact_accuracy"] > best["exact_accuracy"]:
                best = {**metrics, "step": step}
                if procs.is_main:
                    export("best", best)
            if procs.is_main:
                export("last", metrics)
        if saving:
            save_state()
        if time_up:
            stop_reason = f"time limit of {args.time_limit} minutes reached"
            break
    bar.close()
    run_cpu_seconds = procs.sum([cpu_seconds])[0]
    save_state()
    procs.finish()
    if not procs.is_main:
        return 0
    log_file.close()

    if args.export:
        best_model, _, best_card = load_checkpoint(out / "best.safetensors")
        save_checkpoint(best_model, args.export, best_card)
    print(f"{stop_reason} at step {step}: best validation exact accuracy {(best or {}).get('exact_accuracy', float('nan')):.4f}"
          f" at step {(best or {}).get('step')}; {run_cpu_seconds / 60:.1f} CPU-minutes; checkpoints in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
