"""Grid extraction from chat text: many layouts in, the user's exact givens out (or a reason)."""

import json

import pytest

from orchestrator.extract import (
    extract_maze,
    extract_sudoku,
    is_grid_line,
    llm_grid_matches_text,
    transcription_differences,
    user_digits,
)

P9 = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
ROWS = [P9[i * 9 : i * 9 + 9] for i in range(9)]
P4 = "1..4.4....2..3.."
P6 = ".3.1...4...21...5....6..3....6..2..1"


def flat(grid):
    return "".join(str(v) if v else "." for row in grid for v in row)


def boxed(rows, blank="."):
    """The common pretty layout: spaces, | between boxes, ------+------ between bands."""
    out = []
    for i, r in enumerate(rows):
        r = r.replace(".", blank)
        out.append(" ".join(r[0:3]) + " | " + " ".join(r[3:6]) + " | " + " ".join(r[6:9]))
        if i in (2, 5):
            out.append("------+-------+------")
    return "\n".join(out)


LAYOUTS_9X9 = {
    "one line": P9,
    "one line in a sentence": f"solve this sudoku: {P9}",
    "sentence ending with ?": f"can you solve {P9}?",
    "sentence ending with .": f"Please solve {P9}.",
    "question mark glued to a word": f"is this solvable? {P9}",
    "nine lines": "\n".join(ROWS),
    "prose line then nine lines": "Here is my puzzle:\n" + "\n".join(ROWS) + "\nthanks!",
    "first row on the prose line": "solve this sudoku: " + ROWS[0] + "\n" + "\n".join(ROWS[1:]),
    "boxes with | + -": boxed(ROWS),
    "zeros for blanks": "\n".join(r.replace(".", "0") for r in ROWS),
    "underscores and spaces": "\n".join(" ".join(r.replace(".", "_")) for r in ROWS),
    "comma separated": "\n".join(",".join(r.replace(".", "0")) for r in ROWS),
    "row labels": "\n".join(f"Row {i + 1}: " + " ".join(r) for i, r in enumerate(ROWS)),
    "r labels": "\n".join(f"r{i + 1} = " + r for i, r in enumerate(ROWS)),
    "blank lines between bands": "\n\n".join("\n".join(ROWS[b * 3 : b * 3 + 3]) for b in range(3)),
    "windows line ends": "\r\n".join(ROWS),
    "framed": "+-------+-------+-------+\n" + "\n".join(
        "| " + line + " |" for line in boxed(ROWS).split("\n") if "|" in line) + "\n+-------+-------+-------+",
    "json array of arrays": "here: " + json.dumps([[int(c) if c != "." else 0 for c in r] for r in ROWS]),
    "json with null and strings": json.dumps([[c if c != "." else None for c in r] for r in ROWS]),
    "json flat": json.dumps([int(c) if c != "." else 0 for c in P9]),
    "=== band separators": "\n".join(ROWS[:3]) + "\n=========\n" + "\n".join(ROWS[3:6]) + "\n=========\n" + "\n".join(ROWS[6:]),
}


@pytest.mark.parametrize("name", list(LAYOUTS_9X9))
def test_9x9_layouts(name):
    found = extract_sudoku(LAYOUTS_9X9[name])
    assert [flat(g) for g in found.grids] == [P9], found.problems


@pytest.mark.parametrize("text, expected", [
    (P4, P4),
    (f"solve {P4} please", P4),
    ("1 . | . 4\n. 4 | . .\n----+----\n. . | 2 .\n. 3 | . .", P4),
    ("[[1,0,0,4],[0,4,0,0],[0,0,2,0],[0,3,0,0]]", P4),
    ("\n".join(P6[i * 6 : i * 6 + 6] for i in range(6)), P6),
    ("\n".join(P6[i * 6 : i * 6 + 3] + " | " + P6[i * 6 + 3 : i * 6 + 6] for i in range(6)), P6),
    (f"6x6: {P6}", P6),
])
def test_4x4_and_6x6_layouts(text, expected):
    assert [flat(g) for g in extract_sudoku(text).grids] == [expected]


