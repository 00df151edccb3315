"""`python -m orchestrator serve`: the agent over HTTP, and its web page.

    GET  /                     the web page (orchestrator/web/: no build step, nothing fetched from outside)
    GET  /healthz              liveness and what is loaded
    POST /v1/solve             reasoner.solve() as JSON: {"puzzle", "task", "options"} -> SolveResult / MazeSolveResult
    POST /v1/solve/steps       the same, plus the HRM's answer after every segment (the page's stepper)
    POST /v1/chat              {"message", "thread_id"} -> Reply; "stream": true sends server-sent events
    POST /v1/chat/completions  OpenAI-compatible (model "hrm-agent"), streaming too
    GET  /v1/models            the one model, for OpenAI clients that ask
    GET  /docs                 OpenAPI documentation

Errors are JSON in the OpenAI shape, {"error": {"type", "message"}}, with a 4xx/5xx status. Request
bodies are bounded (413 beyond), and so is the number of requests in progress (503 beyond, with
Retry-After); the limits are in config.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from .api import Orchestrator
from .config import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT, DEFAULT_SERVE_HOST, Settings
from .puzzles import clash
from reasoner.inference import MAX_VIEWS

from .segments import MAX_SEGMENTS, segment_steps
from .state import Reply

MODEL_NAME = "hrm-agent"
WEB_DIR = Path(__file__).parent / "web"
THREAD_ID = r"^[A-Za-z0-9_.:@-]{1,128}$"


# --------------------------------------------------------------------------------------------
# Request models
# --------------------------------------------------------------------------------------------


class SolveOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segments: int | None = Field(None, ge=1, le=MAX_SEGMENTS,
                                 description="segments the HRM runs at most (default: the checkpoint's M_max)")
    halting: Literal["act", "fixed", "verified"] = Field(
        "act", description="answer where the Q-head halts, after all segments, or at the first segment whose answer "
                           "the rule checker accepts")
    repair: bool = Field(True, description="complete a wrong HRM answer (model-guided repair, then search); "
                                           "False: the HRM's verdict alone")
    views: int = Field(1, ge=1, le=MAX_VIEWS, description="run the puzzle as this many symmetric copies; with "
                       "halting 'verified' the first whose answer verifies answers, else the copy the Q-head is "
                       "surest of")
    commit: int = Field(0, ge=0, le=81, description="sudoku, committed decoding: after every segment the puzzle "
                        "(each copy) writes its this many surest blank cells into its input as givens (0: off)")
    give_up: bool = Field(True, description="with halting 'verified': stop where the Q-head rates the answer hopeless (not with views > 1 or commit)")


class SolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    puzzle: str | list[list[int]] | list[str] = Field(
        description="one puzzle: text (81 characters, or rows; blanks . 0 _), a list of rows of ints, or a maze's rows")
    # solve()'s tasks (reasoner.inference.POLICIES), spelled out for the OpenAPI schema; tests/test_registry.py
    # checks they agree.
    task: Literal["sudoku", "maze"] = "sudoku"
    options: SolveOptions = SolveOptions()


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str
    thread_id: str = Field("default", pattern=THREAD_ID, description="the conversation; it remembers its puzzle")
    stream: bool = Field(False, description="send the graph's steps and then the reply as server-sent events")


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: only text parts carry anything for us
            return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ...: accepted, and meaningless here

    model: str = MODEL_NAME
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = Field(None, description="also the thread id, when no thread_id is given")
    thread_id: str | None = Field(None, pattern=THREAD_ID, description="extension: the conversation thread")


class APIError(Exception):
    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def error_body(kind: str, message: str) -> dict:
    return {"error": {"type": kind, "message": message}}


# --------------------------------------------------------------------------------------------
# Limits: body size and requests in progress (plain ASGI, so streamed bodies are counted too)
# --------------------------------------------------------------------------------------------


class Limits:
    def __init__(self, app, max_body: int, max_concurrent: int):
        self.app, self.max_body, self.max_concurrent = app, max_body, max_concurrent
        self.in_progress = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await self._refuse(send, 413, "request_too_large", f"the request body is {int(length):,} bytes; "
                                      f"at most {self.max_body:,} are accepted")
        if self.in_progress >= self.max_concurrent:
            return await self._refuse(send, 503, "server_busy", f"{self.in_progress} requests are in progress, the "
                                      "limit; retry in a moment", [(b"retry-after", b"1")])
        self.in_progress += 1
        try:
            body, more = b"", True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_body:
                    return await self._refuse(send, 413, "request_too_large",
                                              f"the request body is over {self.max_body:,} bytes")
            replayed = False

            async def replay():
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()  # after the body: the disconnect, for streaming responses

            await self.app(scope, replay, send)
        finally:
            self.in_progress -= 1

    @staticmethod
    async def _refuse(send, status: int, kind: str, message: str, headers: list | None = None) -> None:
        body = json.dumps(error_body(kind, message)).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                *(headers or [])]})
        await send({"type": "http.response.body", "body": body})


# --------------------------------------------------------------------------------------------
# OpenAI clients send the whole conversation each time: which thread is it?
# --------------------------------------------------------------------------------------------


class ThreadIndex:
    """Maps a conversation's transcript (as a client will send it next time) to its thread id.

    A client that names its thread (`thread_id`, `user`, or the X-Thread-Id header) needs none of
    this. Otherwise the transcript after each reply is remembered, so the next request, which
    carries it, continues the same thread. With threads in SQLite the index is kept beside them:
    the checkpointer's own file and connection, used under its lock."""

    LIMIT = 10_000  # transcripts remembered in memory

    def __init__(self, checkpointer: BaseCheckpointSaver):
        self._lock = threading.Lock()
        self._memory: OrderedDict[str, str] = OrderedDict()
        self._db = None
        if isinstance(checkpointer, SqliteSaver):
            self._db, self._lock = checkpointer.conn, checkpointer.lock
            with self._lock:
                self._db.execute("CREATE TABLE IF NOT EXISTS openai_threads (transcript TEXT PRIMARY KEY, thread TEXT)")
                self._db.commit()

    @staticmethod
    def key(messages: list[tuple[str, str]]) -> str:
        return hashlib.sha256(json.dumps(messages).encode()).hexdigest()

    def find(self, messages: list[tuple[str, str]]) -> str | None:
        key = self.key(messages)
        with self._lock:
            if self._db is not None:
                row = self._db.execute("SELECT thread FROM openai_threads WHERE transcript = ?", (key,)).fetchone()
                return row[0] if row else None
            return self._memory.get(key)

    def remember(self, messages: list[tuple[str, str]], thread: str) -> None:
        key = self.key(messages)
        with self._lock:
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO openai_threads VALUES (?, ?)", (key, thread))
                self._db.commit()
                return
            self._memory[key] = thread
            while len(self._memory) > self.LIMIT:
                self._memory.popitem(last=False)


