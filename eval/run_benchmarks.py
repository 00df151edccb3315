"""What the reasoner can do, on the shipped checkpoints, on this CPU, in minutes.

    python eval/run_benchmarks.py --quick            # CI-sized: well under 2 minutes for the sudoku checkpoints
    python eval/run_benchmarks.py                    # full: more puzzles, up to 32 test-time segments (~20 min),
                                                     # and hard sudoku / maze sizes up to 128 / 64 (as long again)
    python eval/run_benchmarks.py --sudoku-file ../shared/data/sudoku/sudoku_extreme_train_1k_subset.txt
    python eval/run_benchmarks.py --quick --tasks arc --arc-data-dir ../shared/data   # the ARC checkpoint alone

For every checkpoint `<checkpoint-dir>/<variant>.safetensors` (+ its JSON card) that exists:
  * held-out test puzzles, generated with --seed (a seed sequence no training run uses), at a few
    blank counts per size; for 4x4 (where random puzzles can coincide) the training set is rebuilt
    from the card and exact repeats are dropped. --sudoku-file adds an outside puzzle set (rows the
    card says were used for training or validation are left out);
  * exact accuracy, cell accuracy (blank cells only, and all cells), where the ACT Q-head would
    halt, accuracy at that step, latency at batch 1, batched throughput, parameters, training cost;
  * inference-time scaling: exact accuracy against the number of test-time segments;
  * baselines: the exact classical solver (verifiers.sudoku), and solve()'s verified paths
    (HRM alone / HRM+repair / search) with search nodes with and without model guidance;
  * how it reasons (eval/analysis.py): forward residuals of z_H and z_L per inner step,
    participation ratio of z_H vs z_L (trained vs untrained), intermediate answers as PNG and GIF;
  * hard sudoku (9x9, the tables of eval/sudoku_hard.py): the HRM alone on fresh minimal puzzles
    (--givens) and on the usable 9x9 rows of --sudoku-file, exact at 8/16/32/64/128 test-time
    segments (8/16 with --quick) with verifier-halt (the first answer the rule checker accepts) next
    to it, and with test-time views (8 symmetric copies per puzzle, 2 with --quick; verifier-picked,
    and model-picked: the copy whose Q-head halt logit is highest), by number of givens and by
    rating, each set also with committed decoding (reasoner/commit.py, one cell after every
    segment: rows named ", commit 1"), and the exact search with and without the model's guidance: its nodes, and the share it
    solves without branching.
A maze checkpoint (`maze*.safetensors`) is measured through the Task interface when the maze task
exists. A size-free one (pos_encoding "none", e.g. `maze.safetensors`) also gets the table of
eval/maze_sizes.py: valid-shortest-path and exact-label rates against test-time segments, with
verifier-halt and views, on fresh Maze-Hard-style mazes of side 9, 15, 21 and 30 (9 and 30 with --quick) and on
the usable rows of --maze-file, and a GIF of the path forming on one 30x30 maze.
An ARC checkpoint (`arc*.safetensors`) is scored by `reasoner.arc_eval.evaluate_arc` on the
evaluation tasks its card was built with (the task JSON under --arc-data-dir, else where the card or
$HRM_DATA_DIR / ../shared/data point; missing data are a note, not an error): pass@1, pass@2 and
strict pass@1/@2, the answers asked (test inputs x versions: 8 versions each with --quick, all of
them otherwise), answers discarded as no grid, wall time per answer; the submission goes to --out.
Output: markdown tables on stdout, `benchmarks.json` (every number and the exact configuration) and
PNG/GIF pictures in --out.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import analysis  # eval/analysis.py, beside this file
from bench_exact import parse_range  # "A-B" for --givens, as bench_exact reads it
import maze_sizes  # eval/maze_sizes.py: the maze-sizes table
import sudoku_hard  # eval/sudoku_hard.py: the hard-sudoku table

from reasoner.act import run_segments
from reasoner.arc_eval import evaluate_arc
from reasoner.checkpoint import load_checkpoint, read_card
from reasoner.commit import EVERY, Commit
from reasoner.evaluate import evaluate, predict
from reasoner.inference import CHECKPOINT_DIR, run_model, solve
from reasoner.model import HRM
from reasoner.solvers import sudoku_variant
from reasoner.tasks import SUDOKU_BY_CELLS, VARIANTS, ArcTask, Examples, PuzzleInputError, SudokuTask
from reasoner.tasks.base import parse_file_source, split_sources
from reasoner.tasks.maze import maze_side
from verifiers import sudoku as rules

SUDOKU_VARIANTS = [v.name for v in SUDOKU_BY_CELLS.values()]
TASK_CHOICES = SUDOKU_VARIANTS + ["maze", "arc"]
BLANK_LEVELS = {"sudoku-4x4": (6, 8, 10), "sudoku-6x6": (14, 18, 22), "sudoku-9x9": (40, 50, 55)}
DEFAULT_SEED = 8675309
EVAL_BATCH = 256
# Training sets are rebuilt (to drop test puzzles that occur in them) only where repeats are
# possible at all: 4x4 sudoku has just 288 solution grids; 6x6 has 28 million and 9x9 6.7e21.
REBUILD_MAX_CELLS = 16


@dataclass(frozen=True)
class Profile:
    puzzles: int  # generated test puzzles per difficulty
    file_puzzles: int  # at most this many rows of --sudoku-file per size
    segments: tuple[int, ...]  # test-time segment counts for the scaling curve
    maze_puzzles: int  # maze test puzzles (a maze is 900 cells: ten times a sudoku's cost)
    latency_puzzles: int  # puzzles timed one at a time
    analysis_puzzles: int  # puzzles for residuals and participation ratio
    picture_puzzles: int  # boards in the intermediate-answer pictures
    arc_versions: int | None  # ARC: versions asked per test input, the identity first (None: all of them)
    hard_puzzles: int  # hard sudoku: fresh minimal puzzles, and at most this many --sudoku-file rows
    hard_segments: tuple[int, ...]  # hard sudoku: test-time segment counts
    views: int  # hard sudoku and maze sizes: also N symmetric copies per puzzle, verifier- and model-picked (1: off)
    maze_sizes: tuple[int, ...]  # sides of the fresh mazes for a size-free maze checkpoint
    size_mazes: int  # mazes per side, and at most this many --maze-file rows
    size_segments: tuple[int, ...]  # maze sizes: test-time segment counts


# Hard sudoku is also scored with committed decoding of this many cells (the measured choice, docs/results.md).
HARD_COMMIT = 1
QUICK = Profile(puzzles=32, file_puzzles=64, segments=(1, 2, 4, 8), maze_puzzles=8, latency_puzzles=8, analysis_puzzles=16,
                picture_puzzles=4, arc_versions=8, hard_puzzles=16, hard_segments=(8, 16), views=2, maze_sizes=(9, 30), size_mazes=4,
                size_segments=(1, 2, 4, 8))
FULL = Profile(puzzles=256, file_puzzles=1000, segments=(1, 2, 4, 8, 16, 32), maze_puzzles=128, latency_puzzles=32,
               analysis_puzzles=64, picture_puzzles=4, arc_versions=None, hard_puzzles=200, hard_segments=(8, 16, 32, 64, 128), views=8,
               maze_sizes=(9, 15, 21, 30), size_mazes=64, size_segments=(4, 8, 16, 32, 64))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python eval/run_benchmarks.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"CI-sized run: {QUICK.puzzles} puzzles per difficulty, segments up to {max(QUICK.segments)}; "
                             f"hard sudoku: {QUICK.hard_puzzles} puzzles at {profile_counts(QUICK.hard_segments)} segments, also with "
                             f"{QUICK.views} views; "
                             f"maze sizes {profile_counts(QUICK.maze_sizes)}: {QUICK.size_mazes} mazes each at "
                             f"{profile_counts(QUICK.size_segments)} segments (default: full, {FULL.puzzles} puzzles per "
                             f"difficulty, segments up to {max(FULL.segments)}; hard sudoku: {FULL.hard_puzzles} puzzles at "
                             f"{profile_counts(FULL.hard_segments)} segments, also with {FULL.views} views; maze sizes {profile_counts(FULL.maze_sizes)}: "
                             f"{FULL.size_mazes} mazes each at {profile_counts(FULL.size_segments)} segments)")
    parser.add_argument("--checkpoint-dir", type=Path, default=CHECKPOINT_DIR,
                        help="folder with <variant>.safetensors + .json (default: %(default)s; env HRM_CHECKPOINT_DIR)")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks"),
                        help="where benchmarks.json and the pictures go (default: %(default)s)")
    parser.add_argument("--sudoku-file", type=Path,
                        help="an outside sudoku set: one puzzle per line (16, 36 or 81 characters, '.' or 0 for blanks); "
                             f"each line goes to the checkpoint of its size; at most {QUICK.file_puzzles} rows per size with "
                             f"--quick, else {FULL.file_puzzles}; the first {QUICK.hard_puzzles} (--quick) or "
                             f"{FULL.hard_puzzles} usable 9x9 rows also go to the hard-sudoku table (default: none)")
    parser.add_argument("--sudoku-solutions", type=Path,
                        help="solutions for --sudoku-file, line by line (default: <name>.solutions.txt beside it if present, "
                             "else solved exactly; puzzles without a unique solution are skipped)")
    parser.add_argument("--maze-file", type=Path,
                        help="maze questions, one per line, read through the maze task (rows the card used for training "
                             "are left out; the first --puzzles usable rows); a size-free checkpoint reads them at the "
                             f"file's size, and its maze-sizes table adds the first {QUICK.size_mazes} (--quick) or "
                             f"{FULL.size_mazes} usable rows (default: the card's validation source, re-drawn with --seed)")
    parser.add_argument("--maze-answers", type=Path,
                        help="labelled answers for --maze-file, line by line (default: the task's own file reader, "
                             "e.g. X_answer.txt beside X_question.txt, else labelled by BFS)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="seed for the test puzzles; each set uses the seed sequence [seed, size, blanks] (hard "
                             "sudoku: [seed, 9, fewest givens, most givens]; maze sizes: [seed, side]), which no training "
                             "run uses (default: %(default)s)")
    parser.add_argument("--givens", type=parse_range, default="17-25",
                        help="givens of the fresh minimal puzzles of the hard-sudoku table, A-B; the generator makes "
                             "puzzles of 21-28 givens and keeps those in the range (default: %(default)s)")
    parser.add_argument("--arc-data-dir", type=Path,
                        help="where the ARC task JSON folders lie (e.g. arc-agi-1/evaluation inside it); ARC checkpoints "
                             "are skipped with a note when their tasks are not there (default: the card's data=, else "
                             "$HRM_DATA_DIR, else ../shared/data beside the project)")
    parser.add_argument("--tasks", nargs="+", default=TASK_CHOICES, choices=TASK_CHOICES,
                        metavar="TASK", help="which checkpoints to measure: %(choices)s; sudoku-9x9 includes the "
                             "hard-sudoku table, maze the maze-sizes table (default: all)")
    parser.add_argument("--puzzles", type=int,
                        help=f"generated sudoku puzzles per difficulty, and maze test puzzles (default: {QUICK.puzzles} "
                             f"sudoku / {QUICK.maze_puzzles} maze with --quick, else {FULL.puzzles} / {FULL.maze_puzzles}; "
                             "the hard-sudoku and maze-sizes tables keep their own counts, see --quick)")
    return parser


def profile_counts(values: tuple[int, ...]) -> str:
    return "/".join(map(str, values))


# --------------------------------------------------------------------------------------------
# Test data
# --------------------------------------------------------------------------------------------


def read_lines(path: Path, strip: bool = True) -> list[str]:
    """Non-empty lines: the row numbering `file:PATH[a:b]` specs use. Mazes keep their spaces
    (`strip=False`): a space is an open cell."""
    lines = (ln.rstrip("\r") for ln in Path(path).read_text().split("\n"))
    return [ln.strip() for ln in lines if ln.strip()] if strip else [ln for ln in lines if ln]


def rows_seen_in_training(card, path: Path, total: int) -> tuple[np.ndarray, list[str]]:
    """Boolean mask of rows of `path` that the card's training or validation data took, and notes."""
    seen = np.zeros(total, dtype=bool)
    notes = []
    for key in ("train", "val"):
        for part in split_sources(str(card.data.get(key, ""))):  # e.g. gen:...+file:PATH[0:800]
            spec = parse_file_source(part)
            if spec and Path(spec.path).name == Path(path).name:
                start, end = spec.rows or (0, total)
                end = min(end, total)
                seen[start:end] = True
                notes.append(f"rows {start}:{end} of {Path(path).name} left out: the card's {key} data")
    return seen, notes


