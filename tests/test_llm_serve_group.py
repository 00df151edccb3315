"""`llm serve` ends the server's whole process group: a stand-in server (a small Python HTTP server
that starts child and grandchild processes, like vLLM's API server starting its engine and
workers) is started through the real start_server; whether its leader is killed or `serve` is
told to stop, no process of the group survives."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from orchestrator import llm_server

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads process groups from /proc (Linux)")

STAND_IN = textwrap.dedent("""
    import http.server, json, os, signal, subprocess, sys, time
    port, pids_file = int(sys.argv[1]), sys.argv[2]
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    stubborn = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"]
    parent = [sys.executable, "-c", f"import subprocess, time; subprocess.Popen({sleeper!r}); time.sleep(600)"]
    children = [subprocess.Popen(cmd) for cmd in (sleeper, stubborn, parent)]
    time.sleep(0.5)  # let the grandchild start
    with open(pids_file, "w") as f:
        json.dump([os.getpid(), *(c.pid for c in children)], f)

    class Models(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"data": [{"id": "stand-in"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", port), Models).serve_forever()
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stand_in_command(tmp_path: Path) -> list[str]:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    return [sys.executable, str(script)]


def wait_for(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["api server", "engine"])
def test_when_one_part_dies_the_whole_server_ends(tmp_path, monkeypatch, victim):
    port, pids = free_port(), tmp_path / "pids.json"
    command = stand_in_command(tmp_path)
    monkeypatch.setattr(llm_server, "server_command", lambda key, port_, home=None: [*command, str(port_), str(pids)])
    monkeypatch.setattr(llm_server, "PART_MIN_AGE_SECONDS", 0.0)  # the stand-in's parts are young
    proc = llm_server.start_server(llm_server.DEFAULT_MODEL, port, home=tmp_path, timeout=60)
    wait_for(pids.is_file)
    assert len(llm_server.group_members(proc.pid)) == 5  # the server, three children, a grandchild
    status, looks = {}, []
    members = llm_server.group_members

    def counted(*args):  # supervise's first look takes stock of the parts; its second watches them
        looks.append(args)
        return members(*args)

    monkeypatch.setattr(llm_server, "group_members", counted)
    watcher = threading.Thread(target=lambda: status.setdefault("code", llm_server.supervise(proc, grace=2.0)))
    watcher.start()
    wait_for(lambda: len(looks) >= 2)  # not a fixed sleep: on a busy machine taking stock can take longer
    # SIGKILL: the API server (nothing tells its children), or its first child (the server lives on).
    os.kill(json.loads(pids.read_text())[0 if victim == "api server" else 1], signal.SIGKILL)
    watcher.join(60)
    assert not watcher.is_alive() and status["code"] != 0
    assert llm_server.group_members(proc.pid) == []  # the stubborn child too (SIGKILL after the grace)
    assert llm_server.models_answer(f"http://127.0.0.1:{port}/v1", timeout=1.0) is None


def test_sigterm_to_serve_ends_the_whole_server_group(tmp_path):
    port, pids = free_port(), tmp_path / "pids.json"
    # `serve` itself, with the setup skipped and the stand-in in place of vLLM.
    program = (f"import sys; from orchestrator import llm_server as s; s.setup = lambda key: None; s.STOP_GRACE_SECONDS = 2; "
               f"s.server_command = lambda key, port, home=None: {stand_in_command(tmp_path)!r} + [str(port), {str(pids)!r}]; "
               f"sys.exit(s.serve(port={port}, timeout=60))")
    env = {**os.environ, "HRM_LLM_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    serve = subprocess.Popen([sys.executable, "-c", program], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        output = []
        while not (output and output[-1].startswith("serving ")):  # `serve` says so once the server answers
            output.append(serve.stdout.readline())
            assert output[-1], "".join(output)
        leader = json.loads(pids.read_text())[0]
        assert len(llm_server.group_members(leader)) == 5
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(90) == 0, serve.stdout.read()
        assert llm_server.group_members(leader) == []
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        if pids.is_file():
            for pid in json.loads(pids.read_text()):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