def _transcript(messages: list[ChatMessage]) -> list[tuple[str, str]]:
    # Only what a chat client keeps showing: system prompts and tool messages vary between clients.
    return [(m.role, m.text().strip()) for m in messages if m.role in ("user", "assistant")]


# --------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------


class Service:
    """The orchestrator, the solver and the thread index behind the routes."""

    def __init__(self, settings: Settings, orchestrator: Orchestrator | None = None,
                 solver: Callable[..., Any] | None = None):
        self.settings = settings
        if solver is None:
            from reasoner import solve as solver  # torch loads here, not at import
        self.solver = solver
        self.orchestrator = orchestrator or Orchestrator(settings, solver=solver)
        self.threads = ThreadIndex(self.orchestrator.checkpointer)
        self.started = time.time()

    def close(self) -> None:
        self.orchestrator.close()

    def solve(self, request: SolveRequest):
        from reasoner import PuzzleInputError
        from reasoner.tasks import ContradictoryPuzzleError

        options = request.options.model_dump(exclude_none=True)
        try:
            return self.solver(request.puzzle, task=request.task, checkpoint=self.settings.checkpoint, **options)
        except ContradictoryPuzzleError:
            raise APIError(422, "contradictory_puzzle", clash(request.puzzle)) from None
        except PuzzleInputError as err:
            raise APIError(422, "bad_puzzle", str(err)) from None
        except FileNotFoundError as err:  # no checkpoint for this size
            raise APIError(422, "unsupported_size", str(err)) from None
        except (ValueError, NotImplementedError) as err:
            raise APIError(422, "bad_request", str(err)) from None

    def solve_steps(self, request: SolveRequest) -> dict:
        result = self.solve(request)
        try:
            steps = segment_steps(result, request.options.segments)
        except ValueError as err:
            raise APIError(422, "bad_request", str(err)) from None
        return {"result": result.model_dump(), "steps": [s.model_dump() for s in steps]}


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


