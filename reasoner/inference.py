"""`solve()`: puzzles in, verified answers (or an honest refusal) out.

Pipeline per puzzle:
  1. parse and validate the input (typed errors for bad input, contradictory givens), before any
     model loads;
  2. the puzzle itself is analysed exactly (unique / several / no solution) by the verifier;
  3. the HRM runs until its answer passes the rule check, or its Q-head rates the answer hopeless
     (or until the Q-head halts, or a fixed number of segments: the `halting` switch);
  4. the verifier checks the HRM's answer;
  5. if it fails: repair guided by the model — keep the confident, mutually consistent cells as
     extra givens and (when they add at least REPAIR_MIN_NEW_CELLS) run the HRM again; if that
     fails too, a constraint-propagating search that tries values in the order of the model's
     probabilities (exhaustive, so it always ends with a verified solution when one exists).
An `answer` is only ever set when the verifier accepted it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel

from verifiers import maze as maze_rules
from verifiers import sudoku as sudoku_rules

from .config import GridSizeError
from .tasks import ContradictoryPuzzleError, MazeTask, PuzzleInputError, SudokuTask, Task
from .tasks.maze import UnreachableGoalError, maze_side
from .tasks.sudoku import SEPARATOR_CHARS

# torch and the model load only when a model runs (torch takes ~1.5 s to import), so bad input is
# reported at once: the functions that need them import them.
if TYPE_CHECKING:
    import torch

    from .model import HRM

CHECKPOINT_DIR = Path(os.environ.get("HRM_CHECKPOINT_DIR", Path(__file__).parent / "checkpoints"))
SUDOKU_SIZES = {16: "sudoku-4x4", 36: "sudoku-6x6", 81: "sudoku-9x9"}
SUDOKU_BOXES = {4: (2, 2), 6: (2, 3), 9: (3, 3)}  # box rows x columns by side
REPAIR_CONFIDENCE = 0.9
# Every segment's probabilities are kept until the answer is read: a bound keeps a typo from
# exhausting memory.
MAX_SEGMENTS = 1024
NON_FINITE_NOTE = "the model's output was not finite (NaN or infinity: damaged weights?), so it gave no answer or guidance"


class PuzzleBatchError(PuzzleInputError):
    """Some puzzles of a batch cannot be used. `errors` maps each one's index (from 0) to its own
    error (PuzzleInputError, ContradictoryPuzzleError); nothing was solved."""

    def __init__(self, errors: dict[int, PuzzleInputError], total: int, label: str = "puzzle"):
        self.errors = errors
        shown = "; ".join(f"{label} {i + 1}: {err}" for i, err in list(errors.items())[:5])
        more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} of {total} {label}s cannot be used: {shown}{more}")
# The repair's second HRM run only when it adds this many cells: on the shipped sudoku-9x9, of 136
# repairs of generated 45-55-blank puzzles none that added fewer succeeded (the successes added 5-39);
# on hard puzzles the model is rarely confident, so they go straight to the search.
REPAIR_MIN_NEW_CELLS = 5
# halting="verified" gives a puzzle up once the Q-head, from its second segment on, rates its answer
# below sigmoid(-6.9) = 0.1% likely right: midway between the lowest score the shipped sudoku-9x9 gave
# a puzzle it later solved (-6.45) and the highest it gave a hard one it never solved (-7.3), so it
# stops every one of those at segment 2 (docs/benchmarks.md).
GIVE_UP_LOGIT = -6.9
# Batches up to this size run on one intra-op thread: their matmuls are too small to split, and on a
# busy CPU a second thread waiting for a core made a batch-1 segment 20x slower (docs/benchmarks.md).
ONE_THREAD_MAX_BATCH = 4


class SolveResult(BaseModel):
    task: str  # e.g. "sudoku-9x9"
    puzzle: list[list[int]]
    # solved: a verified answer, the only solution; multiple_solutions: a verified answer, but the
    # puzzle has others; no_solution: nothing can be right; unsolved: no verified answer found.
    status: Literal["solved", "multiple_solutions", "no_solution", "unsolved"]
    answer: list[list[int]] | None  # set only when a verifier accepted it
    verified: bool
    path: Literal["hrm", "hrm+repair", "search", "none"]  # what produced `answer`
    model_answer: list[list[int]]  # the HRM's own first answer, right or wrong
    model_correct: bool  # whether that first answer passed the verifier
    confidence: list[list[float]]  # probability the HRM gave its own answer, per cell
    segments_used: int
    halted_at: int  # segment after which the Q-head would have stopped
    search_nodes: int = 0  # branching nodes the guided search needed (path "search")
    model_errors: list[str] = []  # why the verifier rejected the HRM's own answer (empty if right)
    notes: list[str] = []  # facts about the puzzle itself (no solution, several solutions)
    checkpoint: str

    def answer_string(self) -> str | None:
        return None if self.answer is None else "".join(str(v) for row in self.answer for v in row)


class MazeSolveResult(BaseModel):
    task: str  # e.g. "maze-9x9"
    puzzle: list[str]  # the question's rows ('#' wall, ' ' open, 'S', 'G')
    # solved: `answer` is a verified shortest S->G path; no_solution: G cannot be reached from S.
    status: Literal["solved", "no_solution", "unsolved"]
    answer: list[str] | None  # the question with one shortest path drawn as 'o'; only when verified
    verified: bool
    path: Literal["hrm", "search", "none"]  # "search": the exact breadth-first search
    path_length: int | None  # cells of the answer's path, S and G included
    model_answer: list[str]  # the HRM's own answer, right or wrong
    model_correct: bool  # is the HRM's answer a valid shortest path?
    model_matches_label: bool  # ... and exactly the path the BFS tie-break rule picks (the training label)?
    model_errors: list[str] = []  # why the verifier rejected the HRM's answer
    notes: list[str] = []  # how the answer came about when the model could not help
    confidence: list[list[float]]  # probability the HRM gave its own answer, per cell
    segments_used: int
    halted_at: int
    checkpoint: str

    def answer_string(self) -> str | None:
        return None if self.answer is None else "\n".join(self.answer)


@functools.lru_cache(maxsize=8)
def _load(path: str, device: str, size: int | None = None) -> tuple[HRM, Task, Any]:
    from .checkpoint import load_checkpoint

    return load_checkpoint(path, device, size=size)


def _model_for(variant: str, checkpoint: str | Path | None, device: str) -> tuple[Path, HRM, Task]:
    """The model for a task variant ("sudoku-9x9", "maze-9x9"): `checkpoint`, else the shipped one
    for the variant; mazes without one get the shipped size-free `maze` model on their size."""
    path = Path(checkpoint) if checkpoint else CHECKPOINT_DIR / f"{variant}.safetensors"
    side = int(variant.split("x")[-1]) if variant.startswith("maze-") else None
    tried = str(path)
    if checkpoint is None and side is not None and not path.is_file():
        path = CHECKPOINT_DIR / "maze.safetensors"  # size-free: any side
        tried += f" or the size-free {path}"
    if not path.with_suffix(".safetensors").is_file():
        raise FileNotFoundError(
            f"no checkpoint for {variant} at {tried}; train one with `python -m reasoner.train --task {variant} "
            f"--out runs/{variant} --export {CHECKPOINT_DIR / variant}.safetensors` or pass checkpoint=..."
        )
    try:
        model, task_obj, _ = _load(str(path), device, side)
    except GridSizeError as err:
        raise PuzzleInputError(f"checkpoint {path} cannot run a {variant}: {err}") from None
    size = getattr(task_obj, "size", None)
    if f"{task_obj.name}-{size}x{size}" != variant:
        raise PuzzleInputError(f"checkpoint {path} is for {task_obj!r}, the puzzle is a {variant}")
    return path, model, task_obj


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _device(device: Any) -> str | None:
    """A usable device name (None: the default, chosen when a model runs); ValueError for a device
    this machine lacks."""
    if device is None:
        return None
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device={device!r} is not a device name; use 'cpu' or 'cuda' (or leave it unset)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: CUDA is not available on this machine; use device='cpu' (or leave it unset)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: only 'cpu' and 'cuda' are supported")
    return str(dev)


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_options(task: Any, checkpoint: Any, segments: Any, halting: Any, repair: Any, batch_size: Any,
                   batch: Any, precision: Any) -> None:
    """ValueError with the reason for any unusable option of `solve` (the puzzles are checked later)."""
    if not isinstance(task, str) or task not in ("sudoku", "maze"):
        raise ValueError(f"unknown task {task!r}; available: sudoku, maze")
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise ValueError(f"checkpoint must be a path (str or Path), got {type(checkpoint).__name__}")
    if segments is not None and not (_whole(segments) and 1 <= segments <= MAX_SEGMENTS):
        raise ValueError(f"segments must be a whole number from 1 to {MAX_SEGMENTS} (or None for the checkpoint's "
                         f"maximum), got {segments!r}")
    if not isinstance(halting, str) or halting not in ("verified", "act", "fixed"):
        raise ValueError(f"halting must be 'verified', 'act' or 'fixed', got {halting!r}")
    if not isinstance(precision, str) or precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    if not isinstance(repair, (bool, np.bool_)):
        raise ValueError(f"repair must be True or False, got {repair!r}")
    if not (_whole(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    if batch is not None and not isinstance(batch, bool):
        raise ValueError(f"batch must be True, False or None, got {batch!r}")


def _text_cells(text: str) -> int:
    return sum(1 for ch in text if not (ch.isspace() or ch in SEPARATOR_CHARS))


def _sudoku_variant(puzzle: Any) -> str:
    """Which sudoku size a single puzzle is, from its number of cells."""
    if isinstance(puzzle, str):
        cells = _text_cells(puzzle)
    else:
        try:
            cells = np.asarray(puzzle).size
        except ValueError:
            raise PuzzleInputError("the grid is not rectangular") from None
    if cells not in SUDOKU_SIZES:
        raise PuzzleInputError(f"a sudoku has 16, 36 or 81 cells (4x4, 6x6, 9x9); this one has {cells}")
    return SUDOKU_SIZES[cells]


def _is_batch(puzzles: Any) -> bool:
    if isinstance(puzzles, str):
        return False
    if isinstance(puzzles, np.ndarray):
        return puzzles.ndim == 3 or (puzzles.ndim == 2 and puzzles.shape[1] in SUDOKU_SIZES and puzzles.shape[0] != puzzles.shape[1])
    if isinstance(puzzles, (list, tuple)):
        if not puzzles:
            raise PuzzleInputError("no puzzle given")
        first = puzzles[0]
        if isinstance(first, str):
            # Strings each too short to be a puzzle (fewer than 16 cells) are the rows of one grid.
            return not all(isinstance(p, str) and _text_cells(p) < min(SUDOKU_SIZES) for p in puzzles)
        return isinstance(first, (list, tuple, np.ndarray)) and np.ndim(first) == 2
    raise PuzzleInputError(f"cannot read a puzzle from a {type(puzzles).__name__}")


def _items(puzzles: Any, batch: bool | None, guess, single, label: str) -> tuple[list, bool]:
    """The puzzles as a list, and whether they came as a batch (`batch` None: `guess` decides)."""
    if batch is None:
        batch = guess(puzzles)
    elif batch and (isinstance(puzzles, str) or not hasattr(puzzles, "__len__")):
        raise PuzzleInputError(f"batch=True needs a list of {label}s")
    if batch and len(puzzles) == 0:
        raise PuzzleInputError(f"no {label} given")
    return (list(puzzles), True) if batch else ([single(puzzles)], False)


def _as_single(puzzle: Any) -> Any:
    """Rows given as a list of strings become one text grid; a row of the wrong length is named."""
    if isinstance(puzzle, (list, tuple)) and puzzle and all(isinstance(p, str) for p in puzzle):
        rows = [row for row in puzzle if _text_cells(row)]  # separator lines ("---+---") hold no cells
        n = len(rows)
        if n not in (4, 6, 9):
            raise PuzzleInputError(f"a sudoku has 4, 6 or 9 rows; {n} rows were given")
        for i, row in enumerate(rows):
            if _text_cells(row) != n:
                raise PuzzleInputError(f"row {i + 1} has {_text_cells(row)} cells; each row of a {n}x{n} sudoku has {n}")
        return "\n".join(rows)
    return puzzle


def solve(
    puzzles: Any,
    task: str = "sudoku",
    *,
    checkpoint: str | Path | None = None,
    segments: int | None = None,
    halting: Literal["act", "verified", "fixed"] = "verified",
    repair: bool = True,
    device: str | None = None,
    batch_size: int = 256,
    batch: bool | None = None,
    precision: Literal["auto", "bf16", "fp32"] = "auto",
) -> SolveResult | list[SolveResult]:
    """Solve one puzzle or many.

    `puzzles`: one puzzle (an 81-character string, 9 lines of text, a list of lists, an array) or a
    list of them / a 3-D array (then a list of results comes back, in order). Blanks are `.`, `0`
    or `_`. 4x4, 6x6 and 9x9 sudoku are recognised by their size.
    `segments`: how many segments the HRM runs at most (default: the checkpoint's M_max). With
    `halting="verified"` (default) each puzzle stops at the first segment whose answer the rule
    checker accepts, or gives up once the Q-head rates its answer hopeless (GIVE_UP_LOGIT), so more
    segments cost only the puzzles that need them; `"act"` takes the answer where the Q-head halts,
    as the paper's ACT intends; `"fixed"` after all `segments` (the reference's evaluation
    convention). `halted_at` reports the Q-head's halt in every mode. "verified" is the default
    because the shipped sudoku-9x9's Q-head halts at M_max on every benchmark puzzle, while most
    40-blank puzzles verify after 2-3 segments (docs/benchmarks.md).
    `precision`: "auto" runs in bf16 where the device computes in bf16 natively (AVX512-BF16/AMX
    CPUs, CUDA), fp32 elsewhere; "bf16" / "fp32" force one.
    `repair=False` returns the HRM's verdict alone (answer None when it was wrong).
    `task="maze"`: mazes in the `# SGo` text form (N lines, or one N*N-character line, or a list
    of them), answered by the `maze-NxN` checkpoint; a wrong HRM path is replaced by the exact
    breadth-first search (path "search") unless repair=False. Returns MazeSolveResult(s).
    `batch`: None guesses whether `puzzles` is one puzzle or several (strings each shorter than a
    puzzle are the rows of one); True: each element is one puzzle; False: it is one puzzle.
    Raises PuzzleInputError (or its subclass ContradictoryPuzzleError) for an unusable puzzle; for a
    batch, PuzzleBatchError naming every unusable one (its `errors`), before anything is solved.
    Raises ValueError for an unusable option, FileNotFoundError / CheckpointError for a checkpoint
    that is missing or broken. A model whose output is not finite never raises: the exact search
    answers, with a note.
    """
    _check_options(task, checkpoint, segments, halting, repair, batch_size, batch, precision)
    device = _device(device)
    if task == "maze":
        return _solve_mazes(puzzles, checkpoint, segments, halting, bool(repair), device, batch_size, batch, precision)
    items, batch = _items(puzzles, batch, _is_batch, _as_single, "puzzle")
    repair = bool(repair)

    def solve_chunk(model, task_obj, grids, verdicts, path, variant):
        return _solve_sudoku_chunk(model, task_obj, np.stack(grids), list(verdicts), segments, halting, repair,
                                   device or default_device(), path, variant, precision)

    return _solve_in_groups(items, batch, "puzzle", _sudoku_variant, _prepare_sudoku, solve_chunk, checkpoint, device, batch_size)


def _prepare_sudoku(task: SudokuTask, item: Any) -> tuple[np.ndarray, sudoku_rules.PuzzleVerdict]:
    grid = task.parse(item)
    verdict = sudoku_rules.analyse_puzzle(grid, task.box_rows, task.box_cols)
    if verdict.status is sudoku_rules.PuzzleStatus.CONTRADICTORY:
        raise ContradictoryPuzzleError("; ".join(verdict.reasons))
    return grid, verdict


def _solve_in_groups(items: list, batch: bool, label: str, variant_of, prepare, solve_chunk, checkpoint, device: str | None,
                     batch_size: int):
    """Sudoku and maze alike: group the items by variant (one model each), `prepare` every item (parse and
    check; in a batch every unusable item is named, counting from 1, before anything is solved), solve
    chunks of `batch_size`; results in input order."""
    errors: dict[int, PuzzleInputError] = {}
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        try:
            groups.setdefault(variant_of(item), []).append(i)
        except PuzzleInputError as err:
            errors[i] = err
    # Every item is checked before any model loads: bad input is reported without waiting for torch.
    prepared: dict[int, Any] = {}
    for variant, indices in groups.items():
        task_obj = _task_of(variant)
        for i in indices:
            try:
                prepared[i] = prepare(task_obj, items[i])
            except PuzzleInputError as err:
                errors[i] = err
    if errors:
        raise PuzzleBatchError(dict(sorted(errors.items())), len(items), label) if batch else errors[0]
    results: list = [None] * len(items)
    for variant, indices in groups.items():
        path, model, task_obj = _model_for(variant, checkpoint, device or default_device())
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            grids, facts = zip(*(prepared[i] for i in chunk))
            for i, result in zip(chunk, solve_chunk(model, task_obj, grids, facts, str(path), variant)):
                results[i] = result
    return results if batch else results[0]


def _task_of(variant: str) -> Task:
    """The task a variant name stands for ("sudoku-9x9": 3x3 boxes; "maze-9x9"), as its checkpoint's card must say."""
    name, shape = variant.split("-")
    side = int(shape.split("x")[0])
    return SudokuTask(*SUDOKU_BOXES[side]) if name == "sudoku" else MazeTask(side)


