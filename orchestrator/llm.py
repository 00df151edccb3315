"""A small client for OpenAI-compatible chat servers (vLLM's `vllm serve`, llama.cpp, ...).

Only what the orchestrator needs: `POST {base}/chat/completions` with
`response_format={"type": "json_schema", ...}` built from a pydantic model, so the server's
guided decoding produces JSON of that shape, and `GET {base}/models` to see whether a server is
up and which model it serves. Every failure is turned into an `LLMError` with a `kind`
(unreachable, timeout, http, malformed, invalid) so the caller can fall back to rules and tell
the user why, instead of showing a traceback.

vLLM (and llama.cpp) enforce the schema while decoding but never show it to the model, unlike
OpenAI's API: a small model then picks a value the grammar allows without knowing what the values
mean (measured with Qwen2.5-Coder-0.5B on eval/intent_set.jsonl: intent accuracy 32% without the
schema in the prompt). So the schema, with its field descriptions, is also appended to the system
message when there is one (`schema_in_prompt`, on by default).

The reply is never trusted: it is parsed as JSON and validated against the same pydantic model
the schema came from, even though a schema-guided server should only produce valid output.
"""

from __future__ import annotations

import json
import re
import time
from typing import Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

ErrorKind = Literal["unreachable", "timeout", "http", "malformed", "invalid"]

# How long a "server is up / down" answer is reused before asking again: long enough that one
# chat turn (several model calls) probes once, short enough that a server started later is found.
AVAILABILITY_TTL_SECONDS = 30.0
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class LLMError(RuntimeError):
    """The model could not give a usable answer; `kind` says why, the message says it in words."""

    def __init__(self, kind: ErrorKind, message: str):
        super().__init__(message)
        self.kind = kind


class LLMClient:
    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 2.0,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        schema_in_prompt: bool = True,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.schema_in_prompt = schema_in_prompt
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # trust_env=False: a loopback server must not be routed through an HTTP(S)_PROXY.
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers=headers,
            transport=transport,
            trust_env=False,
        )
        self._available: tuple[float, bool] | None = None  # (checked at, answer)
        self.last_raw: str | None = None  # the content of the last chat reply, as it came back

    def close(self) -> None:
        self._http.close()

    # -- discovery ---------------------------------------------------------------------------

    def available(self) -> bool:
        """Is a server answering at base_url? Also learns the model name when none was given."""
        now = time.monotonic()
        if self._available and now - self._available[0] < AVAILABILITY_TTL_SECONDS:
            return self._available[1]
        try:
            names = self.list_models()
            ok = bool(names) or self.model is not None
            if self.model is None and names:
                self.model = names[0]
        except LLMError:
            ok = False
        self._available = (now, ok)
        return ok

    def list_models(self) -> list[str]:
        data = self._request("GET", "/models")
        try:
            return [str(item["id"]) for item in data.get("data", [])]
        except (TypeError, KeyError, AttributeError):
            raise LLMError("malformed", "the server's model list is not in the OpenAI format") from None

    # -- structured chat ---------------------------------------------------------------------

    def chat_json(self, messages: list[dict], schema: type[T], *, max_tokens: int = 400, temperature: float = 0.0) -> T:
        """One chat completion whose reply must be JSON matching `schema`; returns the validated
        model or raises LLMError."""
        if self.model is None and not self.available():
            raise LLMError("unreachable", f"no language model server answers at {self.base_url}")
        json_schema = schema.model_json_schema()
        if self.schema_in_prompt:
            messages = _describe_schema(messages, json_schema)
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": schema.__name__, "schema": json_schema, "strict": True},
            },
        }
        self.last_raw = None
        data = self._request("POST", "/chat/completions", json=body)
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (TypeError, KeyError, IndexError):
            raise LLMError("malformed", "the server's reply has no choices[0].message.content") from None
        self.last_raw = content if isinstance(content, str) else None  # kept for the trace
        if choice.get("finish_reason") == "length":
            raise LLMError("malformed", "the model's reply was cut off at the token limit")
        if not isinstance(content, str):
            raise LLMError("malformed", "the model's reply is empty")
        # Some servers/models wrap JSON in a Markdown fence even when asked for JSON.
        fenced = _FENCE.match(content)
        text = fenced.group(1) if fenced else content
        try:
            value = json.loads(text)
        except ValueError:
            raise LLMError("malformed", f"the model's reply is not valid JSON: {content[:80]!r}") from None
        try:
            return schema.model_validate(value)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "reply"
            raise LLMError("invalid", f"the model's JSON does not fit {schema.__name__}: {where}: {first['msg']}") from None

    def _request(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            self._available = None  # the server may have gone: ask again before the next turn relies on it
            raise LLMError("timeout", f"the language model did not answer within {self._http.timeout.read:g} s") from None
        except httpx.HTTPError as err:
            self._available = None
            raise LLMError("unreachable", f"cannot reach the language model at {self.base_url}: {type(err).__name__}") from None
        if response.status_code >= 500:
            self._available = None
        if response.status_code != 200:
            raise LLMError("http", f"the language model server answered HTTP {response.status_code}: {response.text[:120]!r}")
        try:
            data = response.json()
        except ValueError:
            raise LLMError("malformed", "the server's reply is not JSON") from None
        if not isinstance(data, dict):
            raise LLMError("malformed", "the server's reply is not a JSON object")
        return data


def _describe_schema(messages: list[dict], json_schema: dict) -> list[dict]:
    """The messages with the JSON schema appended to the leading system message (a copy; the
    caller's list is not changed). Without a system message they are sent as they are."""
    if not messages or messages[0].get("role") != "system":
        return messages
    first = dict(messages[0])
    first["content"] = (f"{first['content']}\n\nThe JSON must match this JSON schema: "
                        f"{json.dumps(json_schema, separators=(',', ':'))}")
    return [first, *messages[1:]]
