"""Train an HRM on a task:  python -m reasoner.train --help

Deep supervision with ACT: the batch is a set of slots, each working on one puzzle; every optimizer
step runs one segment on every slot, and a slot whose puzzle halted gets a fresh (augmented) one.
The run directory holds everything needed to continue later (`--resume`: RunState and RunData in
reasoner/training.py), a JSON-lines log, and the best and last model checkpoints (safetensors +
JSON card).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import numpy as np
import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint, trim_log
from .config import CPU_PRESETS, PRESETS, ModelConfig, TrainConfig, preset_config
from .distributed import Processes
from .model import HRM, count_parameters
from .tasks import VARIANTS, Examples, Task
from .tasks.base import split_sources
from .widen import widen
from .training import (DATA_FILE, LOG_FILE, STATE_FILE, RunData, RunSpec, RunState, WeightsDoNotFit, amp_dtype,
                       train_step)


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

  # ... or widen it 2x: a 3.2M-parameter model that starts out computing what the 0.86M one did
  python -m reasoner.train --task sudoku-9x9 --init-from reasoner/checkpoints/sudoku-9x9.safetensors \\
      --model hidden_size=256 --model num_heads=8 --train-data gen:count=20000,blanks=30-55 --steps 4000 --out runs/s9wide

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
    parser.add_argument("--task", default="sudoku-9x9", choices=sorted(VARIANTS), help="puzzle type (default: %(default)s)")
    parser.add_argument("--preset", default="cpu-small", choices=sorted(PRESETS), help="model size/shape (default: %(default)s)")
    parser.add_argument("--model", action="append", default=[], metavar="KEY=VALUE",
                        help="override a model config field, e.g. --model hidden_size=256 --model gradient=last_cycle")
    parser.add_argument("--train-data", help="training puzzles: gen:KEY=VALUE,... (sudoku: count=N,blanks=A[-B], or "
                        "count=N,givens=A[-B][,rating=A[-B]] for minimal puzzles rated by the exact solver's dead ends; "
                        "maze: count=N[,walls=A-B][,min_path=K][,style=long][,side=S: S x S mazes walled in, to train several sizes "
                        "in one run]), file:PATH[start:end], or for ARC arc:eval=SET,train=SET+SET,"
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
                        "config is the checkpoint's (--model may still change halting fields such as halt_max_steps, "
                        "or widen it: --model hidden_size=256 --model num_heads=8 on a 128-wide, 4-head checkpoint "
                        "starts a 2x wider model that computes what the checkpoint did)")
    parser.add_argument("--export", type=Path, help="when done, copy the best checkpoint to this path (.safetensors + .json)")
    parser.add_argument("--time-limit", type=float, metavar="MINUTES", help="stop (and save) after this much wall time")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to the run directory)")
    train_fields = parser.add_argument_group("training options (defaults from TrainConfig)")
    for name, field in TrainConfig.model_fields.items():
        if field.annotation is bool:
            train_fields.add_argument(flag(name), action=argparse.BooleanOptionalAction, default=None, help=f"(default: {field.default})")
        else:
            choices = get_args(field.annotation) if get_origin(field.annotation) is Literal else ()
            what = f"one of {', '.join(choices)} " if choices else ""
            train_fields.add_argument(flag(name), default=None, metavar=name.upper(), help=f"{what}(default: {field.default})")
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
    """`SOURCE+SOURCE+...` -> the examples of every part, in order (see split_sources)."""
    return Examples.concat([task.load_examples(part, rng, progress=progress) for part in split_sources(sources)])


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


def make_accelerator() -> tuple[Accelerator, Processes]:
    """This process's accelerator and its place among the processes. Launched as several processes
    on a machine without CUDA, accelerate has to be told to use the CPU (the gloo backend); else
    each process would train on its own, all writing the same run directory."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    # Mixed precision is our own autocast rather than accelerate's: accelerate fixes it once per
    # process, and a process (a notebook, the tests) may train several models. Nor does accelerate
    # wrap the model (accelerator.prepare): its DistributedDataParallel cannot combine the sparse
    # puzzle-embedding gradient on GPUs; train_step's procs.sync_gradients combines every gradient.
    accelerator = Accelerator(cpu=launched > 1 and not torch.cuda.is_available())
    procs = Processes.current()
    if procs.count != launched:
        raise SystemExit(f"error: launched as {launched} processes, but accelerate set up {procs.count}")
    return accelerator, procs