def bf16_native(device: str) -> bool:
    """Does this device do bf16 arithmetic natively? On a CPU without AVX512-BF16 or AMX, autocast
    to bf16 only adds conversions, so fp32 is faster there."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


@contextlib.contextmanager
def _threads_for(batch: int, device: str):
    """One intra-op thread for a small batch on the CPU (restored afterwards)."""
    import torch

    before = torch.get_num_threads()
    if device.startswith("cpu") and batch <= ONE_THREAD_MAX_BATCH:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _autocast(device: str, precision: str):
    """bf16 autocast for "bf16" (and for "auto" where the device has native bf16), else fp32."""
    import torch

    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be auto, bf16 or fp32, not {precision!r}")
    wanted = precision == "bf16" or (precision == "auto" and bf16_native(device))
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=wanted)


@dataclass
class _Answers:
    probs: torch.Tensor  # [B, seq, vocab] fp32, at the segment each puzzle's answer was taken
    used: np.ndarray  # [B] segments run
    halted_at: np.ndarray  # [B] first segment after which the Q-head would halt (else the last one run)
    gave_up: np.ndarray  # [B] stopped because the Q-head rated the answer hopeless ("verified")


def _answer_probs(model: HRM, task: Task, grids, segments: int, halting: str, device: str, precision: str = "auto") -> _Answers:
    """Run segments until each puzzle stops: at its Q-head's halt ("act"), at the first segment whose
    answer the verifier accepts ("verified"; or, from the second segment on, when the Q-head gives
    the answer under sigmoid(GIVE_UP_LOGIT) of being right), or after all `segments` ("fixed"). A
    stopped puzzle leaves the batch, so later segments cost only the puzzles still running."""
    import torch

    from .act import answer_probabilities, wants_halt
    from .model import Carry

    grids = np.stack(grids)
    count = len(grids)
    inputs = torch.from_numpy(np.stack([task.encode(g) for g in grids])).to(device)
    ids = torch.zeros(count, dtype=torch.long, device=device)
    carry = model.initial_carry(count, device)
    probs = torch.empty(count, inputs.shape[1], model.cfg.vocab_size)
    used = np.full(count, segments)
    halted_at = np.zeros(count, dtype=np.int64)  # 0: not yet
    gave_up = np.zeros(count, dtype=bool)
    live = np.arange(count)  # rows still running
    with torch.inference_mode(), _autocast(device, precision), _threads_for(count, device):
        for segment in range(1, segments + 1):
            out = model(carry, inputs, ids)
            seg_probs = answer_probabilities(out.logits, model.cfg.loss).cpu()
            q_halts = wants_halt(model, out.q_halt, out.q_continue).cpu().numpy()
            halted_at[live[q_halts & (halted_at[live] == 0)]] = segment
            if segment == segments:
                done = np.ones(len(live), dtype=bool)
            elif halting == "act":
                done = q_halts
            elif halting == "verified":
                accepted = task.accepts(grids[live], seg_probs.argmax(-1).numpy())
                hopeless = (out.q_halt < GIVE_UP_LOGIT).cpu().numpy() & (segment >= 2) & ~accepted
                gave_up[live[hopeless]] = True
                done = accepted | hopeless
            else:
                done = np.zeros(len(live), dtype=bool)
            probs[live[done]] = seg_probs[done]
            used[live[done]] = segment
            if done.all():
                break
            if done.any():
                keep = torch.from_numpy(~done).to(device)
                live, inputs, ids = live[~done], inputs[keep], ids[keep]
                carry = Carry(out.carry.z_H[keep], out.carry.z_L[keep])
            else:
                carry = out.carry
    halted_at = np.where(halted_at == 0, used, halted_at)
    return _Answers(probs, used, halted_at, gave_up)


def _run_model(model: HRM, task: SudokuTask, grids: np.ndarray, segments: int, halting: str, device: str,
               precision: str = "auto"):
    """HRM answers for a stack of grids: (answers [B,n,n], digit probabilities [B,n,n,n], the run's _Answers)."""
    run = _answer_probs(model, task, grids, segments, halting, device, precision)
    n = task.size
    digit_probs = run.probs[..., 2 : 2 + n].numpy().reshape(len(grids), n, n, n)  # tokens 2.. are digits 1..
    answers = digit_probs.argmax(-1) + 1
    return answers, digit_probs, run


def _confident_consistent_cells(task: SudokuTask, puzzle: np.ndarray, answer: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Givens plus the model's most confident cells, added greedily while they break no rule."""
    n, br, bc = task.size, task.box_rows, task.box_cols
    partial = puzzle.copy()
    rows = [set(partial[r][partial[r] > 0]) for r in range(n)]
    cols = [set(partial[:, c][partial[:, c] > 0]) for c in range(n)]
    boxes = [set() for _ in range(n)]
    for r, c in zip(*np.nonzero(partial)):
        boxes[sudoku_rules.box_index(r, c, br, bc)].add(partial[r, c])
    for flat in np.argsort(-confidence, axis=None):
        r, c = divmod(int(flat), n)
        if partial[r, c] or confidence[r, c] < REPAIR_CONFIDENCE:
            continue
        v, b = answer[r, c], sudoku_rules.box_index(r, c, br, bc)
        if v in rows[r] or v in cols[c] or v in boxes[b]:
            continue
        partial[r, c] = v
        rows[r].add(v), cols[c].add(v), boxes[b].add(v)
    return partial


def _solve_sudoku_chunk(model, task: SudokuTask, grids, verdicts, segments, halting, repair, device, ckpt, variant,
                        precision="auto"):
    segments = segments or model.cfg.halt_max_steps
    answers, digit_probs, run = _run_model(model, task, grids, segments, halting, device, precision)
    finite = np.isfinite(digit_probs).all(axis=(1, 2, 3))  # False: no guidance to take from the model
    best = digit_probs.max(-1)
    confidence = np.where(np.isfinite(best), best, 0.0)
    final = [None] * len(grids)  # (answer, path, nodes)
    rejected = {}
    for i, (grid, answer) in enumerate(zip(grids, answers)):
        verdict = task.verify(grid, answer)
        if verdict.ok:
            final[i] = (answer, "hrm", 0)
        else:
            rejected[i] = verdict.reasons

    todo = [i for i in rejected if verdicts[i].status is not sudoku_rules.PuzzleStatus.NO_SOLUTION]
    if repair and todo:
        # Re-run the HRM with its own confident, mutually consistent cells fixed as givens.
        partials = {i: _confident_consistent_cells(task, grids[i], answers[i], confidence[i]) for i in todo}
        rerun = [i for i in todo if (partials[i] != grids[i]).sum() >= REPAIR_MIN_NEW_CELLS]
        retry = {}
        if rerun:
            again, _, _ = _run_model(model, task, np.stack([partials[i] for i in rerun]), segments, halting, device, precision)
            retry = dict(zip(rerun, again))
        for i in todo:
            if i in retry and task.verify(grids[i], retry[i]).ok:
                final[i] = (retry[i], "hrm+repair", 0)
            else:
                # Exhaustive search, value order from the model's (first-pass) probabilities.
                scores = digit_probs[i] if finite[i] else None
                found = sudoku_rules.guided_search(grids[i], task.box_rows, task.box_cols, value_scores=scores)
                if found.solution is not None and task.verify(grids[i], np.asarray(found.solution)).ok:
                    final[i] = (np.asarray(found.solution), "search", found.nodes)

    results = []
    for i, grid in enumerate(grids):
        status_of_puzzle = verdicts[i].status
        answer, path, nodes = final[i] if final[i] is not None else (None, "none", 0)
        notes = [] if finite[i] else [NON_FINITE_NOTE]
        if status_of_puzzle is sudoku_rules.PuzzleStatus.NO_SOLUTION:
            status = "no_solution"
            notes.append("the puzzle has no solution")
        elif answer is None:
            status = "unsolved"
        elif status_of_puzzle is sudoku_rules.PuzzleStatus.MULTIPLE:
            status = "multiple_solutions"
            notes.append("the puzzle has more than one solution; the answer is one of them")
        else:
            status = "solved"
        results.append(SolveResult(
            task=variant, puzzle=grid.tolist(), status=status,
            answer=None if answer is None else np.asarray(answer).tolist(), verified=answer is not None, path=path,
            model_answer=answers[i].tolist(), model_correct=i not in rejected,
            confidence=confidence[i].round(4).tolist(), segments_used=int(run.used[i]),
            halted_at=int(run.halted_at[i]), search_nodes=nodes,
            model_errors=list(rejected.get(i, [])), notes=notes, checkpoint=ckpt,
        ))
    return results


# --------------------------------------------------------------------------------------------
# Mazes
# --------------------------------------------------------------------------------------------


def _is_maze_batch(puzzles: Any) -> bool:
    if isinstance(puzzles, str):
        return False
    if isinstance(puzzles, np.ndarray):
        return puzzles.ndim == 3
    if isinstance(puzzles, (list, tuple)):
        if not puzzles:
            raise PuzzleInputError("no maze given")
        if all(isinstance(p, str) for p in puzzles):
            # N strings of N characters each are the rows of one maze.
            return not all(len(p) == len(puzzles) for p in puzzles)
        return True
    raise PuzzleInputError(f"cannot read a maze from a {type(puzzles).__name__}")


def _solve_mazes(puzzles, checkpoint, segments, halting, repair, device, batch_size, batch,
                 precision="auto") -> MazeSolveResult | list[MazeSolveResult]:
    items, batch = _items(puzzles, batch, _is_maze_batch, lambda maze: maze, "maze")

    def solve_chunk(model, task_obj, grids, reachable, path, variant):
        return _solve_maze_chunk(model, task_obj, grids, reachable, segments, halting, repair, device or default_device(), path,
                                 variant, precision)

    return _solve_in_groups(items, batch, "maze", _maze_variant, _prepare_maze, solve_chunk, checkpoint, device, batch_size)


def _maze_variant(maze: Any) -> str:
    side = maze_side(maze)
    if side < 3:  # S, G and a way between them need at least 3x3 cells
        raise PuzzleInputError(f"a maze has at least 3x3 cells; this one is {side}x{side}")
    return f"maze-{side}x{side}"


def _prepare_maze(task: MazeTask, item: Any) -> tuple[np.ndarray, bool]:
    """(grid, whether G is reachable): a well-formed maze without a path is answered as such, like a
    sudoku with no solution."""
    try:
        return task.parse(item), True
    except UnreachableGoalError as err:
        return err.grid, False


def _solve_maze_chunk(model, task: MazeTask, grids, reachable, segments, halting, repair, device, ckpt, variant,
                      precision="auto"):
    segments = segments or model.cfg.halt_max_steps
    run = _answer_probs(model, task, grids, segments, halting, device, precision)
    tokens = run.probs.argmax(-1).numpy()
    finite = run.probs.isfinite().flatten(1).all(1).numpy()
    confidence = run.probs.max(-1).values.numpy().reshape(len(grids), task.size, task.size)
    confidence = np.where(np.isfinite(confidence), confidence, 0.0)
    results = []
    for i, grid in enumerate(grids):
        rows = ["".join(r) for r in grid.tolist()]
        model_rows = ["".join(r) for r in task.decode(tokens[i]).tolist()]
        answer, path, errors, matches = None, "none", [], False
        if reachable[i]:
            verdict = task.verify(grid, task.decode(tokens[i]))
            matches = verdict.matches_label
            if verdict.ok:
                answer, path = model_rows, "hrm"
            else:
                errors = verdict.reasons
                if repair:  # the exact BFS; verified like any other answer
                    searched = list(maze_rules.label_maze(rows, side=task.size))
                    if task.verify(grid, np.array([list(r) for r in searched])).ok:
                        answer, path = searched, "search"
        else:
            errors = ["G cannot be reached from S"]
        length = None if answer is None else sum(row.count("o") for row in answer) + 2
        status = "no_solution" if not reachable[i] else ("solved" if answer is not None else "unsolved")
        results.append(MazeSolveResult(
            task=variant, puzzle=rows, status=status, answer=answer, verified=answer is not None, path=path,
            path_length=length, model_answer=model_rows, model_correct=path == "hrm", model_matches_label=matches,
            model_errors=errors, notes=[] if finite[i] else [NON_FINITE_NOTE],
            confidence=confidence[i].round(4).tolist(),
            segments_used=int(run.used[i]), halted_at=int(run.halted_at[i]),
            checkpoint=ckpt,
        ))
    return results
