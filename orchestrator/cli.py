"""`python -m orchestrator chat`: talk to the HRM reasoner from a terminal.  --help explains."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import (
    DEFAULT_LLM_URL,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_SERVE_HOST,
    DEFAULT_SERVE_PORT,
    DEFAULT_TRACE_PATH,
    Settings,
)

DESCRIPTION = """\
Chat with the HRM reasoner. Solve, check, hint at, explain and generate sudoku (4x4, 6x6, 9x9).
Every answer shown comes from the HRM (with repair or search when needed) and has passed the
rule-based verifier; nothing unverified is ever printed as an answer.
"""

SERVE_DESCRIPTION = f"""\
Serve the agent on http://{DEFAULT_SERVE_HOST}:{DEFAULT_SERVE_PORT} (--host/--port): the web page at /, the API at /v1/...
(solve, chat with server-sent events, an OpenAI-compatible /v1/chat/completions with the model
"hrm-agent"), health at /healthz, OpenAPI docs at /docs. Threads live in memory unless
--threads-db (or HRM_THREADS_DB) names a SQLite file, which keeps them across restarts.
"""

MCP_DESCRIPTION = """\
An MCP server on standard input/output (the official mcp SDK) with the tools solve_sudoku,
solve_maze, check_sudoku and hint; every answer they return has passed the rule-based verifier.
Register it in an MCP client as the command `python -m orchestrator mcp`.
"""

EPILOG = f"""\
one message (prints the reply, exit status 0 if the request was carried out, 1 if not, 2 if the
message is not UTF-8 text):
  python -m orchestrator chat "solve this sudoku: 53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
  python -m orchestrator chat "generate a 4x4 sudoku" --thread me
  python -m orchestrator chat - < puzzle.txt             # the message from standard input

interactive (no message): type messages, one per line; a grid pasted over several lines is read
until it is complete or an empty line follows. 'quit', 'exit' or end of input (Ctrl-D) leaves.
A thread remembers its puzzle: "give me a hint", "what is in row 3?", "check my answer: ...",
"explain", "now a harder one" refer to earlier turns. Threads live in memory, so in one-shot mode
memory lasts for one message, unless --threads-db (or HRM_THREADS_DB) names a SQLite file that keeps
them across runs:
  python -m orchestrator chat "generate a 4x4 sudoku" --thread me --threads-db runs/threads.db
  python -m orchestrator chat "give me a hint" --thread me --threads-db runs/threads.db

