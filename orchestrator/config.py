"""Settings of the orchestrator: where the language model is, where traces go, size limits.

Every field can come from an argument or an environment variable, so the same code runs from
the `chat` command, from Python and from tests without editing files:

    HRM_LLM_URL       OpenAI-compatible base URL (default http://127.0.0.1:8000/v1; "none" = rules only)
    HRM_LLM_MODEL     model name sent in each request (default: the first one the server lists;
                      `python -m orchestrator llm serve` serves one, qwen2.5-coder-0.5b-instruct,
                      at the default URL: see orchestrator/llm_server.py and docs/llm.md)
    HRM_LLM_TIMEOUT   seconds to wait for one model reply (default 30)
    HRM_LLM_API_KEY   bearer token, only if the server was started with one (vLLM --api-key)
    HRM_TRACE_PATH    JSON-lines trace file (default runs/traces.jsonl under the working directory)
    HRM_THREADS_DB    SQLite file that keeps the conversation threads across restarts (default: none,
                      threads live in memory and end with the process)
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_LLM_URL = "http://127.0.0.1:8000/v1"
DEFAULT_TRACE_PATH = Path("runs") / "traces.jsonl"
# A 9x9 grid with frames and a sentence around it is well under 2 kB; 20,000 characters leaves
# room for a long paste while keeping a 100 kB message (or an accidental file dump) out of the
# parser and the language model's context.
DEFAULT_MAX_MESSAGE_CHARS = 20_000
# `python -m orchestrator serve`: this machine only unless told otherwise.
DEFAULT_SERVE_HOST = "127.0.0.1"
DEFAULT_SERVE_PORT = 8080
# A 9x9 grid in JSON is under 1 kB and a chat message at most 20,000 characters; an OpenAI chat
# client re-sends the whole conversation, so leave room for a long one, but not for a file dump.
DEFAULT_MAX_BODY_BYTES = 1_000_000
# Requests in progress at once (waiting for the model or running it); more are refused at once
# (503): a queue that grows without end only turns overload into timeouts.
DEFAULT_MAX_CONCURRENT = 64
_DISABLED = {"", "none", "off", "no", "false", "0"}


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # None: no language model at all, the rule-based layer answers (and says so once per thread).
    llm_url: str | None = DEFAULT_LLM_URL
    llm_model: str | None = None
    llm_timeout: float = Field(30.0, gt=0)
    # Connecting to a local server either works at once or not at all: a short connect timeout
    # makes "no server running" cost a fraction of a second instead of the whole llm_timeout.
    llm_connect_timeout: float = Field(2.0, gt=0)
    llm_api_key: str | None = None
    trace_path: Path = DEFAULT_TRACE_PATH
    # Where the threads' memory is kept: None = in memory (gone when the process ends), else a SQLite file.
    threads_db: Path | None = None
    max_message_chars: int = Field(DEFAULT_MAX_MESSAGE_CHARS, gt=0)
    # Weights for solve(); None = the shipped checkpoint for each sudoku size.
    checkpoint: str | None = None
    # Seed for generated puzzles; None draws fresh entropy each time.
    seed: int | None = None

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Environment variables first, then explicit (non-None) overrides on top."""
        values: dict = {}
        url = os.environ.get("HRM_LLM_URL")
        if url is not None:
            values["llm_url"] = None if url.strip().lower() in _DISABLED else url.strip()
        if os.environ.get("HRM_LLM_MODEL"):
            values["llm_model"] = os.environ["HRM_LLM_MODEL"]
        if os.environ.get("HRM_LLM_TIMEOUT"):
            values["llm_timeout"] = float(os.environ["HRM_LLM_TIMEOUT"])
        if os.environ.get("HRM_LLM_API_KEY"):
            values["llm_api_key"] = os.environ["HRM_LLM_API_KEY"]
        if os.environ.get("HRM_TRACE_PATH"):
            values["trace_path"] = Path(os.environ["HRM_TRACE_PATH"])
        if os.environ.get("HRM_THREADS_DB"):
            values["threads_db"] = Path(os.environ["HRM_THREADS_DB"])
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "llm_url" and isinstance(value, str) and value.strip().lower() in _DISABLED:
                value = None
            values[key] = value
        return cls(**values)