def generated_set(task: SudokuTask, blanks: int, count: int, seed: int, training_inputs: set[bytes] | None) -> dict:
    rng = np.random.default_rng([seed, task.size, blanks])
    puzzles, solutions = task.generate(count, (blanks, blanks), rng, progress=False)
    dropped = None
    if training_inputs is not None:
        keep = np.array([task.encode(p).tobytes() not in training_inputs for p in puzzles], dtype=bool)
        puzzles, solutions, dropped = puzzles[keep], solutions[keep], int((~keep).sum())
    return {"name": f"{blanks} blanks", "source": f"generated, {blanks} blanks, seed sequence [{seed}, {task.size}, {blanks}]",
            "puzzles": puzzles, "solutions": solutions, "dropped_as_training_repeats": dropped}


def training_inputs(task: SudokuTask, card) -> tuple[set[bytes] | None, str]:
    """The exact training puzzles (as token bytes), rebuilt from the card when repeats are possible."""
    source = str(card.data.get("train", ""))
    if task.seq_len > REBUILD_MAX_CELLS:
        return None, f"no repeat check: {task.size}x{task.size} test puzzles practically never repeat training ones"
    if not source.startswith("gen:") or card.train is None:
        return None, f"no repeat check: training source {source!r} cannot be rebuilt here"
    pool = task.load_examples(source, np.random.default_rng(card.train.seed), progress=False)
    return {row.tobytes() for row in pool.inputs}, f"training set rebuilt from the card ({source}, seed {card.train.seed})"