def compile_stacks(model: HRM) -> None:
    """torch.compile the transformer stacks only: inductor cannot compile the sparse puzzle-embedding lookup."""
    for module in {id(m): m for m in (model.L_level, model.H_level)}.values():  # TRM's two are one
        module.compile()


def check_batch(procs: Processes, batch_size: int) -> None:
    try:
        procs.local_batch(batch_size)
    except ValueError as err:
        raise SystemExit(f"error: --batch-size: {err}")


def load_data(args: argparse.Namespace, task: Task, seed: int, progress: bool) -> tuple[RunData, dict[str, Any]]:
    """A new run's training and validation puzzles, and what its cards record about them."""
    data_rng = np.random.default_rng(seed)
    try:
        train_source = args.train_data or task.default_train_source
        val_source = args.val_data or task.default_val_source
        train_pool = load_sources(task, train_source, data_rng, progress)
        val = load_sources(task, val_source, np.random.default_rng(seed + 1_000_003), progress)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}")
    val, dropped = drop_overlap(train_pool, val)
    if len(val) == 0:
        raise SystemExit("error: every validation puzzle also occurs in the training data")
    data_meta = {"train": train_source, "val": val_source, "train_puzzles": len(train_pool), "val_puzzles": len(val),
                 "val_dropped_as_overlap": dropped, "augment": not args.no_augment}
    return RunData(train_pool, val), data_meta


def start_run(args: argparse.Namespace, procs: Processes, device: torch.device, progress: bool) -> tuple[RunState, RunData]:
    """A new run in --out: task, configs and data from the command line (and --init-from's checkpoint)."""
    if (args.out / STATE_FILE).exists():
        raise SystemExit(f"error: {args.out} already holds a run; pass --resume to continue it or choose another --out")
    task = VARIANTS[args.task].make()
    parent = load_parent(args.init_from, task) if args.init_from else None
    try:
        model_cfg, train_cfg = build_configs(args, task, parent.model if parent else None)
    except ValueError as err:  # pydantic's ValidationError is a ValueError
        raise SystemExit(f"error: invalid configuration:\n{err}")
    weights = parent.state_dict if parent else None
    widened = parent is not None and model_cfg.hidden_size != parent.model.hidden_size
    if widened:  # before the data, which may take minutes to build, so a bad request fails at once
        try:
            weights = widen(parent.state_dict, parent.model, model_cfg, seed=train_cfg.seed)
        except ValueError as err:
            raise SystemExit(f"error: --init-from {args.init_from}: {err}")
    data, data_meta = load_data(args, task, train_cfg.seed, progress)
    if task.num_puzzle_identifiers != model_cfg.num_puzzle_identifiers and task.num_puzzle_identifiers > 1:
        # ARC has one puzzle identifier per task and augmentation: known only once data are built.
        model_cfg = model_cfg.model_copy(update={"num_puzzle_identifiers": task.num_puzzle_identifiers})
    if parent is not None:
        data_meta["init_from"] = parent.lineage
        if widened:
            data_meta["init_from"]["widened_from"] = {"hidden_size": parent.model.hidden_size, "num_heads": parent.model.num_heads}
    check_batch(procs, train_cfg.batch_size)
    if procs.is_main:  # every process built the same (seeded) data; one writes it
        args.out.mkdir(parents=True, exist_ok=True)
        data.save(args.out / DATA_FILE)
    spec = RunSpec(task, model_cfg, train_cfg, data_meta, commands=[])
    try:
        state = RunState.start(spec, data.train, device, procs, weights)
    except WeightsDoNotFit as err:
        raise SystemExit(f"error: --init-from {args.init_from}: {err}")
    return state, data


def resume_run(args: argparse.Namespace, procs: Processes, device: torch.device) -> tuple[RunState, RunData]:
    """The run in --out as its last save left it, with what --resume may change changed."""
    state_path = args.out / STATE_FILE
    if not state_path.is_file():
        raise SystemExit(f"error: --resume given but {state_path} does not exist")
    data = RunData.load(args.out / DATA_FILE)
    try:
        state = RunState.load(state_path, data.train, device, procs)
    except CheckpointError as err:
        raise SystemExit(f"error: {err}")
    given = given_train_options(args)
    if fixed := sorted(set(given) - RESUME_MAY_CHANGE):
        raise SystemExit(f"error: --resume keeps the run's saved training options; of them only "
                         f"{', '.join(flag(k) for k in sorted(RESUME_MAY_CHANGE))} may change "
                         f"(got {', '.join(flag(k) for k in fixed)})")
    try:
        state.spec.train = TrainConfig.model_validate({**state.spec.train.model_dump(), **given})
    except ValueError as err:
        raise SystemExit(f"error: invalid configuration:\n{err}")
    check_batch(procs, state.spec.train.batch_size)
    return state, data