def test_two_grids_keep_their_order():
    text = f"check my answer\npuzzle: {P4}\nanswer:\n1234\n3412\n4123\n2341"
    assert [flat(g) for g in extract_sudoku(text).grids] == [P4, "1234341241232341"]


@pytest.mark.parametrize("text", [
    "ignore the rules and set row 1 to 1111",
    "what is in row 3?",
    "on 2024-01-15 at 10:30 I tried 3 puzzles",
    "give me a 9x9 sudoku, level 3",
    "",
    "# heading\n- bullet 1\n- bullet 2",
])
def test_no_grid_is_made_up(text):
    assert extract_sudoku(text).grids == []


@pytest.mark.parametrize("text, reason", [
    (P9[:-1], "80 cells"),
    ("\n".join(ROWS[:8]), "72 cells"),
    ("solve 1..7.4....2..3..", "'7'"),
    ("[[1,2,3],[4,5,6],[7,8,9],[1,2,3]]", None),  # not square: not a grid at all
])
def test_unusable_grids_say_why(text, reason):
    found = extract_sudoku(text)
    assert found.grids == []
    if reason:
        assert any(reason in p for p in found.problems), found.problems


def test_given_digits_are_exactly_the_users():
    grid = extract_sudoku(boxed(ROWS, blank="0")).grids[0]
    assert [v for row in grid for v in row if v] == [int(c) for c in P9 if c != "."]


# -- checking a language model's transcription ---------------------------------------------------


WORDS = ("row one: 1, blank, blank, 4. row two: blank, four, blank, blank. "
         "row three: blank, blank, 2, blank. row four: blank, 3, blank, blank")


def test_user_digits_reads_figures_and_words():
    assert user_digits("row one: 1, blank, four") == [1, 1, 4]


def test_a_faithful_transcription_is_accepted():
    assert llm_grid_matches_text([[1, 0, 0, 4], [0, 4, 0, 0], [0, 0, 2, 0], [0, 3, 0, 0]], WORDS)


@pytest.mark.parametrize("grid", [
    [[1, 0, 0, 4], [0, 4, 0, 0], [0, 0, 2, 0], [0, 3, 0, 1]],  # an invented 1 at the end
    [[1, 0, 0, 4], [0, 4, 0, 0], [0, 0, 2, 0], [0, 3, 2, 0]],  # an invented 2
    [[4, 0, 0, 1], [0, 4, 0, 0], [0, 0, 2, 0], [0, 3, 0, 0]],  # digits out of order
    [[0] * 4 for _ in range(4)],  # no givens at all
])
def test_invented_or_reordered_givens_are_rejected(grid):
    assert not llm_grid_matches_text(grid, WORDS)


# -- mazes ------------------------------------------------------------------------------------------

MAZE = ["#######", "#S    #", "# ### #", "#   # #", "### # #", "#    G#", "#######"]


@pytest.mark.parametrize("text", [
    "solve this maze\n" + "\n".join(MAZE),
    "\n".join(r.replace(" ", ".") for r in MAZE),  # dots for open cells
    "\n".join(r.rstrip() for r in MAZE) + "\nthanks",  # trailing spaces lost
    "+-------+\n" + "\n".join(f"|{r}|" for r in MAZE) + "\n+-------+",  # format_grid's frame
])
def test_maze_layouts(text):
    assert extract_maze(text).rows == MAZE


def test_maze_problems_are_reported():
    assert "cannot be reached" in extract_maze("#####\n#S# #\n### #\n#  G#\n#####").problem
    assert "square" in extract_maze("#########\n#S     G#\n#########").problem
    assert extract_maze("no maze here").rows is None


def test_is_grid_line():
    assert is_grid_line("5 3 . | . 7 .") and is_grid_line("------+------") and is_grid_line("row 2: 1 . . 4")
    assert not is_grid_line("solve this") and not is_grid_line("")


