"""The chat answers any str, the trace writer never blocks or raises into a reply, the command line
reports input that is not UTF-8, and a failed model call makes the client ask again whether the
model is there."""

import io
import json
import os
import threading

import httpx
import pytest
from pydantic import BaseModel

from orchestrator import LLMClient, LLMError, Orchestrator, Settings
from orchestrator.api import clean_text
from orchestrator.cli import main as chat_main

PUZZLE4 = "1..4.4....2..3.."


class Answer(BaseModel):
    answer: str


@pytest.fixture
def orch(tmp_path):
    o = Orchestrator(Settings(llm_url=None, trace_path=tmp_path / "traces.jsonl", seed=0))
    yield o
    o.close()


def traces(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_clean_text_replaces_lone_surrogates_and_joins_pairs():
    assert clean_text("a\ud800b\udcffc") == "a\ufffdb\ufffdc"
    assert clean_text("\ud83d\ude00") == "\U0001F600"
    assert clean_text("solve 1..4 ①²") == "solve 1..4 ①²"


@pytest.mark.parametrize("message", ["\ud800", f"solve {PUZZLE4} \udcff", "\x00", "\U0001F600" * 3])
def test_any_str_is_answered_and_traced(orch, message):
    reply = orch.ask(message, "odd")
    assert reply.text and json.loads(reply.model_dump_json())["text"] == reply.text
    record = traces(orch.settings.trace_path)[-1]
    assert record["request_id"] == reply.trace_id and record["error"] is None
    if "solve" in message:
        assert reply.ok and reply.verified


def test_thread_id_none_is_the_default_thread_and_other_types_are_refused(orch):
    assert orch.ask(f"solve {PUZZLE4}", None).thread_id == "default"
    assert orch.ask("what is in row 1?", "default").ok  # the same thread remembers the puzzle
    with pytest.raises(TypeError, match="thread_id must be a str"):
        orch.ask("hello", 5)
    with pytest.raises(TypeError, match="message must be a str"):
        orch.ask(b"hello")


def run_with_deadline(fn, seconds=120):
    """fn() in a thread; fails the test (instead of hanging it) if it does not return in time."""
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("value", fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still blocked after {seconds} s"
    return out["value"]


@pytest.mark.parametrize("kind", ["fifo", "directory", "dev-full"])
def test_a_trace_path_that_cannot_take_a_line_costs_no_reply(tmp_path, kind, capsys):
    path = {"fifo": tmp_path / "fifo", "directory": tmp_path, "dev-full": "/dev/full"}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # nobody reads it: an ordinary open for writing would wait forever
    o = Orchestrator(Settings(llm_url=None, trace_path=path, seed=0))
    try:
        reply = run_with_deadline(lambda: o.ask(f"solve {PUZZLE4}", "t"))
    finally:
        o.close()
    assert reply.ok and reply.verified
    assert "warning: could not write the trace" in capsys.readouterr().err


def test_chat_cli_reports_a_message_that_is_not_utf8(tmp_path, capsys, monkeypatch):
    common = ["--no-llm", "--quiet", "--trace", str(tmp_path / "t.jsonl")]
    assert chat_main(["chat", "solve \udcff", *common]) == 2
    assert "the message argument is not UTF-8 text: byte 0xff at byte 7" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"hi \xfe there")))
    assert chat_main(["chat", "-", *common]) == 2
    assert "standard input is not UTF-8 text: byte 0xfe at byte 4" in capsys.readouterr().err


def test_chat_repl_skips_an_undecodable_line_and_carries_on(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(f"hello \xff\nsolve {PUZZLE4}\nquit\n".encode("latin-1"))))
    assert chat_main(["chat", "--no-llm", "--quiet", "--trace", str(tmp_path / "t.jsonl")]) == 0
    out, err = capsys.readouterr()
    assert "that message is not UTF-8 text" in err
    assert "Solved and verified" in out  # the next message was answered


def test_a_failed_call_makes_the_client_check_availability_again():
    calls = {"models": 0, "up": True}

    def handler(request):
        if request.url.path.endswith("/models"):
            calls["models"] += 1
            if calls["up"]:
                return httpx.Response(200, json={"data": [{"id": "m"}]})
        raise httpx.ConnectError("refused", request=request)

    client = LLMClient("http://127.0.0.1:9/v1", transport=httpx.MockTransport(handler))
    assert client.available() and client.available() and calls["models"] == 1  # cached
    calls["up"] = False
    with pytest.raises(LLMError) as err:
        client.chat_json([{"role": "user", "content": "hi"}], Answer)
    assert err.value.kind == "unreachable"
    assert not client.available() and calls["models"] == 2  # asked again, not the cached "up"
