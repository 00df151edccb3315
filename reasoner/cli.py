"""hrm-solve: solve sudoku puzzles and mazes from the command line.  hrm-solve --help"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .inference import POLICIES, PuzzleBatchError, solve
from .tasks import VARIANTS, MazeTask, PuzzleInputError
from .textio import argument_text, read_file, read_stdin

EPILOG = """
examples:
  hrm-solve "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
  hrm-solve --file puzzles.txt          # one puzzle per line, prints one answer per line
  hrm-solve "1..4.4....2..3.." --no-repair --segments 2
  hrm-solve --file hard.txt --no-repair --halting act --views 16 --commit 1 --segments 40 --compile
                                        # the HRM alone, trying hard: 16 copies that commit their surest
                                        # cell as they go; the model decides when to stop and picks one
  hrm-solve --task maze - < maze.txt    # a maze as N lines of '#' (wall), ' ' (open), 'S', 'G'
  hrm-solve --task maze --file mazes.txt  # one N*N-character maze per line (the Maze-Hard format)

Sudoku blanks may be written . 0 or _ ; spaces, | + - separators and line breaks are ignored.
Input is read as UTF-8. With --file every usable line is answered (one output line per puzzle line;
an unusable one prints bad_input and its reason goes to standard error, with its line number).
Exit status: 0 all solved and verified, 1 some puzzle unsolved or without a solution, 2 bad input
(or a bad option or checkpoint), 141 the output pipe was closed early.
"""


class UsageError(ValueError):
    pass


def _puzzles(args, parser) -> list[tuple[int | None, str]]:
    """(line number in --file or None, text) of every puzzle to solve; the input read as UTF-8 bytes."""
    if args.file:
        lines = read_file(args.file).splitlines()
        # Spaces are open maze cells, so maze lines keep theirs.
        keep = str.strip if args.task == "sudoku" else (lambda line: line)
        puzzles = [(number, keep(line)) for number, line in enumerate(lines, 1) if line.strip()]
        if not puzzles:
            raise UsageError(f"{args.file} holds no puzzle")
        return puzzles
    if args.puzzle == "-":
        return [(None, read_stdin(sys.stdin))]
    if args.puzzle:
        return [(None, argument_text(args.puzzle, "the puzzle argument"))]
    parser.print_usage(sys.stderr)
    raise UsageError("give a puzzle or --file")


def _solve_chunk(texts: list[str], args) -> tuple[list, dict[int, str]]:
    """Results for the good puzzles of a chunk (None where bad) and the bad ones' reasons by index."""
    options = dict(checkpoint=args.checkpoint, segments=args.segments, halting=args.halting, repair=not args.no_repair,
                   precision=args.precision, views=args.views, give_up=not args.no_give_up, compile=args.compile,
                   commit=args.commit)
    results: list = [None] * len(texts)
    try:
        return solve(texts, args.task, batch=True, **options), {}
    except PuzzleBatchError as err:
        bad = {i: str(e) for i, e in err.errors.items()}
    except (FileNotFoundError, PuzzleInputError):
        if len(texts) == 1:
            raise
        # A size with no checkpoint (or not the given checkpoint's size): only each line can say which.
        bad = {}
        for i, text in enumerate(texts):
            try:
                results[i] = solve([text], args.task, batch=True, **options)[0]
            except (FileNotFoundError, PuzzleInputError) as err:
                bad[i] = str(err.errors[0]) if isinstance(err, PuzzleBatchError) else str(err)
        return results, bad
    good = [i for i in range(len(texts)) if i not in bad]
    if good:
        for i, result in zip(good, solve([texts[i] for i in good], args.task, batch=True, **options)):
            results[i] = result
    return results, bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hrm-solve", description="Solve 4x4, 6x6 or 9x9 sudoku, or a maze, with the HRM; "
                                     "every answer is checked by a rule-based verifier.", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("puzzle", nargs="?", help="the puzzle text (or '-' to read one puzzle from standard input)")
    parser.add_argument("--task", choices=list(POLICIES), default="sudoku", help="puzzle type (default: %(default)s)")
    parser.add_argument("--file", type=Path, help="solve every puzzle in this file (one per line)")
    parser.add_argument("--checkpoint", type=Path, help="weights to use (default: the shipped checkpoint for the size)")
    parser.add_argument("--segments", type=int, help="reasoning segments to run (default: the checkpoint's maximum)")
    parser.add_argument("--halting", choices=["verified", "act", "fixed"], default="verified",
                        help="verified: stop each puzzle at the first segment whose answer the rule checker accepts, or "
                             "where the halting head rates it hopeless (default); act: where the model's halting head "
                             "stops; fixed: after all --segments")
    parser.add_argument("--views", type=int, default=1, metavar="N",
                        help="run each puzzle as N symmetric copies (shuffled rows/columns/digits; mazes: turned or "
                             "mirrored, at most 8): more puzzles solved by the HRM itself at up to N times the work. With "
                             "--halting verified the first copy whose answer verifies answers; with act or fixed, the "
                             "copy the halting head is surest of, no rule checker involved (act: once a settled copy is "
                             "sure, or two settled copies that rate their answers right agree) (default: 1)")
    parser.add_argument("--commit", type=int, default=0, metavar="K",
                        help="sudoku: after every segment each puzzle (each copy) the halting head has not halted writes "
                             "its K surest blank cells into the puzzle as givens (committed decoding): on hard puzzles "
                             "the HRM alone solves more in the same segments; a wrong commitment is never taken back. "
                             "1 is the measured choice (default: 0, off)")
    parser.add_argument("--no-give-up", action="store_true",
                        help="with --halting verified, keep going until an answer verifies or --segments run out, even "
                             "where the halting head rates the puzzle hopeless (with --views above 1 or --commit it "
                             "never gives up)")
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                        help="auto: bf16 where the CPU computes it natively (AVX512-BF16 or AMX), else fp32 (default)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the HRM once (tens of seconds), then run batches 1.25-2x faster: for "
                             "a --file of thousands of puzzles")
    parser.add_argument("--no-repair", action="store_true", help="report the HRM's own answer only; no repair or search")
    parser.add_argument("--json", action="store_true", help="print the full results as JSON lines")
    args = parser.parse_args(argv)

    from tqdm.auto import tqdm  # here, not at the top: bad input is reported before it loads

    try:
        puzzles = _puzzles(args, parser)
        if args.compile:
            print("compiling the HRM (once per model, tens of seconds)...", file=sys.stderr, flush=True)
        results, bad = [], {}
        chunk = 256
        for start in tqdm(range(0, len(puzzles), chunk), desc="solving", unit_scale=chunk,
                          disable=len(puzzles) <= chunk or not sys.stderr.isatty()):
            part, part_bad = _solve_chunk([text for _, text in puzzles[start : start + chunk]], args)
            results += part
            bad.update({start + i: reason for i, reason in part_bad.items()})
    except (ValueError, OSError) as err:  # bad input or option, unreadable or broken file (all name what)
        print(f"error: {err}", file=sys.stderr)
        return 2
    for i, reason in bad.items():
        line = puzzles[i][0]
        print(f"error: line {line}: {reason}" if line else f"error: {reason}", file=sys.stderr)
    try:
        _print_results(args, puzzles, results, bad)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly; point stdout at /dev/null so the
        # interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    if bad:
        return 2
    return 0 if all(r.verified for r in results) else 1


