"""The language layer: what the user wants, a grid described in words, and explanations.

Two implementations of the same three jobs:

* rules (always there): keyword rules for the intent, template sentences for explanations, and
  no transcription of grids described in words (the user is asked to paste the grid instead);
* a language model behind an OpenAI-compatible server, used when one answers. Each of its calls
  that fails (timeout, malformed JSON, a reply that breaks the schema or the claim check of `claims.py`)
  falls back to the rules for that step, with a note for the user.

Nothing here decides an answer: answers come only from a verified `SolveResult`. The model sees
only the user's message (to classify or transcribe it) or the verifier's facts (to explain them),
and what it writes is checked against those inputs.
"""

from __future__ import annotations

import re
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reasoner.tasks import BOX_SHAPE

from .claims import Knowledge, check_claims, failed
from .extract import Grid, looks_like_maze, transcription_differences
from .facts import CheckFacts, HintFacts, SolveFacts, StepFact, StepsFacts
from .llm import LLMClient, LLMError

Intent = Literal["solve", "check", "hint", "explain", "generate", "lookup", "other"]
# Spelled out for the JSON schema the model is sent: the task plug-ins (reasoner.tasks.TASKS) and
# "none"; tests/test_registry.py checks they agree.
TaskName = Literal["sudoku", "maze", "arc", "none"]


# --------------------------------------------------------------------------------------------
# Structured outputs (the JSON schemas sent to the model are built from these)
# --------------------------------------------------------------------------------------------


class Understanding(BaseModel):
    """What one chat message asks for."""

    model_config = ConfigDict(extra="forbid")

    intent: Intent = Field(description="solve: solve a puzzle; check: check the user's answer; hint: reveal one "
                           "cell; explain: explain the last result; generate: make a new puzzle (also 'a harder "
                           "one'); lookup: a question about a row/column/cell of the current puzzle; other")
    task: TaskName = Field(description="the puzzle type the message is about, 'none' if it names none")


class Transcription(BaseModel):
    """A sudoku grid the user described in words, row by row: digits, '.' for blanks."""

    model_config = ConfigDict(extra="forbid")

    size: Literal[4, 6, 9]  # the sudoku sides (reasoner.tasks.BOX_SHAPE), spelled out for the JSON schema
    rows: list[str] = Field(description="one string per row, one character per cell: a digit or '.'")


class Explanation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=1200)


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------

# Requests to tamper with the puzzle or the checking. They are never obeyed (givens come only
# from the grid the user pasted, answers only from the verifier); spotting them lets the reply
# say so instead of silently ignoring them.
_INJECTION = re.compile(
    r"ignore (?:all |the |any |previous |prior |your )*(?:rules|instructions|constraints|verifier)"
    r"|(?:skip|disable|bypass|turn off|without) (?:the )?(?:verif\w*|check\w*|validation)"
    r"|don'?t (?:verify|check)|no need to (?:verify|check)"
    r"|(?:change|modify|replace|alter|overwrite) (?:the |a |one of the )?givens?"
    r"|\bset (?:row|column|col|cell|box|r\d)\b"
    r"|(?:pretend|assume|just say) (?:it|that|the answer)",
    re.IGNORECASE,
)
_CHECK = re.compile(r"\bcheck\b|\bverify (?:my|this)\b|\bis (?:this|my|it) (?:answer |solution )?(?:right|correct|valid)\b"
                    r"|\bdid i (?:get it|solve it)\b|\bmy (?:answer|solution)\b", re.IGNORECASE)
_HINT = re.compile(r"\bhints?\b|\bclue\b|\bnudge\b|\bnext (?:step|move|cell)\b|\bone cell\b"
                   r"|\bwhich cell (?:should|do|can|to)\b|\bwhat (?:should|do|can) i (?:fill|put|try|do) next\b", re.IGNORECASE)
# "I'm stuck" asks for a hint, unless the message asks for the solution outright.
_STUCK = re.compile(r"\bstuck\b", re.IGNORECASE)
_SIDES = "".join(str(n) for n in BOX_SHAPE)  # the sudoku sides as one character class: "469"
_GENERATE = re.compile(r"\b(?:generate|create|make|give me|new|another|fresh|i want|i'd like|i would like|fancy)\b"
                       rf"[^.?!]*\b(?:puzzle|sudoku|one|grid|game|challenge|mazes?|[{_SIDES}]\s*x\s*[{_SIDES}])\b"
                       r"|\b(?:harder|easier|more difficult|simpler)\b", re.IGNORECASE)
