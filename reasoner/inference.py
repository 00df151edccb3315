"""`solve()`: puzzles in, verified answers (or an honest refusal) out.

Pipeline per puzzle:
  1. parse and validate the input (typed errors for bad input, contradictory givens), before any
     model loads;
  2. the puzzle itself is analysed exactly (unique / several / no solution) by the verifier;
  3. the HRM runs until its answer passes the rule check, or its Q-head rates the answer hopeless
     (or until the Q-head halts, or a fixed number of segments: the `halting` switch);
  4. the verifier checks the HRM's answer;
  5. if it fails: a repair guided by the model (sudoku), the exact search (maze).
An `answer` is only ever set when the verifier accepted it.

This module is the driver, the same for every task: it reads the input as one puzzle or a batch,
groups the puzzles by variant, loads each variant's model and runs it (device, precision,
threads, halting). What a puzzle is and what to do with the model's answer is the task's policy
(reasoner/solvers/: sudoku.py, maze.py).
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .commit import Commit
from .config import GridSizeError
from .solvers import Answers, Chunk, MazePolicy, MazeSolveResult, Policy, Runner, SolveResult, SudokuPolicy, read_digits
from .tasks import PuzzleInputError, SudokuTask, Task, Variant

# torch and the model load only when a model runs (torch takes ~1.5 s to import), so bad input is
# reported at once: the functions that need them import them.
if TYPE_CHECKING:
    from .checkpoint import CheckpointCard, GiveUp
    from .model import HRM

__all__ = ["solve", "SolveResult", "MazeSolveResult", "PuzzleBatchError", "CHECKPOINT_DIR", "POLICIES",
           "answer_probs", "run_model", "load_model", "load_model_for", "default_device", "bf16_native", "autocast"]

CHECKPOINT_DIR = Path(os.environ.get("HRM_CHECKPOINT_DIR", Path(__file__).parent / "checkpoints"))
POLICIES: dict[str, Policy] = {"sudoku": SudokuPolicy(), "maze": MazePolicy()}
# Every segment's probabilities are kept until the answer is read: a bound keeps a typo from
# exhausting memory.
MAX_SEGMENTS = 1024
# Batches up to this size run on one intra-op thread: their matmuls are too small to split, and on a
# busy CPU a second thread waiting for a core made a batch-1 segment 20x slower (docs/benchmarks.md).
ONE_THREAD_MAX_BATCH = 4
MAX_VIEWS = 64
# On the CPU a segment runs its batch in parts of at most this many positions (rows x sequence
# length): the shipped 9x9 model, compiled, bf16, 2 threads, costs 1.4 ms a row at 192 rows (16k
# positions) and 3.9 ms at 1600, whose activations no longer fit the caches (docs/speed.md, session
# 16). A GPU takes the whole batch at once.
CPU_FORWARD_POSITIONS = 192 * 82
# The random symmetries of test-time views are drawn from this seed: the same puzzle, the same views.
VIEW_SEED = 0


class PuzzleBatchError(PuzzleInputError):
    """Some puzzles of a batch cannot be used. `errors` maps each one's index (from 0) to its own
    error (PuzzleInputError, ContradictoryPuzzleError); nothing was solved."""

    def __init__(self, errors: dict[int, PuzzleInputError], total: int, label: str = "puzzle"):
        self.errors = errors
        shown = "; ".join(f"{label} {i + 1}: {err}" for i, err in list(errors.items())[:5])
        more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} of {total} {label}s cannot be used: {shown}{more}")


def solve(
    puzzles: Any,
    task: str = "sudoku",
    *,
    checkpoint: str | Path | None = None,
    segments: int | None = None,
    halting: Literal["act", "verified", "fixed"] = "verified",
    repair: bool = True,
    views: int = 1,
    give_up: bool = True,
    device: str | None = None,
    batch_size: int = 256,
    batch: bool | None = None,
    precision: Literal["auto", "bf16", "fp32"] = "auto",
    compile: bool = False,
    commit: int = 0,
) -> SolveResult | list[SolveResult]:
    """Solve one puzzle or many.

    `puzzles`: one puzzle (an 81-character string, 9 lines of text, a list of lists, an array) or a
    list of them / a 3-D array (then a list of results comes back, in order). Blanks are `.`, `0`
    or `_`. 4x4, 6x6 and 9x9 sudoku are recognised by their size.
    `segments`: how many segments the HRM runs at most (default: the checkpoint's M_max). With
    `halting="verified"` (default) each puzzle stops at the first segment whose answer the rule
    checker accepts, or gives up once the Q-head rates its answer hopeless (the threshold measured
    for the checkpoint, its card's `give_up`), so more segments cost only the puzzles that need
    them; `"act"` takes the answer where the Q-head halts, as the paper's ACT intends; `"fixed"`
    after all `segments` (the reference's evaluation convention). `halted_at` reports the Q-head's halt in every mode. "verified" is the default
    because the shipped sudoku-9x9's Q-head halts at M_max on every benchmark puzzle, while most
    40-blank puzzles verify after 2-3 segments (docs/benchmarks.md).
    `views`: run each puzzle as this many symmetric copies of itself (sudoku: shuffled rows, columns
    and digits; mazes: turned or mirrored, at most 8): on hard puzzles the copies fail on different
    puzzles, so the HRM alone solves more (docs/results.md), at up to `views` times the compute. With
    "verified" the first copy whose answer verifies answers; with "act" / "fixed" the copy the model
    is surest of (highest Q-head halt logit) answers, no verifier involved: under "act" as soon as a
    settled copy (its answer unchanged since the segment before) has a halt logit above 2, or two
    settled copies with positive halt logits give the same answer (so one copy fooled by a wrong
    commitment cannot stop its puzzle), under "fixed" after all segments; on hard sudoku the Q-head
    picks a right copy whenever there is one (docs/results.md).
    `commit`: committed decoding (sudoku; reasoner/commit.py): after every segment each puzzle (each
    copy) whose Q-head does not yet rate its answer right writes its `commit` surest blank cells into
    its input as givens (1 is the measured choice). The HRM alone, no rule checker or search; on
    Sudoku-Extreme it solves more puzzles within the same segments (docs/results.md). 0 (default): off.
    `give_up=False`: verified halting never gives up on the Q-head's word; each puzzle runs until an
    answer verifies or `segments` run out (the default gives up where the checkpoint's card says).
    The card's threshold was measured on one plain copy, so with `views` > 1 or `commit` it does not
    apply: there the Q-head's early scores do not tell which puzzles the copies solve later
    (docs/results.md, "Session 16"; applied anyway, 16 committing copies solved 3% of Sudoku-Extreme
    rows 900-999 instead of 56%).
    `precision`: "auto" runs in bf16 where the device computes in bf16 natively (AVX512-BF16/AMX
    CPUs, CUDA), fp32 elsewhere; "bf16" / "fp32" force one.
    `compile=True`: run the HRM's updates through torch.compile (HRM.compile_inference): a compile of
    tens of seconds the first time a checkpoint runs in this process, then 1.25-2x the batched
    throughput on a CPU (eval/bench_inference.py); worth it for thousands of puzzles, not for one.
    `repair=False` returns the HRM's verdict alone (answer None when it was wrong).
    `task="maze"`: mazes in the `# SGo` text form (N lines, or one N*N-character line, or a list
    of them), answered by a `maze-NxN` checkpoint where there is one, else by the size-free `maze`
    checkpoint (shipped; any side); a wrong HRM path is replaced by the exact breadth-first search
    (path "search") unless repair=False. Returns MazeSolveResult(s).
    `batch`: None guesses whether `puzzles` is one puzzle or several (strings each shorter than a
    puzzle are the rows of one); True: each element is one puzzle; False: it is one puzzle.
    Raises PuzzleInputError (or its subclass ContradictoryPuzzleError) for an unusable puzzle; for a
    batch, PuzzleBatchError naming every unusable one (its `errors`), before anything is solved.
    Raises ValueError for an unusable option, FileNotFoundError / CheckpointError for a checkpoint
    that is missing or broken. A model whose output is not finite never raises: the exact search
    answers, with a note.
    """
    _check_options(task, checkpoint, segments, halting, repair, batch_size, batch, precision, views, give_up, compile,
                   commit)
    device = _device(device)
    policy = POLICIES[task]
    items, batch = _items(puzzles, batch, policy)
    groups = _prepare(items, batch, policy)
    rules = {group.variant.name: Commit.for_task(group.task, commit) for group in groups}  # ValueError: cannot commit
    results: list = [None] * len(items)
    device = device or default_device()  # only now: it loads torch
    for group in groups:
        path, model, task_obj, card = _model_for(group.variant, checkpoint, device, compile)
        run = _runner(model, task_obj, segments or model.cfg.halt_max_steps, halting, device, precision,
                      card.give_up if give_up and views == 1 and not commit else None, views,
                      rules[group.variant.name])
        indices = list(group.prepared)
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            grids, facts = zip(*(group.prepared[i] for i in chunk))
            answered = policy.answer(Chunk(group.variant, task_obj, str(path), np.stack(grids), list(facts), run, bool(repair)))
            for i, result in zip(chunk, answered):
                results[i] = result
    return results if batch else results[0]


def _items(puzzles: Any, batch: bool | None, policy: Policy) -> tuple[list, bool]:
    """The puzzles as a list, and whether they came as a batch (`batch` None: the policy guesses)."""
    if batch is None:
        batch = policy.is_batch(puzzles)
    elif batch and (isinstance(puzzles, str) or not hasattr(puzzles, "__len__")):
        raise PuzzleInputError(f"batch=True needs a list of {policy.label}s")
    if batch and len(puzzles) == 0:
        raise PuzzleInputError(f"no {policy.label} given")
    return (list(puzzles), True) if batch else ([policy.single(puzzles)], False)


@dataclass
class _Group:
    variant: Variant  # one model answers the group
    task: Task  # the variant's task, as its checkpoint's card must say
    prepared: dict[int, tuple[np.ndarray, Any]] = field(default_factory=dict)  # input index -> policy.prepare's (grid, facts)


def _prepare(items: list, batch: bool, policy: Policy) -> list[_Group]:
    """The items grouped by variant, each read and checked by the policy. Every item is checked
    before any model loads (bad input is reported without waiting for torch); in a batch every
    unusable item is named, counting from 1, before anything is solved."""
    errors: dict[int, PuzzleInputError] = {}
    groups: dict[str, _Group] = {}
    for i, item in enumerate(items):
        try:
            variant = policy.variant_of(item)
            if variant.name not in groups:
                groups[variant.name] = _Group(variant, variant.make())
            groups[variant.name].prepared[i] = policy.prepare(groups[variant.name].task, item)
        except PuzzleInputError as err:
            errors[i] = err
    if errors:
        raise PuzzleBatchError(dict(sorted(errors.items())), len(items), policy.label) if batch else errors[0]
    return list(groups.values())


@functools.lru_cache(maxsize=8)
def load_model(path: str, device: str, size: int | None = None, compiled: bool = False) -> tuple[HRM, Task, Any]:
    """A checkpoint's (model, task, card), as `reasoner.checkpoint.load_checkpoint` reads them; the
    8 most recently used stay loaded. `size` runs a size-free maze model on mazes of that side;
    `compiled` gives a copy whose inference runs through torch.compile (HRM.compile_inference)."""
    from .checkpoint import load_checkpoint

    model, task, card = load_checkpoint(path, device, size=size)
    if compiled:
        model.compile_inference()
    return model, task, card


def load_model_for(path: str, device: str, side: int | None, compiled: bool = False) -> tuple[HRM, Task, Any]:
    """`load_model` for mazes of `side` (None: as saved). A size-free model runs a larger maze on a
    grid rebuilt for its side, a smaller one inside walls of the grid it was trained on (the
    caller places it there with MazeCanvas): its training data drew small mazes that way, and the
    puzzle prefix, which every cell attends to, has only summarised grids of that size. Any other
    model keeps its size (GridSizeError for a maze of another side)."""
    model, task, card = load_model(path, device, None, compiled)
    if side is None or task.name != "maze" or side == task.size or (side < task.size and model.cfg.size_free):
        return model, task, card
    return load_model(path, device, side, compiled)


def _model_for(variant: Variant, checkpoint: str | Path | None, device: str,
               compiled: bool = False) -> tuple[Path, HRM, Task, CheckpointCard]:
    """The model for a variant: `checkpoint`, else the variant's own in CHECKPOINT_DIR, else its
    fallback (mazes: the size-free `maze` model, on a grid of their side or, for a smaller maze, of
    its own)."""
    path = Path(checkpoint) if checkpoint else CHECKPOINT_DIR / variant.checkpoint
    tried = str(path)
    if checkpoint is None and variant.fallback and not path.is_file():
        path = CHECKPOINT_DIR / variant.fallback
        tried += f" or the size-free {path}"
    if not path.with_suffix(".safetensors").is_file():
        raise FileNotFoundError(
            f"no checkpoint for {variant.name} at {tried}; train one with `python -m reasoner.train --task {variant.name} "
            f"--out runs/{variant.name} --export {CHECKPOINT_DIR / variant.name}.safetensors` or pass checkpoint=..."
        )
    try:
        model, task_obj, card = load_model_for(str(path), device, variant.params.get("size"), compiled)
    except GridSizeError as err:
        raise PuzzleInputError(f"checkpoint {path} cannot run a {variant.name}: {err}") from None
    size = getattr(task_obj, "size", None)
    if task_obj.name != variant.family or not (size == variant.side or (variant.family == "maze" and size > variant.side)):
        raise PuzzleInputError(f"checkpoint {path} is for {task_obj!r}, the puzzle is a {variant.name}")
    return path, model, task_obj, card


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
                   batch: Any, precision: Any, views: Any, give_up: Any, compile: Any = False, commit: Any = 0) -> None:
    """ValueError with the reason for any unusable option of `solve` (the puzzles are checked later)."""
    if not isinstance(task, str) or task not in POLICIES:
        raise ValueError(f"unknown task {task!r}; available: {', '.join(POLICIES)}")
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise ValueError(f"checkpoint must be a path (str or Path), got {type(checkpoint).__name__}")
    if segments is not None and not (_whole(segments) and 1 <= segments <= MAX_SEGMENTS):
        raise ValueError(f"segments must be a whole number from 1 to {MAX_SEGMENTS} (or None for the checkpoint's "
                         f"maximum), got {segments!r}")
    if not isinstance(halting, str) or halting not in ("verified", "act", "fixed"):
        raise ValueError(f"halting must be 'verified', 'act' or 'fixed', got {halting!r}")
    if not isinstance(precision, str) or precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    for name, value in (("repair", repair), ("give_up", give_up), ("compile", compile)):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    if not (_whole(views) and 1 <= views <= MAX_VIEWS):
        raise ValueError(f"views must be a whole number from 1 to {MAX_VIEWS}, got {views!r}")
    if not (_whole(commit) and commit >= 0):
        raise ValueError(f"commit must be a whole number of cells, at least 0 (0: off), got {commit!r}")
    if not (_whole(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    if batch is not None and not isinstance(batch, bool):
        raise ValueError(f"batch must be True, False or None, got {batch!r}")


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


def uses_bf16(device: str, precision: str = "auto") -> bool:
    """Does `precision` mean bf16 on `device`? "bf16" always, "auto" where the device has native bf16
    (inference and training decide alike)."""
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be auto, bf16 or fp32, not {precision!r}")
    return precision == "bf16" or (precision == "auto" and bf16_native(device))


def autocast(device: str, precision: str = "auto"):
    """bf16 autocast where `uses_bf16`, else fp32."""
    import torch

    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=uses_bf16(device, precision))


def answer_probs(model: HRM, task: Task, grids, segments: int, halting: str, device: str, precision: str = "auto",
                 give_up: GiveUp | None = None, views: int = 1, commit: Commit | None = None) -> Answers:
    """Run segments until each puzzle stops: at its Q-head's halt ("act"), at the first segment whose
    answer the verifier accepts ("verified"; or, with `give_up`, from its `from_segment` on, when the
    Q-head's halt logit is under its `logit`), or after all `segments` ("fixed"). A stopped puzzle
    leaves the batch, so later segments cost only the puzzles still running.
    With `views` > 1 each puzzle runs as that many symmetric copies of itself (reasoner/views.py). With
    "verified" it stops as soon as any copy's answer verifies: that answer, mapped back, is its answer;
    if none does, its own (the first copy's) where that copy stopped. With "act" it stops once a
    settled copy (its answer unchanged since the segment before) is sure its answer is right (halt
    logit > views.SURE) or two settled copies rating theirs right (halt logit > 0) give the same
    answer, with "fixed" after all `segments`; the copy whose halt logit is highest among those
    stopping then answers, no verifier involved.
    `commit`: committed decoding (reasoner/commit.py) in every running copy."""
    import torch

    from .act import answer_probabilities, wants_halt
    from .commit import commit_surest
    from .model import Carry
    from .views import agreeing_copies, undo_probs, view_rows

    grids = np.stack(grids)
    count = len(grids)
    tokens, checked, maps = view_rows(task, grids, views, np.random.default_rng(VIEW_SEED))
    owner, view = np.divmod(np.arange(len(tokens)), views)
    inputs = torch.from_numpy(tokens).to(device)
    ids = torch.zeros(len(tokens), dtype=torch.long, device=device)
    carry = model.initial_carry(len(tokens), device)
    probs = torch.empty(count, inputs.shape[1], model.cfg.vocab_size)
    used = np.zeros(count, dtype=np.int64)  # segments run (by the copy that ran longest)
    halted_at = np.zeros(count, dtype=np.int64)  # 0: not yet
    gave_up = np.zeros(count, dtype=bool)
    verified = np.zeros(count, dtype=bool)  # `probs` holds an answer the verifier accepted
    picked = np.zeros(count, dtype=bool)  # views without the verifier: `probs` holds the surest copy's answer
    live = np.arange(len(tokens))  # rows still running
    part_rows = max(1, CPU_FORWARD_POSITIONS // model.cfg.total_len) if device.startswith("cpu") else None
    tokens_now = None
    with torch.inference_mode(), autocast(device, precision), _threads_for(len(tokens), device):
        for segment in range(1, segments + 1):
            out = forward_in_parts(model, carry, inputs, ids, part_rows)
            seg_probs = answer_probabilities(out.logits, model.cfg.loss).cpu()
            last, tokens_now = tokens_now, seg_probs.argmax(-1)  # each row's answer, a segment before and now
            q_halts = wants_halt(model, out.q_halt, out.q_continue).cpu().numpy()
            mine, own = owner[live], view[live] == 0
            used[mine] = segment
            halted_at[mine[own & q_halts & (halted_at[mine] == 0)]] = segment
            accepted = np.zeros(len(live), dtype=bool)
            if segment == segments:
                done = np.ones(len(live), dtype=bool)
            elif halting == "act" and maps is not None:
                # A copy's Q-head may halt because more segments look hopeless: that must not stop the
                # other copies. A puzzle stops when a copy's Q-head is sure its answer is right, or two
                # copies that rate theirs right agree: one fooled copy cannot stop it. Only settled
                # copies count (the same answer as a segment before): after one segment, copies with
                # the same near miss agreed, their Q-heads fooled alike (docs/results.md, session 16).
                done = np.zeros(len(live), dtype=bool)
                settled = np.zeros(len(live), dtype=bool) if last is None else (tokens_now == last).all(-1).numpy()
                rows = np.flatnonzero((out.q_halt > 0).cpu().numpy() & settled)
                if len(rows):
                    answers = undo_probs(seg_probs[rows], *maps, view[live[rows]]).argmax(-1).numpy()
                    done[rows] = agreeing_copies(mine[rows], answers, out.q_halt.float().cpu().numpy()[rows])
            elif halting == "act":
                done = q_halts
            elif halting == "verified":
                accepted = task.accepts(checked[live], tokens_now.numpy())
                hopeless = np.zeros(len(live), dtype=bool) if give_up is None or segment < give_up.from_segment \
                    else (out.q_halt < give_up.logit).cpu().numpy() & ~accepted
                gave_up[mine[hopeless & own]] = True
                done = accepted | hopeless
            else:
                done = np.zeros(len(live), dtype=bool)
            new = np.flatnonzero(accepted & ~verified[mine])
            if len(new):  # a puzzle's first verified copy
                puzzles, first = np.unique(mine[new], return_index=True)
                rows = new[first]
                probs[puzzles] = seg_probs[rows] if maps is None else undo_probs(seg_probs[rows], *maps, view[live[rows]])
                verified[puzzles] = True
            if maps is not None and halting != "verified":
                rows = np.flatnonzero(done)
                if len(rows):  # the copy the Q-head is surest of, of those stopping, answers for its puzzle
                    q = out.q_halt.float().cpu().numpy()[rows]
                    surest_first = rows[np.lexsort((-q, mine[rows]))]
                    puzzles, first = np.unique(mine[surest_first], return_index=True)
                    best = surest_first[first]
                    probs[puzzles] = undo_probs(seg_probs[best], *maps, view[live[best]])
                    picked[puzzles] = True
                done |= picked[mine]  # every copy of an answered puzzle stops
            else:
                stopped = done & own & ~verified[mine]  # its own answer, where it stopped
                probs[mine[stopped]] = seg_probs[stopped]
                done |= verified[mine]  # every copy of a verified puzzle stops
            if done.all():
                break
            if commit is not None and commit.due(segment):
                inputs = commit_surest(inputs, seg_probs, out.q_halt, commit)
            if done.any():
                keep = torch.from_numpy(~done).to(device)
                live, inputs, ids, tokens_now = live[~done], inputs[keep], ids[keep], tokens_now[torch.from_numpy(~done)]
                carry = Carry(out.carry.z_H[keep], out.carry.z_L[keep])
            else:
                carry = out.carry
    halted_at = np.where(halted_at == 0, used, halted_at)
    return Answers(probs, used, halted_at, gave_up & ~verified)


def forward_in_parts(model: HRM, carry, inputs, ids, rows: int | None):
    """One segment of `model` over the batch, run at most `rows` rows at a time (parts that differ by at
    most one row; None: all at once); the same outputs as one call."""
    import torch

    from .model import Carry, SegmentOutput

    parts = 1 if rows is None else -(-len(inputs) // rows)
    if parts <= 1:
        return model(carry, inputs, ids)
    outs = [model(Carry(z_H, z_L), x, i) for z_H, z_L, x, i in
            zip(*(t.tensor_split(parts) for t in (carry.z_H, carry.z_L, inputs, ids)))]
    return SegmentOutput(Carry(torch.cat([o.carry.z_H for o in outs]), torch.cat([o.carry.z_L for o in outs])),
                         *(torch.cat([getattr(o, name) for o in outs]) for name in ("logits", "q_halt", "q_continue")))


def _runner(model: HRM, task: Task, segments: int, halting: str, device: str, precision: str,
            give_up: GiveUp | None, views: int, commit: Commit | None = None) -> Runner:
    """What a policy calls to run the model: `answer_probs` with this variant's model and settings, for
    `segments` or fewer."""
    return lambda grids, most=None: answer_probs(model, task, grids, min(most or segments, segments), halting, device,
                                                 precision, give_up, views, commit)


def run_model(model: HRM, task: SudokuTask, grids: np.ndarray, segments: int, halting: str, device: str,
              precision: str = "auto", give_up: GiveUp | None = None) -> tuple[np.ndarray, np.ndarray, Answers]:
    """HRM answers for a stack of sudoku grids, as `answer_probs` runs them: (answers [B,n,n],
    digit probabilities [B,n,n,n], the run's Answers)."""
    run = answer_probs(model, task, grids, segments, halting, device, precision, give_up)
    answers, digit_probs = read_digits(run, task.size)
    return answers, digit_probs, run
