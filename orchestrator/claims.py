"""Every claim a language model's text makes about a sudoku, parsed and checked.

The model may word explanations, hints and solving steps, but a reply must not state anything
the verifier has not established. So its text is read here as a list of claims, and each claim is
checked against `Knowledge`: the puzzle's givens, the verified answer, the cells the reply may
reveal, the counts the facts report, and the rules themselves (candidates are computed by
`verifiers.sudoku_steps`). The kinds of claim:

* cell: "r3c4 is 5", "row 3, column 4 holds 5", "5 goes in (3,4)";
* unit: "row 5 has 3, 4 and 8", "5 is not in column 2", "box 1 is missing 7", "row 1 is 5 3 4 6 7 8 9 1 2";
* forced: "r3c4 must be 5 because it is the only digit left" (naked single), "... the only place for
  5 in box 2" (hidden single), "that rules out 1, 2 and 6", "the cell still allows 2 and 7",
  "a guess between 2 and 7";
* count: "30 givens", "51 blanks", "4 segments", "12 steps", "97%", "9x9";
* path and status: "the HRM found it on its own", "a search found it", "more than one solution".

Anything else that holds a digit cannot be checked, and counts as a failed claim: a text with a
failed claim is not shown. Numbers written as words are not read (they are not claims here).
Cells and units are 1-based in texts, 0-based in `Knowledge`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from reasoner.tasks import BOX_SHAPE
from verifiers import sudoku as sudoku_rules
from verifiers.sudoku_steps import candidates

from .extract import Grid
from .facts import CheckFacts, HintFacts, SolveFacts, StepFact, StepsFacts

Cell = tuple[int, int]


@dataclass
class Claim:
    kind: str
    text: str  # the words that make the claim
    ok: bool
    why: str = ""  # for a failed claim: what is wrong with it


@dataclass
class Knowledge:
    """What a text about one puzzle is checked against (cells 0-based)."""

    puzzle: Grid  # the givens
    solution: Grid | None = None  # the verified answer
    # Cells whose answer digit the text may state (None: all of them, the answer is shown);
    # other blank cells may not be named with a digit.
    revealable: set[Cell] | None = None
    # Cells the text may name at all (None: any); a check of an answer names only the bad cells.
    mentionable: set[Cell] | None = None
    # Positive statements ("row 3 has 5") are checked on `before`, negative ones ("5 is not in
    # row 3") on `after`: a set of steps starts from one board and ends on another, and each
    # claim must hold at every moment between. Both default to the givens.
    before: Grid | None = None
    after: Grid | None = None
    counts: dict[str, set[int]] = field(default_factory=dict)  # givens, blanks, segments, steps, nodes, percent
    forced: dict[Cell, tuple[str, tuple[str, int] | None]] = field(default_factory=dict)  # cell -> (rule, unit)
    options: dict[Cell, set[int]] = field(default_factory=dict)  # guessed cells -> the digits they allowed
    # Locked-candidate steps shown: (digit, "box 2", "row 1") -> the cells that lose the digit.
    locked: dict[tuple[int, str, str], set[Cell]] = field(default_factory=dict)
    path: str | None = None  # hrm | hrm+repair | search (what found the answer)
    status: str | None = None  # solved | multiple_solutions | no_solution | unsolved

    def __post_init__(self):
        self.before = self.before or self.puzzle
        self.after = self.after or self.before

    @property
    def n(self) -> int:
        return len(self.puzzle)


# -- references -----------------------------------------------------------------------------------
# Cells become <c34> (row 3, column 4) and units <row3>, <column4>, <box2> before claims are read,
# so a claim pattern sees one token per place and the digits left over are the claims' digits.

_CELL_FORMS = [
    re.compile(r"\br(\d)\s*c(\d)\b", re.IGNORECASE),
    re.compile(r"\brow\s*(\d)\s*(?:,|and|/)?\s*col(?:umn)?\s*(\d)\b", re.IGNORECASE),
    re.compile(r"\bcell\s*\(?\s*(\d)\s*,\s*(\d)\s*\)?", re.IGNORECASE),
    re.compile(r"\(\s*(\d)\s*,\s*(\d)\s*\)"),
]
_UNIT_FORM = re.compile(r"(?<!<)\b(row|column|col|box|block)\s*(\d)\b", re.IGNORECASE)
_ITS_UNIT = re.compile(r"\b(?:its|this cell's|the cell's)\s+(row|column|col|box|block)\b", re.IGNORECASE)
_CELL_TOKEN = re.compile(r"<c(\d)(\d)>")
_UNIT_NAMES = {"row": "row", "column": "column", "col": "column", "box": "box", "block": "box"}

CELL = r"<c(\d)(\d)>"
UNIT = r"<(row|column|box)(\d)>"
DIGITS = r"(\d(?:(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|nor|&)\s+|\s+)\d(?!\d))*)"
_A = r"(?:a\s+|an\s+|the\s+)?(?:digits?\s+|numbers?\s+)?"


def normalise(text: str, n: int) -> str:
    """`text` with cell and unit references as tokens (see above)."""
    out = text
    for form in _CELL_FORMS:
        out = form.sub(lambda m: f"<c{m.group(1)}{m.group(2)}>", out)

    def its(match: re.Match) -> str:
        cells = list(_CELL_TOKEN.finditer(out, 0, match.start()))
        if not cells:
            return match.group()
        r, c = int(cells[-1].group(1)), int(cells[-1].group(2))
        kind = _UNIT_NAMES[match.group(1).lower()]
        index = {"row": r, "column": c, "box": _box(r - 1, c - 1, n) + 1}[kind]
        return f"<{kind}{index}>"

    out = _ITS_UNIT.sub(its, out)
    out = re.sub(r"(<c\d\d>)\s*\(\s*(\d)\s*,\s*", r"\1 = \2 (", out)  # "r1c2 (2, 87%)": r1c2 = 2 (87%)
    return _UNIT_FORM.sub(lambda m: f"<{_UNIT_NAMES[m.group(1).lower()]}{m.group(2)}>", out)


def _box(r: int, c: int, n: int) -> int:
    return sudoku_rules.box_index(r, c, *BOX_SHAPE[n])


def _shown(snippet: str) -> str:
    """A normalised snippet back in words."""
    snippet = _CELL_TOKEN.sub(lambda m: f"r{m.group(1)}c{m.group(2)}", snippet)
    return re.sub(r"<(row|column|box)(\d)>", r"\1 \2", snippet).strip()


def _digits(text: str) -> list[int]:
    return [int(d) for d in re.findall(r"\d", text)]


# -- checks -------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, text: str, k: Knowledge):
        self.k = k
        self.text = normalise(text, k.n)
        self.used = [False] * len(self.text)
        self.claims: list[Claim] = []

    def take(self, pattern: str, check: Check) -> None:
        for m in re.finditer(pattern, self.text, re.IGNORECASE):
            if any(self.used[m.start() : m.end()]):
                continue
            ok, why = check(self, m)
            for i in range(m.start(), m.end()):
                self.used[i] = True
            self.claims.append(Claim(check.__name__.strip("_"), _shown(m.group()), ok, "" if ok else why))

    def last_cell(self, pos: int) -> Cell | None:
        cells = list(_CELL_TOKEN.finditer(self.text, 0, pos))
        return self.cell(cells[-1]) if cells else None  # None too for a cell outside the grid

    def sentence_cell(self, pos: int) -> Cell | None:
        """The cell a phrase at `pos` is about: the last one named before it in its sentence,
        else the first one after it there, else the last one named before it."""
        text = self.sentence(pos)
        start = self.text.find(text)
        cells = [(m.start() + start, m) for m in _CELL_TOKEN.finditer(text)]
        before = [m for at, m in cells if at < pos]
        chosen = before[-1] if before else (cells[0][1] if cells else None)
        return self.cell(chosen) if chosen else self.last_cell(pos)

    def sentence(self, pos: int) -> str:
        start = max(self.text.rfind(". ", 0, pos), self.text.rfind("\n", 0, pos)) + 1
        end = min(x for x in (self.text.find(". ", pos), self.text.find("\n", pos), len(self.text)) if x >= 0)
        return self.text[start:end]

    # -- places ---------------------------------------------------------------------------------

    def cell(self, m: re.Match, a: int = 1) -> Cell | None:
        r, c = int(m.group(a)) - 1, int(m.group(a + 1)) - 1
        return (r, c) if 0 <= r < self.k.n and 0 <= c < self.k.n else None

    def unit_cells(self, kind: str, index: int) -> list[Cell] | None:
        n, i = self.k.n, index - 1
        if not 0 <= i < n:
            return None
        if kind == "row":
            return [(i, c) for c in range(n)]
        if kind == "column":
            return [(r, i) for r in range(n)]
        return [(r, c) for r in range(n) for c in range(n) if _box(r, c, n) == i]

    def value_of(self, cell: Cell) -> tuple[int | None, str]:
        """The digit the text may state for `cell`, or None and why not."""
        r, c = cell
        k = self.k
        if k.puzzle[r][c]:
            return k.puzzle[r][c], ""
        if k.solution is None:
            return None, "no verified answer is known"
        if k.revealable is not None and cell not in k.revealable:
            return None, f"r{r + 1}c{c + 1} is a blank cell this reply does not reveal"
        return k.solution[r][c], ""


# A check takes the reader and one match of its claim's wording, and returns whether the claim holds
# and, for a failed one, why. Its name (less underscores) is the claim's kind.
Check = Callable[[_Reader, re.Match], tuple[bool, str]]


def check_claims(text: str, k: Knowledge) -> list[Claim]:
    """Every claim in `text`, each checked (see the module docstring)."""
    rd = _Reader(text, k)
    for pattern, check in _claim_forms(k.n):  # in order: a claim's words are read once, first match wins
        rd.take(pattern, check)
    return rd.claims + _path_claims(rd.text, k) + _unclaimed_cells(rd) + _unclaimed_numbers(rd)


def _claim_forms(n: int) -> list[tuple[str, Check]]:
    """The wordings of each kind of claim, with its check; earlier forms take their words first."""
    return [
        (rf"{UNIT}\s*(?:is|reads|=|:)?\s*((?:\d[\s,]*){{{n}}})(?!\d)", _unit_is),
        (rf"\b(\d)\s+(?:is not|isn't|is missing|does not appear|doesn't appear|is absent|is not yet)\s+(?:yet\s+)?"
         rf"(?:in|from)\s+(?:the\s+)?{UNIT}", _lacks),
        (rf"{UNIT}\s+(?:does not|doesn't|do not)\s+(?:yet\s+)?(?:have|contain|include|hold)\s+{_A}{DIGITS}", _lacks),
        (rf"{UNIT}\s+(?:is missing|lacks|still needs|needs)\s+{_A}{DIGITS}", _lacks),
        (rf"(?:in\s+)?{UNIT},?\s+(?:the\s+)?(?:digit\s+)?(\d)\s+(?:can only go|can only be|is confined to|must go|must be)\s+"
         rf"(?:in\s+)?(?:the\s+)?{UNIT}", _locked),
        (rf"(\d)\s+is\s+no\s+longer\s+a\s+candidate\s+(?:in|for)\s+the\s+rest\s+of\s+{UNIT}"
         rf"(?:\s*\(((?:{CELL}[,\s]*(?:and\s+)?)+)\))?", _leaves),
        (rf"\bin\s+{UNIT},\s+(\d)\s+is\s+(?:still\s+)?(?:missing|absent)", _lacks),
        (r"\bsees\s+(?:a|an|the)\s+(\d)(?!\d)", _sees),
        (rf"{UNIT}\s+(?:already\s+)?(?:has|have|holds|contains|includes|shows|with)\s+(?:already\s+)?{_A}{DIGITS}", _has),
        (rf"\b(\d)\s+(?:is|appears|sits)\s+(?:already\s+)?in\s+(?:the\s+)?{UNIT}", _has),
        (rf"{UNIT}\s+{DIGITS}", _has),
        (rf"(?:still\s+)?(?:allows|candidates\s+(?:are|:)|could (?:still )?be|a guess between|guess(?:ed)? between|options? (?:were|was|are|is|:))"
         rf"\s+(?:only\s+|either\s+)?((?:<c\d\d>\s*=\s*)?\d(?:\s*(?:,|or|and)\s*(?:<c\d\d>\s*=\s*)?\d(?!\d))*)", _candidates),
        (rf"{CELL}\s+(?:must be|has to be|can only be|can only hold|must hold|must contain|is forced to be)\s+(?:a\s+)?(\d)(?!\d)",
         _forced),
        (rf"{CELL}\s*(?:is|holds|has|contains|=|:|gets|takes|becomes|should be|will be)?\s*{_A}(\d)(?!\d)", _value),
        (rf"\b(?:a\s+|the\s+)?(?:digit\s+|number\s+)?(\d)\s+(?:goes|belongs|fits|must go|is placed)?\s*(?:in|into|at)\s+"
         rf"(?:cell\s+)?{CELL}", _placed),
        (r"\b(\d)\s+is\s+(?:then\s+)?the\s+only\s+(?:digit|candidate|option|number|possibility|value|place)\s*(?:left|possible|remaining)?", _only),
        (r"\bonly\s+(?:possible\s+)?(?:place|cell|spot|position|home)\s+(?:left\s+)?(?:for|where)\s+(?:a\s+|the\s+)?(?:digit\s+)?(\d)", _only),
        (rf"rul\w*\s+out\s+{_A}{DIGITS}", _ruled_out),
        (r"\b(\d+)\s+((?:reasoning\s+)?segments?|branching steps?|steps?|moves?|givens?|clues?|blanks?|empty cells?|open cells?)\b",
         _count),
        (r"\b(\d+)\s*(?:%|percent)", _percent),
        (r"\bsteps?\s+(\d+)(?:\s*(?:-|to|and)\s*(\d+))?(?:\s+of\s+(\d+))?", _step_number),
        (r"\b(\d+)\s+(guess(?:es)?)\b", _count),
        (r"\b(\d)\s*(?:x|×|by)\s*(\d)\b", _size),
    ]


def _unit_is(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "row 1 is 5 3 4 6 7 8 9 1 2"
    n = rd.k.n
    cells = rd.unit_cells(m.group(1), int(m.group(2)))
    said = _digits(m.group(3))
    if cells is None:
        return False, f"there is no {m.group(1)} {m.group(2)} in a {n}x{n} sudoku"
    values = [rd.value_of(rc)[0] for rc in cells]
    if said == values:
        return True, ""
    return False, f"{m.group(1)} {m.group(2)} is not {' '.join(map(str, said))}"


def _unit_holds(rd: _Reader, m: re.Match, board: Grid, holds: bool) -> tuple[bool, str]:
    """The named unit of `board` holds (or lacks) every digit said."""
    kind, index, said = _unit_and_digits(m)
    cells = rd.unit_cells(kind, index)
    if cells is None:
        return False, f"there is no {kind} {index}"
    there = {board[r][c] for r, c in cells}
    off = [d for d in said if (d in there) != holds]
    return not off, f"{kind} {index} {'does not hold' if holds else 'does hold'} {', '.join(map(str, off))}"


def _lacks(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # negative claims are checked on the board the reply ends on
    return _unit_holds(rd, m, rd.k.after, holds=False)


def _has(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # positive ones on the board it starts from
    return _unit_holds(rd, m, rd.k.before, holds=True)


def _forced(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "r3c4 must be 5 because ..."
    return _holds_for_reason(rd, rd.cell(m), int(m.group(3)), rd.sentence(m.start()), "no such cell")


def _value(rd: _Reader, m: re.Match, cell_at: int = 1, digit_at: int = 3) -> tuple[bool, str]:  # "r3c4 is 5"
    cell = rd.cell(m, cell_at)
    digit = int(m.group(digit_at))
    if cell is None:
        return False, "no such cell"
    got, why = rd.value_of(cell)
    return got == digit, why or f"r{cell[0] + 1}c{cell[1] + 1} is {got}, not {digit}"


def _placed(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "5 goes in r3c4"
    return _value(rd, m, cell_at=2, digit_at=1)


def _reasoned(rd: _Reader, m: re.Match, reason: str) -> tuple[bool, str]:
    """The sentence's cell holds m's digit, for a reason that holds."""
    return _holds_for_reason(rd, rd.sentence_cell(m.start()), int(m.group(1)), reason, "no cell is named with it")


def _holds_for_reason(rd: _Reader, cell: Cell | None, digit: int, reason: str, no_cell: str) -> tuple[bool, str]:
    if cell is None:
        return False, no_cell
    value, why = rd.value_of(cell)
    if value != digit:
        return False, why or f"r{cell[0] + 1}c{cell[1] + 1} is not {digit}"
    return _reason_holds(rd, cell, digit, reason)


def _only(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "5 is the only digit left"
    return _reasoned(rd, m, m.group())


def _sees(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "every other open cell of box 2 sees a 5"
    return _reasoned(rd, m, rd.sentence(m.start()) + " (only place)")


def _ruled_out(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "that rules out 1, 2 and 6"
    cell = rd.last_cell(m.start())
    if cell is None:
        return False, "no cell of the grid is named before it"
    seen = {rd.k.before[r][c] for r, c in _peers(cell, rd.k.n)}
    wrong = [d for d in _digits(m.group(1)) if d not in seen]
    return not wrong, f"{', '.join(map(str, wrong))} is not yet in the row, column or box of the cell"


def _candidates(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "the cell still allows 2 and 7"
    named = [rd.cell(cell) for cell in _CELL_TOKEN.finditer(m.group(1))]
    # "a guess between r4c5=2 and r4c5=7" names its cell; "still allows 2 and 7" follows it.
    cell = named[-1] if named else rd.last_cell(m.start())
    if cell is None:
        return False, "no cell of the grid is named before it"
    options = rd.k.options.get(cell) or candidates(rd.k.before, *BOX_SHAPE[rd.k.n]).get(cell, set())
    said = set(_digits(_CELL_TOKEN.sub(" ", m.group(1))))
    return said == options, f"the cell allows {', '.join(map(str, sorted(options)))}"


def _locked(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "in box 2, 5 can only go in row 1"
    key = (int(m.group(3)), f"{m.group(1)} {m.group(2)}", f"{m.group(4)} {m.group(5)}")
    return key in rd.k.locked, f"no step shown confines {key[0]} in {key[1]} to {key[2]}"


def _leaves(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "5 is no longer a candidate in the rest of row 1"
    digit, line = int(m.group(1)), f"{m.group(2)} {m.group(3)}"
    cells = {(int(r) - 1, int(c) - 1) for r, c in _CELL_TOKEN.findall(m.group(4) or "")}
    ok = any(d == digit and ln == line and cells <= gone for (d, _, ln), gone in rd.k.locked.items())
    return ok, f"no step shown removes {digit} from those cells of {line}"


def _count(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "30 givens", "4 segments", "2 guesses"
    number, word = int(m.group(1)), m.group(2).lower()
    key = next((key for key, words in _COUNT_WORDS.items() if word.startswith(words)), None)
    allowed = rd.k.counts.get(key or "", set())
    return number in allowed, f"{number} {word} is not what the facts say"


def _percent(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "97%"
    return int(m.group(1)) in rd.k.counts.get("percent", set()), "no such percentage in the facts"


def _step_number(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "steps 3-5 of 12"
    said = {int(g) for g in m.groups()[:2] if g}
    total_ok = m.group(3) is None or int(m.group(3)) in rd.k.counts.get("steps", set())
    return said <= rd.k.counts.get("step_numbers", set()) and total_ok, "no such step is shown"


def _size(rd: _Reader, m: re.Match) -> tuple[bool, str]:  # "9x9"
    n = rd.k.n
    return int(m.group(1)) == int(m.group(2)) == n, f"the puzzle is {n}x{n}"


def _unclaimed_cells(rd: _Reader) -> list[Claim]:
    """Cells named without a claim must be ones the reply is about."""
    out = []
    for m in _CELL_TOKEN.finditer(rd.text):
        cell = rd.cell(m)
        if not any(rd.used[m.start() : m.end()]) and rd.k.mentionable is not None and cell not in rd.k.mentionable:
            out.append(Claim("mention", _shown(m.group()), False, "the facts do not mention this cell"))
    return out


def _unclaimed_numbers(rd: _Reader) -> list[Claim]:
    """Any digit outside a claim cannot be checked."""
    stripped = "".join(" " if rd.used[i] else ch for i, ch in enumerate(rd.text))
    stripped = re.sub(r"<c\d\d>|<(?:row|column|box)\d>", " ", stripped)
    out = []
    for m in re.finditer(r"\d+", stripped):
        around = _shown(rd.text[max(0, m.start() - 30) : m.end() + 30])
        out.append(Claim("uncheckable", around, False, f"the number {m.group()} is not part of a claim that can be checked"))
    return out


_COUNT_WORDS = {"segments": ("reasoning segment", "segment"), "nodes": ("branching step",), "steps": ("step", "move"),
               "guesses": ("guess",),
                "givens": ("given", "clue"), "blanks": ("blank", "empty cell", "open cell")}


def _unit_and_digits(m: re.Match) -> tuple[str, int, list[int]]:
    """(kind, index, digits) from a match with a unit and a digit list in either order."""
    groups = [g for g in m.groups() if g is not None]
    if groups[0] in ("row", "column", "box"):
        return groups[0], int(groups[1]), _digits(groups[2])
    return groups[1], int(groups[2]), _digits(groups[0])


def _peers(cell: Cell, n: int) -> set[Cell]:
    r, c = cell
    box = _box(r, c, n)
    out = {(r, j) for j in range(n)} | {(i, c) for i in range(n)}
    out |= {(i, j) for i in range(n) for j in range(n) if _box(i, j, n) == box}
    return out - {cell}


_NAKED = re.compile(r"only (?:digit|candidate|option|number|possibility|value|one)s? (?:left|possible|remaining)|naked single"
                    r"|no other (?:digit|number)|only (?:possible )?(?:digit|candidate|number|option)", re.IGNORECASE)
_HIDDEN = re.compile(r"only (?:place|cell|spot|position|square|home|possible (?:place|cell|spot))|hidden single"
                     r"|nowhere else", re.IGNORECASE)


def _reason_holds(rd: _Reader, cell: Cell, digit: int, sentence: str) -> tuple[bool, str]:
    """The rule a sentence gives for "rXcY must be D", checked: a naked single needs D to be the
    cell's only candidate, a hidden single the cell to be D's only place in a row, column or box
    (the one the sentence names, if it names one). A sentence that gives no rule claims only the digit."""
    k, n = rd.k, rd.k.n
    where = f"r{cell[0] + 1}c{cell[1] + 1}"
    if cell in k.forced:  # a step of the solving path: the rule it was found by
        rule, unit = k.forced[cell]
        if _NAKED.search(sentence) and rule != "naked_single":
            return False, f"{where} is not a naked single here (it was found by {rule.replace('_', ' ')})"
        if _HIDDEN.search(sentence) and rule != "hidden_single":
            return False, f"{where} is not a hidden single here (it was found by {rule.replace('_', ' ')})"
        return True, ""
    cands = candidates(k.before, *BOX_SHAPE[n])
    if _NAKED.search(sentence) and cands.get(cell) != {digit}:
        return False, f"{where} still allows {', '.join(map(str, sorted(cands.get(cell, set()))))}"
    if _HIDDEN.search(sentence):
        named = re.findall(UNIT, sentence)
        units = [rd.unit_cells(kind, int(i)) for kind, i in named] or [
            rd.unit_cells(kind, i + 1) for kind, i in (("row", cell[0]), ("column", cell[1]), ("box", _box(*cell, n)))]
        if not any(u and [rc for rc in u if digit in cands.get(rc, ())] == [cell] for u in units):
            return False, f"{where} is not the only place for {digit} there"
    return True, ""


_PATH_WORDS = [
    (re.compile(r"on its own|by itself|without help|the hrm (?:alone|solved|found)", re.IGNORECASE), "hrm"),
    (re.compile(r"\bsearch", re.IGNORECASE), "search"),
    (re.compile(r"\brepair|\brerun|\bre-ran|\bran again", re.IGNORECASE), "hrm+repair"),
]
_STATUS_WORDS = [
    (re.compile(r"more than one solution|(?:multiple|several|many|other) solutions", re.IGNORECASE), "multiple_solutions"),
    (re.compile(r"\bno solution", re.IGNORECASE), "no_solution"),
    (re.compile(r"(?:unique|only one|exactly one|a single) solution", re.IGNORECASE), "solved"),
]


def _path_claims(text: str, k: Knowledge) -> list[Claim]:
    """How the answer was found and how many solutions there are, when the facts say."""
    out = []
    if k.path:
        for pattern, path in _PATH_WORDS:
            if m := pattern.search(text):
                out.append(Claim("path", m.group(), k.path == path, f"the answer was found by {k.path}"))
    if k.status:
        for pattern, status in _STATUS_WORDS:
            if m := pattern.search(text):
                out.append(Claim("status", m.group(), k.status == status, f"the solver's status is {k.status}"))
    return out


def failed(claims: list[Claim]) -> list[Claim]:
    return [c for c in claims if not c.ok]


# -- what each kind of reply may be checked against ------------------------------------------------


def _zero_based(cells) -> set[Cell]:
    return {(r - 1, c - 1) for r, c in cells}


def solve_knowledge(puzzle: Grid, answer: Grid | None, f: SolveFacts) -> Knowledge:
    """An explanation of a solve: the whole verified answer is shown beside it."""
    percents = {c.confidence_percent for c in f.least_confident}
    counts = {"givens": {f.givens}, "blanks": {f.blanks}, "segments": {f.segments_used, f.halted_at},
              "nodes": {f.search_nodes}, "percent": percents | ({99} if percents and min(percents) >= 99 else set())}
    board = answer or puzzle
    return Knowledge(puzzle=puzzle, solution=answer, before=board, after=board, counts=counts, path=f.path,
                     status=f.status)


def hint_knowledge(puzzle: Grid, solution: Grid, h: HintFacts) -> Knowledge:
    """A hint reveals one cell; everything else it says must be about the givens."""
    cell = (h.row - 1, h.col - 1)
    givens = {(r, c) for r, row in enumerate(puzzle) for c, v in enumerate(row) if v}
    forced = {} if h.technique == "from_solution" else {cell: (h.technique, None)}
    return Knowledge(puzzle=puzzle, solution=solution, revealable={cell}, mentionable=givens | {cell},
                     forced=forced, options={cell: set(h.candidates)} if h.candidates else {})


def check_knowledge(puzzle: Grid | None, answer: Grid, f: CheckFacts) -> Knowledge:
    """A check of the user's answer may name the bad cells and the user's own digits."""
    named = _zero_based(f.changed_givens + f.empty + f.conflicts + f.wrong)
    counts = {"blanks": {len(f.empty)}}
    return Knowledge(puzzle=answer, solution=None, revealable=set(), mentionable=named, counts=counts,
                     before=answer, after=answer)


def steps_knowledge(puzzle: Grid, solution: Grid, all_steps: list[StepFact], f: StepsFacts) -> Knowledge:
    """Steps `f.first`.. of the solving path: they start from the board the earlier steps left."""
    before = [row[:] for row in puzzle]
    for s in all_steps[: f.first - 1]:
        if s.row is not None:
            before[s.row - 1][s.col - 1] = s.digit
    after = [row[:] for row in before]
    shown: set[Cell] = set()
    forced: dict[Cell, tuple[str, tuple[str, int] | None]] = {}
    options: dict[Cell, set[int]] = {}
    named: set[Cell] = set()
    locked: dict[tuple[int, str, str], set[Cell]] = {}
    for s in f.steps:
        named |= _zero_based(s.eliminated)
        if s.row is None:
            locked[(s.digit, s.unit, s.line)] = _zero_based(s.eliminated)
            continue
        cell = (s.row - 1, s.col - 1)
        after[cell[0]][cell[1]] = s.digit
        shown.add(cell)
        forced[cell] = (s.rule, None)
        if s.options:
            options[cell] = set(s.options)
    givens = {(r, c) for r, row in enumerate(before) for c, v in enumerate(row) if v}
    last = f.first + len(f.steps) - 1
    counts = {"steps": {f.total_steps, len(f.steps)}, "step_numbers": set(range(f.first, last + 1)),
              "guesses": {f.guesses}}
    return Knowledge(puzzle=before, solution=solution, revealable=shown, mentionable=givens | shown | named,
                     before=before, after=after, counts=counts, forced=forced, options=options, locked=locked)
