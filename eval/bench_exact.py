"""Speed of the exact sudoku search: the readable pure-Python solver against the compiled core.

    python eval/bench_exact.py                                 # 200 norvig_sudoku10k rows with 17-25 givens
    python eval/bench_exact.py --file ../shared/data/sudoku/sudoku_extreme_train_1k_subset.txt --givens 17-81
    python eval/bench_exact.py --generated --min-rating 10     # generated minimal puzzles, rating >= 10
    python eval/bench_exact.py --generator 10000               # speed and spread of the minimal-puzzle generator

For each puzzle it times count_solutions(limit=2) (prove unique) and guided_search (solve)
through the public API of verifiers.sudoku, once inside `python_solver()` (the pure-Python
reference) and once on the compiled core, checks that both give the same answers and node
counts, and prints the median per-puzzle speed-up. Times are the best of --repeats runs; both
paths take the same input validation, so the speed-up is of the whole call. Without the data
file (../shared/data, or $HRM_DATA_DIR) it falls back to generated puzzles. Times are CPU
time of this process, so other work on the machine inflates them less than wall-clock time.

--generator N instead makes N 9x9 minimal puzzles (verifiers.sudoku.minimal_puzzles, seed
--seed) and prints puzzles per second and how their givens and ratings are spread.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reasoner.tasks import SudokuTask  # noqa: E402
from reasoner.tasks.base import default_data_dir  # noqa: E402
from verifiers import sudoku as rules  # noqa: E402


def parse_range(text: str) -> tuple[int, int]:
    """"A" or "A-B" -> (A, B), for argparse."""
    lo, _, hi = text.partition("-")
    try:
        low, high = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A or A-B with whole numbers, got {text!r}") from None
    if not 0 <= low <= high <= 81:
        raise argparse.ArgumentTypeError(f"expected 0 <= A <= B <= 81, got {text!r}")
    return low, high


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def file_puzzles(path: Path, givens: tuple[int, int], count: int) -> list[np.ndarray]:
    """The first `count` rows of a puzzle file whose number of givens is in range."""
    found = []
    for line in path.read_text().split():
        grid = np.array([0 if ch == "." else int(ch) for ch in line], dtype=np.int64).reshape(9, 9)
        if givens[0] <= int((grid > 0).sum()) <= givens[1]:
            found.append(grid)
            if len(found) == count:
                break
    return found


def generated_puzzles(givens: tuple[int, int], min_rating: int, count: int, seed: int) -> list[np.ndarray]:
    """Generated 9x9 minimal puzzles with givens in range and a rating of at least min_rating."""
    rating = (min_rating, 10**9)
    try:
        puzzles, _ = SudokuTask(3, 3).generate_minimal(count, givens, np.random.default_rng(seed), rating, progress=False)
    except ValueError as err:
        sys.exit(str(err))
    return list(puzzles)


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def generator_stats(count: int, seed: int) -> None:
    rules.minimal_puzzles(1, 3, 3, np.random.default_rng(seed))  # compile or load the core
    rng = np.random.default_rng(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    puzzles, _, ratings = rules.minimal_puzzles(count, 3, 3, rng)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    givens = (puzzles > 0).sum(axis=(1, 2))
    print(f"{count} minimal 9x9 puzzles (seed {seed}): {count / cpu:.0f} puzzles per CPU-second, "
          f"{count / wall:.0f} per wall-clock second")
    print("| givens | puzzles | share | median rating |")
    print("|---|---|---|---|")
    for g in range(int(givens.min()), int(givens.max()) + 1):
        chosen = givens == g
        print(f"| {g} | {chosen.sum()} | {chosen.mean():.2%} | {np.median(ratings[chosen]) if chosen.any() else '-'} |")
    edges = [0, 1, 5, 10, 20, 50, 100, 200, 500]
    print("| rating (dead ends) | puzzles | share |")
    print("|---|---|---|")
    for lo, hi in zip(edges, edges[1:] + [None]):
        chosen = ratings >= lo if hi is None else (ratings >= lo) & (ratings < hi)
        label = f"{lo}+" if hi is None else (f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}")
        print(f"| {label} | {chosen.sum()} | {chosen.mean():.2%} |")
    print(f"rating: mean {ratings.mean():.1f}, median {np.median(ratings):.0f}, max {ratings.max()}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, help="puzzle file, one 81-character puzzle per line "
                        "(default: norvig_sudoku10k.txt of the data folder)")
    parser.add_argument("--generated", action="store_true", help="use generated minimal puzzles instead of a file")
    parser.add_argument("--givens", type=parse_range, default="17-25", help="keep puzzles with this many givens (A-B; default 17-25)")
    parser.add_argument("--min-rating", type=int, default=0,
                        help="with --generated: keep puzzles rated at least this (search_effort)")
    parser.add_argument("--puzzles", type=positive, default=200, help="how many puzzles (default 200)")
    parser.add_argument("--repeats", type=positive, default=3, help="time each call this many times, keep the best")
    parser.add_argument("--seed", type=int, default=0, help="seed of --generated and --generator")
    parser.add_argument("--generator", type=positive, metavar="N",
                        help="instead: make N 9x9 minimal puzzles, print their speed and spread of givens and ratings")
    args = parser.parse_args(argv)
    if args.generator:
        generator_stats(args.generator, args.seed)
        return
    givens = args.givens

    path = args.file or default_data_dir() / "sudoku" / "norvig_sudoku10k.txt"
    if args.generated or not path.is_file():
        if not args.generated:
            print(f"no puzzle file at {path}: using generated minimal puzzles")
        source = f"generated minimal puzzles (seed {args.seed}, rating >= {args.min_rating})"
        puzzles = generated_puzzles(givens, args.min_rating, args.puzzles, args.seed)
    else:
        source = str(path)
        puzzles = file_puzzles(path, givens, args.puzzles)
    if not puzzles:
        sys.exit(f"no puzzle in {source} has {givens[0]}-{givens[1]} givens")

    rules.count_solutions(puzzles[0], 3, 3)  # compile, or load the compiled core from its cache
    speedups: dict[str, list[float]] = {"count": [], "solve": []}
    totals = {"count": [0.0, 0.0], "solve": [0.0, 0.0]}
    calls = {
        "count": lambda p: rules.count_solutions(p, 3, 3, limit=2),
        "solve": lambda p: rules.guided_search(p, 3, 3),
    }
    for puzzle in puzzles:
        for name, call in calls.items():
            with rules.python_solver():
                slow, expected = best_time(lambda: call(puzzle), args.repeats)
            fast, got = best_time(lambda: call(puzzle), args.repeats)
            if got != expected:
                sys.exit(f"the compiled core disagrees with the Python solver on {rules.grid_to_string(puzzle)}")
            speedups[name].append(slow / fast)
            totals[name][0] += slow
            totals[name][1] += fast
    ratings = [rules.search_effort(p, 3, 3) for p in puzzles]
    given_counts = [int((p > 0).sum()) for p in puzzles]

    print(f"{len(puzzles)} puzzles from {source}; givens {min(given_counts)}-{max(given_counts)} "
          f"(mean {np.mean(given_counts):.1f}); rating (dead ends) median {np.median(ratings):.0f}, "
          f"mean {np.mean(ratings):.1f}, max {max(ratings)}; best of {args.repeats} runs")
    print("| call | Python ms/puzzle | compiled ms/puzzle | median speed-up | 10th-90th percentile |")
    print("|---|---|---|---|---|")
    for name in calls:
        s = np.array(speedups[name])
        py, core = (1000 * t / len(puzzles) for t in totals[name])
        print(f"| {name} | {py:.3f} | {core:.4f} | {np.median(s):.1f}x | "
              f"{np.percentile(s, 10):.1f}x-{np.percentile(s, 90):.1f}x |")


if __name__ == "__main__":
    main()
