"""The LangGraph graph: understand -> extract -> solve -> verify -> explain -> reply.

    START -> understand -+-> extract -> solve -> verify -> explain -> reply -> END
                         |      (check: extract -> verify; a problem: straight to reply)
                         +-> generate -> reply
                         +-> lookup ---> reply
                         +-> explain --> reply      (about the thread's last result)
                         +-> reply                  (empty / too long / unsupported / refusal / help)

The nodes are in nodes.py, the state in state.py: a turn goes in as its message and comes out as
the Reply the reply node made; the thread's memory stays in the checkpointer under the thread id.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from . import nodes
from .language import wants_steps
from .state import ChatState, TurnContext, TurnInput, TurnOutput
from .trace import NodeVisit


def _after_understand(state: ChatState) -> str:
    if state.get("stop"):
        return "reply"
    intent = state["intent"]
    if intent == "generate":
        return "generate"
    if intent == "lookup":
        return "lookup"
    if intent == "explain" and not state["found"].grids and not wants_steps(state["message"]):
        return "explain"
    return "extract"


def _after_extract(state: ChatState) -> str:
    if state.get("stop"):
        return "reply"
    return "verify" if state["intent"] == "check" and state["task"] != "maze" else "solve"


def _after_solve(state: ChatState) -> str:
    return "reply" if state.get("stop") else "verify"


def _timed(name: str, fn: Callable[[ChatState, TurnContext], dict]):
    """Runs a node with its progress events and its time in the trace."""

    def node(state: ChatState, runtime: Runtime[TurnContext]) -> dict:
        ctx = runtime.context
        if ctx.progress:
            ctx.progress("start", name, None)
        start = time.perf_counter()
        out = fn(state, ctx)
        ms = round(1000 * (time.perf_counter() - start), 1)
        ctx.trace.nodes.append(NodeVisit(node=name, ms=ms))
        if ctx.progress:
            ctx.progress("end", name, ms)
        return out

    node.__name__ = name
    return node


def build_graph() -> StateGraph:
    graph = StateGraph(ChatState, context_schema=TurnContext, input_schema=TurnInput, output_schema=TurnOutput)
    for fn in [nodes.understand, nodes.extract, nodes.solve, nodes.verify, nodes.explain, nodes.generate,
               nodes.lookup, nodes.reply]:
        graph.add_node(fn.__name__, _timed(fn.__name__, fn))
    graph.add_edge(START, "understand")
    graph.add_conditional_edges("understand", _after_understand, ["reply", "generate", "lookup", "explain", "extract"])
    graph.add_conditional_edges("extract", _after_extract, ["reply", "verify", "solve"])
    graph.add_conditional_edges("solve", _after_solve, ["reply", "verify"])
    graph.add_edge("verify", "explain")
    graph.add_edge("explain", "reply")
    graph.add_edge("generate", "reply")
    graph.add_edge("lookup", "reply")
    graph.add_edge("reply", END)
    return graph


def compile_graph(checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """The runnable graph, keeping the threads' memory in `checkpointer` (default: in memory, gone
    with the process; `sqlite_checkpointer` keeps it across restarts)."""
    return build_graph().compile(checkpointer=checkpointer if checkpointer is not None else InMemorySaver())


def sqlite_checkpointer(path: Path) -> BaseCheckpointSaver:
    """Threads kept in a SQLite file, so a restarted process continues its conversations. Whoever
    opens it closes its connection (`.conn`)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    # Turns run one at a time, but not always on the thread that opened the file; the saver's
    # lock serialises its use of the connection.
    return SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))
