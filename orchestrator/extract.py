"""Deterministic grid extraction: find the puzzle the user pasted, in code, never by guessing.

Small language models invent and drop digits, so reading a grid is code's job. This module finds
every sudoku grid in a chat message, whatever the layout:

  * one line of 16 / 36 / 81 cells, inside a sentence ("solve this: 53..7....6..195...");
  * one row per line, with or without `|` `+` `-` `=` box separators, frames, spaces, commas,
    labels such as "row 3:" or "r3:", blank lines between bands;
  * JSON arrays of arrays (or one flat array), with 0 / null / "." for blanks.
Blanks are `.` `0` `_` `*` `?` (as `SudokuTask.parse` reads them; its parser turns each found
grid into numbers, so there is one parser of cell text in the project).

Mazes are found in the `#`/space/`S`/`G` text form (with or without the `+---+` frame of
`MazeTask.format_grid`) and validated by `MazeTask.parse`.

When the language model transcribes a grid described in words, `llm_grid_matches_text` checks
its transcription against the user's own text: the givens it reports must occur in the user's
digits, in order. Otherwise the transcription is rejected.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from reasoner.tasks import PuzzleInputError, SudokuTask
from reasoner.tasks.maze import MazeTask
from reasoner.tasks.sudoku import BLANK_CHARS, SEPARATOR_CHARS

Grid = list[list[int]]

# Number of cells -> side, and side -> box shape (rows x columns), for the sizes the project ships.
SIDE_OF_CELLS = {16: 4, 36: 6, 81: 9}
BOX_SHAPE = {4: (2, 2), 6: (2, 3), 9: (3, 3)}

_CELL_CHARS = set("0123456789") | set(BLANK_CHARS)
# Characters a grid line may consist of. "=" only ever separates bands, so it is allowed too.
_GRID_CHARS = "".join(sorted(_CELL_CHARS | set(SEPARATOR_CHARS) | {"=", " ", "\t"}))
_GRID_RUN = re.compile("[" + re.escape(_GRID_CHARS) + "]+")
_GRID_RUN_AT_END = re.compile("[" + re.escape(_GRID_CHARS) + "]+$")
_PURE_GRID_LINE = re.compile("[" + re.escape(_GRID_CHARS) + "]*")
# "row 3:", "Row 3 -", "r3:", "3)", "R3 ="; the label is dropped so its digit is not read as a cell.
_ROW_LABEL = re.compile(r"^\s*(?:(?:row|r)\s*\d+\s*[:=.)\-]?|\d+\s*[:)])\s*", re.IGNORECASE)
# Punctuation that can end a sentence but is also a blank cell ("...8..79?" or "...8..79.").
_TRAILING_PUNCTUATION = "?.*"


def sudoku_task(side: int) -> SudokuTask:
    """The reasoner's task object for a 4x4, 6x6 or 9x9 board."""
    return SudokuTask(*BOX_SHAPE[side])


def count_cells(text: str) -> int:
    return sum(1 for ch in text if ch in _CELL_CHARS)


@dataclass
class SudokuExtraction:
    """All sudoku grids found in a message, in the order they appear, plus why other grid-like
    text was not accepted (so the reply can say what was wrong instead of "no grid")."""

    grids: list[Grid] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class _Candidate:
    start: int  # position in the message, to keep grids in the user's order
    cells: str  # the cell characters (and separators) to hand to SudokuTask.parse
    where: str  # "on line 3", for problem messages


# --------------------------------------------------------------------------------------------
# Sudoku
# --------------------------------------------------------------------------------------------


def extract_sudoku(text: str) -> SudokuExtraction:
    """Every 4x4 / 6x6 / 9x9 sudoku grid in `text` (see the module docstring for layouts)."""
    found = SudokuExtraction()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    candidates: list[_Candidate] = []
    text = _take_json_grids(text, candidates, found.problems)
    candidates += _text_candidates(text, found.problems)
    for cand in sorted(candidates, key=lambda c: c.start):
        side = SIDE_OF_CELLS[count_cells(cand.cells)]
        try:
            # "=" only draws band lines; the reasoner's parser knows the other separators.
            grid = sudoku_task(side).parse(cand.cells.replace("=", " "))
        except PuzzleInputError as err:
            found.problems.append(f"the {side}x{side} grid {cand.where} could not be read: {err}")
            continue
        found.grids.append(grid.tolist())
    return found


def _take_json_grids(text: str, out: list[_Candidate], problems: list[str]) -> str:
    """Collect JSON arrays that are grids; return the text with them blanked out (same length,
    newlines kept) so the line scanner does not read their digits a second time."""
    chars = list(text)
    pos = 0
    while (start := text.find("[", pos)) >= 0:
        end = _matching_bracket(text, start)
        if end < 0:
            break
        snippet = text[start : end + 1]
        pos = end + 1
        try:
            value = json.loads(snippet)
        except ValueError:
            continue
        cells = _json_cells(value)
        if cells is None:
            continue
        if len(cells) not in SIDE_OF_CELLS:
            if len(cells) >= 10:
                problems.append(f"a JSON grid with {len(cells)} cells is not a 4x4, 6x6 or 9x9 sudoku")
            continue
        out.append(_Candidate(start, cells, "in the JSON array"))
        for i in range(start, end + 1):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