async def _ask_streaming(service: Service, message: str, thread_id: str) -> AsyncIterator[tuple[str, Any]]:
    """The turn in a worker thread; its progress events as ("step", {...}), then ("reply", Reply)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def progress(event: str, node: str, ms: float | None) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, ("step", {"node": node, "event": event, "ms": ms}))

    def turn() -> None:
        try:
            reply = service.orchestrator.ask(message, thread_id, progress=progress)
        except Exception as err:  # noqa: BLE001 -- the stream must end with an event, not hang
            failure = error_body("internal_error", f"{type(err).__name__}: {err}")
            loop.call_soon_threadsafe(queue.put_nowait, ("error", failure))
        else:
            loop.call_soon_threadsafe(queue.put_nowait, ("reply", reply))

    worker = asyncio.ensure_future(run_in_threadpool(turn))
    try:
        while True:
            kind, data = await queue.get()
            yield kind, data
            if kind in ("reply", "error"):
                return
    finally:
        await worker


def _docs(app: FastAPI) -> None:
    """The OpenAPI page at /docs with Swagger UI from the swagger-ui-bundle package, not a CDN: the
    server works on a machine without internet."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title}: API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css", swagger_favicon_url="data:,")


def _error_handlers(app: FastAPI) -> None:
    """Every error as JSON in the OpenAI shape, with its status."""

    @app.exception_handler(APIError)
    async def api_error(_: Request, err: APIError):
        return JSONResponse(error_body(err.kind, err.message), status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError):
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                            for e in err.errors()[:5])
        return JSONResponse(error_body("invalid_request", reasons), status_code=422)

    @app.exception_handler(404)
    async def not_found(request: Request, _):
        return JSONResponse(error_body("not_found", f"no route {request.method} {request.url.path}"), status_code=404)

    @app.exception_handler(405)
    async def not_allowed(request: Request, _):
        return JSONResponse(error_body("method_not_allowed", f"{request.method} is not allowed on {request.url.path}"),
                            status_code=405)

    @app.exception_handler(Exception)
    async def crashed(_: Request, err: Exception):
        return JSONResponse(error_body("internal_error", f"{type(err).__name__}: {err}"), status_code=500)


def _page_routes(app: FastAPI, service: Service) -> None:
    """The web page, its files, and the health check."""

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(WEB_DIR / "index.html")

    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")

    @app.get("/healthz", summary="liveness")
    def healthz() -> dict:
        s = service.settings
        return {"status": "ok", "model": MODEL_NAME, "uptime_s": round(time.time() - service.started, 1),
                "language_model": s.llm_url or "none (rule-based)", "threads": "sqlite" if s.threads_db else "memory"}


def _solve_routes(app: FastAPI, service: Service) -> None:
    """reasoner.solve() as JSON, with or without the HRM's answer after every segment."""

    @app.post("/v1/solve", summary="solve one sudoku or maze; the answer is set only when the verifier accepted it")
    def solve(request: SolveRequest) -> dict:
        return service.solve(request).model_dump()

    @app.post("/v1/solve/steps", summary="solve, plus the HRM's answer after every segment")
    def solve_steps(request: SolveRequest) -> dict:
        return service.solve_steps(request)


