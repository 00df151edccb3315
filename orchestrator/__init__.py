"""Chat front end for the HRM reasoner: a LangGraph graph around `reasoner.solve` and the verifiers.

    from orchestrator import ask
    reply = ask("solve this sudoku: 1..4.4....2..3..", thread_id="me")
    print(reply.text)         # the reply, grids drawn as grids
    reply.answer, reply.verified, reply.status, reply.path, reply.trace_id

    ask("give me a hint", thread_id="me")   # threads remember their puzzle

`python -m orchestrator chat --help` explains the command line. A language model behind an
OpenAI-compatible server (default http://127.0.0.1:8000/v1) is used when one answers; otherwise
a rule-based language layer does the talking. Answers only ever come from a verified SolveResult.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Names are imported on first use: the reasoner pulls in torch, and `python -m orchestrator chat
# --help` should answer without loading it.
_EXPORTS = {
    "ask": "api", "configure": "api", "Orchestrator": "api", "Reply": "state",
    "Settings": "config",
    "extract_sudoku": "extract", "extract_maze": "extract", "llm_grid_matches_text": "extract",
    "SudokuExtraction": "extract",
    "SolveFacts": "facts", "HintFacts": "facts", "CheckFacts": "facts",
    "LLMClient": "llm", "LLMError": "llm",
}
__all__ = [
    "CheckFacts",
    "HintFacts",
    "LLMClient",
    "LLMError",
    "Orchestrator",
    "Reply",
    "Settings",
    "SolveFacts",
    "SudokuExtraction",
    "ask",
    "configure",
    "extract_maze",
    "extract_sudoku",
    "llm_grid_matches_text",
]

if TYPE_CHECKING:
    from .api import Orchestrator, ask, configure
    from .config import Settings
    from .extract import SudokuExtraction, extract_maze, extract_sudoku, llm_grid_matches_text
    from .facts import CheckFacts, HintFacts, SolveFacts
    from .llm import LLMClient, LLMError
    from .state import Reply


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