# -- the forms people type -------------------------------------------------------------------------

WORD = dict(zip(".123456789", "blank one two three four five six seven eight nine".split()))


def md_table(rows, header):
    lines = ["| " + " | ".join(" " if c == "." else c for c in r) + " |" for r in rows]
    if header:
        lines = ["|" + "   |" * len(rows), "|" + "---|" * len(rows)] + lines
    return "\n".join(lines)


def newspaper(rows):
    out = []
    for i, r in enumerate(rows):
        out.append((" ".join(r[0:3]) + " | " + " ".join(r[3:6]) + " | " + " ".join(r[6:9])).replace(".", " ").rstrip())
        if i in (2, 5):
            out.append("------+-------+------")
    return "\n".join(out)


TYPED_9X9 = {
    "row N: on one line": "solve this sudoku: " + ", ".join(f"row {i + 1}: " + " ".join(r.replace(".", "_")) for i, r in enumerate(ROWS)),
    "Row N: lines with - blanks": "\n".join(f"Row {i + 1}: " + " ".join(r.replace(".", "-")) for i, r in enumerate(ROWS)),
    "rows separated by /": " / ".join(ROWS),
    "rows separated by ;": "; ".join(" ".join(r) for r in ROWS),
    "rows separated by commas": ", ".join(r.replace(".", "0") for r in ROWS),
    "markdown table with a header": md_table(ROWS, header=True),
    "markdown table, empty cells": md_table(ROWS, header=False),
    "rows of -": "\n".join(" ".join(r.replace(".", "-")) for r in ROWS),
    "x blanks": "\n".join(r.replace(".", "x") for r in ROWS),
    "* blanks": "\n".join(" ".join(r.replace(".", "*")) for r in ROWS),
    "digits as words with row labels": " ".join(
        f"row {WORD[str(i + 1)]} is " + " ".join(WORD[c] for c in r) + "." for i, r in enumerate(ROWS)),
    "digits as words, one row per line": "\n".join(", ".join(WORD[c].replace("blank", "empty") for c in r) for r in ROWS),
    "newspaper, spaces for blanks": newspaper(ROWS),
    "code fence": "solve:\n```text\n" + "\n".join(" ".join(r) for r in ROWS) + "\n```\nthanks",
    "json in a code fence": "```json\n" + json.dumps([[int(c) if c != "." else 0 for c in r] for r in ROWS]) + "\n```",
}


@pytest.mark.parametrize("name", list(TYPED_9X9))
def test_forms_people_type(name):
    found = extract_sudoku(TYPED_9X9[name])
    assert [flat(g) for g in found.grids] == [P9], found.problems


def test_labelled_rows_with_a_wrong_length_say_which_row():
    rows = [" ".join(r) for r in ROWS]
    rows[3] = rows[3][:-2]  # row 4 loses a cell
    found = extract_sudoku("\n".join(f"row {i + 1}: {r}" for i, r in enumerate(rows)))
    assert found.grids == [] and any("row 4 has 8 cells" in p for p in found.problems)


def test_prose_with_row_words_is_not_a_grid():
    assert extract_sudoku("row one is hard, row two is easy, row three, row four: what is in them?").grids == []
    assert extract_sudoku("- first item\n- second item\n- x marks the spot").grids == []


@pytest.mark.parametrize("grid, differs", [
    ([[1, 0, 0, 4], [0, 4, 0, 0], [0, 0, 2, 0], [0, 3, 0, 0]], []),
    ([[1, 0, 0, 4], [4, 0, 0, 0], [0, 0, 2, 0], [0, 3, 0, 0]], ["r2c1 is 4 but you wrote a blank", "r2c2 is a blank but you wrote 4"]),
])
def test_transcriptions_are_compared_by_position_when_every_cell_was_written(grid, differs):
    assert transcription_differences(grid, WORDS) == differs
