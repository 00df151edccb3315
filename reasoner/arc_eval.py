"""Score an ARC checkpoint as the HRM reference does:  python -m reasoner.arc_eval --help

For every test input of the checkpoint's evaluation tasks, the model answers every augmented
version (symmetry x colour permutation, each with its own puzzle identifier) after M_max segments.
Each answer is cropped at its end-of-grid marker (answers that are no rectangle of colours are
discarded), mapped back by the inverse symmetry and colour permutation, and counted as a vote.
Candidates are ranked by votes, then by the mean halting confidence sigmoid(q_halt) of the versions
that gave them. The top two are the submission's attempt_1 and attempt_2.

Scores, both reported:
- pass@k (the ARC Prize's scoring): a test output counts when the expected grid is among the top
  k candidates; a task scores the fraction of its test outputs that count; the score is the mean
  over tasks.
- strict_pass@k (the HRM notebook's): a task counts only when all its test outputs count.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from verifiers.arc import check_arc_answer, check_arc_grid

from .checkpoint import load_checkpoint
from .evaluate import predict
from .model import HRM
from .tasks import ArcTask
from .tasks.arc import crop, grid_bytes, untransform

ATTEMPTS = 2  # the ARC Prize allows two attempts per test output
EMPTY_ATTEMPT = [[0]]  # the submission format needs both attempts; this fills a missing one


@dataclass
class Candidate:
    """One distinct answer (in the task's original colours and orientation) to one test input."""

    grid: np.ndarray
    votes: int
    confidence: float  # mean sigmoid(q_halt) of the versions that gave it


@dataclass
class TestVotes:
    candidates: list[Candidate]  # best first
    answers: int  # versions asked
    discarded: int  # answers that were no rectangle of colours


def vote(task: ArcTask, where: list[tuple[int, int]], puzzle_ids: np.ndarray, tokens: np.ndarray,
         confidence: np.ndarray) -> dict[tuple[int, int], TestVotes]:
    """Undo each version's augmentation, pool identical answers, rank them.

    `where[i]` is (task index, test index) of row i, `puzzle_ids[i]` its version. Returns, per
    (task index, test index), the candidates ranked by votes, then mean confidence.
    """
    pools: dict[tuple[int, int], dict[bytes, list]] = {}
    asked: dict[tuple[int, int], int] = {}
    discarded: dict[tuple[int, int], int] = {}
    for row, key in enumerate(where):
        asked[key] = asked.get(key, 0) + 1
        pool = pools.setdefault(key, {})
        grid = crop(tokens[row], task.canvas)
        if grid is None or not check_arc_grid(grid).ok:
            discarded[key] = discarded.get(key, 0) + 1
            continue
        _, k, colours = task.version(int(puzzle_ids[row]))
        grid = untransform(grid, k, colours)
        entry = pool.setdefault(grid_bytes(grid), [grid, 0, 0.0])
        entry[1] += 1
        entry[2] += float(confidence[row])
    out = {}
    for key, pool in pools.items():
        candidates = [Candidate(grid, votes, total / votes) for grid, votes, total in pool.values()]
        candidates.sort(key=lambda c: (-c.votes, -c.confidence))
        out[key] = TestVotes(candidates, asked[key], discarded.get(key, 0))
    return out


def score(task: ArcTask, votes: dict[tuple[int, int], TestVotes], ks: tuple[int, ...] = (1, 2)) -> dict:
    """pass@k and strict_pass@k over the evaluation tasks whose test outputs are published."""
    per_task = {}
    for index, puzzle in enumerate(task.puzzles):
        if puzzle.role != "eval" or any(out is None for _, out in puzzle.tests):
            continue
        tests = []
        for j, (_, expected) in enumerate(puzzle.tests):
            result = votes.get((index, j), TestVotes([], 0, 0))
            # Rank (1-based) of the first candidate the verifier accepts as the expected grid.
            rank = next((r + 1 for r, c in enumerate(result.candidates) if check_arc_answer(c.grid, expected).ok), None)
            tests.append({"correct_rank": rank, "candidates": len(result.candidates), "answers": result.answers,
                          "discarded": result.discarded,
                          "top_votes": [c.votes for c in result.candidates[:ATTEMPTS]]})
        entry = {"tests": tests}
        for k in ks:
            right = [t["correct_rank"] is not None and t["correct_rank"] <= k for t in tests]
            entry[f"pass@{k}"] = sum(right) / len(right)
            entry[f"strict_pass@{k}"] = float(all(right))
        per_task[puzzle.task_id] = entry
    n = max(1, len(per_task))
    summary = {"tasks": len(per_task), "test_outputs": sum(len(e["tests"]) for e in per_task.values())}
    for k in ks:
        summary[f"pass@{k}"] = sum(e[f"pass@{k}"] for e in per_task.values()) / n
        summary[f"strict_pass@{k}"] = sum(e[f"strict_pass@{k}"] for e in per_task.values()) / n
    return {"summary": summary, "tasks": per_task}


def submission(task: ArcTask, votes: dict[tuple[int, int], TestVotes]) -> dict[str, list[dict[str, list]]]:
    """Kaggle's format: {task_id: [{"attempt_1": grid, "attempt_2": grid}, ...one per test input]}."""
    out: dict[str, list[dict[str, list]]] = {}
    for index, puzzle in enumerate(task.puzzles):
        if puzzle.role != "eval":
            continue
        entries = []
        for j in range(len(puzzle.tests)):
            best = [c.grid.tolist() for c in votes.get((index, j), TestVotes([], 0, 0)).candidates[:ATTEMPTS]]
            best += [EMPTY_ATTEMPT] * (ATTEMPTS - len(best))
            entries.append({f"attempt_{a + 1}": best[a] for a in range(ATTEMPTS)})
        out[puzzle.task_id] = entries
    return out


def evaluate_arc(model: HRM, task: ArcTask, segments: int | None = None, versions: int | None = None,
                 batch_size: int = 128, device: torch.device | str = "cpu", progress: bool = True) -> tuple[dict, dict]:
    """(report, submission) for the evaluation tasks of `task`'s build; `versions` limits how many
    versions of each test input are asked (the identity first)."""
    segments = segments or model.cfg.halt_max_steps
    examples, where = task.test_examples(progress)
    if versions is not None:
        first = {index: task.versions_of(index)[0] for index in {i for i, _ in where}}
        keep = np.array([pid - first[index] < versions for pid, (index, _) in zip(examples.puzzle_ids, where)], dtype=bool)
        examples, where = examples.take(keep), [w for w, k in zip(where, keep) if k]
    tokens, confidence = predict(model, examples.inputs, examples.puzzle_ids, segments, batch_size, device,
                                 progress=progress)
    votes = vote(task, where, examples.puzzle_ids, tokens, confidence)
    report = score(task, votes)
    report["summary"].update(segments=segments, answers=len(examples),
                             discarded=sum(v.discarded for v in votes.values()))
    return report, submission(task, votes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reasoner.arc_eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  python -m reasoner.arc_eval runs/arc-smoke/last.safetensors\n\n"
               "The evaluation tasks are those the checkpoint was built with (its card's eval= sets): each\n"
               "augmented version has its own puzzle identifier, so a model answers only tasks it was trained for.")
    parser.add_argument("checkpoint", type=Path, help="an ARC checkpoint (.safetensors with its .json card)")
    parser.add_argument("--data-dir", type=Path, help="where the task JSON folders lie (default: $HRM_DATA_DIR, "
                        "else ../shared/data beside the project)")
    parser.add_argument("--submission", type=Path,
                        help="Kaggle-style submission JSON (default: <checkpoint name>_submission.json in the current folder)")
    parser.add_argument("--report", type=Path,
                        help="scores per task as JSON (default: <checkpoint name>_arc_eval.json in the current folder)")
    parser.add_argument("--segments", type=int, help="segments per answer (default: the model's M_max)")
    parser.add_argument("--versions", type=int, help="ask only the first N versions of each test input (default: all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress = not args.no_progress and sys.stderr.isatty()
    try:
        model, task, card = load_checkpoint(args.checkpoint, device=args.device)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}")
    if not isinstance(task, ArcTask) or task.build is None:
        raise SystemExit(f"error: {args.checkpoint} is not a checkpoint of an ARC task built from data ({card.task})")
    if args.data_dir is not None:
        task.build["data"] = str(args.data_dir)
    try:
        task.ensure_built(progress)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}")
    report, answers = evaluate_arc(model, task, args.segments, args.versions, args.batch_size, args.device, progress)
    # The current folder, not the checkpoint's: that may be the installed package's.
    submission_path = args.submission or Path(args.checkpoint.stem + "_submission.json")
    report_path = args.report or Path(args.checkpoint.stem + "_arc_eval.json")
    report["summary"].update(checkpoint=str(args.checkpoint), steps=card.steps, build=task.build)
    submission_path.write_text(json.dumps(answers) + "\n")
    report_path.write_text(json.dumps(report, indent=1) + "\n")
    s = report["summary"]
    print(f"{s['tasks']} tasks, {s['test_outputs']} test outputs, {s['answers']} answers ({s['discarded']} discarded "
          f"as no grid), {s['segments']} segments: pass@1 {s['pass@1']:.4f}, pass@2 {s['pass@2']:.4f} (strict, all "
          f"test outputs of a task: {s['strict_pass@1']:.4f} / {s['strict_pass@2']:.4f})")
    for task_id, entry in report["tasks"].items():
        ranks = ",".join(str(t["correct_rank"] or "-") for t in entry["tests"])
        print(f"  {task_id}: pass@2 {entry['pass@2']:.2f} (rank of the right answer per test output: {ranks})")
    print(f"submission {submission_path}; report {report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