def _matching_bracket(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _json_cells(value: object) -> str | None:
    """A JSON grid (list of rows, or one flat list) as cell characters; None if it is no grid.
    Rows must all have the same length as the number of rows (a square board)."""
    if not isinstance(value, list) or not value:
        return None
    rows = value if all(isinstance(row, list) for row in value) else [value]
    if len(rows) > 1 and any(len(row) != len(rows) for row in rows):
        return None
    out = []
    for row in rows:
        for v in row:
            if v is None:
                out.append(".")
            elif isinstance(v, bool):
                return None
            elif isinstance(v, int) and 0 <= v <= 9:
                out.append(str(v))
            elif isinstance(v, str) and len(v.strip()) == 1 and v.strip() in _CELL_CHARS:
                out.append(v.strip())
            elif isinstance(v, str) and v.strip() == "":
                out.append(".")
            else:
                return None
    return "".join(out)


@dataclass
class _Line:
    start: int  # offset of the line in the message
    kind: str  # "grid" (cells), "separator" (only separators), "blank", "prose"
    body: str  # the line without its row label
    cells: int


def _classify(text: str) -> list[_Line]:
    lines, offset = [], 0
    for raw in text.split("\n"):
        body = _ROW_LABEL.sub("", raw, count=1)
        if not raw.strip():
            kind = "blank"
        elif _PURE_GRID_LINE.fullmatch(body):
            kind = "grid" if count_cells(body) else "separator"
        else:
            kind, body = "prose", raw
        lines.append(_Line(offset, kind, body, count_cells(body) if kind == "grid" else 0))
        offset += len(raw) + 1
    return lines


def _fit(cells: str) -> str | None:
    """`cells` if its count is a board size; else the same with up to three characters of
    sentence punctuation that were read as trailing blanks removed ("...79?" -> "...79");
    else None."""
    trimmed = cells.rstrip()
    for _ in range(4):
        if count_cells(trimmed) in SIDE_OF_CELLS:
            return trimmed
        if not trimmed or trimmed[-1] not in _TRAILING_PUNCTUATION:
            return None
        trimmed = trimmed[:-1].rstrip()
    return None


def _text_candidates(text: str, problems: list[str]) -> list[_Candidate]:
    lines = _classify(text)
    out: list[_Candidate] = []

    # 1. Blocks: runs of grid/separator lines. A prose line directly above may end with the first
    #    row ("solve this: 53..7....") and belongs to the block.
    blocks: list[tuple[int, int, str, int]] = []  # (first line, last line, cells, start offset)
    consumed_tails: set[int] = set()  # prose lines whose last run became a block's first row
    i = 0
    while i < len(lines):
        if lines[i].kind not in ("grid", "separator"):
            i += 1
            continue
        j = i
        while j + 1 < len(lines) and lines[j + 1].kind in ("grid", "separator"):
            j += 1
        body = "\n".join(ln.body for ln in lines[i : j + 1])
        start = lines[i].start
        if i > 0 and lines[i - 1].kind == "prose" and _fit(body) is None:
            match = _GRID_RUN_AT_END.search(lines[i - 1].body)
            if match and _fit(match.group() + "\n" + body) is not None:
                body = match.group() + "\n" + body
                start = lines[i - 1].start + match.start()
                consumed_tails.add(i - 1)
        if count_cells(body):
            blocks.append((i, j, body, start))
        i = j + 1

    # 2. Each block that is a whole board is a grid; blocks separated only by blank lines are
    #    merged when together they make one (bands written with an empty line between them).
    k = 0
    while k < len(blocks):
        first, _last, body, start = blocks[k]
        fitted = _fit(body)
        if fitted is not None:
            out.append(_Candidate(start, fitted, f"starting on line {first + 1}"))
            k += 1
            continue
        merged, m = body, k
        while m + 1 < len(blocks) and all(ln.kind == "blank" for ln in lines[blocks[m][1] + 1 : blocks[m + 1][0]]):
            m += 1
            merged += "\n" + blocks[m][2]
            if count_cells(merged) in SIDE_OF_CELLS or count_cells(merged) > 81:
                break
        if m > k and count_cells(merged) in SIDE_OF_CELLS:
            out.append(_Candidate(start, merged, f"starting on line {first + 1}"))
            k = m + 1
            continue
        if count_cells(body) >= 10:
            problems.append(
                f"the grid starting on line {first + 1} has {count_cells(body)} cells; "
                "a sudoku has 16, 36 or 81 (4x4, 6x6, 9x9)"
            )
        k += 1

    # 3. Grids written inside a sentence on one line.
    for number, line in enumerate(lines):
        if line.kind != "prose":
            continue
        for match in _GRID_RUN.finditer(line.body):
            run = match.group()
            if match.start() > 0 and line.body[match.start() - 1].isalnum():
                # "right? 1..4..." or "this. 53..": punctuation glued to a word ends a sentence.
                run = run.lstrip(_TRAILING_PUNCTUATION)
            if count_cells(run) < 10:
                continue  # a row number, a year, "4x4": never a grid
            # That run already became the first row of the block below it.
            if number in consumed_tails and match.end() == len(line.body):
                continue
            fitted = _fit(run)
            if fitted is not None:
                out.append(_Candidate(line.start + match.start(), fitted, f"on line {number + 1}"))
            else:
                problems.append(
                    f"the grid on line {number + 1} has {count_cells(run)} cells; a sudoku has 16, 36 or 81 (4x4, 6x6, 9x9)"
                )
    return out


# --------------------------------------------------------------------------------------------
# Checking a language model's transcription against the user's own words
# --------------------------------------------------------------------------------------------

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}
_DIGIT_OR_WORD = re.compile(r"[1-9]|\b(?:" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)


