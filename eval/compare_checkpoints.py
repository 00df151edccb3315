"""Several sudoku checkpoints of one size on the same fresh puzzles: exact accuracy of the HRM alone.

    python eval/compare_checkpoints.py reasoner/checkpoints/sudoku-9x9.safetensors runs/s9ft/best.safetensors \
        --blanks 40 45 50 --count 512 --file '../shared/data/sudoku/sudoku_extreme_train_1k_subset.txt[900:1000]'

Puzzles are generated with the seed sequence [seed, size, blanks] (default seed 2026; the training
runs here use seed 0). Prints a markdown table: exact accuracy after each --segments count.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from tqdm.auto import tqdm

from reasoner.checkpoint import load_checkpoint
from reasoner.evaluate import evaluate
from reasoner.tasks import SudokuTask


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python eval/compare_checkpoints.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", help="sudoku checkpoints (.safetensors with their cards), one size")
    parser.add_argument("--blanks", type=int, nargs="*", default=[40], help="generated sets, one per blank count (default: 40)")
    parser.add_argument("--count", type=int, default=512, help="puzzles per generated set (default: %(default)s)")
    parser.add_argument("--file", action="append", default=[], help="an outside set, file:PATH[start:end] syntax without 'file:'")
    parser.add_argument("--segments", type=int, nargs="+", default=[8, 16], help="segment counts to report (default: 8 16)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    models = []
    for path in args.checkpoints:
        try:
            model, task, _ = load_checkpoint(path)
        except (FileNotFoundError, ValueError) as err:
            raise SystemExit(f"error: {err}")
        if not isinstance(task, SudokuTask):
            raise SystemExit(f"error: {path} is a {task!r} checkpoint, not a sudoku one")
        models.append((path, model, task))
    task = models[0][2]
    if any(t.spec() != task.spec() for _, _, t in models):
        raise SystemExit("error: the checkpoints are for different sudoku sizes")

    sets = {}
    for blanks in tqdm(args.blanks, desc="generating", leave=False):
        puzzles, solutions = task.generate(args.count, (blanks, blanks), np.random.default_rng([args.seed, task.size, blanks]), progress=False)
        sets[f"{blanks} blanks"] = task.examples_from_grids(puzzles, solutions)
    for spec in args.file:
        try:
            sets[spec] = task.load_examples(f"file:{spec}", np.random.default_rng(args.seed), progress=False)
        except (ValueError, FileNotFoundError) as err:
            raise SystemExit(f"error: {err}")

    segments = max(args.segments)
    header = ["checkpoint"] + [f"{name} (n={len(ex)}), {' / '.join(map(str, args.segments))} segments" for name, ex in sets.items()]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for path, model, _ in tqdm(models, desc="checkpoints", leave=False):
        cells = []
        for ex in sets.values():
            by_segment = evaluate(model, ex, segments=segments)["exact_accuracy_by_segment"]
            cells.append(" / ".join(f"{100 * by_segment[s - 1]:.1f}%" for s in args.segments))
        print("| " + " | ".join([path] + cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