# "How do I solve this?", "step by step", "walk me through it", "next steps": the solving path.
_STEPS = re.compile(r"\bhow (?:do|can|should|would|could) (?:i|you|one|we) (?:solve|do|crack|approach|tackle)\b"
                    r"|\bhow to (?:solve|do|crack|approach|tackle)\b|\bstep[- ]by[- ]step\b|\bwalk me through\b"
                    r"|\b(?:solving|solution) (?:path|steps)\b|\b(?:next|more|further|remaining|the) steps\b"
                    r"|\bshow (?:me )?(?:the |your )?(?:steps|working|reasoning)\b|\bcontinue\b|\bgo on\b|\bkeep going\b",
                    re.IGNORECASE)
_EXPLAIN = re.compile(r"\bexplain\b|\bwhy\b|\bhow did (?:you|it)\b|\bhow was\b|\bhow (?:sure|confident|certain)\b",
                      re.IGNORECASE)
_LOOKUP = re.compile(r"\bwhat(?:'s| is| was)? (?:in|at|on)\b|\b(?:row|column|col|box) \d\b|\br\d\s*c\d\b|\bcell\b"
                     r"|\(\s*\d\s*,\s*\d\s*\)", re.IGNORECASE)
_SOLVE = re.compile(r"\bsolve\b|\bsolution\b|\banswer\b|\bfill (?:it|in)\b|\bfinish\b", re.IGNORECASE)
_MAZE = re.compile(r"\bmazes?\b|\blabyrinth\b", re.IGNORECASE)
_ARC = re.compile(r"\barc\b|\babstraction and reasoning\b|\barc-agi\b", re.IGNORECASE)
_SUDOKU = re.compile(r"\bsudokus?\b", re.IGNORECASE)


def wants_steps(message: str) -> bool:
    """The message asks how to solve (the rule-based solving path), not for the answer."""
    return bool(_STEPS.search(message))


def continues_steps(message: str) -> bool:
    return bool(re.search(r"\b(?:next|more|further|remaining)\b|\bcontinue\b|\bgo on\b|\bkeep going\b", message, re.IGNORECASE))


# Greetings, thanks and goodbyes: no request about a puzzle, whatever a model makes of them.
_SMALL_TALK = re.compile(r"^\W*(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening|night)|ok(?:ay)?|cool|nice|great"
                         r"|how are you|who are you|what can you do)\b"
                         r"|\b(?:thanks|thank you|thx|cheers|bye|goodbye|see you)\b", re.IGNORECASE)


def is_small_talk(message: str) -> bool:
    return bool(_SMALL_TALK.search(message))


def is_injection(message: str) -> bool:
    return bool(_INJECTION.search(message))


def rule_task(message: str, has_sudoku_grid: bool, thread_task: str | None) -> TaskName:
    if _ARC.search(message):
        return "arc"
    if _MAZE.search(message) or looks_like_maze(message):
        return "maze"
    if _SUDOKU.search(message) or has_sudoku_grid:
        return "sudoku"
    return thread_task or "none"  # "row 3?" is about the thread's puzzle


# Intents that act on a puzzle: the message or the thread must hold one.
_NEEDS_A_PUZZLE = {"solve", "check", "hint", "explain", "lookup"}

# Where the keyword rules find nothing, the model decides, but only for an intent the message gives
# some cue for: words too loose for a rule of their own ("complete", "reveal", "another round").
# Without a cue the message stays "other": measured, a small model calls most chit-chat "solve" or
# "generate" (docs/llm.md).
_CUES = {
    "solve": r"complete|finish|answer|solution|fill|crack|result|do it|solve",
    "check": r"right|correct|mistakes?|wrong|errors?|valid|ok\?|good\?",
    "hint": r"reveal|tips?|help|start|next|square|cell|stuck|idea|nudge|clue",
    "explain": r"reason\w*|why|how|logic|understand|method|teach|steps?|explain",
    "generate": r"another|new|more|fresh|round|play|tricky|surprise|harder|easier|puzzle|one|game|challenge",
    "lookup": r"rows?|columns?|box|cell|square|r\dc\d|what(?:'s| is) (?:in|at)",
}
_CUE = {intent: re.compile(rf"\b(?:{words})\b", re.IGNORECASE) for intent, words in _CUES.items()}


