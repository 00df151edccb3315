"""One JSON line per request: what ran, how long it took, what the model and the verifier said.

The file is append-only JSON lines so it can be tailed while the chat runs and read back with
one `json.loads` per line. Writing a trace must never cost the user their reply: a trace that
cannot be written is reported on stderr and the reply goes out anyway. Only a regular file is
written, opened without blocking (a FIFO with no reader would otherwise hang the chat).
"""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from .language import ModelCall

# Only the start of the message goes into the trace: enough to recognise the request, without
# copying a 100 kB paste into every line of the log.
MESSAGE_PREVIEW_CHARS = 300


class NodeVisit(BaseModel):
    node: str
    ms: float


class TraceRecord(BaseModel):
    request_id: str
    thread_id: str
    started_at: float  # Unix time
    total_ms: float = 0.0
    message_chars: int
    message_preview: str
    language: str  # "model" or "rules"
    intent: str | None = None
    task: str | None = None
    nodes: list[NodeVisit] = Field(default_factory=list)
    model_calls: list[ModelCall] = Field(default_factory=list)
    verdicts: list[dict[str, Any]] = Field(default_factory=list)
    status: str | None = None
    ok: bool | None = None
    error: str | None = None


_lock = threading.Lock()


def write_trace(path: Path, record: TraceRecord) -> None:
    try:
        data = (record.model_dump_json() + "\n").encode("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        with _lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise OSError("not a regular file")
                while data:
                    data = data[os.write(fd, data):]
            finally:
                os.close(fd)
    except Exception as err:  # noqa: BLE001 -- OS and serialisation errors alike: the reply must go out
        print(f"warning: could not write the trace to {path}: {err}", file=sys.stderr)


def now() -> float:
    return time.time()