def external_sudoku_set(task: SudokuTask, variant: str, card, args, limit: int) -> tuple[dict | None, list[str]]:
    """The rows of --sudoku-file that are this size, not used in training, with solutions."""
    lines = read_lines(args.sudoku_file)
    solution_file = args.sudoku_solutions or args.sudoku_file.with_name(args.sudoku_file.name.removesuffix(".txt") + ".solutions.txt")
    sol_lines = read_lines(solution_file) if solution_file.is_file() else None
    if sol_lines is not None and len(sol_lines) != len(lines):
        raise ValueError(f"{solution_file} has {len(sol_lines)} lines, {args.sudoku_file} has {len(lines)}")
    seen, notes = rows_seen_in_training(card, args.sudoku_file, len(lines))
    puzzles, solutions, skipped = [], [], 0
    for row, line in enumerate(lines):
        if seen[row] or len(puzzles) >= limit:
            continue
        try:
            if sudoku_variant(line).name != variant:
                continue
            puzzle = task.parse(line)
        except PuzzleInputError:
            skipped += 1
            continue
        if sol_lines is not None:
            solution = task.parse(sol_lines[row])
        else:
            count, found, _ = rules.count_solutions(puzzle, task.box_rows, task.box_cols, limit=2)
            if count != 1:
                skipped += 1
                continue
            solution = np.asarray(found[0])
        puzzles.append(puzzle)
        solutions.append(solution)
    if skipped:
        notes.append(f"{skipped} rows of {args.sudoku_file.name} skipped (unreadable or no unique solution)")
    if not puzzles:
        if seen.any() or skipped:
            notes.append(f"{args.sudoku_file.name}: no usable {variant} rows left")
        return None, notes
    source = f"{args.sudoku_file} (first {len(puzzles)} usable {variant} rows; solutions: " + (
        str(solution_file) if sol_lines is not None else "exact solver") + ")"
    return {"name": f"file {args.sudoku_file.name}", "source": source, "puzzles": np.stack(puzzles),
            "solutions": np.stack(solutions), "dropped_as_training_repeats": int(seen.sum())}, notes


# --------------------------------------------------------------------------------------------
# Measurements shared by all tasks
# --------------------------------------------------------------------------------------------


class Skipped(Exception):
    """A checkpoint a section does not measure, or whose data are not there: a note, not an error."""


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def accuracy_and_scaling(model: HRM, examples: Examples, segment_counts: tuple[int, ...]) -> dict:
    """evaluate() at the checkpoint's M_max (headline numbers, ACT halting, throughput), plus the
    scaling curve (a second evaluate() over more segments, only when the curve goes beyond M_max)."""
    m_max = model.cfg.halt_max_steps
    main, seconds = timed(evaluate, model, examples, segments=m_max, batch_size=EVAL_BATCH)
    by_segment = main["exact_accuracy_by_segment"]
    if max(segment_counts) > m_max:
        by_segment = evaluate(model, examples, segments=max(segment_counts), batch_size=EVAL_BATCH)["exact_accuracy_by_segment"]
    return {
        "puzzles": len(examples),
        "segments": m_max,
        "exact_accuracy": main["exact_accuracy"],
        "cell_accuracy_all_cells": main["token_accuracy"],
        "mean_segments_used_act": main["mean_halt_step"],
        "halt_histogram": main["halt_histogram"],
        "exact_accuracy_at_act_halt": main["act_exact_accuracy"],
        "exact_accuracy_by_segment": main["exact_accuracy_by_segment"],
        "scaling": {str(s): by_segment[s - 1] for s in segment_counts},
        "batched": {"puzzles": len(examples), "batch": min(len(examples), EVAL_BATCH), "segments": m_max, "seconds": seconds},
    }


def latency_batch1(model: HRM, inputs: torch.Tensor, segments: int) -> dict:
    """Median and mean seconds for one puzzle at a time, `segments` segments each (after a warm-up)."""
    ids = torch.zeros(1, dtype=torch.long)
    run_segments(model, inputs[:1], ids, segments)
    times = [timed(run_segments, model, row[None], ids, segments)[1] for row in inputs]
    return {"puzzles": len(times), "segments": segments, "median_ms": 1000 * float(np.median(times)),
            "mean_ms": 1000 * float(np.mean(times))}


def throughput(sets: dict) -> dict:
    """Puzzles per second over all evaluate() calls at M_max segments."""
    puzzles = sum(s["batched"]["puzzles"] for s in sets.values())
    seconds = sum(s["batched"]["seconds"] for s in sets.values())
    batch = max(s["batched"]["batch"] for s in sets.values())
    return {"puzzles_per_s": puzzles / max(seconds, 1e-9), "batch": batch, "puzzles": puzzles, "seconds": seconds}


def describe_card(path: Path, card) -> dict:
    cfg = card.model
    return {
        "path": str(path), "parameters": card.parameters, "architecture": cfg.architecture,
        "cycles": f"N={cfg.H_cycles} x T={cfg.L_cycles}", "hidden_size": cfg.hidden_size, "M_max": cfg.halt_max_steps,
        "train_steps": card.steps, "train_cpu_hours": card.cpu_seconds / 3600, "train_wall_hours": card.wall_seconds / 3600,
        "train_data": card.data.get("train"), "train_seed": card.seed,
    }


# --------------------------------------------------------------------------------------------
# Sudoku
# --------------------------------------------------------------------------------------------