def has_cue(message: str, intent: str) -> bool:
    return intent in _CUE and bool(_CUE[intent].search(message))


def rule_understand(message: str, grid: Grid | None, thread_task: str | None) -> Understanding:
    """Keyword rules. A pasted grid (`grid`: the first sudoku grid code read in the message) makes
    "solve" the default; without one the message is a follow-up about the thread's puzzle ("a
    harder one", "what is in row 3?")."""
    has_sudoku_grid = grid is not None
    task = rule_task(message, has_sudoku_grid, thread_task)
    if _CHECK.search(message):
        intent = "check"
    elif _HINT.search(message) or (_STUCK.search(message) and not _SOLVE.search(message)):
        intent = "hint"
    elif _STEPS.search(message) and (has_sudoku_grid or thread_task or _SUDOKU.search(message)):
        intent = "explain"
    elif has_sudoku_grid:
        intent = "explain" if _EXPLAIN.search(message) and not _SOLVE.search(message) else "solve"
        if intent == "solve" and not _SOLVE.search(message) and all(v for row in grid for v in row):
            intent = "check"  # a grid with no blank left has nothing to solve: the user wants it checked
    elif _GENERATE.search(message):
        intent = "generate"
    elif _EXPLAIN.search(message):
        intent = "explain"
    elif _LOOKUP.search(message) and not is_injection(message):
        intent = "lookup"
    elif _SOLVE.search(message) or (task in ("maze", "arc") and looks_like_maze(message)):
        intent = "solve"
    else:
        intent = "other"
        task = rule_task(message, has_sudoku_grid, None)  # "hello" is about no puzzle
    if intent == "generate" and task == "none":
        task = "sudoku"  # "give me a hard one": sudoku is what the chat generates
    return Understanding(intent=intent, task=task)


# -- details the rules read for every layer (the model is not asked for them) ----------------

_SIZE = re.compile(rf"\b([{_SIDES}])\s*[x×by ]+\s*\1\b", re.IGNORECASE)
_LEVELS = ("easy", "medium", "hard")


def requested_size(message: str) -> int | None:
    match = _SIZE.search(message)
    return int(match.group(1)) if match else None


def requested_level(message: str, previous: int | None) -> tuple[int, str | None]:
    """Difficulty 0..2 for a generated puzzle, and a note when "harder"/"easier" cannot go further."""
    text = message.lower()
    base = 1 if previous is None else previous
    if re.search(r"\bharder\b|\bmore difficult\b", text):
        if base >= 2:
            return 2, "That was already the hardest level I generate; here is another hard one."
        return base + 1, None
    if re.search(r"\beasier\b|\bsimpler\b", text):
        if base <= 0:
            return 0, "That was already the easiest level I generate; here is another easy one."
        return base - 1, None
    for level, word in enumerate(_LEVELS):
        if re.search(rf"\b{word}\b", text):
            return level, None
    return base, None


class CellRef(BaseModel):
    kind: Literal["row", "column", "box", "cell"]
    row: int | None = None  # 1-based
    col: int | None = None
    box: int | None = None


_CELL_REF = [
    (re.compile(r"\br(\d)\s*c(\d)\b", re.IGNORECASE), "cell"),
    (re.compile(r"\brow (\d)\D{1,12}?col(?:umn)? (\d)\b", re.IGNORECASE), "cell"),
    (re.compile(r"\(\s*(\d)\s*,\s*(\d)\s*\)"), "cell"),
    (re.compile(r"\brow (\d)\b", re.IGNORECASE), "row"),
    (re.compile(r"\bcol(?:umn)? (\d)\b", re.IGNORECASE), "column"),
    (re.compile(r"\bbox (\d)\b", re.IGNORECASE), "box"),
]


def cell_reference(message: str) -> CellRef | None:
    """'row 3', 'column 2', 'box 4', 'r3c4', 'row 3 column 4', '(3,4)': all 1-based."""
    for pattern, kind in _CELL_REF:
        match = pattern.search(message)
        if not match:
            continue
        a = int(match.group(1))
        if kind == "cell":
            return CellRef(kind="cell", row=a, col=int(match.group(2)))
        if kind == "row":
            return CellRef(kind="row", row=a)
        if kind == "column":
            return CellRef(kind="column", col=a)
        return CellRef(kind="box", box=a)
    return None


