"""ARC-AGI tasks (ARC-AGI-1, ARC-AGI-2, ConceptARC) in the HRM reference's encoding.

Tokens as in the reference: PAD 0, end-of-grid marker EOS 1, colour c -> c + 2 (vocab 12). A grid
is drawn at the top left of a square canvas (30x30 in the reference: seq_len 900, row-major); EOS
fills the row just below it and the column just right of it, so the model also predicts the size
of the output. Labels are the output drawn the same way with PAD ignored: EOS and colours are
supervised.

Data are built from task JSON folders, as the reference does:
- every task gets the identity plus `aug` random versions, each a symmetry of the square (8) and a
  permutation of the colours 1..9 (0, the background, stays fixed); versions whose content repeats
  an earlier one are dropped. Each version has its own puzzle identifier (row of the sparse
  puzzle-embedding table), so the model learns one vector per (task, version);
- tasks in the `train` role give all their pairs (demonstrations and tests) to training; tasks in
  the `eval` role give their demonstration pairs to training and their test pairs to the test
  split, which is never trained on (the reference's transductive protocol);
- training pairs are moved to a random place on the canvas each time they are drawn
  (`augment`); test inputs stay at the top left.

Leakage guard: before anything is built, every test pair (input and output grid) of the `eval`
tasks is looked up, by content, among all training pairs. Any hit refuses the build unless
`leaks=drop` (remove those training pairs) or `leaks=warn` (keep them, loudly). ARC-2's training
set holds 376 ARC-1 evaluation tasks; even ARC-1's own training set holds one ARC-1 evaluation
test pair (training task 40853293's test pair is evaluation task 070dd51e's).

The table of versions is a pure function of the build options and the JSON files (each task's
versions come from its own seeded generator), so `spec()` records the options, the identifier
count and a fingerprint, and `make_task(**spec)` rebuilds the same table for `--resume` and for
evaluation (`reasoner.arc_eval`), or says that the data changed.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from verifiers import arc as arc_rules

from .base import IGNORE_LABEL, Examples, PuzzleInputError, Task, default_data_dir, parse_source
from .maze import dihedral

PAD_ID, EOS_ID, COLOUR_OFFSET = 0, 1, 2
NUM_COLOURS = 10
VOCAB_SIZE = COLOUR_OFFSET + NUM_COLOURS  # 12
MAX_CANVAS = arc_rules.MAX_SIDE  # 30: every ARC grid fits
# Inverse of `dihedral(grid, k)`: quarter turns k -> 4 - k; the four reflections are their own inverse.
DIHEDRAL_INVERSE = (0, 3, 2, 1, 4, 5, 6, 7)
# Share of training draws left at the top left, the place test inputs are shown at. The reference
# keeps one example per augmented puzzle there (about a quarter of a typical task's examples).
UNTRANSLATED_SHARE = 0.25
# The reference gives up on finding `aug` distinct versions after 5 * aug draws (symmetric tasks and
# tasks with few colours have few distinct versions).
DRAWS_PER_VERSION = 5
DEFAULT_AUG = 1000  # the reference's num_aug
DEFAULT_SEED = 42  # the reference's seed
LEAK_POLICIES = ("refuse", "drop", "warn")
SOURCE_KEYS = {"train", "eval", "tasks", "ids", "aug", "seed", "leaks", "data", "split"}
SOURCE_USAGE = ("arc:eval=SET[+SET...][,train=SET[+SET...]][,tasks=N][,ids=ID+ID...][,aug=N][,seed=S]"
                "[,leaks=refuse|drop|warn][,data=DIR][,split=train|test]; SET is a folder of task JSON "
                "under the data directory, e.g. arc-agi-1/evaluation")

# -- grids on the canvas ---------------------------------------------------------------------------


def draw(grid: np.ndarray, canvas: int, top: int = 0, left: int = 0) -> np.ndarray:
    """A grid as [canvas*canvas] token ids, its top-left cell at (top, left), with EOS markers."""
    h, w = grid.shape
    board = np.full((canvas, canvas), PAD_ID, dtype=np.int64)
    board[top : top + h, left : left + w] = grid + COLOUR_OFFSET
    if top + h < canvas:
        board[top + h, left : left + w] = EOS_ID
    if left + w < canvas:
        board[top : top + h, left + w] = EOS_ID
    return board.reshape(-1)


def crop(tokens: np.ndarray, canvas: int) -> np.ndarray | None:
    """The grid drawn at the top left of a predicted canvas, or None when it is no rectangle.

    Its width is the run of colours along the first row, its height the run down the first column
    (the EOS marker, PAD or the canvas edge ends them); every cell inside must be a colour.
    """
    board = np.asarray(tokens).reshape(canvas, canvas)
    height, width = grid_extent(board, canvas)
    if width == 0 or height == 0 or not _is_colour(board[:height, :width]).all():
        return None
    return (board[:height, :width] - COLOUR_OFFSET).astype(np.int64)


def grid_extent(tokens: np.ndarray, canvas: int) -> tuple[int, int]:
    """(height, width) of the grid drawn at the top left: the runs of colours along the first
    column and the first row (0 when the corner is no colour)."""
    colour = _is_colour(np.asarray(tokens).reshape(canvas, canvas))
    width = canvas if colour[0].all() else int(np.argmin(colour[0]))
    height = canvas if colour[:, 0].all() else int(np.argmin(colour[:, 0]))
    return height, width


def _is_colour(tokens: np.ndarray) -> np.ndarray:
    return (tokens >= COLOUR_OFFSET) & (tokens < VOCAB_SIZE)


def transform(grid: np.ndarray, k: int, colours: np.ndarray) -> np.ndarray:
    """Version (k, colours) of a grid: symmetry k of the square, then colour c -> colours[c]."""
    return np.asarray(colours)[dihedral(np.asarray(grid), k)]


def untransform(grid: np.ndarray, k: int, colours: np.ndarray) -> np.ndarray:
    """Exact inverse of `transform`."""
    return np.ascontiguousarray(dihedral(inverse_colours(colours)[np.asarray(grid)], DIHEDRAL_INVERSE[k]))


def inverse_colours(colours: np.ndarray) -> np.ndarray:
    """The inverse permutation (works on a stack of permutations along the last axis)."""
    return np.argsort(np.asarray(colours), axis=-1)


def grid_bytes(grid: np.ndarray) -> bytes:
    """Content key of a grid: its shape and cells (two grids are equal iff their keys are)."""
    grid = np.asarray(grid, dtype=np.uint8)
    return bytes(grid.shape) + grid.tobytes()


def pair_key(inp: np.ndarray, out: np.ndarray) -> bytes:
    return grid_bytes(inp) + b"|" + grid_bytes(out)


# -- tasks as read from disk -----------------------------------------------------------------------


@dataclass
class ArcPuzzle:
    """One ARC task from one JSON file."""

    set_name: str  # e.g. "arc-agi-1/evaluation"
    task_id: str  # the file's stem, e.g. "00576224"
    role: str  # "train": every pair is training data | "eval": test pairs are held out
    demos: list[tuple[np.ndarray, np.ndarray]]  # demonstration ("train") pairs
    tests: list[tuple[np.ndarray, np.ndarray | None]]  # test pairs; output None when not published

    @property
    def key(self) -> str:
        return f"{self.set_name}/{self.task_id}"

    def training_pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.role == "eval":
            return list(self.demos)
        return list(self.demos) + [(i, o) for i, o in self.tests if o is not None]

    def grids(self) -> list[np.ndarray]:
        return [g for pair in self.demos for g in pair] + [g for pair in self.tests for g in pair if g is not None]


def _as_grid(value: Any, where: str) -> np.ndarray:
    verdict = arc_rules.check_arc_grid(value)
    if not verdict.ok:
        raise ValueError(f"{where}: not an ARC grid: {'; '.join(verdict.reasons)}")
    return np.asarray(value, dtype=np.int64)


def read_task(path: Path, set_name: str, role: str) -> ArcPuzzle:
    """One task JSON ({"train": [{"input", "output"}...], "test": [...]}); grids checked."""
    data = json.loads(path.read_text())
    demos = [(_as_grid(p["input"], f"{path} train {i} input"), _as_grid(p["output"], f"{path} train {i} output"))
             for i, p in enumerate(data["train"])]
    tests = [(_as_grid(p["input"], f"{path} test {i} input"),
              _as_grid(p["output"], f"{path} test {i} output") if "output" in p else None)
             for i, p in enumerate(data["test"])]
    return ArcPuzzle(set_name, path.stem, role, demos, tests)


def set_folder(set_name: str, data_dir: Path) -> Path:
    folder = Path(set_name) if Path(set_name).is_absolute() else data_dir / set_name
    if not folder.is_dir():
        raise FileNotFoundError(f"no ARC task folder {folder} (data directory {data_dir}: set HRM_DATA_DIR or "
                                f"data=DIR in the source)")
    return folder


# -- the task --------------------------------------------------------------------------------------


class ArcTask(Task):
    name = "arc"
    vocab_size = VOCAB_SIZE
    # CPU-sized: the first 8 ARC-1 evaluation tasks that fit the canvas, 100 versions each; their
    # test pairs are the validation data. docs/arc.md has the paper's build.
    default_train_source = "arc:eval=arc-agi-1/evaluation,tasks=8,aug=100"
    default_val_source = "arc:split=test"

    def __init__(self, canvas: int = MAX_CANVAS, build: dict[str, Any] | None = None,
                 num_puzzle_identifiers: int = 1, fingerprint: str | None = None):
        """`canvas` 30 is the reference; smaller canvases (only tasks whose every grid fits are
        used) make CPU runs cheap. `build`, `num_puzzle_identifiers` and `fingerprint` come from
        `spec()` of a task that has loaded data; they are checked when the table is rebuilt."""
        if isinstance(canvas, bool) or not isinstance(canvas, (int, np.integer)) or not 1 <= canvas <= MAX_CANVAS:
            raise ValueError(f"ARC canvas must be an integer between 1 and {MAX_CANVAS}, got {canvas!r}")
        self.canvas = int(canvas)
        self.seq_len = self.canvas * self.canvas
        self.build = dict(build) if build else None
        self.num_puzzle_identifiers = int(num_puzzle_identifiers)
        self.fingerprint = fingerprint
        self.puzzles: list[ArcPuzzle] = []
        # Identifier i >= 1 is version i - 1: (puzzle index, symmetry, colour permutation). 0 is blank.
        self.version_puzzle = np.zeros(0, dtype=np.int64)
        self.version_dihedral = np.zeros(0, dtype=np.int64)
        self.version_colours = np.zeros((0, NUM_COLOURS), dtype=np.int64)
        self.dropped_leaks: list[str] = []
        self._built = False

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": self.name, "canvas": self.canvas}
        if self.build is not None:
            spec.update(build=self.build, num_puzzle_identifiers=self.num_puzzle_identifiers, fingerprint=self.fingerprint)
        return spec

    def model_hints(self) -> dict[str, Any]:
        return {"grid_shape": (self.canvas, self.canvas), "grid_box": None}

    def __repr__(self) -> str:
        built = f", {len(self.puzzles)} tasks, {len(self.version_puzzle)} versions" if self._built else ""
        return f"ArcTask({self.canvas}x{self.canvas}{built})"

    # -- grids and tokens ---------------------------------------------------------------------

    def parse(self, puzzle: Any) -> np.ndarray:
        """Nested lists, an int array, JSON text ("[[0,1],[1,0]]") or lines of digits -> grid."""
        if isinstance(puzzle, str):
            text = puzzle.strip()
            if text.startswith("["):
                try:
                    puzzle = json.loads(text)
                except json.JSONDecodeError as err:
                    raise PuzzleInputError(f"ARC grid text is not valid JSON: {err}") from None
            else:
                rows = [line.strip() for line in text.splitlines() if line.strip()]
                if not all(row.isdigit() for row in rows):
                    raise PuzzleInputError("ARC grid text must be JSON or lines of digits 0-9")
                puzzle = [[int(ch) for ch in row] for row in rows]
        verdict = arc_rules.check_arc_grid(puzzle)
        if not verdict.ok:
            raise PuzzleInputError("invalid ARC grid: " + "; ".join(verdict.reasons))
        grid = np.asarray(puzzle, dtype=np.int64)
        if max(grid.shape) > self.canvas:
            raise PuzzleInputError(f"grid {grid.shape[0]}x{grid.shape[1]} does not fit the {self.canvas}x{self.canvas} canvas")
        return grid

    def encode(self, grid: np.ndarray) -> np.ndarray:
        return draw(self.parse(grid), self.canvas)

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """The grid at the top left; PuzzleInputError when the tokens hold no rectangle of colours."""
        grid = crop(tokens, self.canvas)
        if grid is None:
            raise PuzzleInputError("the tokens hold no rectangular grid at the top left of the canvas")
        return grid

    def verify(self, puzzle: Any, answer: Any, expected: Any = None) -> arc_rules.ArcAnswerVerdict:
        """ARC has no rules to check an answer against: `answer` is checked to be a well-formed
        grid and, when `expected` is given, to equal it (`verifiers.arc.check_arc_answer`)."""
        return arc_rules.check_arc_answer(answer, expected)

    # -- augmentation -------------------------------------------------------------------------

    def augment(self, examples: Examples, rng: np.random.Generator) -> Examples:
        """Translation: input and label moved together to a random place where both fit (the
        symmetries and colour permutations are built into the data, each with its identifier).
        A share UNTRANSLATED_SHARE stays at the top left, where test inputs are shown."""
        n = self.canvas
        inputs, labels = examples.inputs.copy(), examples.labels.copy()
        for i in range(len(examples)):
            if rng.random() < UNTRANSLATED_SHARE:
                continue
            h_in, w_in = grid_extent(examples.inputs[i], n)
            h_out, w_out = grid_extent(examples.labels[i], n)
            top = int(rng.integers(0, n - max(h_in, h_out) + 1))
            left = int(rng.integers(0, n - max(w_in, w_out) + 1))
            if top == left == 0:
                continue
            for array, fill in ((inputs, PAD_ID), (labels, IGNORE_LABEL)):
                board = array[i].reshape(n, n)
                moved = np.full((n, n), fill, dtype=array.dtype)
                # Marker cells pushed past the edge vanish, as when the reference draws there.
                moved[top:, left:] = board[: n - top, : n - left]
                array[i] = moved.reshape(-1)
        return Examples(inputs, labels, examples.puzzle_ids.copy())

    # -- building the data --------------------------------------------------------------------

    @staticmethod
    def parse_build(source: str) -> tuple[dict[str, Any] | None, str]:
        """`arc:...` -> (build options or None when the source names no sets, split)."""
        kind, _, rest = source.partition(":")
        if kind != "arc":
            raise ValueError(f"unknown ARC data source {source!r}; use {SOURCE_USAGE}")
        try:  # the project's KEY=VALUE parser (it calls every such source a generator spec)
            options = parse_source("gen:" + rest, SOURCE_KEYS, set(), SOURCE_USAGE).options
        except ValueError as err:
            raise ValueError(str(err).replace(f"bad generator spec {'gen:' + rest!r}", f"bad ARC source {source!r}")) from None
        split = options.pop("split", "train")
        if split not in ("train", "test"):
            raise ValueError(f"bad ARC source {source!r}: split must be train or test")
        if not options:
            return None, split
        if "eval" not in options and "train" not in options:
            raise ValueError(f"bad ARC source {source!r}: name the task sets with eval= and/or train= ({SOURCE_USAGE})")
        try:
            build = {
                "train": [s for s in options.get("train", "").split("+") if s],
                "eval": [s for s in options.get("eval", "").split("+") if s],
                "ids": [s for s in options.get("ids", "").split("+") if s] or None,
                "tasks": int(options["tasks"]) if "tasks" in options else None,
                "aug": int(options.get("aug", DEFAULT_AUG)),
                "seed": int(options.get("seed", DEFAULT_SEED)),
                "leaks": options.get("leaks", "refuse"),
                "data": options.get("data"),
            }
        except ValueError:
            raise ValueError(f"bad ARC source {source!r}: tasks, aug and seed are integers") from None
        if build["leaks"] not in LEAK_POLICIES:
            raise ValueError(f"bad ARC source {source!r}: leaks must be one of {', '.join(LEAK_POLICIES)}")
        if build["aug"] < 0 or (build["tasks"] is not None and build["tasks"] < 1):
            raise ValueError(f"bad ARC source {source!r}: aug must be >= 0 and tasks >= 1")
        return build, split

    def load_examples(self, source: str, rng: np.random.Generator | None = None, progress: bool = True) -> Examples:
        """`source` is
            arc:eval=arc-agi-1/evaluation,tasks=8,aug=100
                 the first 8 evaluation tasks (by id) that fit the canvas, identity + 100 versions
                 each; their demonstration pairs (split=train, the default)
            arc:eval=arc-agi-1/evaluation,train=arc-agi-1/training+conceptarc/corpus,aug=1000,leaks=drop
                 the paper's ARC-1 data (see docs/arc.md)
            arc:split=test
                 the test pairs of the eval tasks of the build already loaded, every version
        Other keys: ids=ID+ID (only these task ids), seed=S (augmentation seed, default 42),
        leaks=refuse|drop|warn (see the module doc), data=DIR (default: default_data_dir()).

        `rng` is not used: a task's versions come from its own generator seeded by (seed, task),
        so the training and test splits share identifiers and a rebuild gives the same table.
        """
        build, split = self.parse_build(source)
        if build is not None:
            if self._built and build != self.build:
                raise ValueError(f"this ARC task already holds the build {self.build}; {source!r} asks for another "
                                 "(the puzzle identifiers must stay the same for training and evaluation)")
            self.build = build
        if self.build is None:
            raise ValueError(f"{source!r} names no task sets and none are loaded yet; use {SOURCE_USAGE}")
        self.ensure_built(progress)
        if split == "train":
            return self.training_examples(progress)
        examples, _ = self.test_examples(progress)
        if (examples.labels == IGNORE_LABEL).all(axis=1).any():
            raise ValueError("some evaluation tasks publish no test output: they cannot be scored")
        return examples

    def ensure_built(self, progress: bool = True) -> None:
        """Read the task sets and draw the versions (once); checks a recorded fingerprint."""
        if self._built:
            return
        if self.build is None:
            raise ValueError("this ARC task has no data build; load an arc:... source first")
        expected_count, expected_print = self.num_puzzle_identifiers, self.fingerprint
        self._read_tasks(progress)
        self._guard_leakage()
        self._draw_versions(progress)
        self._built = True
        if expected_print is not None and (expected_print != self.fingerprint or expected_count != self.num_puzzle_identifiers):
            raise ValueError(f"the ARC data under {self.data_dir()} differ from those this model was built on "
                             f"({self.num_puzzle_identifiers} identifiers, fingerprint {self.fingerprint[:12]}; recorded: "
                             f"{expected_count}, {expected_print[:12]}): its puzzle identifiers would not match")

    def data_dir(self) -> Path:
        return Path(self.build["data"]) if self.build and self.build.get("data") else default_data_dir()

    def _read_tasks(self, progress: bool) -> None:
        data_dir, build = self.data_dir(), self.build
        wanted = set(build["ids"]) if build["ids"] else None
        puzzles: list[ArcPuzzle] = []
        for role in ("train", "eval"):
            for set_name in build[role]:
                paths = sorted(set_folder(set_name, data_dir).rglob("*.json"), key=lambda p: p.stem)
                kept = 0
                for path in tqdm(paths, desc=f"reading {set_name}", disable=not progress, leave=False):
                    if wanted is not None and path.stem not in wanted:
                        continue
                    puzzle = read_task(path, set_name, role)
                    # Only tasks whose every grid fits the canvas (all do at 30x30). This looks at
                    # the test outputs' sizes, never at their content.
                    if max(max(g.shape) for g in puzzle.grids()) > self.canvas:
                        continue
                    puzzles.append(puzzle)
                    kept += 1
                    if build["tasks"] is not None and kept >= build["tasks"]:
                        break
        if not puzzles:
            raise ValueError(f"no ARC task of {build['train'] + build['eval']} under {data_dir} fits a "
                             f"{self.canvas}x{self.canvas} canvas" + (f" among ids {sorted(wanted)}" if wanted else ""))
        keys = [p.key for p in puzzles]
        if len(set(keys)) != len(keys):
            raise ValueError("a task set is named twice in the build")
        eval_ids = [p.task_id for p in puzzles if p.role == "eval"]
        if len(set(eval_ids)) != len(eval_ids):
            raise ValueError("two evaluation tasks share an id: the submission could not tell them apart")
        self.puzzles = puzzles

    def _guard_leakage(self) -> None:
        """No evaluation task's test pair may be a training pair (compared by content)."""
        held_out: dict[bytes, list[str]] = {}
        for puzzle in self.puzzles:
            if puzzle.role == "eval":
                for j, (inp, out) in enumerate(puzzle.tests):
                    if out is not None:
                        held_out.setdefault(pair_key(inp, out), []).append(f"{puzzle.key} test {j}")
        leaks: dict[str, list[str]] = {}  # evaluation task -> where its test pairs appear in training
        for puzzle in self.puzzles:
            kept = []
            for i, (inp, out) in enumerate(puzzle.training_pairs()):
                hits = held_out.get(pair_key(inp, out))
                if hits:
                    for hit in hits:
                        demos = len(puzzle.demos)
                        place = f"demonstration {i}" if i < demos else f"test {i - demos}"
                        leaks.setdefault(hit.rsplit(" test ", 1)[0], []).append(f"{puzzle.key} {place}")
                else:
                    kept.append((inp, out))
            if len(kept) != len(puzzle.training_pairs()) and self.build["leaks"] == "drop":
                self._drop_training_pairs(puzzle, kept)
        if not leaks:
            return
        named = "; ".join(f"{task} (in {', '.join(where[:2])})" for task, where in list(leaks.items())[:5])
        summary = (f"{len(leaks)} evaluation task(s) have a test pair (input and output) that is also training data: "
                   f"{named}{' ...' if len(leaks) > 5 else ''}")
        policy = self.build["leaks"]
        if policy == "refuse":
            raise ValueError(f"refusing to build leaking ARC data: {summary}. Train without those sets (ARC-2 training "
                             "contains 376 ARC-1 evaluation tasks), or add leaks=drop to remove the leaking training "
                             "pairs, or leaks=warn to keep them and report inflated scores knowingly")
        if policy == "drop":
            self.dropped_leaks = sorted(leaks)
            print(f"ARC leakage guard: dropped the leaking training pairs. {summary}", file=sys.stderr)
        else:
            message = f"ARC LEAKAGE: training on evaluation test pairs; scores on these tasks are not valid. {summary}"
            print("!" * 80 + "\n" + message + "\n" + "!" * 80, file=sys.stderr)
            warnings.warn(message, stacklevel=3)

    @staticmethod
    def _drop_training_pairs(puzzle: ArcPuzzle, kept: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Leave `puzzle` with exactly the training pairs in `kept` (its held-out tests unchanged)."""
        kept_keys = {pair_key(i, o) for i, o in kept}
        puzzle.demos = [(i, o) for i, o in puzzle.demos if pair_key(i, o) in kept_keys]
        if puzzle.role == "train":
            puzzle.tests = [(i, o) for i, o in puzzle.tests if o is None or pair_key(i, o) in kept_keys]

    def _draw_versions(self, progress: bool) -> None:
        """Identity + up to `aug` distinct random versions per task; identifiers and fingerprint."""
        aug, seed = self.build["aug"], self.build["seed"]
        owners, ks, perms = [], [], []
        # Where the data lie (build["data"]) may change between machines; what they hold may not.
        recipe = {key: value for key, value in self.build.items() if key != "data"}
        digest = hashlib.sha256(json.dumps({"canvas": self.canvas, **recipe}, sort_keys=True).encode())
        for index, puzzle in enumerate(tqdm(self.puzzles, desc="augmenting ARC tasks", disable=not progress, leave=False)):
            # What the model is shown of a task (never the held-out test outputs) decides whether two
            # versions are the same.
            shown = [g for pair in puzzle.demos for g in pair] + [i for i, _ in puzzle.tests]
            rng = np.random.default_rng([seed, zlib.crc32(puzzle.key.encode())])
            seen: set[bytes] = set()
            for attempt in range(1 + DRAWS_PER_VERSION * aug):
                if attempt == 0:
                    k, colours = 0, np.arange(NUM_COLOURS)  # the task as given
                else:
                    k, colours = int(rng.integers(0, 8)), np.concatenate(([0], 1 + rng.permutation(NUM_COLOURS - 1)))
                content = hashlib.sha1(b"".join(grid_bytes(transform(g, k, colours)) for g in shown)).digest()
                if content in seen:
                    continue
                seen.add(content)
                owners.append(index)
                ks.append(k)
                perms.append(colours)
                if len(seen) == aug + 1:
                    break
            digest.update(puzzle.key.encode())
            for g in puzzle.grids():
                digest.update(grid_bytes(g))
        self.version_puzzle = np.array(owners, dtype=np.int64)
        self.version_dihedral = np.array(ks, dtype=np.int64)
        self.version_colours = np.array(perms, dtype=np.int64).reshape(-1, NUM_COLOURS)
        for array in (self.version_puzzle, self.version_dihedral, self.version_colours):
            digest.update(array.tobytes())
        self.num_puzzle_identifiers = 1 + len(self.version_puzzle)
        self.fingerprint = digest.hexdigest()

    # -- splits -------------------------------------------------------------------------------

    def version(self, identifier: int) -> tuple[ArcPuzzle, int, np.ndarray]:
        """(task, symmetry, colour permutation) of a puzzle identifier."""
        v = int(identifier) - 1
        return self.puzzles[self.version_puzzle[v]], int(self.version_dihedral[v]), self.version_colours[v]

    def versions_of(self, index: int) -> np.ndarray:
        """Identifiers of task `index`, the identity first."""
        return np.flatnonzero(self.version_puzzle == index) + 1

    def training_examples(self, progress: bool = True) -> Examples:
        """Every training pair of every version, drawn at the top left (`augment` moves them)."""
        self.ensure_built(progress)
        inputs, labels, ids = [], [], []
        for identifier in tqdm(range(1, self.num_puzzle_identifiers), desc="encoding ARC training pairs",
                               disable=not progress, leave=False):
            puzzle, k, colours = self.version(identifier)
            for inp, out in puzzle.training_pairs():
                inputs.append(draw(transform(inp, k, colours), self.canvas))
                labels.append(self._label(transform(out, k, colours)))
                ids.append(identifier)
        return self._examples(inputs, labels, ids)

    def test_examples(self, progress: bool = True) -> tuple[Examples, list[tuple[int, int]]]:
        """The test inputs of the eval tasks in every version, and per row (task index, test index).

        Rows are ordered version rank first (every task's identity, then every task's first
        random version, ...), so a prefix of the split covers all tasks evenly. Labels are the
        transformed test outputs (all IGNORE_LABEL where a task publishes none).
        """
        self.ensure_built(progress)
        rows = []  # (rank, task index, test index, identifier)
        for index, puzzle in enumerate(self.puzzles):
            if puzzle.role != "eval":
                continue
            for rank, identifier in enumerate(self.versions_of(index)):
                rows.extend((rank, index, j, int(identifier)) for j in range(len(puzzle.tests)))
        rows.sort()
        inputs, labels, ids, where = [], [], [], []
        for _, index, j, identifier in tqdm(rows, desc="encoding ARC test inputs", disable=not progress, leave=False):
            puzzle, k, colours = self.version(identifier)
            inp, out = puzzle.tests[j]
            inputs.append(draw(transform(inp, k, colours), self.canvas))
            labels.append(self._label(transform(out, k, colours)) if out is not None else np.full(self.seq_len, IGNORE_LABEL))
            ids.append(identifier)
            where.append((index, j))
        return self._examples(inputs, labels, ids), where

    def _label(self, grid: np.ndarray) -> np.ndarray:
        tokens = draw(grid, self.canvas)
        return np.where(tokens == PAD_ID, IGNORE_LABEL, tokens)

    def _examples(self, inputs: list, labels: list, ids: list) -> Examples:
        if not inputs:
            empty = np.zeros((0, self.seq_len), dtype=np.int64)
            return Examples(empty, empty.copy(), np.zeros(0, dtype=np.int64))
        return Examples(np.stack(inputs), np.stack(labels), np.array(ids, dtype=np.int64))
