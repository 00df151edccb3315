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

Rows are also read when people type them: "row 1: 5 3 _ _ 7 ...", "Row one is blank three
blank ...", rows separated by `/` `;` or commas, markdown tables (an empty cell is a blank),
`-` `x` `*` `blank` `empty` for blanks, digits spelled out, newspaper rows with spaces for blanks
between `|` bars, code fences.

When the language model transcribes a grid described in words, `transcription_differences`
checks it against the user's own text: its givens, row by row, must be exactly the user's digits
in order (and, when the user wrote every cell, in the user's positions). Otherwise the
transcription is refused, saying what differs.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field

from reasoner.tasks import BOX_SHAPE, SUDOKU_BY_CELLS, PuzzleInputError, SudokuTask
from reasoner.tasks.maze import MazeTask
from reasoner.tasks.sudoku import BLANK_CHARS, SEPARATOR_CHARS

Grid = list[list[int]]

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

# Cells as people type them in words: digits spelled out, blanks named or drawn as a lone dash or x.
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}
_BLANK_WORDS = {"blank", "empty", "x", "-", "nothing", "none"}
# Words that may sit between a row's label and its cells ("row one is ...", "row 2 has ...").
_FILLER_WORDS = {"is", "has", "holds", "contains", "reads", "are", "and", "then", "with", "the", ":", "=", "-:"}
_TOKEN = re.compile(r"[^\s,;/|]+")
_WORD_NUMBER = r"(\d|" + "|".join(_NUMBER_WORDS) + r")"
# "row 3", "Row three", "r3", then an optional ':' '=' ')' '-'.
_ROW_NAME = re.compile(r"\b(?:row\s*" + _WORD_NUMBER + r"|r(\d))\b\s*[:=)\-]?", re.IGNORECASE)


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
    text = _take_markdown_tables(text, candidates)
    text = _take_labelled_rows(text, candidates, found.problems)
    text = "\n".join(_spell_out_line(line) for line in text.split("\n"))
    candidates += _text_candidates(text, found.problems)
    for cand in sorted(candidates, key=lambda c: c.start):
        side = SUDOKU_BY_CELLS[count_cells(cand.cells)].side
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
        if len(cells) not in SUDOKU_BY_CELLS:
            if len(cells) >= 10:
                problems.append(f"a JSON grid with {len(cells)} cells is not a 4x4, 6x6 or 9x9 sudoku")
            continue
        out.append(_Candidate(start, cells, "in the JSON array"))
        _blank_out(chars, start, end + 1)
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


def _blank_out(chars: list[str], start: int, end: int) -> None:
    """Overwrite text[start:end] with spaces (newlines kept) once it has been read as a grid, so
    the line scanner does not read its digits a second time and offsets stay the same."""
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def _read_cells(text: str) -> tuple[str, int]:
    """The cells at the start of `text` (figures, blanks, or words: "five", "blank", "x", a lone
    "-"), as cell characters, and the offset where reading stopped: the first word that is no
    cell. Runs of `-`/`+`/`=` are box separators and are skipped."""
    cells, end = [], 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        word = token.strip(".,:;!?()").lower() if any(ch.isalpha() for ch in token) else token
        if word in _NUMBER_WORDS:
            cells.append(str(_NUMBER_WORDS[word]))
        elif word in _BLANK_WORDS:
            cells.append(".")
        elif all(ch in _CELL_CHARS or ch in "xX" for ch in token):
            cells.append(token.replace("x", ".").replace("X", "."))
        elif set(token) <= set("-+=") or word in _FILLER_WORDS:
            pass
        else:
            break
        end = match.end()
    return "".join(cells), end


def _trim_row(cells: str, side: int) -> str:
    """A row read with sentence punctuation after it ("... 7 9.") has that dot read as a blank."""
    while count_cells(cells) > side and cells and cells[-1] in _TRAILING_PUNCTUATION:
        cells = cells[:-1]
    return cells