def _chat_routes(app: FastAPI, service: Service) -> None:
    """The chat: one message in a thread, its Reply as JSON or as server-sent events."""

    @app.post("/v1/chat", summary="one chat message in a thread -> the Reply (stream: server-sent events)",
              response_model=Reply)
    async def chat(request: ChatRequest):
        if not request.stream:
            return await run_in_threadpool(service.orchestrator.ask, request.message, request.thread_id)

        async def events():
            async for kind, data in _ask_streaming(service, request.message, request.thread_id):
                yield _sse(kind, data.model_dump() if isinstance(data, Reply) else data)
            yield _sse("done", {})

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@dataclass
class Completion:
    """One chat completion's answer in the OpenAI shape: whole, or as a stream of chunks."""

    thread: str
    id: str = field(default_factory=lambda: "chatcmpl-" + uuid.uuid4().hex[:24])
    created: int = field(default_factory=lambda: int(time.time()))

    def body(self, reply: Reply) -> dict:
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": MODEL_NAME,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                             "finish_reason": "stop", "logprobs": None}],
                "usage": None, "thread_id": self.thread, "hrm_reply": reply.model_dump()}

    def chunk(self, delta: dict, finish: str | None = None) -> str:
        return "data: " + json.dumps({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                                      "model": MODEL_NAME, "thread_id": self.thread,
                                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"

    async def events(self, service: Service, message: str, remember: Callable[[Reply], None]) -> AsyncIterator[str]:
        yield self.chunk({"role": "assistant", "content": ""})
        async for kind, data in _ask_streaming(service, message, self.thread):
            if kind == "step":  # an SSE comment: clients ignore it, people watching the stream see progress
                yield f": {data['node']} {data['event']}\n\n"
            elif kind == "reply":
                remember(data)
                for i, part in enumerate(data.text.split("\n\n")):
                    yield self.chunk({"content": ("\n\n" if i else "") + part})
            else:
                yield "data: " + json.dumps(data) + "\n\n"
        yield self.chunk({}, "stop")
        yield "data: [DONE]\n\n"


def _openai_routes(app: FastAPI, service: Service) -> None:
    """The OpenAI-compatible endpoint: the last user message is the turn; the thread is named, or
    found from the transcript the client sends."""

    @app.get("/v1/models", summary="the model an OpenAI client can name")
    def models() -> dict:
        return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": int(service.started),
                                            "owned_by": "hrm-reasoner"}]}

    @app.post("/v1/chat/completions", summary="OpenAI-compatible chat (the last user message is the turn)")
    async def completions(request: CompletionRequest, x_thread_id: str | None = Header(None)):
        if request.model != MODEL_NAME:
            raise APIError(404, "model_not_found", f"the model {request.model!r} does not exist; use {MODEL_NAME!r}")
        if request.messages[-1].role != "user":
            raise APIError(422, "invalid_request", "the last message must be the user's")
        message = request.messages[-1].text()
        transcript = _transcript(request.messages)
        named = request.thread_id or x_thread_id or request.user
        thread = named or service.threads.find(transcript[:-1]) or "chat-" + uuid.uuid4().hex[:16]
        completion = Completion(thread)

        def remember(reply: Reply) -> None:
            if not named:
                service.threads.remember([*transcript, ("assistant", reply.text.strip())], thread)

        if not request.stream:
            reply = await run_in_threadpool(service.orchestrator.ask, message, thread)
            remember(reply)
            return completion.body(reply)
        return StreamingResponse(completion.events(service, message, remember), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})


def create_app(service: Service) -> FastAPI:
    app = FastAPI(
        title="HRM agent", version="0.1.0", docs_url=None, redoc_url=None,
        description="A Hierarchical Reasoning Model with rule-based verifiers behind a chat agent. Every answer "
                    "returned as verified has passed the verifier.",
    )
    app.state.service = service
    _docs(app)
    _error_handlers(app)
    _page_routes(app, service)
    _solve_routes(app, service)
    _chat_routes(app, service)
    _openai_routes(app, service)
    return app


def build(settings: Settings, *, max_body: int = DEFAULT_MAX_BODY_BYTES, max_concurrent: int = DEFAULT_MAX_CONCURRENT,
          service: Service | None = None):
    """The ASGI application with its limits (what uvicorn serves and tests call)."""
    return Limits(create_app(service or Service(settings)), max_body, max_concurrent)


@contextmanager
def running(app, host: str = DEFAULT_SERVE_HOST, port: int = 0, timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` from a background thread (tests, the load test); yields its base URL. Port 0
    takes a free one."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="hrm-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def run(args, settings: Settings) -> int:
    import uvicorn

    service = Service(settings)
    app = build(settings, max_body=args.max_body, max_concurrent=args.max_concurrent, service=service)
    where = f"http://{args.host}:{args.port}"
    print(f"HRM agent on {where}/ (API docs {where}/docs); threads in "
          f"{settings.threads_db or 'memory'}; Ctrl-C stops it", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        service.close()
    return 0
