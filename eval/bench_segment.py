"""Speed of one HRM segment at small batches on the CPU: ways of running it, side by side in one run.

    python eval/bench_segment.py                          # the shipped sudoku-9x9 at batches 1 and 8
    python eval/bench_segment.py --batch 1 2 8 64 --repeats 40
    python eval/bench_segment.py --compile --jit          # also compiled rows (10-60 s per batch size), traced
    python eval/bench_segment.py --accuracy 100           # accuracy: plain path against inference path

Every variant runs the same puzzles (hard Sudoku-Extreme rows, or generated ones without the data
file). Variants take turns repeat by repeat, so load on the machine hits all alike. A repeat opens
the variant's contexts (inference mode, autocast), as solve() does, and times --segments segments
from the initial carry. Times are this thread's CPU time with one intra-op thread (solve() uses one
for small batches), so other jobs on the machine inflate them less than wall time; the table gives
the median per segment over all repeats, and the ratio to "before": the plain path in bf16 autocast,
which is what solve() ran until the inference path. The last column is the largest difference of
any answer probability from "before" after the last segment (bf16 noise is around 1e-2).

The variants:
  plain path: the modules on their parameters, the relation pattern built every forward as
      [heads, L, L] (what training runs); with fp32, or with the pattern in the fused kernel's form
      [1, heads, L, L] (built every forward, or once).
  inference path: HRM.forward in inference mode (the block functions on weights prepared once);
      in bf16 autocast (solve()'s default here), fp32, the model cast to bf16 once without autocast,
      or with the masked attention in SDPA's kernel instead of plain ops (what it ran before session 11).
  compiled (--compile): torch.compile(dynamic=False) of the plain or the inference path, one graph
      per batch size, compiled here with one thread (inductor writes the thread count of compile time
      into its kernels); the compile time is printed.
  traced (--jit): the inference path's updates through torch.jit.trace + freeze.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reasoner.checkpoint import load_checkpoint  # noqa: E402
from reasoner.evaluate import evaluate  # noqa: E402
from reasoner.inference import CHECKPOINT_DIR  # noqa: E402
import reasoner.model as model_module  # noqa: E402
from reasoner.model import HRM, Carry, segment  # noqa: E402
from reasoner.tasks import SudokuTask  # noqa: E402
from reasoner.tasks.base import default_data_dir  # noqa: E402

DEFAULT_FILE = "sudoku/sudoku_extreme_train_1k_subset.txt"
BLANKS = 50  # generated puzzles for --accuracy: hard enough that the HRM alone misses some
BF16 = torch.bfloat16

# One segment: (model, carry, inputs, puzzle_ids) -> (carry, logits)
Run = Callable[[HRM, Carry, torch.Tensor, torch.Tensor], tuple[Carry, torch.Tensor]]


@dataclass
class Variant:
    name: str
    model: HRM
    run: Run
    autocast: bool  # bf16 autocast around the segments


def plain(pattern: Callable[[HRM], object]) -> Run:
    """The plain path (as forward ran before the inference path), with the attention pattern from `pattern`."""

    def run(model: HRM, carry: Carry, inputs: torch.Tensor, ids: torch.Tensor) -> tuple[Carry, torch.Tensor]:
        x = model.embed_input(inputs, ids)
        mask = pattern(model)
        z_H, z_L = segment(lambda z, inject: model.L_level(z, inject, model.rotary, mask),
                           lambda z, inject: model.H_level(z, inject, model.rotary, mask),
                           carry.z_H, carry.z_L, x, model.cfg, grad_calls=0)
        return Carry(z_H, z_L), model.lm_head(z_H[:, model.cfg.puzzle_emb_len :])

    return run


def fused_form(model: HRM):
    """The relation scores as [1, heads, L, L] in bf16: the form SDPA's fused kernel takes."""
    return model.attention_mask().to(BF16)[None]


def cached(pattern: Callable[[HRM], object]) -> Callable[[HRM], object]:
    kept = {}

    def get(model: HRM):
        if id(model) not in kept:
            kept[id(model)] = pattern(model)
        return kept[id(model)]

    return get


def forward(model: HRM, carry: Carry, inputs: torch.Tensor, ids: torch.Tensor) -> tuple[Carry, torch.Tensor]:
    out = model(carry, inputs, ids)
    return out.carry, out.logits


