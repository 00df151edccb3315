"""The Python API: `ask(message, thread_id=...) -> Reply`, and the `Orchestrator` behind it."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from .config import Settings
from .graph import compile_graph, sqlite_checkpointer
from .language import LanguageLayer
from .llm import LLMClient
from .state import Reply, TurnContext
from .trace import MESSAGE_PREVIEW_CHARS, TraceRecord, write_trace

ProgressCallback = Callable[[str, str, "float | None"], None]


def clean_text(text: str) -> str:
    """`text` with lone surrogates (half a UTF-16 pair, or undecodable bytes Python kept as escapes)
    replaced by U+FFFD, so it can be encoded as UTF-8: stored in the trace, sent to the model,
    printed. A correct pair becomes its character."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


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
        if checkpointer is None and self.settings.threads_db:
            checkpointer = sqlite_checkpointer(self.settings.threads_db)
            self._db = checkpointer.conn  # opened here, so closed by close()
        self._graph = compile_graph(checkpointer)
        self.checkpointer: BaseCheckpointSaver = self._graph.checkpointer
        self._lock = threading.Lock()  # one turn at a time: the threads share the model and the graph

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
            result: Reply = self._graph.invoke({"message": message}, config, context=ctx)["reply"]
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