# -- templates ----------------------------------------------------------------------------------


def _cells(cells, limit: int = 12) -> str:
    """1-based cells as r3c4, cut after `limit` so a badly wrong answer still gets a short reply
    (the full lists are in `Reply.check`)."""
    shown = ", ".join(f"r{r}c{c}" for r, c in cells[:limit])
    return shown + (f" and {len(cells) - limit} more" if len(cells) > limit else "")


def template_solve_explanation(f: SolveFacts) -> str:
    if f.status == "no_solution":
        return ("The verifier proved that this puzzle has no solution: the givens do not clash directly, "
                "but no way of filling the blanks satisfies every row, column and box. So there is no answer to show.")
    if not f.verified:
        return "No answer passed the verifier, so I show none rather than an unchecked one."
    parts = [(f"The verifier checked the answer: it keeps all {f.givens} givens and every row, column and box "
              "holds each digit exactly once.")]
    if f.status == "multiple_solutions":
        parts.append("This puzzle has more than one solution; the answer shown is one of them.")
    if f.path == "hrm":
        parts.append(f"The HRM found it on its own in {f.segments_used} reasoning segment"
                     f"{'s' if f.segments_used != 1 else ''}.")
        if f.least_confident and min(c.confidence_percent for c in f.least_confident) >= 99:
            parts.append("It was at least 99% sure of every cell it filled.")
        elif f.least_confident:
            worst = ", ".join(f"r{c.row}c{c.col} ({c.digit}, {c.confidence_percent}%)" for c in f.least_confident)
            parts.append(f"The cells it was least sure about: {worst}.")
    elif f.path == "hrm+repair":
        parts.append("The HRM's first answer failed the verifier; rerun with its most confident, mutually "
                     "consistent cells fixed, it produced the answer that passed.")
    elif f.path == "search":
        parts.append(f"The HRM's answers failed the verifier, so an exhaustive search guided by its "
                     f"probabilities found the answer ({f.search_nodes} branching steps).")
    return " ".join(parts)


def template_step(s: StepFact) -> str:
    cell = f"r{s.row}c{s.col}"
    if s.rule == "naked_single":
        return f"Step {s.number}: {cell} = {s.digit} (naked single: every other digit is already in its row, column or box)."
    if s.rule == "hidden_single":
        return f"Step {s.number}: {cell} = {s.digit} (hidden single: the only place left for {s.digit} in {s.unit})."
    if s.rule in ("pointing", "claiming"):
        return (f"Step {s.number}: in {s.unit}, {s.digit} can only go in {s.line}, so {s.digit} is no longer a "
                f"candidate in the rest of {s.line} ({_cells(s.eliminated, 6)}).")
    choices = " and ".join(f"{cell}={d}" for d in s.options)
    return (f"Step {s.number}: no simple step here: a guess between {choices} was needed; {cell}={s.digit} is the "
            "one that leads to the verified solution (found by search, not by a rule).")


def template_steps(f: StepsFacts) -> str:
    return "\n".join(template_step(s) for s in f.steps)


def template_hint(h: HintFacts) -> str:
    cell = f"row {h.row}, column {h.col}"
    if h.technique == "naked_single":
        used = sorted(set(h.row_digits) | set(h.col_digits) | set(h.box_digits))
        return (f"Hint: {cell} must be {h.digit}. Its row already has {_digits(h.row_digits)}, its column "
                f"{_digits(h.col_digits)} and its box {_digits(h.box_digits)}; together that rules out "
                f"{_digits(used)}, so {h.digit} is the only digit left for this cell.")
    if h.technique == "hidden_single":
        return (f"Hint: {cell} must be {h.digit}. In {h.unit}, {h.digit} is still missing and every other "
                f"open cell of {h.unit} already sees a {h.digit} in its row, column or box, so this is the only place for it.")
    return (f"Hint: {cell} is {h.digit}. No single-step rule forces a cell here (this cell still allows "
            f"{_digits(h.candidates)}); the digit comes from the verified solution.")


def _digits(values: list[int]) -> str:
    return ", ".join(str(v) for v in values) if values else "no digits"