def segment_limit(step: int, ramp_steps: int, max_segments: int) -> int:
    """Training's segment limit at `step`: 1 rising linearly to `max_segments` over `ramp_steps`."""
    if ramp_steps <= 0 or step >= ramp_steps:
        return max_segments
    return 1 + (max_segments - 1) * step // ramp_steps


class Window:
    """Running sums for the progress bar and the log between two log lines."""

    def __init__(self):
        self.started = time.perf_counter()
        self.rows, self.steps, self.loss, self.halted, self.exact = 0, 0, 0.0, 0, 0

    def add(self, batch_size: int, loss: torch.Tensor, parts: dict[str, torch.Tensor], halted: torch.Tensor) -> None:
        # Metrics over the puzzles that finished this step (as in the reference).
        self.rows += batch_size
        self.steps += 1
        self.loss += loss.item() / batch_size
        self.halted += int(halted.sum())
        self.exact += int(parts["seq_correct"][halted].sum())

    def record(self, procs: Processes, step: int, max_segments: int, lr: float) -> dict[str, Any]:
        """The log record of the window, summed over the processes (a collective)."""
        loss, halted, exact = procs.sum([self.loss, self.halted, self.exact])
        elapsed = max(1e-9, time.perf_counter() - self.started)
        return {"step": step, "loss": loss / self.steps, "train_exact_at_halt": exact / max(1, halted),
                "segments_per_s": self.rows / elapsed, "puzzles_per_s": halted / elapsed,
                "segment_limit": max_segments, "lr": lr}


