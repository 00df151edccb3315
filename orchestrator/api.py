"""The Python API: `ask(message, thread_id=...) -> Reply`, and the `Orchestrator` behind it."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel

from .config import Settings
from .extract import Grid
from .facts import CheckFacts, HintFacts
from .graph import GraphState, TurnContext, build_graph, turn_input
from .language import Intent, LanguageLayer
from .llm import LLMClient
from .trace import MESSAGE_PREVIEW_CHARS, TraceRecord, write_trace

ProgressCallback = Callable[[str, str, "float | None"], None]


def clean_text(text: str) -> str:
    """`text` with lone surrogates (half a UTF-16 pair, or undecodable bytes Python kept as escapes)
    replaced by U+FFFD, so it can be encoded as UTF-8: stored in the trace, sent to the model,
    printed. A correct pair becomes its character."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


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


class Orchestrator:
    """One graph, one checkpointer (the threads' memory: in memory, or SQLite at `settings.threads_db`),
    one model client."""

    def __init__(self, settings: Settings | None = None, *, solver: Callable[..., Any] | None = None,
                 checkpointer: BaseCheckpointSaver | None = None):
        self.settings = settings or Settings.from_env()
        self.llm = None
        if self.settings.llm_url:
            self.llm = LLMClient(
                self.settings.llm_url, self.settings.llm_model, timeout=self.settings.llm_timeout,
                connect_timeout=self.settings.llm_connect_timeout, api_key=self.settings.llm_api_key,
            )
        if solver is None:
            from reasoner import solve as solver  # torch loads here, once, not at package import
        self._solver = solver
        self._db: sqlite3.Connection | None = None
        if checkpointer is None:
            checkpointer = self._sqlite_saver(self.settings.threads_db) if self.settings.threads_db else InMemorySaver()
        self._graph = build_graph().compile(checkpointer=checkpointer)
        self._lock = threading.Lock()  # one turn at a time: the threads share the model and the graph

    def _sqlite_saver(self, path) -> BaseCheckpointSaver:
        """Threads kept in a SQLite file, so a restarted process continues its conversations."""
        from langgraph.checkpoint.sqlite import SqliteSaver

        path.parent.mkdir(parents=True, exist_ok=True)
        # Turns run one at a time (self._lock), but not always on the thread that opened the file.
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        return SqliteSaver(self._db)

    def close(self) -> None:
        if self.llm is not None:
            self.llm.close()
        if self._db is not None:
            self._db.close()
            self._db = None

    def _language(self) -> tuple[LanguageLayer, str | None]:
        """The language layer for this turn and, when it is rules only, the reason (told once per thread)."""
        if self.llm is None:
            return LanguageLayer(None), ("(No language model is configured, so I am using the built-in rule-based "
                                         "language layer: keyword intents and template explanations.)")
        if not self.llm.available():
            return LanguageLayer(None), (f"(No language model answers at {self.settings.llm_url}, so I am using the "
                                         "built-in rule-based language layer: keyword intents and template explanations.)")
        return LanguageLayer(self.llm), None

    def ask(self, message: str, thread_id: str | None = "default", *, progress: ProgressCallback | None = None) -> Reply:
        """Any str is answered (TypeError for a message that is not a str); thread_id None is the default thread."""
        if not isinstance(message, str):
            raise TypeError(f"message must be a str, got {type(message).__name__}")
        if thread_id is not None and not isinstance(thread_id, str):
            raise TypeError(f"thread_id must be a str (or None for the default thread), got {type(thread_id).__name__}")
        with self._lock:
            return self._ask(clean_text(message), clean_text(thread_id or "default"), progress)

    def _ask(self, message: str, thread_id: str, progress: ProgressCallback | None) -> Reply:
        request_id = uuid.uuid4().hex[:16]
        started = time.perf_counter()
        # Nothing to classify in an empty or oversized message: don't wake the model for it.
        usable = bool(message.strip()) and len(message) <= self.settings.max_message_chars
        language, no_model = self._language() if usable else (LanguageLayer(None), None)
        trace = TraceRecord(
            request_id=request_id, thread_id=thread_id, started_at=time.time(), message_chars=len(message),
            message_preview=message[:MESSAGE_PREVIEW_CHARS], language="model" if language.uses_model else "rules",
        )
        ctx = TurnContext(settings=self.settings, language=language, trace=trace, solver=self._solver,
                          no_model_reason=no_model, progress=progress)
        config = {"configurable": {"thread_id": thread_id}}
        try:
            state: GraphState = self._graph.invoke(turn_input(message), config, context=ctx)
            result = self._reply(state, language, thread_id, request_id)
        except Exception as err:  # noqa: BLE001 -- a bug must still end in a clear reply (and a trace), never a traceback
            trace.error = f"{type(err).__name__}: {err}"
            result = Reply(
                text=f"Something went wrong on my side ({type(err).__name__}: {err}). Nothing unverified was shown; "
                     "please try again or rephrase.",
                ok=False, intent="other", task=None, language=trace.language, thread_id=thread_id, trace_id=request_id,
            )
        trace.model_calls = list(language.calls)
        trace.intent, trace.task, trace.status, trace.ok = result.intent, result.task, result.status, result.ok
        trace.total_ms = round(1000 * (time.perf_counter() - started), 1)
        write_trace(self.settings.trace_path, trace)
        return result

    @staticmethod
    def _reply(state: GraphState, language: LanguageLayer, thread_id: str, request_id: str) -> Reply:
        notes = list(state.get("notes") or []) + language.notes
        text = "\n\n".join([*state.get("lines", []), *notes])
        answer = state.get("answer") if state.get("verified") else None  # only verified answers leave
        task = state.get("task")
        return Reply(
            text=text, ok=bool(state.get("ok")), intent=state.get("intent", "other"),
            task=None if task in (None, "none") else task, grid=state.get("grid"), answer=answer,
            verified=answer is not None, status=state.get("status"), path=state.get("path") if answer else None,
            hint=state.get("hint"), check=state.get("check"), notes=notes,
            language="model" if language.uses_model else "rules", thread_id=thread_id, trace_id=request_id,
        )

    def memory(self, thread_id: str) -> dict:
        """The thread's stored state (for debugging and tests)."""
        return dict(self._graph.get_state({"configurable": {"thread_id": thread_id}}).values)


_default: Orchestrator | None = None
_default_lock = threading.Lock()


def default_orchestrator() -> Orchestrator:
    global _default
    with _default_lock:
        if _default is None:
            _default = Orchestrator()
        return _default


def configure(settings: Settings | None = None, **overrides) -> Orchestrator:
    """Replace the orchestrator `ask()` uses (settings from the environment plus `overrides`).
    Its threads start empty."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.close()
        _default = Orchestrator(settings or Settings.from_env(**overrides))
        return _default


def ask(message: str, thread_id: str | None = "default", *, progress: ProgressCallback | None = None) -> Reply:
    """Answer one chat message (any str) in a conversation thread; see `Reply`."""
    return default_orchestrator().ask(message, thread_id, progress=progress)