def template_check(f: CheckFacts) -> str:
    if f.ok:
        where = "keeps every given and " if f.puzzle_known else ""
        return f"Your answer is correct: it {where}has each digit exactly once in every row, column and box."
    parts = ["Your answer is not a correct solution yet."]
    if f.changed_givens:
        parts.append(f"Givens were changed at {_cells(f.changed_givens)}.")
    if f.wrong:
        parts.append(f"Wrong digits (they differ from the puzzle's only solution): {_cells(f.wrong)}.")
    if f.conflicts:
        parts.append(f"Cells in a row, column or box that holds the same digit twice: {_cells(f.conflicts)}.")
    if f.empty:
        parts.append(f"Still empty: {_cells(f.empty)}.")
    if not f.puzzle_known:
        parts.append("(There is no puzzle in this conversation yet, so I checked the rules only, not the givens.)")
    return " ".join(parts)


HELP_TEXT = (
    "I solve, check and explain sudoku (4x4, 6x6, 9x9) with the HRM reasoner; every answer I show is "
    "checked by a rule-based verifier. Try:\n"
    "  solve this sudoku: 53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79\n"
    "  give me a hint / check my answer: <grid> / how do I solve this? / next steps / explain / what is in row 3? /\n"
    "  generate a 4x4 sudoku / a harder one\n"
    "Grids may be one line, one row per line, 'row 1: 5 3 _ _ 7 ...', rows split by / or ;, a markdown table or JSON;\n"
    "blanks are . 0 _ - x * or the words blank/empty, digits may be words (five). Rows and columns count from 1."
)


# --------------------------------------------------------------------------------------------
# The layer the graph talks to
# --------------------------------------------------------------------------------------------

_UNDERSTAND_PROMPT = (
    "You route messages for a puzzle assistant that solves sudoku (4x4, 6x6, 9x9) with a verified solver. "
    "Classify the user's latest message. Reply with JSON only. Context about the conversation: {context}"
)
_TRANSCRIBE_PROMPT = (
    "The user describes a sudoku grid in words. Copy it into rows of digits with '.' for blank cells. "
    "Use ONLY digits the user wrote, in the order written; never add, guess or solve a cell. Reply with JSON only."
)
_EXPLAIN_PROMPT = (
    "You explain a verified puzzle result to a user in 2-4 plain sentences. Use ONLY the facts in the JSON "
    "the user gives you; do not mention any digit, cell, number or claim that is not in those facts, and never "
    "write out a grid. Name cells as r3c4 (row 3, column 4; rows and columns count from 1). Every statement "
    "is checked against the facts and the rules; one false statement and your text is not shown. "
    "Reply with JSON only: {\"text\": \"...\"}."
)


class ModelCall(BaseModel):
    """One request to the language model, for the trace."""

    purpose: str
    model: str | None
    ms: float
    ok: bool
    error: str | None = None
    raw: str | None = None  # the model's reply as it came back, cut at RAW_REPLY_CHARS
    failed_claims: list[str] = []  # for a worded text: the claims that did not hold, and why


# The trace's error for a worded text that made a false or uncheckable claim.
REJECTED_EXPLANATION = "explanation with false or uncheckable claims rejected"
# A model's raw reply kept in the trace: enough to see what it said, bounded for a 300-token reply.
RAW_REPLY_CHARS = 2000