grids: one line of 16/36/81 cells or one row per line; blanks . 0 _ ; separators | + - and
spaces are ignored; JSON arrays of arrays work too. Mazes (#, space, S, G) are read and checked,
and solved with a shipped maze-NxN checkpoint where one exists; no ARC reasoner is wired into the chat yet.

language model: an OpenAI-compatible server (e.g. vLLM; `python -m orchestrator llm serve` starts
a small one on this machine, see `python -m orchestrator llm --help`) at --llm-url (default {DEFAULT_LLM_URL},
env HRM_LLM_URL) classifies requests, reads grids described in words (checked against your
digits) and words explanations from the verifier's facts only. Without one, built-in rules do
this, and the first reply of a thread says so.

progress: each step of the graph (understand, extract, solve, verify, explain, reply, ...) is
reported on standard error with its time; --quiet turns that off.

trace: every request appends one JSON line (request id, thread id, steps and timings, model
calls, verifier verdicts) to --trace (default ./{DEFAULT_TRACE_PATH}, env HRM_TRACE_PATH).

environment: HRM_LLM_URL, HRM_LLM_MODEL, HRM_LLM_TIMEOUT, HRM_LLM_API_KEY, HRM_TRACE_PATH, HRM_THREADS_DB.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m orchestrator", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chat = commands.add_parser("chat", help="one message, or an interactive conversation", description=DESCRIPTION,
                               epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    chat.add_argument("message", nargs="?", help="the message ('-' reads it from standard input); "
                      "none starts the interactive mode")
    chat.add_argument("--thread", default="cli", help="conversation thread id (default: cli)")
    _common(chat)
    chat.add_argument("--timeout", type=float, help="seconds to wait for one model reply (default 30)")
    chat.add_argument("--json", action="store_true", help="print each reply as JSON (the Reply model) instead of text")
    chat.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    from . import llm_server  # standard library only: --help stays fast

    llm_server.add_parser(commands)
    serve = commands.add_parser("serve", help="the HTTP API, an OpenAI-compatible endpoint and the web page",
                                description=SERVE_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--host", default=DEFAULT_SERVE_HOST,
                       help=f"address to bind (default {DEFAULT_SERVE_HOST}: this machine only)")
    serve.add_argument("--port", type=int, default=DEFAULT_SERVE_PORT, help=f"port (default {DEFAULT_SERVE_PORT})")
    serve.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY_BYTES,
                       help=f"largest request body in bytes (default {DEFAULT_MAX_BODY_BYTES})")
    serve.add_argument("--max-concurrent", type=int, default=DEFAULT_MAX_CONCURRENT,
                       help=f"requests in progress at once; more are answered 503 at once (default {DEFAULT_MAX_CONCURRENT})")
    _common(serve)
    mcp = commands.add_parser("mcp", help="MCP tools over stdio: solve_sudoku, solve_maze, check_sudoku, hint",
                              description=MCP_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    mcp.add_argument("--checkpoint", help="HRM weights to solve with (default: the shipped checkpoint per size)")
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    """The options `chat` and `serve` share."""
    parser.add_argument("--llm-url", help=f"OpenAI-compatible base URL (default: {DEFAULT_LLM_URL} or HRM_LLM_URL)")
    parser.add_argument("--model", help="model name to request (default: HRM_LLM_MODEL, else the server's first model)")
    parser.add_argument("--no-llm", action="store_true", help="use the rule-based language layer only")
    parser.add_argument("--trace", type=Path, help=f"trace file (default: ./{DEFAULT_TRACE_PATH} or HRM_TRACE_PATH)")
    parser.add_argument("--checkpoint", help="HRM weights to solve with (default: the shipped checkpoint per size)")
    parser.add_argument("--threads-db", type=Path, help="SQLite file that keeps the conversation threads across "
                        "restarts (default: HRM_THREADS_DB, else in memory: threads end with the process)")


def _progress(event: str, node: str, ms: float | None) -> None:
    if event == "start":
        print(f"  {node} ...", end="", file=sys.stderr, flush=True)
    else:
        print(f" {ms:.0f} ms", file=sys.stderr, flush=True)


def _print_reply(reply, as_json: bool) -> None:
    print(reply.model_dump_json(indent=2) if as_json else reply.text, flush=True)


def _repl(orch, args) -> int:
    from reasoner.textio import UndecodableInputError, argument_text

    from .extract import extract_sudoku, is_grid_line

    interactive = sys.stdin.isatty()
    if hasattr(sys.stdin, "reconfigure"):  # undecodable bytes arrive as escapes, reported per message below
        sys.stdin.reconfigure(errors="surrogateescape")
    if interactive:
        print("HRM chat. Paste a puzzle or ask something; 'quit' leaves.", file=sys.stderr)
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            return 0
        if line.strip().lower() in ("quit", "exit", ":q"):
            return 0
        lines = [line]
        # A grid pasted over several lines arrives one line at a time: keep reading until it is
        # complete or an empty line ends it.
        while is_grid_line(lines[-1]) and not extract_sudoku("\n".join(lines)).grids:
            try:
                more = input("...> " if interactive else "")
            except EOFError:
                break
            if not more.strip():
                break
            lines.append(more)
        try:
            message = argument_text("\n".join(lines), "that message")
        except UndecodableInputError as err:
            print(f"error: {err}; type it again", file=sys.stderr)
            continue
        if not message.strip():
            continue
        reply = orch.ask(message, args.thread, progress=None if args.quiet else _progress)
        _print_reply(reply, args.json)
        if interactive:
            print(file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "llm":
        from . import llm_server

        return llm_server.run(args)
    if args.command == "mcp":
        from . import mcp_server

        return mcp_server.run(args.checkpoint)
    settings = Settings.from_env(
        llm_url="none" if args.no_llm else args.llm_url, llm_model=args.model,
        llm_timeout=getattr(args, "timeout", None), trace_path=args.trace, checkpoint=args.checkpoint,
        threads_db=args.threads_db,
    )
    if args.command == "serve":
        from . import server

        return server.run(args, settings)
    from reasoner.textio import UndecodableInputError, argument_text, read_stdin

    from .api import Orchestrator  # after parsing, so --help answers without loading torch

    try:
        message = None if args.message is None else (
            read_stdin(sys.stdin) if args.message == "-" else argument_text(args.message, "the message argument"))
    except UndecodableInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    orch = Orchestrator(settings)
    try:
        if message is None:
            return _repl(orch, args)
        reply = orch.ask(message, args.thread, progress=None if args.quiet else _progress)
        _print_reply(reply, args.json)
        return 0 if reply.ok else 1
    except KeyboardInterrupt:
        return 130
    finally:
        orch.close()