def _take_labelled_rows(text: str, out: list[_Candidate], problems: list[str]) -> str:
    """Rows named "row 1: ...", "Row one is blank three blank ...", "r2 = ...", on one line or
    many, numbered 1..n (n = 4, 6, 9) in order. Returns the text with the grid blanked out."""
    labels = list(_ROW_NAME.finditer(text))
    numbers = [_label_number(m) for m in labels]
    chars = list(text)
    i = 0
    while i < len(labels):
        if numbers[i] != 1:
            i += 1
            continue
        k = 1
        while i + k < len(labels) and numbers[i + k] == k + 1:
            k += 1
        run = labels[i : i + k]
        i += k
        if k < 4:
            continue
        rows, end = [], run[0].start()
        for j, label in enumerate(run):
            stop = run[j + 1].start() if j + 1 < k else len(text)
            cells, used = _read_cells(text[label.end() : stop])
            rows.append(_trim_row(cells, k))
            end = label.end() + used
        if k not in BOX_SHAPE:
            if all(rows):
                problems.append(f"the grid has {k} labelled rows; a sudoku has 4, 6 or 9")
            continue
        wrong = [(j + 1, count_cells(r)) for j, r in enumerate(rows) if count_cells(r) != k]
        if wrong:
            if all(rows):
                problems.append("; ".join(f"row {j} has {c} cells" for j, c in wrong[:3]) +
                                f" (a {k}x{k} sudoku has {k} in each row)")
            continue
        out.append(_Candidate(run[0].start(), "\n".join(rows), "in the labelled rows"))
        _blank_out(chars, run[0].start(), end)
    return "".join(chars)


def _label_number(match: re.Match) -> int:
    word = (match.group(1) or match.group(2)).lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


_TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?(?:\s*:?-+:?\s*\|)+\s*(?::?-+:?)?\s*$")
_CELL_LABEL = re.compile(r"^(?:row\s*\d|r\d|c\d|col(?:umn)?\s*\d)$", re.IGNORECASE)