def solve_paths(path: Path, task: SudokuTask, puzzles: np.ndarray, solutions: np.ndarray) -> dict:
    """solve() with repair: which path verified each answer; the HRM's own first answers' cell accuracy."""
    results, seconds = timed(solve, list(puzzles), checkpoint=path, device="cpu")
    paths = Counter(r.path for r in results)
    n = len(results)
    first = np.stack([np.asarray(r.model_answer) for r in results])
    blanks = puzzles == 0
    return {
        "shares": {p: paths[p] / n for p in ("hrm", "hrm+repair", "search", "none")},
        "statuses": dict(Counter(r.status for r in results)),
        "verified": sum(r.verified for r in results) / n,
        "answers_equal_solution": float(np.mean([r.answer is not None and np.array_equal(r.answer, s) for r, s in zip(results, solutions)])),
        "cell_accuracy_blank_cells": float((first == solutions)[blanks].mean()) if blanks.any() else 1.0,
        "seconds_per_puzzle": seconds / n,
        # solve() halts each puzzle at its first verified answer (or gives up): segments of its first HRM run
        "mean_segments_verified_halting": float(np.mean([r.segments_used for r in results])),
    }


def classical_and_guided_search(model: HRM, task: SudokuTask, puzzles: np.ndarray, solutions: np.ndarray) -> dict:
    """The exact solver alone (time, nodes, accuracy), and the same search with the model's value order."""
    br, bc, m_max = task.box_rows, task.box_cols, model.cfg.halt_max_steps
    plain_nodes, guided_nodes, search_s, count_s, correct, unique = [], [], 0.0, 0.0, 0, 0
    model_right = []  # the HRM alone after M_max segments, per puzzle
    for start in range(0, len(puzzles), EVAL_BATCH):
        chunk = puzzles[start : start + EVAL_BATCH]
        answers, probs, _ = run_model(model, task, chunk, m_max, "fixed", "cpu", "fp32")  # as evaluate() runs
        for grid, answer, p, solution in zip(chunk, answers, probs, solutions[start : start + EVAL_BATCH]):
            model_right.append(bool(np.array_equal(answer, solution)))
            result, seconds = timed(rules.guided_search, grid, br, bc)
            search_s += seconds
            plain_nodes.append(result.nodes)
            correct += np.array_equal(result.solution, solution)
            (count, _, _), seconds = timed(rules.count_solutions, grid, br, bc, limit=2)
            count_s += seconds
            unique += count == 1
            guided_nodes.append(rules.guided_search(grid, br, bc, value_scores=p).nodes)
    n = len(puzzles)
    return {
        "classical": {
            "solver": "verifiers.sudoku.guided_search without scores (exhaustive propagating DFS)",
            "accuracy": correct / n, "accuracy_note": "100% by construction: the search is exact and exhaustive",
            "ms_per_puzzle": 1000 * search_s / n, "uniqueness_check_ms_per_puzzle": 1000 * count_s / n,
            "unique_share": unique / n, "nodes_mean": float(np.mean(plain_nodes)),
        },
        "search_nodes": {
            "guided_mean": float(np.mean(guided_nodes)), "unguided_mean": float(np.mean(plain_nodes)),
            "guided_median": float(np.median(guided_nodes)), "unguided_median": float(np.median(plain_nodes)),
        },
        "by_search_effort": by_search_effort(plain_nodes, model_right),
    }


# Difficulty by how much branching the exact solver needs (its search nodes, no model guidance):
# 0 means constraint propagation alone solves the puzzle.
EFFORT_BUCKETS = ((0, 0), (1, 9), (10, 99), (100, None))


def by_search_effort(nodes: list[int], model_right: list[bool]) -> dict:
    """HRM-alone exact accuracy per search-effort bucket: {"0": {"puzzles": n, "exact": x}, "1-9": ...}."""
    nodes, right = np.asarray(nodes), np.asarray(model_right)
    out = {}
    for low, high in EFFORT_BUCKETS:
        mask = (nodes >= low) & (nodes <= (high if high is not None else nodes.max(initial=0)))
        name = str(low) if low == high else (f"{low}-{high}" if high is not None else f">={low}")
        out[name] = {"puzzles": int(mask.sum()), "exact": float(right[mask].mean()) if mask.any() else None}
    return out


def measure_sudoku_set(model: HRM, task: SudokuTask, path: Path, data: dict, profile: Profile) -> dict:
    puzzles, solutions = data["puzzles"], data["solutions"]
    examples = task.examples_from_grids(puzzles, solutions)
    result = {"source": data["source"], "dropped_as_training_repeats": data["dropped_as_training_repeats"],
              "blanks_mean": float((puzzles == 0).sum((1, 2)).mean())}
    result.update(accuracy_and_scaling(model, examples, profile.segments))
    result["solve"] = solve_paths(path, task, puzzles, solutions)
    result["cell_accuracy_blank_cells"] = result["solve"]["cell_accuracy_blank_cells"]
    result.update(classical_and_guided_search(model, task, puzzles, solutions))
    return result


def reasoning_analysis(model: HRM, task: SudokuTask, card, data: dict, profile: Profile, seed: int, out: Path, variant: str) -> dict:
    """Residuals and participation ratio (trained vs untrained), and the intermediate-answer pictures."""
    m_max = model.cfg.halt_max_steps
    puzzles = data["puzzles"][: profile.analysis_puzzles]
    inputs = torch.from_numpy(np.stack([task.encode(p) for p in puzzles]))
    ids = torch.zeros(len(puzzles), dtype=torch.long)
    torch.manual_seed(seed)
    untrained = HRM(card.model).eval()
    result = {"puzzles": len(puzzles), "set": data["name"], "segments": m_max, "residuals": {}, "participation_ratio": {}}
    for label, net in (("trained", model), ("untrained", untrained)):
        record, carry = analysis.forward_residuals(net, inputs, ids, m_max)
        result["residuals"][label] = {**record, "summary": analysis.summarize_residuals(record)}
        result["participation_ratio"][label] = analysis.latent_participation(net, carry)

    # Pictures: prefer puzzles the model gets wrong at first (so the frames show something happen).
    shown_segments = min(m_max, 16)
    answers = analysis.intermediate_answers(model, task, puzzles, shown_segments)
    right = np.all(answers["digits"] == data["solutions"][: len(puzzles)][None], axis=(2, 3))  # [segments, B]
    order = np.argsort(np.where(~right[0] & right[-1], 0, np.where(~right[0], 1, 2)), kind="stable")[: profile.picture_puzzles]
    picked = {k: v[:, order] for k, v in answers.items()}
    box = (task.box_rows, task.box_cols)
    title = f"{variant}, {data['name']}"
    png = analysis.save_intermediate_grid(out / f"intermediate_{variant}.png", puzzles[order], data["solutions"][order], picked, box, title)
    gif = analysis.save_intermediate_gif(out / f"intermediate_{variant}.gif", puzzles[order], data["solutions"][order], picked, box, title)
    result["pictures"] = {"png": str(png), "gif": str(gif), "puzzles": order.tolist(), "segments": shown_segments}
    return result