class LanguageLayer:
    """Rules, plus a language model when `llm` is given and reachable."""

    def __init__(self, llm: LLMClient | None):
        self.llm = llm
        self.calls: list[ModelCall] = []  # this turn's model calls
        self.notes: list[str] = []  # this turn's fallback notes for the user
        # After a timeout or a lost connection the rest of the turn goes without the model, so
        # one slow server costs the user one timeout, not one per step.
        self._gave_up = False

    @property
    def uses_model(self) -> bool:
        return self.llm is not None

    def _call(self, purpose: str, messages: list[dict], schema, max_tokens: int,
              fallback: str = " I used the built-in rules for this step."):
        """One model call, recorded; on failure a note and None (the caller falls back)."""
        if self._gave_up:
            return None
        start = time.perf_counter()
        try:
            value = self.llm.chat_json(messages, schema, max_tokens=max_tokens)
        except LLMError as err:
            self.calls.append(ModelCall(purpose=purpose, model=self.llm.model, ms=_ms(start), ok=False,
                                        error=f"{err.kind}: {err}", raw=self._raw()))
            self.notes.append(f"Note: the language model's {purpose} could not be used ({err}).{fallback}")
            self._gave_up = err.kind in ("timeout", "unreachable")
            return None
        self.calls.append(ModelCall(purpose=purpose, model=self.llm.model, ms=_ms(start), ok=True, raw=self._raw()))
        return value

    def _raw(self) -> str | None:
        raw = getattr(self.llm, "last_raw", None)
        return raw[:RAW_REPLY_CHARS] if isinstance(raw, str) else None

    def understand(self, message: str, grid: Grid | None, thread_task: str | None, context: str) -> Understanding:
        rules = rule_understand(message, grid, thread_task)
        if not self.uses_model:
            return rules
        messages = [{"role": "system", "content": _UNDERSTAND_PROMPT.format(context=context)},
                    {"role": "user", "content": message}]
        got = self._call("intent classification", messages, Understanding, max_tokens=60)
        if got is None:
            return rules
        # The model only decides what the keyword rules have nothing to go on: measured on
        # eval/intent_set.jsonl, the 0.5B model misroutes far more requests than the rules do
        # (docs/llm.md). A keyword the user wrote ("maze", "hint", a pasted grid) wins.
        intent = rules.intent
        has_puzzle = grid is not None or thread_task or looks_like_maze(message)
        if intent == "other" and is_small_talk(message):
            pass  # greetings and thanks are recognised too: the measured misroute was "thanks, that's all" -> solve
        elif intent == "other" and has_cue(message, got.intent) and (got.intent not in _NEEDS_A_PUZZLE or has_puzzle):
            intent = got.intent  # but with nothing to solve, check or explain, "hello!" is no solve request
        # The task: what the message names, else the thread's puzzle. The model's guess counts only
        # for sudoku: mazes and ARC are recognised by their keywords and layouts, and a model that
        # hears "arc" in "give me a hard one" must not turn a sudoku request into a refusal.
        task = rules.task if rules.task != "none" else ("sudoku" if got.task == "sudoku" else "none")
        if intent == "other":
            task = rules.task  # "what is the capital of France?" is about no puzzle, whatever the model says
        elif task == "none":
            task = "sudoku"
        return Understanding(intent=intent, task=task)

    def transcribe(self, message: str) -> tuple[Grid | None, str | None]:
        """A grid described in words, via the model, accepted only if its givens are the user's
        own digits in order. Returns (grid, None) or (None, why not)."""
        if not self.uses_model:
            return None, "reading a grid described in words needs the language model, which is not available"
        messages = [{"role": "system", "content": _TRANSCRIBE_PROMPT}, {"role": "user", "content": message}]
        got = self._call("grid transcription", messages, Transcription, max_tokens=300, fallback="")
        if got is None:
            return None, "the language model could not transcribe it"
        n = got.size
        if len(got.rows) != n or any(len(row) != n for row in got.rows):
            return None, f"the language model's transcription is not a {n}x{n} grid"
        cell_chars = set("._0") | {str(d) for d in range(1, n + 1)}
        if any(ch not in cell_chars for row in got.rows for ch in row):
            return None, "the language model's transcription holds characters that are not cells"
        grid: Grid = [[int(ch) if ch.isdigit() else 0 for ch in row] for row in got.rows]
        differences = transcription_differences(grid, message)
        if differences:
            self.calls[-1].ok = False
            self.calls[-1].error = "transcription differs from the message: " + "; ".join(differences)
            return None, ("the language model's transcription is not the grid you wrote: " + "; ".join(differences))
        return grid, None

    def explain(self, facts: BaseModel, template: str, knowledge: Knowledge) -> str:
        """The model's wording of `facts` if every claim it makes holds (`claims.check_claims`
        against `knowledge`); else `template`, with a note."""
        if not self.uses_model:
            return template
        payload = facts.model_dump_json()
        messages = [{"role": "system", "content": _EXPLAIN_PROMPT}, {"role": "user", "content": payload}]
        got = self._call("explanation", messages, Explanation, max_tokens=300)
        if got is None:
            return template
        text = got.text.strip()
        bad = failed(check_claims(text, knowledge)) if text else []
        if not text or bad:
            self.notes.append("Note: the language model's wording said things the verifier's facts do not support, "
                              "so I used the built-in text.")
            self.calls[-1].ok = False
            self.calls[-1].error = REJECTED_EXPLANATION if bad else "empty explanation"
            self.calls[-1].failed_claims = [f"{c.kind}: {c.text!r}: {c.why}" for c in bad[:20]]
            return template
        return text


def _ms(start: float) -> float:
    return round(1000 * (time.perf_counter() - start), 1)