def _take_markdown_tables(text: str, out: list[_Candidate]) -> str:
    """Markdown tables with one cell per table cell; an empty table cell is a blank. A header
    row that names columns (or is empty) is dropped; "r1"-style row labels are dropped."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    chars = list(text)
    i = 0
    while i < len(lines):
        if not _TABLE_LINE.match(lines[i]):
            i += 1
            continue
        j = i
        while j + 1 < len(lines) and _TABLE_LINE.match(lines[j + 1]):
            j += 1
        cells = _table_rows(lines[i : j + 1])
        if cells is not None:
            out.append(_Candidate(starts[i], cells, f"in the table starting on line {i + 1}"))
            _blank_out(chars, starts[i], starts[j + 1] - 1)
        i = j + 1
    return "".join(chars)


def _table_rows(lines: list[str]) -> str | None:
    has_header = len(lines) > 1 and bool(_TABLE_RULE.match(lines[1]))
    rows: list[list[str] | None] = []
    for line in lines:
        if _TABLE_RULE.match(line):
            continue
        parts = [p.strip() for p in line.strip().strip("|").split("|")]
        if parts and _CELL_LABEL.match(parts[0]):
            parts = parts[1:]
        row = []
        for part in parts:
            cells, used = _read_cells(part)
            row.append("." if not part else cells if used == len(part) and count_cells(cells) == 1 else None)
        rows.append(None if None in row else row)
    if has_header and (rows[0] is None or len(rows) - 1 == len(rows[-1] or [])):
        rows = rows[1:]  # the header names the columns
    side = len(rows)
    if side not in BOX_SHAPE or any(r is None or len(r) != side for r in rows):
        return None
    return "\n".join("".join(r) for r in rows)


def _spell_out_line(line: str) -> str:
    """A line of cells written with words, x or lone dashes ("five three blank ...", "- - 4 x",
    "1xx4 / x4xx / ...")
    rewritten as cell characters, so the line scanner reads it like any grid line. Lines with
    any other word stay as they are."""
    body = _ROW_LABEL.sub("", line, count=1)
    if "|" in body and _PURE_GRID_LINE.fullmatch(body):
        return _fixed_width_row(body) or line
    if not body.strip() or _PURE_GRID_LINE.fullmatch(body) and "-" not in body.replace("--", ""):
        return line
    cells, used = _read_cells(body)
    # One row (4, 6, 9 cells) or a whole grid on one line (16, 36, 81).
    if used < len(body.rstrip()) or count_cells(cells) not in {*SUDOKU_BY_CELLS, *BOX_SHAPE}:
        return line
    return " ".join(cells).ljust(len(line))


def _fixed_width_row(body: str) -> str | None:
    """A newspaper row "5 3   |   7   |      ": cells one column apart inside each box, a space
    for a blank. Read by position when the spaced layout is exact; None otherwise."""
    text = body.rstrip()
    framed = text.lstrip().startswith("|") and text.endswith("|")
    # A row whose first and last boxes are blank can look framed once trailing spaces are cut.
    return _boxes_by_position(text, framed) or (_boxes_by_position(text, False) if framed else None)


def _boxes_by_position(text: str, framed: bool) -> str | None:
    parts = text.split("|")
    if framed:  # nothing before the first bar, nothing after the last
        parts = parts[1:-1]
    # One space pads each bar on either side, except at the ends of an unframed row.
    parts = [p[1:] if (i or framed) and p.startswith(" ") else p for i, p in enumerate(parts)]
    parts = [p[:-1] if (i < len(parts) - 1 or framed) and p.endswith(" ") else p for i, p in enumerate(parts)]
    width = max(len(p) for p in parts)  # a chat client may have cut the last box's trailing spaces
    row = []
    for part in (p.ljust(width) for p in parts):
        if len(part) % 2 == 0 or any(part[i] != " " for i in range(1, len(part), 2)):
            return None
        row += ["." if ch == " " else ch for ch in part[::2]]
    if len(row) not in BOX_SHAPE or count_cells(text) == len(row):
        return None
    return " ".join(row)


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
        if count_cells(trimmed) in SUDOKU_BY_CELLS:
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
            if count_cells(merged) in SUDOKU_BY_CELLS or count_cells(merged) > 81:
                break
        if m > k and count_cells(merged) in SUDOKU_BY_CELLS:
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

_DIGIT_OR_WORD = re.compile(r"[1-9]|\b(?:" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)


def user_digits(text: str) -> list[int]:
    """The digits 1..9 the user wrote, in order, written as figures or as words ("five")."""
    return [int(m) if m.isdigit() else _NUMBER_WORDS[m.lower()] for m in _DIGIT_OR_WORD.findall(text)]


# Numbers that name a place or a size, not a cell: "row 3", "column two", "box 4", "r2c5", "9x9".
_PLACE_NAMES = re.compile(
    r"\b(?:rows?|columns?|cols?|box(?:es)?)\s*" + _WORD_NUMBER + r"\b|\br\d\s*c\d\b|\b\d\s*(?:x|by)\s*\d\b",
    re.IGNORECASE)


def written_cells(text: str) -> tuple[list[int], list[int]]:
    """What the user wrote as cells, in order, place names and sizes left out: (the digits 1..9,
    every cell including blanks as 0). Blanks are counted only as whole words or lone marks
    ("blank", "empty", "_", "x", "-", "0"), since a dot may end a sentence."""
    text = _PLACE_NAMES.sub(" ", text)
    cells: list[int] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        word = token.strip(".,:;!?()").lower()
        if word in _NUMBER_WORDS:
            cells.append(_NUMBER_WORDS[word])
        elif word in _BLANK_WORDS or word in ("_", "0", "*", "?"):
            cells.append(0)
        elif word and all(ch in _CELL_CHARS for ch in word):
            cells += [int(ch) if ch.isdigit() else 0 for ch in word]
        else:
            cells += [int(ch) for ch in word if ch.isdigit() and ch != "0"]
    return [v for v in cells if v], cells


def transcription_differences(grid: Grid, text: str) -> list[str]:
    """How a transcribed grid differs from what the user wrote; empty when it is faithful.

    The givens, read row by row, must be exactly the user's digits in order: nothing moved,
    added or dropped. When the user wrote every cell (blanks included), each cell must also be
    in the user's position."""
    n = len(grid)
    flat = [v for row in grid for v in row]
    digits, cells = written_cells(text)
    if not any(flat):
        return ["the transcription has no givens at all"]
    if len(cells) == n * n:
        moved = [f"r{i // n + 1}c{i % n + 1} is {_cell_word(got)} but you wrote {_cell_word(want)}"
                 for i, (got, want) in enumerate(zip(flat, cells)) if got != want]
        return moved[:4] + ([f"and {len(moved) - 4} more cells differ"] if len(moved) > 4 else [])
    givens = [v for v in flat if v]
    out = []
    for op, a0, a1, b0, b1 in difflib.SequenceMatcher(a=digits, b=givens, autojunk=False).get_opcodes():
        yours, its = _digit_list(digits[a0:a1]), _digit_list(givens[b0:b1])
        if op == "delete":
            out.append(f"it drops {yours} (your digit {a0 + 1}{'' if a1 - a0 == 1 else f'-{a1}'})")
        elif op == "insert":
            out.append(f"it adds {its}, which you did not write there")
        elif op == "replace":
            out.append(f"it has {its} where you wrote {yours} (your digit {a0 + 1})")
    return out[:4] + ([f"and {len(out) - 4} more differences"] if len(out) > 4 else [])


def _cell_word(v: int) -> str:
    return str(v) if v else "a blank"


def _digit_list(values: list[int]) -> str:
    return " ".join(str(v) for v in values)


def llm_grid_matches_text(grid: Grid, text: str) -> bool:
    return not transcription_differences(grid, text)


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
