"""Inference speed, side by side in one run: solve() against a plain backtracking solver, and the
HRM's batched arithmetic rate against a plain matmul, in fp32 and bf16.

    python eval/bench_inference.py                      # hard Sudoku-Extreme rows, the shipped sudoku-9x9
    python eval/bench_inference.py --puzzles 10 --accuracy-puzzles 64   # quicker

1. Latency, one puzzle at a time, interleaved so that load on the machine hits all alike: the plain
   solver (bitmasks, fewest-candidates cell first, no propagation, counts to 2 to prove uniqueness),
   solve() as shipped, and solve() in the previous defaults (ACT halting, fp32).
2. Batched inference: FLOPs of one segment counted by torch's FlopCounterMode, over the measured
   time of a segment at each --batch, as a share of a plain matmul of the model's largest GEMM
   shape in the same precision, measured in the same run; for the model as solve() loads it, and
   compiled as solve(compile=True) runs it (first_call_s includes the compile). Large batches cost
   more a row once a segment's activations leave the caches: solve() runs a segment in parts of
   reasoner.inference.CPU_FORWARD_POSITIONS (`--batch 64 192 512 1600` shows why).
3. Accuracy in fp32 and bf16 (exact, HRM alone, after M_max segments) on generated puzzles.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import matmul_gflops, timed  # eval/bench_training.py, beside this file

from reasoner.evaluate import evaluate
from reasoner.inference import CHECKPOINT_DIR, bf16_native, load_model, solve
from reasoner.tasks import VARIANTS, SudokuTask
from reasoner.tasks.base import default_data_dir

DEFAULT_FILE = "sudoku/sudoku_extreme_train_1k_subset.txt"


def backtrack_count(grid: list[list[int]], limit: int = 2) -> int:
    """Solutions of a 9x9 puzzle, up to `limit`, by plain backtracking: digits used per row, column
    and box as bitmasks; branch on the blank with the fewest candidates; no propagation."""
    rows, cols, boxes = [0] * 9, [0] * 9, [0] * 9
    blanks = []
    for r in range(9):
        for c in range(9):
            if grid[r][c]:
                bit = 1 << grid[r][c]
                rows[r], cols[c], boxes[r // 3 * 3 + c // 3] = rows[r] | bit, cols[c] | bit, boxes[r // 3 * 3 + c // 3] | bit
            else:
                blanks.append((r, c, r // 3 * 3 + c // 3))
    all_digits = 0b1111111110

    def search(open_cells: list[tuple[int, int, int]]) -> int:
        if not open_cells:
            return 1
        best, best_mask, best_count = 0, 0, 10
        for k, (r, c, b) in enumerate(open_cells):
            mask = all_digits & ~(rows[r] | cols[c] | boxes[b])
            count = mask.bit_count()
            if count < best_count:
                best, best_mask, best_count = k, mask, count
                if count <= 1:
                    break
        r, c, b = open_cells[best]
        rest = open_cells[:best] + open_cells[best + 1 :]
        found = 0
        for digit in range(1, 10):
            bit = 1 << digit
            if best_mask & bit:
                rows[r] ^= bit
                cols[c] ^= bit
                boxes[b] ^= bit
                found += search(rest)
                rows[r] ^= bit
                cols[c] ^= bit
                boxes[b] ^= bit
                if found >= limit:
                    break
        return found

    return search(blanks)


def hard_puzzles(path: Path, rows: slice, givens: tuple[int, int], count: int) -> list[str]:
    lines = path.read_text().split()[rows]
    return [p for p in lines if givens[0] <= sum(ch not in ".0" for ch in p) <= givens[1]][:count]


def latency(puzzles: list[str], task: SudokuTask) -> dict:
    """Median ms per puzzle, one at a time, the three solvers interleaved puzzle by puzzle."""
    runners = {
        "plain backtracking (proves uniqueness)": lambda p: backtrack_count(task.parse(p).tolist()),
        "solve() (verified halting, precision auto)": lambda p: solve(p),
        "solve(halting='act', precision='fp32')": lambda p: solve(p, halting="act", precision="fp32"),
    }
    for run in runners.values():  # warm-up: model load, first kernels
        run(puzzles[0])
    times = {name: [] for name in runners}
    paths = []
    for p in puzzles:
        for name, run in runners.items():
            start = time.perf_counter()
            out = run(p)
            times[name].append(time.perf_counter() - start)
            if name.startswith("solve() "):
                paths.append((out.path, out.segments_used))
    medians = {name: 1000 * float(np.median(t)) for name, t in times.items()}
    base = medians["plain backtracking (proves uniqueness)"]
    return {"medians_ms": medians, "ratio_to_backtracking": {n: m / base for n, m in medians.items()},
            "paths": paths}


@torch.inference_mode()
def batched_rate(models: dict, task: SudokuTask, batch: int, repeats: int, rounds: int = 5,
                 precisions: tuple[str, ...] = ("fp32", "bf16")) -> list[dict]:
    """Achieved GFLOP/s of one segment at `batch` against a plain matmul, fp32 and bf16, for each of
    `models` (name -> model: as solve() loads it, and compiled). The models take turns, round by
    round, and each row is the median round, so load on the machine hits all alike. FLOPs are
    counted on the first model: under FlopCounterMode a compiled function runs uncompiled."""
    first_model = next(iter(models.values()))
    cfg = first_model.cfg
    puzzles, _ = task.generate(batch, (40, 40), np.random.default_rng(0), progress=False)
    inputs = torch.from_numpy(np.stack([task.encode(g) for g in puzzles]))
    ids = torch.zeros(batch, dtype=torch.long)
    carry = first_model.initial_carry(batch)
    rows = []
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        if name not in precisions:
            continue
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            with FlopCounterMode(display=False) as counter:
                first_model(carry, inputs, ids)
            flops = counter.get_total_flops()
            first_call, times = {}, {path: [] for path in models}
            for path, model in models.items():
                start = time.perf_counter()
                model(carry, inputs, ids)  # a compiled model compiles here
                first_call[path] = time.perf_counter() - start
            for _ in range(rounds):
                for path, model in models.items():
                    times[path].append(timed(lambda: model(carry, inputs, ids), repeats))
        reference = matmul_gflops(batch * cfg.total_len, cfg.hidden_size, 2 * cfg.mlp_hidden, dtype)
        for path, seconds in times.items():
            seconds = statistics.median(seconds)
            achieved = flops / seconds / 1e9
            rows.append({"precision": name, "path": path, "batch": batch, "first_call_s": first_call[path],
                         "ms_per_segment": 1000 * seconds, "gflop_per_segment": flops / 1e9, "achieved_gflops": achieved,
                         "matmul_gflops": reference, "share_of_matmul": achieved / reference,
                         "puzzle_segments_per_s": batch / seconds})
    return rows


def accuracy(model, task: SudokuTask, count: int, blanks: tuple[int, ...]) -> list[dict]:
    rows = []
    for b in blanks:
        puzzles, solutions = task.generate(count, (b, b), np.random.default_rng(4242 + b), progress=False)
        examples = task.examples_from_grids(puzzles, solutions)
        row = {"blanks": b, "puzzles": count}
        for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
            row[name] = evaluate(model, examples, autocast_dtype=dtype)["exact_accuracy"]
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sudoku-file", type=Path, default=default_data_dir() / DEFAULT_FILE)
    parser.add_argument("--rows", default="900:1000", help="rows of the file to draw from (default: %(default)s)")
    parser.add_argument("--puzzles", type=int, default=30, help="hard puzzles (17-25 givens) timed one at a time "
                        "(0: no latency part)")
    parser.add_argument("--batch", type=int, nargs="+", default=[256], help="batches for the arithmetic rate")
    parser.add_argument("--accuracy-puzzles", type=int, default=256, help="generated puzzles per blank count")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the compiled rows of the batched rate (solve(compile=True): a compile of tens of seconds)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], nargs="+", default=["fp32", "bf16"],
                        help="precisions of the batched rate (default: both)")
    parser.add_argument("--threads", type=int, help="intra-op threads (default: torch's); 1 on a CPU other jobs keep busy")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    variant = VARIANTS["sudoku-9x9"]
    task = variant.make()
    model, _, _ = load_model(str(CHECKPOINT_DIR / variant.checkpoint), "cpu")
    print(f"{variant.name}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"native bf16: {bf16_native('cpu')}\n")
    if args.puzzles and args.sudoku_file.is_file():
        start, end = (int(x) for x in args.rows.split(":"))
        puzzles = hard_puzzles(args.sudoku_file, slice(start, end), (17, 25), args.puzzles)
        result = latency(puzzles, task)
        print(f"## solve() latency, {len(puzzles)} puzzles with 17-25 givens ({args.sudoku_file.name} rows {args.rows}), "
              "one at a time\n")
        print(table([{"solver": n, "median_ms": m, "ratio_to_backtracking": result["ratio_to_backtracking"][n]}
                     for n, m in result["medians_ms"].items()]))
        counts = {}
        for path, used in result["paths"]:
            counts[(path, used)] = counts.get((path, used), 0) + 1
        print("\nsolve() paths (path, segments): " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + "\n")
    elif args.puzzles:
        print(f"(no {args.sudoku_file}: latency skipped)\n")
    print(f"## Batched inference, one segment at batch {', '.join(map(str, args.batch))}\n")
    models = {"as loaded": model}
    if not args.no_compile:
        models["compiled"] = load_model(str(CHECKPOINT_DIR / variant.checkpoint), "cpu", compiled=True)[0]
    print(table([row for batch in args.batch
                 for row in batched_rate(models, task, batch, repeats=3, precisions=tuple(args.precision))]) + "\n")
    if not bf16_native("cpu"):
        print("This CPU has no native bf16 (AVX512-BF16 or AMX): bf16 is emulated, solve() runs fp32 here, and the "
              "bf16 row only shows what emulation costs.\n")
    if args.accuracy_puzzles:
        print(f"## Exact accuracy, HRM alone after {model.cfg.halt_max_steps} segments, fp32 vs bf16\n")
        print(table(accuracy(model, task, args.accuracy_puzzles, (40, 50))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