def sdpa_attention(q, k, v, mask):
    """The masked attention through SDPA's kernel, as the model ran it on the CPU before session 11."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype) if mask.is_floating_point() else mask)


def with_sdpa_attention(model: HRM, carry: Carry, inputs: torch.Tensor, ids: torch.Tensor):
    plain_ops = model_module.masked_attention
    model_module.masked_attention = sdpa_attention  # attention() looks it up in reasoner.model
    try:
        return forward(model, carry, inputs, ids)
    finally:
        model_module.masked_attention = plain_ops


def compiled(run: Run) -> tuple[Run, dict]:
    """torch.compile(dynamic=False) of `run`; one graph per batch size. Returns the run and the
    compile seconds per batch size (filled on first use)."""
    fn = torch.compile(run, dynamic=False)
    seconds: dict[int, float] = {}

    def timed_first(model, carry, inputs, ids):
        if inputs.shape[0] not in seconds:
            start = time.perf_counter()
            out = fn(model, carry, inputs, ids)
            seconds[inputs.shape[0]] = time.perf_counter() - start
            return out
        return fn(model, carry, inputs, ids)

    return timed_first, seconds


def traced() -> Run:
    """The inference path's updates through torch.jit.trace + freeze, one trace per batch size (both
    calls are deprecated in torch 2.x and warn)."""
    traces = {}

    class Updates(torch.nn.Module):
        def __init__(self, model: HRM, device: torch.device):
            super().__init__()
            self.cfg, (self.L, self.H) = model.cfg, model.levels(device)

        def forward(self, z_H: torch.Tensor, z_L: torch.Tensor, x: torch.Tensor):
            return segment(self.L, self.H, z_H, z_L, x, self.cfg, grad_calls=0)

    def run(model: HRM, carry: Carry, inputs: torch.Tensor, ids: torch.Tensor) -> tuple[Carry, torch.Tensor]:
        x = model.embed_input(inputs, ids)
        if inputs.shape[0] not in traces:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                trace = torch.jit.trace(Updates(model, x.device).eval(), (carry.z_H, carry.z_L, x), check_trace=False)
                traces[inputs.shape[0]] = torch.jit.freeze(trace)
        z_H, z_L = traces[inputs.shape[0]](carry.z_H, carry.z_L, x)
        return Carry(z_H, z_L), model.lm_head(z_H[:, model.cfg.puzzle_emb_len :])

    return run


def variants(model: HRM, compile_too: bool, jit_too: bool) -> tuple[list[Variant], dict]:
    as_bf16 = copy.deepcopy(model).to(BF16)
    rows = [
        Variant("before: plain path, bf16 autocast", model, plain(HRM.attention_mask), True),
        Variant("plain path, fp32", model, plain(HRM.attention_mask), False),
        Variant("plain path, fused-kernel pattern built every forward", model, plain(fused_form), True),
        Variant("plain path, fused-kernel pattern built once", model, plain(cached(fused_form)), True),
        Variant("inference path, bf16 autocast (solve()'s default)", model, forward, True),
        Variant("inference path, fp32", model, forward, False),
        Variant("inference path, model cast to bf16 once, no autocast", as_bf16, forward, False),
        Variant("inference path, masked attention in SDPA's kernel", model, with_sdpa_attention, True),
    ]
    if jit_too:
        rows.append(Variant("traced inference path (jit trace + freeze), bf16 autocast", model, traced(), True))
    compile_seconds = {}
    if compile_too:
        for name, run in (("compiled plain path", plain(HRM.attention_mask)), ("compiled inference path", forward)):
            fn, compile_seconds[name] = compiled(run)
            rows.append(Variant(f"{name}, bf16 autocast", model, fn, True))
    return rows, compile_seconds


def repeat(v: Variant, inputs: torch.Tensor, ids: torch.Tensor, segments: int) -> tuple[list[float], torch.Tensor]:
    """CPU seconds of each of `segments` segments from the initial carry, and the last answer probabilities."""
    times = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=BF16, enabled=v.autocast):
        carry = v.model.initial_carry(inputs.shape[0])
        for _ in range(segments):
            start = time.thread_time()
            carry, logits = v.run(v.model, carry, inputs, ids)
            times.append(time.thread_time() - start)
    return times, logits.float().softmax(-1)


def speed_table(model: HRM, grids: torch.Tensor, batches: list[int], repeats: int, segments: int,
                compile_too: bool, jit_too: bool) -> str:
    rows, compile_seconds = variants(model, compile_too, jit_too)
    lines = ["| variant | batch | median ms per segment | ratio to before | max abs prob diff vs before |", "|---|---|---|---|---|"]
    for batch in batches:
        inputs, ids = grids[:batch], torch.zeros(batch, dtype=torch.long)
        times = {v.name: [] for v in rows}
        probs = {v.name: repeat(v, inputs, ids, segments)[1] for v in rows}  # warm-up: first kernels, caches, compiles
        for _ in range(repeats):
            for v in rows:
                times[v.name] += repeat(v, inputs, ids, segments)[0]
        base = statistics.median(times[rows[0].name])
        for v in rows:
            ms = statistics.median(times[v.name])
            diff = (probs[v.name] - probs[rows[0].name]).abs().max().item()
            lines.append(f"| {v.name} | {batch} | {1000 * ms:.2f} | {ms / base:.2f} | {diff:.1e} |")
    for name, seconds in compile_seconds.items():
        lines.append(f"\n{name}: compile seconds per batch size " + ", ".join(f"{b}: {s:.0f}" for b, s in seconds.items()))
    return "\n".join(lines)


def accuracy_table(model: HRM, task: SudokuTask, sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """Accuracy after M_max segments, the plain path (no_grad) against the inference path."""
    lines = [f"HRM alone, {model.cfg.halt_max_steps} segments\n",
             "| puzzles | path | precision | exact | token | exact where ACT halts |", "|---|---|---|---|---|---|"]
    for label, (grids, solutions) in sets.items():
        examples = task.examples_from_grids(grids, solutions)
        for precision, dtype in (("bf16 autocast", BF16), ("fp32", None)):
            for name, mode in (("plain", contextlib.nullcontext), ("inference", torch.inference_mode)):
                with mode():
                    m = evaluate(model, examples, autocast_dtype=dtype)
                lines.append(f"| {label} | {name} | {precision} | {m['exact_accuracy']:.3f} | {m['token_accuracy']:.4f} | "
                             f"{m['act_exact_accuracy']:.3f} |")
    return "\n".join(lines)


def puzzles(task: SudokuTask, path: Path, count: int) -> torch.Tensor:
    """`count` encoded hard puzzles (17-25 givens) from `path`, or generated ones without it."""
    if path.is_file():
        grids = [g for g in task.load_file(path)[0] if 17 <= (g > 0).sum() <= 25][:count]
    else:
        grids = list(task.generate(count, (56, 64), np.random.default_rng(0), progress=False)[0])
    grids = (grids * count)[:count]
    return torch.from_numpy(np.stack([task.encode(g) for g in grids]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT_DIR / "sudoku-9x9.safetensors",
                        help="a 9x9 sudoku checkpoint (default: the shipped one)")
    parser.add_argument("--sudoku-file", type=Path, default=default_data_dir() / DEFAULT_FILE)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=20, help="repeats per variant and batch (default: %(default)s)")
    parser.add_argument("--segments", type=int, default=2, help="segments per repeat (default: %(default)s, as solve())")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default: %(default)s)")
    parser.add_argument("--compile", action="store_true", help="also torch.compile'd rows (slow to compile)")
    parser.add_argument("--jit", action="store_true", help="also a torch.jit.trace + freeze row (deprecated API)")
    parser.add_argument("--accuracy", type=int, default=0, metavar="N",
                        help=f"also accuracy on N generated puzzles ({BLANKS} blanks) and N rows of --sudoku-file "
                             "from row 800 (the card's validation rows)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, task, _ = load_checkpoint(args.checkpoint)
    print(f"{args.checkpoint.name}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{args.repeats} repeats x {args.segments} segments, CPU time\n")
    print(speed_table(model, puzzles(task, args.sudoku_file, max(args.batch)), args.batch, args.repeats,
                      args.segments, args.compile, args.jit))
    if args.accuracy:
        sets = {f"generated, {BLANKS} blanks, {args.accuracy}": task.generate(args.accuracy, (BLANKS, BLANKS),
                                                                          np.random.default_rng(0), progress=False)}
        if args.sudoku_file.is_file():
            rows = (800, 800 + args.accuracy)
            sets[f"{args.sudoku_file.name} rows {rows[0]}:{rows[1]}"] = task.load_file(args.sudoku_file, rows)
        print("\n" + accuracy_table(model, task, sets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