class Sitting:
    """One sitting of a run in this process: it trains from where the state stands to the run's last
    step or the time limit, and logs, evaluates and saves on the way. Every process runs the same
    steps and collectives; only the main process writes the log and the checkpoints."""

    def __init__(self, state: RunState, val: Examples, out: Path, procs: Processes, time_limit: float | None,
                 progress: bool):
        self.state, self.val, self.out, self.procs, self.time_limit = state, val, out, procs, time_limit
        self.log_file = (out / LOG_FILE).open("a") if procs.is_main else None
        self.started = self.last_wall = time.perf_counter()
        self.last_cpu = time.process_time()
        self.window = Window()
        self.bar = tqdm(total=state.spec.train.steps, initial=state.step, disable=not progress, desc="training",
                        dynamic_ncols=True)

    def run(self) -> str:
        """Train until the run's last step or the time limit; returns why it stopped."""
        state, cfg = self.state, self.state.spec.train
        state.model.train()
        while state.step < cfg.steps:
            factor, max_segments = self.advance()
            if state.step % 20 == 0 or state.step == cfg.steps:
                self.report(factor, max_segments)
            # The main process's clock decides for all, so that every process stops at the same step.
            time_up = self.time_limit is not None and self.procs.any(
                self.procs.is_main and time.perf_counter() - self.started > 60 * self.time_limit)
            self.checkpoint(time_up)
            if time_up:
                return f"time limit of {self.time_limit} minutes reached"
        return "finished"

    def advance(self) -> tuple[float, int]:
        """One optimizer step; returns its learning-rate factor and segment limit."""
        state, cfg = self.state, self.state.spec.train
        state.refill(self.procs)
        factor = state.set_learning_rates()
        max_segments = segment_limit(state.step, cfg.segment_ramp_steps, state.spec.model.halt_max_steps)
        state.act, loss, parts = train_step(state.model, state.act, [state.main_opt, state.sparse_opt], cfg.batch_size,
                                            generator=state.act_gen, max_segments=max_segments, procs=self.procs,
                                            ema=state.ema, autocast_dtype=amp_dtype(cfg, state.act.steps.device))
        state.step += 1
        self.window.add(cfg.batch_size, loss, parts, state.act.halted)
        self.bar.update()
        now_wall, now_cpu = time.perf_counter(), time.process_time()
        state.wall_seconds += now_wall - self.last_wall
        state.cpu_seconds += now_cpu - self.last_cpu
        self.last_wall, self.last_cpu = now_wall, now_cpu
        return factor, max_segments

    def report(self, factor: float, max_segments: int) -> None:
        record = self.window.record(self.procs, self.state.step, max_segments, self.state.spec.train.lr * factor)
        best = self.state.best or {}
        self.bar.set_postfix(loss=f"{record['loss']:.3f}", exact=f"{record['train_exact_at_halt']:.2f}",
                             seg_s=f"{record['segments_per_s']:.0f}", best=f"{best.get('exact_accuracy', 0):.3f}")
        self.log(record)
        self.window = Window()

    def checkpoint(self, time_up: bool) -> None:
        """Evaluate and save when due (and at the last step, or when the time is up)."""
        state, cfg = self.state, self.state.spec.train
        evaluating = state.step % cfg.eval_every == 0 or state.step == cfg.steps or time_up
        saving = state.step % cfg.checkpoint_every == 0 or state.step == cfg.steps or time_up
        if evaluating or saving:
            state.count_cpu(self.procs)
        if evaluating:
            self.validate()
        if saving:
            state.save(self.out / STATE_FILE, self.procs)

    def validate(self) -> None:
        """Evaluate, log, and export the `last` checkpoint and, when it is the best so far, `best`."""
        state, is_main = self.state, self.procs.is_main
        metrics = state.evaluate(self.val, self.procs)
        self.log({"step": state.step, "eval": metrics, "cpu_seconds": state.run_cpu_seconds})
        if is_main:
            tqdm.write(f"step {state.step}: validation exact {metrics['exact_accuracy']:.3f} (by segment "
                       f"{metrics['exact_accuracy_by_segment']}), token {metrics['token_accuracy']:.3f}, "
                       f"mean halt {metrics['mean_halt_step']:.2f}", file=sys.stderr)
        if state.best is None or metrics["exact_accuracy"] > state.best["exact_accuracy"]:
            state.best = {**metrics, "step": state.step}
            if is_main:
                state.export(self.out / "best", state.best)
        if is_main:
            state.export(self.out / "last", metrics)

    def log(self, record: dict) -> None:
        if self.log_file is not None:
            self.log_file.write(json.dumps(record) + "\n")
            self.log_file.flush()

    def close(self) -> None:
        self.bar.close()
        if self.log_file is not None:
            self.log_file.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out: Path = args.out
    accelerator, procs = make_accelerator()
    device = accelerator.device
    progress = not args.no_progress and sys.stderr.isatty() and procs.is_main

    # ---------------------------------------------------------------- the run: new or continued
    if args.resume and args.init_from:
        raise SystemExit("error: --init-from starts a new run; --resume continues one (its weights come from the run)")
    state, data = resume_run(args, procs, device) if args.resume else start_run(args, procs, device, progress)
    spec = state.spec
    spec.commands.append("python -m reasoner.train " + shlex.join(argv if argv is not None else sys.argv[1:]))
    if spec.train.compile:
        compile_stacks(state.model)
    if args.resume and procs.is_main:  # the steps after the saved state are run, and logged, again
        trim_log(out / LOG_FILE, state.step)
    if procs.is_main:
        print(f"task {spec.task!r}; {count_parameters(state.model):,} parameters; {len(data.train)} training / "
              f"{len(data.val)} validation puzzles; device {device}, precision {spec.train.precision} "
              f"({'bf16' if amp_dtype(spec.train, device) else 'fp32'}), "
              f"{procs.count} process(es) x {procs.local_batch(spec.train.batch_size)} slots; run directory {out}",
              file=sys.stderr)

    # ---------------------------------------------------------------- train, then save where it stopped
    sitting = Sitting(state, data.val, out, procs, args.time_limit, progress)
    stop_reason = sitting.run()
    sitting.close()
    state.count_cpu(procs)
    state.save(out / STATE_FILE, procs)
    procs.finish()
    if not procs.is_main:
        return 0

    if args.export:
        best_model, _, best_card = load_checkpoint(out / "best.safetensors")
        save_checkpoint(best_model, args.export, best_card)
    best = state.best or {}
    print(f"{stop_reason} at step {state.step}: best validation exact accuracy {best.get('exact_accuracy', float('nan')):.4f}"
          f" at step {best.get('step')}; {state.run_cpu_seconds / 60:.1f} CPU-minutes; checkpoints in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