def _print_results(args, puzzles: list[tuple[int | None, str]], results: list, bad: dict[int, str]) -> None:
    for i, result in enumerate(results):
        if i in bad:  # a line of its own, so output lines stay beside their input lines
            if args.json:
                print(json.dumps({"line": puzzles[i][0], "status": "bad_input", "error": bad[i]}))
            elif args.file:
                print("bad_input")
            continue
        if args.json:
            print(result.model_dump_json())
        elif args.file:
            answer = result.answer_string()
            print(result.status if answer is None else answer.replace("\n", ""))
        elif args.task == "maze":
            print_maze(result)
        else:
            task = VARIANTS[result.task].make()
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
    sys.stdout.flush()  # inside the caller's BrokenPipeError guard


def print_maze(result) -> None:
    produced_by = {"hrm": "the HRM alone", "search": "an exact breadth-first search (the HRM's path was wrong)",
                   "none": "nothing"}[result.path]
    print(f"{result.status}: {'verified by the rule checker, ' if result.verified else 'no verified answer; '}"
          f"produced by {produced_by}")
    print(f"HRM: {result.segments_used} segment(s), its halting head stopped after {result.halted_at}; its own path was "
          f"{'a shortest path' if result.model_correct else 'wrong'}")
    for error in result.model_errors[:5]:
        print(f"  - {error}")
    for note in result.notes:
        print(f"note: {note}")
    if result.answer is not None:
        print(f"path: {result.path_length} cells from S to G")
        print(MazeTask(len(result.answer)).format_grid([list(row) for row in result.answer]))


if __name__ == "__main__":
    sys.exit(main())
