"""What the chat graph works on: one turn's input and working values, the thread's memory, and
the reply the turn ends with.

A turn starts from the user's message alone. Its working values (intent, grid, answer, ...) are
LangGraph channels that are never checkpointed (`UntrackedValue`), so every turn starts from a
clean slate and nobody has to clear them. The thread's memory (its puzzle, the verified solution,
the difficulty, ...) is checkpointed under the thread id, which is what lets "now a harder one"
or "what is in row 3?" refer to earlier turns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict, TypeVar

from langgraph.channels import UntrackedValue
from pydantic import BaseModel

from .config import Settings
from .extract import Grid, SudokuExtraction
from .facts import CheckFacts, HintFacts
from .language import Intent, LanguageLayer
from .trace import TraceRecord

T = TypeVar("T")
# A value of this turn only: kept while the graph runs, never written to the checkpointer.
ThisTurn = Annotated[T, UntrackedValue]


class TurnNotes(UntrackedValue):
    """The turn's notes: what each node adds is appended, in the order the nodes ran (and, like
    every turn value, forgotten when the turn ends)."""

    def update(self, values: Sequence[list[str]]) -> bool:
        if not values:
            return False
        self.value = [*(self.get() if self.is_available() else []), *(note for notes in values for note in notes)]
        return True


class Reply(BaseModel):
    """What the orchestrator answers to one message."""

    text: str  # the reply for the user, grids drawn as grids
    ok: bool  # the request was carried out (solved, hinted, checked, generated, looked up, explained)
    intent: Intent
    task: str | None  # sudoku | maze | arc | None
    grid: Grid | None = None  # the puzzle the reply is about (its givens)
    answer: Grid | list[str] | None = None  # only ever a verified answer (a maze: its rows with the path as 'o')
    verified: bool = False
    # solved | multiple_solutions | no_solution | unsolved (solver); correct | incorrect (check);
    # generated; unavailable | contradictory | bad_input; None otherwise
    status: str | None = None
    path: str | None = None  # hrm | hrm+repair | search: what produced the answer
    hint: HintFacts | None = None
    check: CheckFacts | None = None
    notes: list[str] = []
    language: Literal["model", "rules"]
    thread_id: str
    trace_id: str  # the request id in the trace file


class TurnInput(TypedDict):
    message: ThisTurn[str]


class Turn(TypedDict, total=False):
    """Working values of one turn; a key no node has written this turn is absent."""

    intent: ThisTurn[str]  # absent: "other"
    task: ThisTurn[str]  # sudoku | maze | arc | none
    found: ThisTurn[SudokuExtraction]  # the sudoku grids code read in the message (read once per turn)
    grid: ThisTurn[Grid | None]  # the puzzle this turn works on (givens)
    grid_source: ThisTurn[str | None]  # text | llm | memory | generated
    user_answer: ThisTurn[Grid | None]  # the answer to check
    maze: ThisTurn[list[str] | None]
    solve_facts: ThisTurn[dict | None]
    answer: ThisTurn[Grid | list[str] | None]  # the solver's answer; shown only when `verified`
    # A verifier accepted `answer`: this turn in the verify node, or (lookup) when verify stored it
    # as the thread's solution.
    verified: ThisTurn[bool]
    path_length: ThisTurn[int | None]  # cells on a verified maze path, S and G included
    status: ThisTurn[str | None]
    path: ThisTurn[str | None]
    hint: ThisTurn[dict | None]
    check: ThisTurn[dict | None]
    lines: ThisTurn[list[str]]  # the reply's paragraphs, in order
    notes: Annotated[list[str], TurnNotes]  # said after the paragraphs
    ok: ThisTurn[bool]
    stop: ThisTurn[bool]  # a node has said the last word; go to reply
    reply: ThisTurn[Reply]  # what the turn answers, made by the last node


class Memory(TypedDict, total=False):
    """The thread's memory, kept across turns by the checkpointer."""

    puzzle: Grid | None
    solution: Grid | None  # the verified answer of `puzzle`: written only by the verify node
    solution_facts: dict | None
    revealed: bool  # the user has seen the whole solution
    level: int | None
    told_no_model: bool
    last_intent: str | None
    steps_shown: int  # how many steps of the puzzle's solving path the user has seen


class ChatState(TurnInput, Turn, Memory):
    """What the nodes read: this turn's values and the thread's memory."""


class TurnOutput(TypedDict):
    reply: Reply


@dataclass
class TurnContext:
    """Per-request objects handed to every node (LangGraph's runtime context, not stored)."""

    settings: Settings
    language: LanguageLayer
    trace: TraceRecord
    solver: Callable[..., Any]  # reasoner.solve, replaceable in tests
    no_model_reason: str | None = None  # why the rule-based layer is answering, if it is
    progress: Callable[[str, str, float | None], None] | None = None
