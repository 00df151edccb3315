"""End to end with a real language model: vLLM serving the default model on this CPU.

The server is started through the project command (`python -m orchestrator llm serve`) on a free
loopback port, once for this module, and stopped afterwards. It needs the environment that
`python -m orchestrator llm setup` builds (a few minutes, once); without it these tests are
skipped with that reason (the tests of the command's pieces still run), so a plain `pytest` works on a developer's machine. CI runs the setup
first and sets HRM_LLM_E2E=require, which turns the skip into a failure: there, an environment
that could not be built must not pass silently.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator import Orchestrator, Settings
from orchestrator import llm_server
from orchestrator.language import REJECTED_EXPLANATION
from verifiers import sudoku as rules

ROOT = Path(__file__).resolve().parent.parent
PUZZLE9 = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
REQUIRED = os.environ.get("HRM_LLM_E2E", "").lower() == "require"
MODEL = llm_server.MODELS[llm_server.DEFAULT_MODEL]

SET_UP = llm_server.is_set_up(MODEL.key)
REASON = (f"the vLLM environment or the model {MODEL.key} is not set up in {llm_server.llm_home()}: "
          "run `.venv/bin/python -m orchestrator llm setup` (a few minutes, once)")
if REQUIRED and not SET_UP:
    pytest.fail(f"HRM_LLM_E2E=require but {REASON}", pytrace=False)
needs_server = pytest.mark.skipif(not SET_UP, reason=REASON)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`python -m orchestrator llm serve` on a free port; yields the base URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("llm") / "serve.log"
    with log.open("w") as out:
        # Its own process group: the teardown can end the command and the server it started together.
        proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "llm", "serve", "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + llm_server.DEFAULT_STARTUP_TIMEOUT + 120
        while llm_server.models_answer(url) is None:
            if proc.poll() is not None:
                pytest.fail(f"`orchestrator llm serve` exited with {proc.returncode}:\n{log.read_text()[-4000:]}",
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer at {url}:\n{log.read_text()[-4000:]}", pytrace=False)
            time.sleep(1.0)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)  # `serve` stops vLLM (API server and engine) and exits
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # Nothing may be left listening on the port.
    assert llm_server.models_answer(url, timeout=1.0) is None


# -- the project command's pieces, without vLLM (always run) ------------------------------------


def test_the_server_command_binds_to_loopback_with_the_served_name(tmp_path):
    cmd = llm_server.server_command(MODEL.key, 8123, home=tmp_path)
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--port") + 1] == "8123"
    assert cmd[cmd.index("--served-model-name") + 1] == MODEL.served_name and "--enforce-eager" in cmd
    assert llm_server.server_env(2)["VLLM_CPU_KVCACHE_SPACE"] == "2"


def test_the_gguf_parts_are_joined_in_order_and_checked(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "a.bin").write_bytes(b"GGUF-first-")
    (site / "pkg" / "b.bin").write_bytes(b"second")
    monkeypatch.setattr(llm_server, "_site_packages", lambda home: site)
    import hashlib

    good = hashlib.sha256(b"GGUF-first-second").hexdigest()
    spec = llm_server.ModelSpec("t", "t", ("pkg==1",), ("pkg/a.bin", "pkg/b.bin"), good, "", "")
    path = llm_server._assemble_gguf(spec, tmp_path)
    assert path.read_bytes() == b"GGUF-first-second"
    path.unlink()
    bad = llm_server.ModelSpec("t", "t", ("pkg==1",), ("pkg/b.bin", "pkg/a.bin"), good, "", "")  # wrong order
    with pytest.raises(llm_server.SetupError, match="sha256"):
        llm_server._assemble_gguf(bad, tmp_path)
    assert not path.exists() and not list(path.parent.glob("*.part"))


def test_a_server_that_dies_is_reported_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setattr(llm_server, "server_command", lambda key, port, home=None: [
        sys.executable, "-c", "print('CUDA? no: something broke'); raise SystemExit(3)"])
    with pytest.raises(llm_server.SetupError) as err:
        llm_server.start_server(MODEL.key, _free_port(), home=tmp_path, timeout=60)
    assert "exited with status 3" in str(err.value) and "something broke" in str(err.value)


# -- the real server ----------------------------------------------------------------------------


@pytest.mark.slow
@needs_server
def test_the_server_lists_the_configured_model(served):
    assert llm_server.models_answer(served) == [MODEL.served_name]


@pytest.mark.slow
@needs_server
def test_solve_this_sudoku_through_the_graph_with_the_real_model(served, tmp_path):
    trace = tmp_path / "traces.jsonl"
    # A generous timeout: the CPU may be shared with other jobs while CI runs.
    orch = Orchestrator(Settings(llm_url=served, llm_timeout=180, trace_path=trace))
    try:
        reply = orch.ask(f"solve this sudoku: {PUZZLE9}", "e2e")
    finally:
        orch.close()
    assert reply.language == "model", reply.text
    assert reply.intent == "solve" and reply.task == "sudoku"
    assert reply.verified and reply.status == "solved"
    assert rules.check_solution(reply.grid, reply.answer, 3, 3).ok
    assert "Solved and verified." in reply.text
    record = json.loads(trace.read_text().splitlines()[-1])
    assert record["request_id"] == reply.trace_id and record["language"] == "model"
    calls = record["model_calls"]
    # The model classified the request (schema-guided JSON that validated) and was asked to explain.
    assert calls[0]["purpose"] == "intent classification" and calls[0]["ok"], calls
    assert calls[0]["model"] == MODEL.served_name
    assert [c["purpose"] for c in calls] == ["intent classification", "explanation"], calls
    # An explanation is either the model's (every claim held) or, rejected, the template; the
    # trace keeps the model's raw reply and, when rejected, the claims that failed.
    explanation = calls[1]
    assert explanation["raw"], explanation
    assert explanation["ok"] or (explanation["error"] == REJECTED_EXPLANATION and explanation["failed_claims"]), explanation
