"""hrm-solve: solve sudoku puzzles and mazes from the command line.  hrm-solve --help"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .inference import SUDOKU_BOXES, solve
from .tasks import MazeTask, PuzzleInputError, SudokuTask

EPILOG = """
examples:
  hrm-solve "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
  hrm-solve --file puzzles.txt          # one puzzle per line, prints one answer per line
  hrm-solve "1..4.4....2..3.." --no-repair --segments 2
  hrm-solve --task maze - < maze.txt    # a maze as N lines of '#' (wall), ' ' (open), 'S', 'G'
  hrm-solve --task maze --file mazes.txt  # one N*N-character maze per line (the Maze-Hard format)

Sudoku blanks may be written . 0 or _ ; spaces, | + - separators and line breaks are ignored.
Exit status: 0 all solved and verified, 1 some puzzle unsolved or without a solution, 2 bad input.
"""


def _renumber(message: str, offset: int, from_file: bool) -> str:
    match = re.match(r"puzzle (\d+): (.*)", message, re.S)
    if not match:
        return message
    index = int(match.group(1)) + offset
    return f"line {index + 1}: {match.group(2)}" if from_file else match.group(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hrm-solve", description="Solve 4x4, 6x6 or 9x9 sudoku, or a maze, with the HRM; "
                                     "every answer is checked by a rule-based verifier.", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("puzzle", nargs="?", help="the puzzle text (or '-' to read one puzzle from standard input)")
    parser.add_argument("--task", choices=["sudoku", "maze"], default="sudoku", help="puzzle type (default: %(default)s)")
    parser.add_argument("--file", type=Path, help="solve every puzzle in this file (one per line)")
    parser.add_argument("--checkpoint", type=Path, help="weights to use (default: the shipped checkpoint for the size)")
    parser.add_argument("--segments", type=int, help="reasoning segments to run (default: the checkpoint's maximum)")
    parser.add_argument("--halting", choices=["verified", "act", "fixed"], default="verified",
                        help="verified: stop each puzzle at the first segment whose answer the rule checker accepts, or "
                             "where the halting head rates it hopeless (default); act: where the model's halting head "
                             "stops; fixed: after all --segments")
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                        help="auto: bf16 where the CPU computes it natively (AVX512-BF16 or AMX), else fp32 (default)")
    parser.add_argument("--no-repair", action="store_true", help="report the HRM's own answer only; no repair or search")
    parser.add_argument("--json", action="store_true", help="print the full results as JSON lines")
    args = parser.parse_args(argv)

    if args.file:
        if not args.file.is_file():
            print(f"error: no such file {args.file}", file=sys.stderr)
            return 2
        lines = args.file.read_text().splitlines()
        # Spaces are open maze cells, so maze lines keep theirs.
        puzzles = [ln.strip() for ln in lines if ln.strip()] if args.task == "sudoku" else [ln for ln in lines if ln.strip()]
    elif args.puzzle == "-":
        puzzles = [sys.stdin.read()]
    elif args.puzzle:
        puzzles = [args.puzzle]
    else:
        parser.print_usage(sys.stderr)
        print("error: give a puzzle or --file", file=sys.stderr)
        return 2
    if args.segments is not None and args.segments < 1:
        print("error: --segments must be at least 1", file=sys.stderr)
        return 2
    from tqdm.auto import tqdm  # here, not at the top: bad input is reported before it loads

    results = []
    chunk = 256
    try:
        for start in tqdm(range(0, len(puzzles), chunk), desc="solving", unit_scale=chunk,
                          disable=len(puzzles) <= chunk or not sys.stderr.isatty()):
            part = puzzles[start : start + chunk]
            try:
                results += solve(part, args.task, checkpoint=args.checkpoint, segments=args.segments,
                                 halting=args.halting, repair=not args.no_repair, precision=args.precision)
            except PuzzleInputError as err:
                # Batch errors count from 0 within the chunk; name the file line instead.
                raise PuzzleInputError(_renumber(str(err), start, bool(args.file))) from None
    except (PuzzleInputError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    for result in results:
        if args.json:
            print(result.model_dump_json())
        elif args.file:
            answer = result.answer_string()
            print(result.status if answer is None else answer.replace("\n", ""))
        elif args.task == "maze":
            print_maze(result)
        else:
            task = SudokuTask(*SUDOKU_BOXES[len(result.puzzle)])
            produced_by = {"hrm": "the HRM alone", "hrm+repair": "the HRM after a model-guided repair",
                           "search": "a search guided by the HRM's probabilities", "none": "nothing"}[result.path]
            print(f"{result.status}: {'verified by the rule checker, ' if result.verified else 'no verified answer; '}"
                  f"produced by {produced_by}")
            print(f"HRM: {result.segments_used} segment(s), its halting head stopped after {result.halted_at}; "
                  f"its own answer was {'right' if result.model_correct else 'wrong'}")
            for error in result.model_errors[:5]:
                print(f"  - {error}")
            if len(result.model_errors) > 5:
                print(f"  - ... {len(result.model_errors) - 5} more rule violations")
            if result.search_nodes:
                print(f"search nodes: {result.search_nodes}")
            for note in result.notes:
                print(f"note: {note}")
            if result.answer is not None:
                print(task.format_grid(result.answer))
    return 0 if all(r.verified for r in results) else 1


def print_maze(result) -> None:
    produced_by = {"hrm": "the HRM alone", "search": "an exact breadth-first search (the HRM's path was wrong)",
                   "none": "nothing"}[result.path]
    print(f"{result.status}: {'verified by the rule checker, ' if result.verified else 'no verified answer; '}"
          f"produced by {produced_by}")
    print(f"HRM: {result.segments_used} segment(s), its halting head stopped after {result.halted_at}; its own path was "
          f"{'a shortest path' if result.model_correct else 'wrong'}")
    for error in result.model_errors[:5]:
        print(f"  - {error}")
    if result.answer is not None:
        print(f"path: {result.path_length} cells from S to G")
        print(MazeTask(len(result.answer)).format_grid([list(row) for row in result.answer]))


if __name__ == "__main__":
    sys.exit(main())
