"""How answers get verified: HRM alone, HRM + repair, guided search; and what the guidance saves.

    python eval/bench_repair.py                                   # Sudoku-Extreme 1k + generated
    python eval/bench_repair.py --file ../shared/data/sudoku/norvig_easy50.txt --generated 0

For every puzzle: `solve()` with repair on (which path produced the verified answer), then the
exhaustive search twice on the same puzzle, once trying values in the model's probability order
and once in plain ascending order, counting branching nodes. Latency is `solve()` on one puzzle
at a time (median over --latency-puzzles).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from reasoner.inference import CHECKPOINT_DIR, _load, _run_model, solve
from verifiers import sudoku as rules

DATA_DIR = Path(os.environ.get("HRM_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def measure(name: str, puzzles: list[str], checkpoint: Path, latency_puzzles: int) -> dict:
    model, task, _ = _load(str(checkpoint), "cpu")
    results = []
    for start in tqdm(range(0, len(puzzles), 100), desc=f"{name}: solve", leave=False):
        results += solve(puzzles[start : start + 100], checkpoint=checkpoint, device="cpu")
    paths = Counter(r.path for r in results)
    statuses = Counter(r.status for r in results)

    grids = np.stack([task.parse(p) for p in puzzles])
    guided_nodes, plain_nodes = [], []
    for start in tqdm(range(0, len(grids), 100), desc=f"{name}: search", leave=False):
        chunk = grids[start : start + 100]
        _, probs, _ = _run_model(model, task, chunk, model.cfg.halt_max_steps, "fixed", "cpu")
        for grid, p in zip(chunk, probs):
            guided_nodes.append(rules.guided_search(grid, task.box_rows, task.box_cols, value_scores=p).nodes)
            plain_nodes.append(rules.guided_search(grid, task.box_rows, task.box_cols).nodes)

    latencies = []
    for p in puzzles[:latency_puzzles]:
        t = time.perf_counter()
        solve(p, checkpoint=checkpoint, device="cpu")
        latencies.append(time.perf_counter() - t)
    n = len(results)
    return {
        "set": name,
        "puzzles": n,
        "hrm_alone": round(paths["hrm"] / n, 4),
        "hrm_plus_repair": round(paths["hrm+repair"] / n, 4),
        "search": round(paths["search"] / n, 4),
        "unsolved": round(paths["none"] / n, 4),
        "statuses": dict(statuses),
        "nodes_guided_mean": round(float(np.mean(guided_nodes)), 1),
        "nodes_plain_mean": round(float(np.mean(plain_nodes)), 1),
        "nodes_guided_median": float(np.median(guided_nodes)),
        "nodes_plain_median": float(np.median(plain_nodes)),
        "median_latency_ms": round(1000 * float(np.median(latencies)), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT_DIR / "sudoku-9x9.safetensors")
    parser.add_argument("--file", type=Path, default=DATA_DIR / "sudoku" / "sudoku_extreme_train_1k_subset.txt",
                        help="puzzle file, one per line (skipped when missing)")
    parser.add_argument("--rows", default=None, help="START:END lines of --file (default: all)")
    parser.add_argument("--generated", type=int, default=200, help="generated puzzles per blank count")
    parser.add_argument("--blanks", type=int, nargs="+", default=[40, 50, 55])
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--latency-puzzles", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    sets = []
    if args.file.is_file():
        lines = [ln.strip() for ln in args.file.read_text().splitlines() if ln.strip()]
        if args.rows:
            a, b = args.rows.split(":")
            lines = lines[int(a or 0) : int(b) if b else None]
        sets.append((f"{args.file.name}[{args.rows or ':'}]", lines))
    else:
        print(f"note: {args.file} not found; skipping it", file=sys.stderr)
    if args.generated:
        _, task, _ = _load(str(args.checkpoint), "cpu")
        for blanks in args.blanks:
            puzzles, _ = task.generate(args.generated, (blanks, blanks), np.random.default_rng(args.seed + blanks), progress=False)
            sets.append((f"generated, {blanks} blanks (seed {args.seed + blanks})", [task.to_string(p) for p in puzzles]))

    rows = [measure(name, puzzles, args.checkpoint, args.latency_puzzles) for name, puzzles in sets]
    keys = ["set", "puzzles", "hrm_alone", "hrm_plus_repair", "search", "unsolved", "nodes_guided_mean",
            "nodes_plain_mean", "nodes_guided_median", "nodes_plain_median", "median_latency_ms"]
    print(f"checkpoint {args.checkpoint}\n")
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    if args.json:
        args.json.write_text(json.dumps({"checkpoint": str(args.checkpoint), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