def user_digits(text: str) -> list[int]:
    """The digits 1..9 the user wrote, in order, written as figures or as words ("five")."""
    return [int(m) if m.isdigit() else _NUMBER_WORDS[m.lower()] for m in _DIGIT_OR_WORD.findall(text)]


def llm_grid_matches_text(grid: Grid, text: str) -> bool:
    """True when every given of `grid` (row by row) occurs in the user's digits, in order, and
    the grid has at least one given. Extra digits in the text (row numbers, "4x4") are allowed,
    digits the text does not contain are not: a model that invents a given is caught."""
    givens = [v for row in grid for v in row if v]
    if not givens:
        return False
    remaining = iter(user_digits(text))
    return all(any(d == u for u in remaining) for d in givens)


# --------------------------------------------------------------------------------------------
# Mazes
# --------------------------------------------------------------------------------------------

_MAZE_LINE = re.compile(r"[#SGo. |+\-]*")
_FRAME_EDGE = re.compile(r"\s*\+-+\+\s*")


@dataclass
class MazeExtraction:
    rows: list[str] | None = None  # the maze, one string per row ('#', ' ', 'S', 'G')
    problem: str | None = None


def looks_like_maze(text: str) -> bool:
    return _maze_block(text) is not None


def _maze_block(text: str) -> list[str] | None:
    """The first run of maze-looking lines that holds a wall, an S and a G."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if not (lines[i].strip() and _MAZE_LINE.fullmatch(lines[i]) and ("#" in lines[i] or "+" in lines[i])):
            i += 1
            continue
        j = i
        while j + 1 < len(lines) and lines[j + 1].strip() and _MAZE_LINE.fullmatch(lines[j + 1]):
            j += 1
        block = lines[i : j + 1]
        joined = "".join(block)
        if "#" in joined and "S" in joined and "G" in joined:
            return block
        i = j + 1
    return None


def extract_maze(text: str) -> MazeExtraction:
    """A square maze in the `#`/space/S/G form; '.' is read as an open cell, rows cut short by a
    chat client that drops trailing spaces are padded back, a `+---+` frame is removed.
    Validity (one S, one G, G reachable) is `MazeTask.parse`'s, i.e. the maze verifier's."""
    block = _maze_block(text)
    if block is None:
        return MazeExtraction(problem="no maze found: paste it as rows of '#' (wall), ' ' or '.' (open), 'S' and 'G'")
    rows = [ln.rstrip("\r") for ln in block]
    if len(rows) >= 3 and _FRAME_EDGE.fullmatch(rows[0]) and _FRAME_EDGE.fullmatch(rows[-1]):
        rows = [r.strip() for r in rows[1:-1]]
        rows = [r[1:-1] if len(r) >= 2 and r[0] == "|" and r[-1] == "|" else r for r in rows]
    rows = [r.replace(".", " ") for r in rows]
    side = len(rows)
    if max(len(r) for r in rows) > side:
        return MazeExtraction(problem=f"the maze has {side} rows but a row of {max(len(r) for r in rows)} cells; it must be square")
    rows = [r.ljust(side) for r in rows]
    try:
        grid = MazeTask(side).parse("\n".join(rows))
    except (PuzzleInputError, ValueError) as err:
        return MazeExtraction(problem=str(err))
    return MazeExtraction(rows=["".join(r) for r in grid.tolist()])


def is_grid_line(line: str) -> bool:
    """A line that holds sudoku cells and nothing else (a row label aside): the chat REPL keeps
    reading while a pasted grid is still coming in."""
    body = _ROW_LABEL.sub("", line, count=1)
    return bool(line.strip()) and bool(_PURE_GRID_LINE.fullmatch(body)) and (count_cells(body) > 0 or "-" in body)