def bench_sudoku(variant: str, path: Path, args, profile: Profile) -> dict:
    model, task, card = load_checkpoint(path)
    assert isinstance(task, SudokuTask) and f"sudoku-{task.size}x{task.size}" == variant, f"{path} holds {task!r}"
    seen, repeat_note = training_inputs(task, card)
    count = args.puzzles or profile.puzzles
    sets = [generated_set(task, blanks, count, args.seed, seen) for blanks in BLANK_LEVELS[variant]]
    if seen is not None:
        repeat_note += f"; {sum(d['dropped_as_training_repeats'] for d in sets)} test puzzles dropped as repeats of training puzzles"
    notes = [repeat_note]
    if args.sudoku_file:
        external, file_notes = external_sudoku_set(task, variant, card, args, profile.file_puzzles)
        notes += file_notes
        if external is not None:
            sets.append(external)
    report = {"checkpoint": describe_card(path, card), "notes": notes, "sets": {}}
    for data in tqdm(sets, desc=f"{variant}: test sets", leave=False):
        report["sets"][data["name"]] = measure_sudoku_set(model, task, path, data, profile)
    middle = sets[len(BLANK_LEVELS[variant]) // 2]
    inputs = torch.from_numpy(np.stack([task.encode(p) for p in middle["puzzles"][: profile.latency_puzzles]]))
    report["speed"] = {"latency_batch1": latency_batch1(model, inputs, model.cfg.halt_max_steps) | {"set": middle["name"]},
                       "throughput": throughput(report["sets"])}
    report["analysis"] = reasoning_analysis(model, task, card, sets[len(BLANK_LEVELS[variant]) - 1], profile, args.seed,
                                            args.out, variant)
    return report


# --------------------------------------------------------------------------------------------
# Maze (through the Task interface only)
# --------------------------------------------------------------------------------------------


def row_ranges(keep: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of True in a boolean mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def encode_answer(task, text: str) -> np.ndarray:
    """An answer line as tokens: through `parse` where the task accepts answers there, else `encode` directly."""
    try:
        return task.encode(task.parse(text))
    except PuzzleInputError:
        return task.encode(text)


def maze_examples(task, card, args, count: int) -> tuple[Examples, str, list[str]]:
    """Maze test data through the Task interface: --maze-file (+ --maze-answers), else the card's validation source."""
    rng = np.random.default_rng([args.seed, 7])
    if args.maze_file is None:
        source = str(card.data.get("val", ""))
        kind = "re-drawn with --seed" if source.startswith("gen:") else "the validation rows named by the card"
        examples = task.load_examples(source, rng, progress=False)
        return examples.take(slice(0, count)), f"{source} ({kind})", []
    lines = read_lines(args.maze_file, strip=False)
    seen, notes = rows_seen_in_training(card, args.maze_file, len(lines))
    keep = ~seen
    keep[np.flatnonzero(keep)[count:]] = False
    if args.maze_answers:
        answers = read_lines(args.maze_answers, strip=False)
        if len(answers) != len(lines):
            raise ValueError(f"{args.maze_answers} has {len(answers)} lines, {args.maze_file} has {len(lines)}")
        rows = np.flatnonzero(keep)
        inputs = np.stack([task.encode(task.parse(lines[r])) for r in rows])
        labels = np.stack([encode_answer(task, answers[r]) for r in rows])
        return Examples(inputs, labels, np.zeros(len(rows), dtype=np.int64)), f"{args.maze_file} + {args.maze_answers}", notes
    parts = [task.load_examples(f"file:{args.maze_file}[{a}:{b}]", rng, progress=False) for a, b in row_ranges(keep)]
    return Examples.concat(parts), f"{args.maze_file} (answers by the task's file reader)", notes


def maze_file_size(path: Path, args) -> int | None:
    """The side of --maze-file's mazes, at which a size-free checkpoint reads them (None: no file, or a
    checkpoint that runs only on its own size)."""
    if args.maze_file is None or not read_card(path).model.size_free:
        return None
    return maze_side(read_lines(args.maze_file, strip=False)[0])


def bench_maze(path: Path, args, profile: Profile) -> dict:
    model, task, card = load_checkpoint(path, size=maze_file_size(path, args))
    count = args.puzzles or profile.maze_puzzles
    examples, source, notes = maze_examples(task, card, args, count)
    m_max = model.cfg.halt_max_steps
    result = {"checkpoint": describe_card(path, card), "source": source, "notes": notes}
    result.update(accuracy_and_scaling(model, examples, profile.segments))
    answers, _ = predict(model, examples.inputs, examples.puzzle_ids, m_max, EVAL_BATCH, progress=False)
    ok = [bool(task.verify(task.decode(q), task.decode(a)).ok) for q, a in zip(examples.inputs, answers)]
    result["exact_label_match"] = result["exact_accuracy"]
    result["valid_shortest_path_rate"] = float(np.mean(ok))
    inputs = torch.from_numpy(examples.inputs[: profile.latency_puzzles])
    result["speed"] = {"latency_batch1": latency_batch1(model, inputs, m_max), "throughput": throughput({"all": result})}
    return result


# --------------------------------------------------------------------------------------------
# Hard sudoku and maze sizes: eval/sudoku_hard.py and eval/maze_sizes.py measure, on this run's
# checkpoints, seed and profile
# --------------------------------------------------------------------------------------------


def bench_sudoku_hard(path: Path, args, profile: Profile) -> dict:
    """sudoku_hard.py's tables for a 9x9 checkpoint: the HRM alone on fresh minimal puzzles (--givens)
    and on the usable 9x9 rows of --sudoku-file, at profile.hard_segments."""
    model, task, card = load_checkpoint(path)
    assert isinstance(task, SudokuTask) and task.size == 9, f"{path} holds {task!r}"
    low, high = args.givens
    rng = np.random.default_rng([args.seed, task.size, low, high])
    puzzles, solutions = sudoku_hard.grids(task, f"gen:count={profile.hard_puzzles},givens={low}-{high}", rng)
    sets = [{"name": f"generated, givens {low}-{high}", "puzzles": puzzles, "solutions": solutions,
             "source": f"generated minimal puzzles, {low}-{high} givens, seed sequence [{args.seed}, {task.size}, {low}, {high}]"}]
    if args.sudoku_file:
        external, _ = external_sudoku_set(task, "sudoku-9x9", card, args, profile.hard_puzzles)  # notes: the sudoku-9x9 section's
        sets += [external] if external is not None else []
    result = {"checkpoint": describe_card(path, card), "givens": [low, high], "segments": list(profile.hard_segments),
              "commit": {"cells": [0, HARD_COMMIT], "every": EVERY}, "sets": {}}
    for data in sets:
        for cells in result["commit"]["cells"]:
            scores = sudoku_hard.score(model, task, data["puzzles"], data["solutions"], result["segments"], profile.views,
                                       Commit.for_task(task, cells))
            result["sets"][data["name"] + (f", commit {cells}" if cells else "")] = {"source": data["source"], **scores}
    png = args.out / f"sudoku_hard_{path.stem}.png"
    sudoku_hard.plot(result, png)
    result["pictures"] = {"png": str(png)}
    return result


def bench_maze_sizes(path: Path, args, profile: Profile) -> dict:
    """maze_sizes.py's table for a size-free maze checkpoint: the HRM alone on fresh Maze-Hard-style mazes
    of each side in profile.maze_sizes (a side smaller than the checkpoint's grid inside walls of that
    grid, as solve() runs it) and on the usable rows of --maze-file, at profile.size_segments;
    the GIF shows the path forming on the first maze of the largest set (the file's on a tie)."""
    card = read_card(path)
    if not card.model.size_free:
        raise Skipped(f"no maze-sizes table: absolute positions (pos_encoding {card.model.pos_encoding!r}) "
                      f"tie it to {card.task['size']}x{card.task['size']}")
    result = {"checkpoint": describe_card(path, card), "style": "long", "segments": list(profile.size_segments), "sets": {}}
    shown = None  # (task, example, set name) for the GIF
    for n in profile.maze_sizes:
        name, rates, example = maze_sizes.generated_set(path, n, profile.size_mazes, "long", result["segments"],
                                                        np.random.default_rng([args.seed, n]), profile.views)
        result["sets"][name] = {"source": f"gen:count={profile.size_mazes},style=long, seed sequence [{args.seed}, {n}]", **rates}
        shown = (*example, name) if shown is None or n >= shown[0].size else shown
    if args.maze_file:
        model, task, _ = load_checkpoint(path, size=maze_file_size(path, args))
        examples, source, _ = maze_examples(task, card, args, profile.size_mazes)  # notes: the maze section's
        rates, example = maze_sizes.score(model, task, examples, result["segments"], profile.views)
        name = f"file {args.maze_file.name}"
        result["sets"][name] = {"source": source, **rates}
        shown = (task, example, name) if task.size >= shown[0].size else shown
    png, gif = args.out / f"maze_sizes_{path.stem}.png", args.out / f"maze_sizes_{path.stem}.gif"
    maze_sizes.plot(result, png)
    maze_sizes.gif(shown[0], shown[1], gif)
    result["pictures"] = {"png": str(png), "gif": str(gif)}
    result["gif_set"] = shown[2]
    return result


# --------------------------------------------------------------------------------------------
# ARC (scored by reasoner.arc_eval: voting over versions, pass@k)
# --------------------------------------------------------------------------------------------


class ArcDataMissing(Skipped):
    """The task JSON an ARC checkpoint was built with are not where they were looked for."""


def bench_arc(path: Path, args, profile: Profile) -> dict:
    """pass@k over the checkpoint's own evaluation tasks, through `evaluate_arc` (its voting and scoring)."""
    model, task, card = load_checkpoint(path)
    if not isinstance(task, ArcTask) or task.build is None:
        raise ValueError(f"{path} is not a checkpoint of an ARC task built from data ({card.task})")
    if args.arc_data_dir is not None:
        task.build["data"] = str(args.arc_data_dir)
    data_dir = task.data_dir()
    try:
        task.ensure_built(progress=False)
    except FileNotFoundError as err:
        raise ArcDataMissing(f"ARC data not found at {data_dir} ({err}; --arc-data-dir names the folder that holds "
                             "them); skipped") from None
    except ValueError as err:  # e.g. other task files than the card's fingerprint: the identifiers would not match
        raise ArcDataMissing(f"ARC data at {data_dir} do not fit this checkpoint ({err}); skipped") from None
    evaluation = [i for i, p in enumerate(task.puzzles) if p.role == "eval"]
    if not evaluation:
        raise ValueError(f"{path} was built without evaluation tasks (eval= in its card's data): nothing to score")
    test_inputs = sum(len(task.puzzles[i].tests) for i in evaluation)
    available = [len(task.versions_of(i)) for i in evaluation]
    (report, answers), seconds = timed(evaluate_arc, model, task, versions=profile.arc_versions, batch_size=EVAL_BATCH,
                                       progress=False)
    summary = report["summary"]
    submission_path = args.out / f"{path.stem}_submission.json"
    submission_path.write_text(json.dumps(answers) + "\n")
    return {
        "checkpoint": describe_card(path, card),
        "data_dir": str(data_dir), "eval_sets": task.build["eval"], "train_sets": task.build["train"],
        "evaluation_tasks": len(evaluation), "test_inputs": test_inputs,
        "tasks": summary["tasks"], "test_outputs": summary["test_outputs"],
        "pass@1": summary["pass@1"], "pass@2": summary["pass@2"],
        "strict_pass@1": summary["strict_pass@1"], "strict_pass@2": summary["strict_pass@2"],
        "versions_requested": profile.arc_versions, "versions_available": {"min": min(available), "max": max(available)},
        "versions_asked_per_test_input": summary["answers"] / max(1, test_inputs),
        "answers": summary["answers"], "discarded": summary["discarded"], "segments": summary["segments"],
        "seconds": seconds, "ms_per_answer": 1000 * seconds / max(1, summary["answers"]),
        "per_task": report["tasks"], "submission": str(submission_path),
    }


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def md_table(title: str, headers: list[str], rows: list[list]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def halting_text(hist: list[int]) -> str:
    return " ".join(f"{k + 1}:{c}" for k, c in enumerate(hist) if c)


def markdown_report(report: dict) -> str:
    sudoku = report["sudoku"]
    parts = []
    if sudoku:
        parts.append(md_table("Checkpoints", ["variant", "parameters", "architecture", "M_max", "trained on", "steps", "CPU-hours"], [
            [v, f"{r['checkpoint']['parameters']:,}", f"{r['checkpoint']['architecture']} {r['checkpoint']['cycles']}",
             r["checkpoint"]["M_max"], r["checkpoint"]["train_data"], r["checkpoint"]["train_steps"],
             f"{r['checkpoint']['train_cpu_hours']:.3f}"] for v, r in sudoku.items()]))
        parts.append(md_table(
            "Accuracy at M_max segments (cell accuracy: blank cells only / all cells incl. givens)",
            ["variant", "test set", "n", "exact", "cells (blanks)", "cells (all)", "mean segs (ACT)", "ACT halts at seg:count", "exact at ACT halt"],
            [[v, name, s["puzzles"], pct(s["exact_accuracy"]), pct(s["cell_accuracy_blank_cells"]), pct(s["cell_accuracy_all_cells"]),
              f"{s['mean_segments_used_act']:.2f}", halting_text(s["halt_histogram"]), pct(s["exact_accuracy_at_act_halt"])]
             for v, r in sudoku.items() for name, s in r["sets"].items()]))
        counts = sorted({int(k) for r in sudoku.values() for s in r["sets"].values() for k in s["scaling"]})
        parts.append(md_table("Inference-time scaling: exact accuracy vs test-time segments", ["variant", "test set"] + [str(c) for c in counts], [
            [v, name] + [pct(s["scaling"].get(str(c))) for c in counts] for v, r in sudoku.items() for name, s in r["sets"].items()]))
        speed_headers = ["variant", "latency batch 1 (median ms)", "throughput (puzzles/s)", "batch", "exact solver (ms/puzzle)",
                         "solve() with repair (ms/puzzle)"]
        parts.append(md_table("Speed (this machine; HRM at M_max segments)", speed_headers, [
            [v, f"{r['speed']['latency_batch1']['median_ms']:.1f}", f"{r['speed']['throughput']['puzzles_per_s']:.1f}",
             r["speed"]["throughput"]["batch"],
             f"{np.mean([s['classical']['ms_per_puzzle'] for s in r['sets'].values()]):.2f}",
             f"{1000 * np.mean([s['solve']['seconds_per_puzzle'] for s in r['sets'].values()]):.1f}"] for v, r in sudoku.items()]))
        parts.append(md_table(
            "Baselines: exact solver (100% by construction) and solve()'s verified paths",
            ["variant", "test set", "exact solver", "HRM alone", "HRM+repair", "search", "unsolved", "mean segs (verified halting)",
             "search nodes guided", "unguided"],
            [[v, name, pct(s["classical"]["accuracy"]), pct(s["solve"]["shares"]["hrm"]), pct(s["solve"]["shares"]["hrm+repair"]),
              pct(s["solve"]["shares"]["search"]), pct(s["solve"]["shares"]["none"]),
              f"{s['solve']['mean_segments_verified_halting']:.2f}", f"{s['search_nodes']['guided_mean']:.1f}",
              f"{s['search_nodes']['unguided_mean']:.1f}"] for v, r in sudoku.items() for name, s in r["sets"].items()]))
        buckets = list(next(iter(next(iter(sudoku.values()))["sets"].values()))["by_search_effort"])
        parts.append(md_table(
            "HRM alone (exact, M_max segments) by search effort: the exact solver's branching nodes (0 = propagation alone)",
            ["variant", "test set"] + [f"{b} nodes" for b in buckets],
            [[v, name] + [f"{pct(e['exact'])} of {e['puzzles']}" if e["puzzles"] else "-" for e in s["by_search_effort"].values()]
             for v, r in sudoku.items() for name, s in r["sets"].items()]))
        rows = []
        for v, r in sudoku.items():
            a = r["analysis"]
            pr, res = a["participation_ratio"], a["residuals"]["trained"]["summary"]
            rows.append([v, a["set"], f"{pr['trained']['z_H']:.1f} / {pr['untrained']['z_H']:.1f}",
                         f"{pr['trained']['z_L']:.1f} / {pr['untrained']['z_L']:.1f}",
                         f"{res['z_L_first_step_of_cycle_mean']:.3f} -> {res['z_L_last_step_of_cycle_mean']:.3f}",
                         f"{res['z_H_first_segment_mean']:.3f} -> {res['z_H_last_segment_mean']:.3f}"])
        parts.append(md_table("How it reasons (participation ratio: trained / untrained; forward residuals of the trained model)", [
            "variant", "set", "PR z_H", "PR z_L", "z_L residual: 1st -> last L-step of a cycle", "z_H residual: segment 1 -> last"], rows))
    parts.append(hard_sudoku_markdown(report["sudoku_hard"]))
    maze = report["maze"]
    if maze.get("checkpoints"):
        parts.append(md_table("Maze", ["variant", "source", "n", "exact label match", "valid shortest path", "mean segs (ACT)",
                                       "latency batch 1 (ms)", "throughput (puzzles/s)"], [
            [v, m["source"], m["puzzles"], pct(m["exact_label_match"]), pct(m["valid_shortest_path_rate"]),
             f"{m['mean_segments_used_act']:.2f}", f"{m['speed']['latency_batch1']['median_ms']:.1f}",
             f"{m['speed']['throughput']['puzzles_per_s']:.1f}"] for v, m in maze["checkpoints"].items()]))
    else:
        parts.append(f"maze: {maze['status']}\n")
    parts.append(maze_sizes_markdown(report["maze_sizes"]))
    arc = report["arc"]
    if arc.get("checkpoints"):
        parts.append(md_table("ARC (pass@k over the checkpoint's evaluation tasks)", [
            "checkpoint", "parameters", "trained on", "steps", "CPU-hours", "tasks", "test outputs", "versions per test input",
            "answers (discarded: no grid)", "segments", "pass@1", "pass@2", "strict pass@1", "strict pass@2", "ms per answer"], [
            [v, f"{a['checkpoint']['parameters']:,}", a["checkpoint"]["train_data"], a["checkpoint"]["train_steps"],
             f"{a['checkpoint']['train_cpu_hours']:.3f}", a["tasks"], a["test_outputs"],
             f"{a['versions_asked_per_test_input']:g}" + (" (all)" if a["versions_requested"] is None else ""),
             f"{a['answers']} ({a['discarded']})", a["segments"], pct(a["pass@1"]), pct(a["pass@2"]),
             pct(a["strict_pass@1"]), pct(a["strict_pass@2"]), f"{a['ms_per_answer']:.1f}"]
            for v, a in arc["checkpoints"].items()]))
    else:
        parts.append(f"arc: {arc['status']}\n")
    if report["notes"]:
        parts.append("notes:\n" + "\n".join(f"- {n}" for n in report["notes"]) + "\n")
    return "\n".join(parts)


def hard_sudoku_markdown(section: dict) -> str:
    if not section.get("checkpoints"):
        return f"hard sudoku: {section['status']}\n"
    return "\n".join(f"### Hard sudoku ({stem}, eval/sudoku_hard.py): HRM alone, no repair, no search\n\n" + sudoku_hard.tables(r)
                     for stem, r in section["checkpoints"].items())


def maze_sizes_markdown(section: dict) -> str:
    if not section.get("checkpoints"):
        return f"maze sizes: {section['status']}\n"
    return "\n".join(f"### Maze sizes ({stem}, size-free, eval/maze_sizes.py): HRM alone, valid shortest path / exact label\n\n"
                     + maze_sizes.table(r) + f"\nThe path forming, segment by segment, on the first maze of {r['gif_set']}: "
                     f"{r['pictures']['gif']}\n"
                     for stem, r in section["checkpoints"].items())


def save_plots(report: dict, out: Path) -> dict:
    files = {f"{section}_{stem}_{kind}": path for section in ("sudoku_hard", "maze_sizes")
             for stem, r in report[section].get("checkpoints", {}).items() for kind, path in r["pictures"].items()}
    sudoku = report["sudoku"]
    if not sudoku:
        return files
    curves = {v: {name: {int(k): acc for k, acc in s["scaling"].items()} for name, s in r["sets"].items()} for v, r in sudoku.items()}
    files |= {
        "accuracy_vs_segments": analysis.plot_accuracy_vs_segments(out / "accuracy_vs_segments.png", curves,
                                                                   {v: r["checkpoint"]["M_max"] for v, r in sudoku.items()}),
        "residuals": analysis.plot_residuals(out / "residuals.png", {v: r["analysis"]["residuals"] for v, r in sudoku.items()}),
        "halting": analysis.plot_halting(out / "halting.png", {v: {n: s["halt_histogram"] for n, s in r["sets"].items()}
                                                               for v, r in sudoku.items()}),
    }
    for v, r in sudoku.items():
        files[f"intermediate_{v}_png"] = r["analysis"]["pictures"]["png"]
        files[f"intermediate_{v}_gif"] = r["analysis"]["pictures"]["gif"]
    return {k: str(p) for k, p in files.items()}


def configuration(args, argv: list[str] | None, profile: Profile) -> dict:
    return {
        "command": "python eval/run_benchmarks.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "mode": "quick" if args.quick else "full", "profile": asdict(profile), "seed": args.seed,
        "blank_levels": {v: list(b) for v, b in BLANK_LEVELS.items()}, "givens": list(args.givens), "tasks": args.tasks,
        "checkpoint_dir": str(args.checkpoint_dir), "out": str(args.out),
        "sudoku_file": str(args.sudoku_file) if args.sudoku_file else None,
        "sudoku_solutions": str(args.sudoku_solutions) if args.sudoku_solutions else None,
        "maze_file": str(args.maze_file) if args.maze_file else None,
        "maze_answers": str(args.maze_answers) if args.maze_answers else None,
        "arc_data_dir": str(args.arc_data_dir) if args.arc_data_dir else None,
        "torch_version": torch.__version__, "numpy_version": np.__version__, "python": sys.version.split()[0],
        "torch_threads": torch.get_num_threads(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "device": "cpu", "cpu_count": os.cpu_count(), "checkpoints": {},
    }


def measure_family(report: dict, args, profile: Profile, family: str, bench, section: str | None = None) -> None:
    """Every `<family>*.safetensors` in the checkpoint folder through `bench`, into report[section] (default:
    the family's own); a failure is a note, never fatal."""
    section = section or family
    if family not in args.tasks:
        report[section] = {"status": "not requested"}
        return
    paths = sorted(args.checkpoint_dir.glob(f"{family}*.safetensors"))
    report[section] = {"status": "measured" if paths else "no checkpoint yet", "checkpoints": {}}
    for path in paths:
        label = path.stem if section == family else f"{path.stem}, {section}"
        try:
            result = bench(path, args, profile)
        except Skipped as err:  # a note, not an error: e.g. the data live outside the project
            report["notes"].append(f"{label}: {err}")
            continue
        except Exception as err:  # noqa: BLE001 -- one broken checkpoint must not stop the others
            report["notes"].append(f"{label}: failed ({type(err).__name__}: {err}); skipped")
            report["errors"][label] = traceback.format_exc()
            continue
        report[section]["checkpoints"][path.stem] = result
        report["notes"] += [f"{label}: {n}" for n in result.get("notes", [])]
        report["config"]["checkpoints"][path.stem] = {"path": str(path), "card": json.loads(path.with_suffix(".json").read_text())}
    if paths and not report[section]["checkpoints"]:
        report[section]["status"] = "no usable checkpoint"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    profile = QUICK if args.quick else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    report = {"config": configuration(args, argv, profile), "sudoku": {}, "sudoku_hard": {}, "maze": {}, "maze_sizes": {},
              "arc": {}, "notes": [], "errors": {}}

    variants = [v for v in SUDOKU_VARIANTS if v in args.tasks]
    for variant in tqdm(variants, desc="checkpoints"):
        path = args.checkpoint_dir / VARIANTS[variant].checkpoint
        if not (path.is_file() and path.with_suffix(".json").is_file()):
            report["notes"].append(f"{variant}: no checkpoint at {path}; skipped")
            continue
        try:
            result = bench_sudoku(variant, path, args, profile)
        except Exception as err:  # noqa: BLE001 -- one broken checkpoint must not stop the others
            report["notes"].append(f"{variant}: failed ({type(err).__name__}: {err}); skipped")
            report["errors"][variant] = traceback.format_exc()
            continue
        report["sudoku"][variant] = result
        report["config"]["checkpoints"][variant] = {"path": str(path), "card": json.loads(path.with_suffix(".json").read_text())}
        report["notes"] += [f"{variant}: {n}" for n in result["notes"]]

    measure_family(report, args, profile, "sudoku-9x9", bench_sudoku_hard, section="sudoku_hard")
    measure_family(report, args, profile, "maze", bench_maze)
    measure_family(report, args, profile, "maze", bench_maze_sizes, section="maze_sizes")
    measure_family(report, args, profile, "arc", bench_arc)

    report["files"] = save_plots(report, args.out)
    report["elapsed_seconds"] = time.perf_counter() - started
    json_path = args.out / "benchmarks.json"
    report["files"]["json"] = str(json_path)
    json_path.write_text(json.dumps(report, indent=1, default=float) + "\n")
    print(markdown_report(report))
    measured = len(report["sudoku"]) + len(report["maze"].get("checkpoints", {})) + len(report["arc"].get("checkpoints", {}))
    print(f"{measured} checkpoints measured in "
          f"{report['elapsed_seconds']:.0f} s; numbers in {json_path}, pictures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
