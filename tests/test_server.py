"""`python -m orchestrator serve`: the HTTP API, its errors and limits, the OpenAI-compatible
endpoint (through the official openai client), threads kept in SQLite across a restart, and a
small load test. Real `reasoner.solve` on the shipped checkpoints; the rule-based language layer."""

import asyncio
import json
import sys
import threading
from pathlib import Path

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from orchestrator import Settings
from orchestrator.cli import build_parser
from orchestrator.server import MODEL_NAME, Service, build, running
from reasoner.tasks import SudokuTask
from verifiers import maze as maze_rules
from verifiers import sudoku as rules

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
import load_test  # noqa: E402

PUZZLE4 = "1..4.4....2..3.."
SOLUTION4 = rules.analyse_puzzle(SudokuTask(2, 2).parse(PUZZLE4), 2, 2).solution
CLASH4 = "11.4.4....2..3.."
MAZE5 = ["S  # ", " # # ", " #   ", " ### ", "    G"]
MAZE9 = [" S# #  # ", "#   # #  ", "       # ", "#    #  #", " #       ", "# # #    ", "# # #  # ", "# # #   #",
         " #  #   G"]


def settings(tmp_path, **more) -> Settings:
    return Settings(llm_url=None, trace_path=tmp_path / "traces.jsonl", seed=0, **more)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = build(settings(tmp_path_factory.mktemp("server")), max_body=20_000)
    with TestClient(app) as c:
        yield c


def error_of(response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["type"] == kind
    return body["error"]["message"]


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        events.append((lines.get("event", "message"), json.loads(lines["data"])))
    return events


def test_healthz_and_the_page(client):
    assert client.get("/healthz").json()["status"] == "ok"
    page = client.get("/")
    assert page.status_code == 200 and 'id="grid"' in page.text and "/web/app.js" in page.text
    assert client.get("/web/app.js").status_code == 200
    assert "/v1/solve" in client.get("/openapi.json").json()["paths"]
    docs = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in docs and "https://" not in docs  # nothing from a CDN
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_solve_returns_the_verified_result_model(client):
    r = client.post("/v1/solve", json={"puzzle": PUZZLE4})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "solved" and body["verified"] and body["answer"] == SOLUTION4
    assert body["task"] == "sudoku-4x4" and body["path"] in ("hrm", "hrm+repair", "search")
    rows = client.post("/v1/solve", json={"puzzle": [[1, 0, 0, 4], [0, 4, 0, 0], [0, 0, 2, 0], [0, 3, 0, 0]],
                                           "options": {"halting": "fixed", "repair": True}}).json()
    assert rows["answer"] == SOLUTION4
    views = client.post("/v1/solve", json={"puzzle": PUZZLE4, "options": {"halting": "verified", "views": 4,
                                                                           "give_up": False}}).json()
    assert views["answer"] == SOLUTION4 and views["verified"]
    picked = client.post("/v1/solve", json={"puzzle": PUZZLE4, "options": {"views": 4, "repair": False}}).json()
    assert picked["answer"] == SOLUTION4 and picked["verified"] and picked["path"] == "hrm"  # ACT: the surest copy
    committed = client.post("/v1/solve", json={"puzzle": PUZZLE4, "options": {"views": 2, "commit": 2, "repair": False}})
    assert committed.json()["answer"] == SOLUTION4 and committed.json()["path"] == "hrm"
    assert client.post("/v1/solve", json={"puzzle": PUZZLE4, "options": {"commit": -1}}).status_code == 422
    refused = client.post("/v1/solve", json={"puzzle": MAZE9, "task": "maze", "options": {"commit": 1}})
    assert refused.status_code in (400, 422) and "maze has none" in refused.text


def test_solve_a_maze(client):
    body = client.post("/v1/solve", json={"puzzle": MAZE9, "task": "maze"}).json()
    assert body["status"] == "solved" and body["verified"]
    assert maze_rules.check_maze_answer(MAZE9, body["answer"]).ok


def test_steps_are_the_answers_solve_reads_segment_by_segment(client):
    body = client.post("/v1/solve/steps", json={"puzzle": PUZZLE4, "options": {"segments": 6}}).json()
    result, steps = body["result"], body["steps"]
    assert [s["segment"] for s in steps] == list(range(1, 7))
    # Where the Q-head halted, the step shows the HRM's own answer that solve() judged.
    at_halt = steps[result["halted_at"] - 1]
    assert at_halt["answer"] == result["model_answer"]
    assert at_halt["verified"] == result["model_correct"]
    for step in steps:
        assert step["verified"] == rules.check_solution(result["puzzle"], step["answer"], 2, 2).ok
        wrong = [(r + 1, c + 1) for r in range(4) for c in range(4) if step["answer"][r][c] != SOLUTION4[r][c]]
        assert [tuple(cell) for cell in step["wrong"]] == wrong
    assert steps[0]["changed"] == []


def test_steps_for_mazes(client):
    body = client.post("/v1/solve/steps", json={"puzzle": MAZE9, "task": "maze"}).json()
    result, steps = body["result"], body["steps"]
    assert steps[result["halted_at"] - 1]["answer"] == result["model_answer"]
    for step in steps:
        assert step["verified"] == maze_rules.check_maze_answer(MAZE9, step["answer"]).ok
    walled = MAZE9[:-1] + [" #  #  #G"]  # G shut in: no path exists
    body = client.post("/v1/solve/steps", json={"puzzle": walled, "task": "maze"}).json()
    assert body["result"]["status"] == "no_solution" and body["result"]["answer"] is None
    assert body["steps"] and not any(step["verified"] for step in body["steps"])


@pytest.mark.parametrize("saved, asked", [(5, 7), (7, 5)])
def test_steps_for_a_maze_of_another_side_on_a_size_free_model(tmp_path, saved, asked):
    # A size-free model saved at one side answers a maze of another as solve() does: rebuilt for a
    # larger maze, a smaller one in the middle of the model's own grid; the stepper must do the same.
    import numpy as np
    import torch

    from reasoner.checkpoint import CheckpointCard, save_checkpoint
    from reasoner.config import cpu_tiny
    from reasoner.model import HRM
    from reasoner.tasks import MazeTask

    task = MazeTask(saved)
    torch.manual_seed(0)
    cfg = cpu_tiny(task.vocab_size, task.seq_len, **{**task.model_hints(), "pos_encoding": "none",
                                                     "attention": "relations", "relation_bias": True})
    path = save_checkpoint(HRM(cfg), tmp_path / "maze", CheckpointCard(task=task.spec(), model=cfg, seed=0))
    questions, _ = MazeTask(asked).generate(1, np.random.default_rng(0), progress=False)
    maze = ["".join(r) for r in questions[0]]
    with TestClient(build(settings(tmp_path, checkpoint=str(path)))) as c:
        body = c.post("/v1/solve/steps", json={"puzzle": maze, "task": "maze"}).json()
    result, steps = body["result"], body["steps"]
    assert result["task"] == f"maze-{asked}x{asked}" and result["verified"]
    assert len(steps) == -(-cfg.halt_max_steps * max(saved, asked) // saved)  # the M_max of the grid it ran on
    assert steps[result["halted_at"] - 1]["answer"] == result["model_answer"]
    for step in steps:
        assert len(step["answer"]) == asked
        assert step["verified"] == maze_rules.check_maze_answer(maze, step["answer"]).ok


def test_steps_default_to_the_checkpoints_own_m_max_above_the_request_limit(tmp_path):
    # A request may ask for at most MAX_SEGMENTS; by default the stepper runs what solve() runs, the
    # checkpoint's M_max, even where that is more (a size-free maze model's grows with the maze).
    import torch

    from orchestrator.segments import MAX_SEGMENTS
    from reasoner.checkpoint import CheckpointCard, save_checkpoint
    from reasoner.config import cpu_tiny
    from reasoner.model import HRM
    from reasoner.tasks import MazeTask

    task = MazeTask(5)
    torch.manual_seed(0)
    cfg = cpu_tiny(task.vocab_size, task.seq_len, **{**task.model_hints(), "halt_max_steps": MAX_SEGMENTS + 3})
    path = save_checkpoint(HRM(cfg), tmp_path / "maze-5x5", CheckpointCard(task=task.spec(), model=cfg, seed=0))
    with TestClient(build(settings(tmp_path, checkpoint=str(path)))) as c:
        assert len(c.post("/v1/solve/steps", json={"puzzle": MAZE5, "task": "maze"}).json()["steps"]) == MAX_SEGMENTS + 3
        asked = {"puzzle": MAZE5, "task": "maze", "options": {"segments": MAX_SEGMENTS + 1}}
        assert "options.segments" in error_of(c.post("/v1/solve/steps", json=asked), 422, "invalid_request")


@pytest.mark.parametrize("body, status, kind, says", [
    ({"puzzle": CLASH4}, 422, "contradictory_puzzle", "r1c1, r1c2"),
    ({"puzzle": "1..4.4"}, 422, "bad_puzzle", "16, 36 or 81 cells"),
    ({"puzzle": "1..4.4....2..3.x"}, 422, "bad_puzzle", ""),
    ({"puzzle": PUZZLE4, "options": {"segments": 0}}, 422, "invalid_request", "options.segments"),
    ({"puzzle": PUZZLE4, "options": {"beam": 3}}, 422, "invalid_request", "options.beam"),
    ({"puzzle": PUZZLE4, "options": {"views": 65}}, 422, "invalid_request", "options.views"),
    ({"puzzle": PUZZLE4, "task": "arc"}, 422, "invalid_request", "task"),
    ({}, 422, "invalid_request", "puzzle"),
])
def test_bad_solve_requests_get_a_json_reason(client, body, status, kind, says):
    assert says in error_of(client.post("/v1/solve", json=body), status, kind)


def test_a_maze_without_a_checkpoint_gets_a_json_reason(client, tmp_path, monkeypatch):
    import reasoner.inference as inference

    monkeypatch.setattr(inference, "CHECKPOINT_DIR", tmp_path)  # neither a maze-5x5 nor a size-free maze model
    body = {"puzzle": ["#####", "#S  #", "# # #", "#  G#", "#####"], "task": "maze"}
    assert "maze-5x5" in error_of(client.post("/v1/solve", json=body), 422, "unsupported_size")


def test_malformed_json_oversized_bodies_and_unknown_routes(client):
    error_of(client.post("/v1/solve", content=b"{not json", headers={"content-type": "application/json"}),
             422, "invalid_request")
    big = json.dumps({"message": "x" * 30_000, "thread_id": "big"})
    assert "20,000" in error_of(client.post("/v1/chat", content=big, headers={"content-type": "application/json"}),
                                413, "request_too_large")
    error_of(client.get("/v1/nothing"), 404, "not_found")
    error_of(client.get("/v1/solve"), 405, "method_not_allowed")
    error_of(client.post("/v1/chat", json={"message": "hi", "thread_id": "no spaces allowed"}), 422, "invalid_request")


def test_chat_keeps_the_thread(client):
    first = client.post("/v1/chat", json={"message": f"solve this sudoku: {PUZZLE4}", "thread_id": "t1"}).json()
    assert first["verified"] and first["answer"] == SOLUTION4 and first["thread_id"] == "t1"
    hint = client.post("/v1/chat", json={"message": "give me a hint", "thread_id": "t1"}).json()
    h = hint["hint"]
    assert hint["ok"] and SOLUTION4[h["row"] - 1][h["col"] - 1] == h["digit"]
    other = client.post("/v1/chat", json={"message": "give me a hint", "thread_id": "t2"}).json()
    assert not other["ok"] and other["hint"] is None  # a new thread knows no puzzle


def test_chat_stream_sends_the_graph_steps_then_the_reply(client):
    r = client.post("/v1/chat", json={"message": f"solve {PUZZLE4}", "thread_id": "s1", "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    kinds = [k for k, _ in events]
    assert kinds[-2:] == ["reply", "done"] and set(kinds[:-2]) == {"step"}
    nodes = [d["node"] for k, d in events if k == "step" and d["event"] == "end"]
    assert nodes == ["understand", "extract", "solve", "verify", "explain", "reply"]
    assert events[-2][1]["answer"] == SOLUTION4 and events[-2][1]["verified"]


def test_openai_client_chats_and_streams(tmp_path):
    with running(build(settings(tmp_path))) as url:
        ai = openai.OpenAI(base_url=url + "/v1", api_key="unused")
        assert [m.id for m in ai.models.list().data] == [MODEL_NAME]
        messages = [{"role": "system", "content": "You solve puzzles."},
                    {"role": "user", "content": f"solve this sudoku: {PUZZLE4}"}]
        done = ai.chat.completions.create(model=MODEL_NAME, messages=messages)
        assert done.object == "chat.completion" and done.choices[0].finish_reason == "stop"
        text = done.choices[0].message.content
        assert "Solved and verified" in text and "1 2 | 3 4" in text
        # No thread named: the transcript the client sends back continues the same thread.
        messages += [{"role": "assistant", "content": text}, {"role": "user", "content": "give me a hint"}]
        chunks = list(ai.chat.completions.create(model=MODEL_NAME, messages=messages, stream=True))
        assert all(c.object == "chat.completion.chunk" for c in chunks)
        assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].choices[0].finish_reason == "stop"
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert streamed.startswith("Hint: row ")
        fresh = ai.chat.completions.create(model=MODEL_NAME, messages=[{"role": "user", "content": "give me a hint"}])
        assert "no puzzle" in fresh.choices[0].message.content.lower() or "found no sudoku" in fresh.choices[0].message.content
        with pytest.raises(openai.NotFoundError):
            ai.chat.completions.create(model="gpt-4o", messages=messages)
        with pytest.raises(openai.UnprocessableEntityError):
            ai.chat.completions.create(model=MODEL_NAME, messages=[{"role": "assistant", "content": "hi"}])


def test_threads_survive_a_restart_with_sqlite(tmp_path):
    db = tmp_path / "threads.db"
    first = Service(settings(tmp_path, threads_db=db))
    with TestClient(build(first.settings, service=first)) as c:
        assert c.post("/v1/chat", json={"message": f"solve this sudoku: {PUZZLE4}", "thread_id": "keep"}).json()["verified"]
        opened = c.post("/v1/chat/completions", json={"model": MODEL_NAME, "messages": [
            {"role": "user", "content": "generate an easy 4x4 sudoku"}]}).json()
    first.close()

    second = Service(settings(tmp_path, threads_db=db))
    with TestClient(build(second.settings, service=second)) as c:
        assert c.get("/healthz").json()["threads"] == "sqlite"
        hint = c.post("/v1/chat", json={"message": "give me a hint", "thread_id": "keep"}).json()
        assert hint["ok"] and SOLUTION4[hint["hint"]["row"] - 1][hint["hint"]["col"] - 1] == hint["hint"]["digit"]
        # The OpenAI conversation continues too: same thread, found from its transcript.
        again = c.post("/v1/chat/completions", json={"model": MODEL_NAME, "messages": [
            {"role": "user", "content": "generate an easy 4x4 sudoku"},
            {"role": "assistant", "content": opened["choices"][0]["message"]["content"]},
            {"role": "user", "content": "solve it"}]}).json()
        assert again["thread_id"] == opened["thread_id"]
        solved = again["hrm_reply"]
        assert solved["verified"] and solved["grid"] == opened["hrm_reply"]["grid"]
    second.close()


def test_requests_beyond_the_concurrency_limit_get_503(tmp_path):
    entered, release = threading.Event(), threading.Event()

    def slow_solver(puzzle, **_):
        entered.set()
        release.wait(30)
        raise ValueError("released")

    service = Service(settings(tmp_path), solver=slow_solver)
    with running(build(service.settings, max_concurrent=1, service=service)) as url:
        blocked = threading.Thread(target=httpx.post, args=(url + "/v1/solve",), kwargs={"json": {"puzzle": PUZZLE4}, "timeout": 60})
        blocked.start()
        assert entered.wait(30)
        r = httpx.post(url + "/v1/solve", json={"puzzle": PUZZLE4})
        assert error_of(r, 503, "server_busy") and r.headers["retry-after"] == "1"
        assert httpx.get(url + "/healthz").status_code == 200  # health is never refused
        release.set()
        blocked.join(60)
        after = httpx.post(url + "/v1/solve", json={"puzzle": PUZZLE4})
        assert error_of(after, 422, "bad_request") == "released"  # the slot is free again
    service.close()


def test_serve_binds_this_machine_by_default():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.threads_db) == ("127.0.0.1", 8080, None)


def test_small_load_none_lost_every_answer_verified(tmp_path):
    with running(build(settings(tmp_path))) as url:
        report = asyncio.run(load_test.run_load(url, chats=10, solves=20, solve_concurrency=5, seed=1, timeout=600))
    for part in ("chat_turns", "solve_requests"):
        assert report[part]["lost"] == 0 and report[part]["failures"] == []
    assert report["chat_turns"]["verified"] == 20 and report["solve_requests"]["verified"] == 20
    assert load_test.passed(report)


@pytest.mark.slow
def test_chat_command_keeps_threads_in_sqlite_across_runs(tmp_path):
    import subprocess

    root = Path(__file__).resolve().parents[1]

    def chat(message: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "orchestrator", "chat", message, "--thread", "me", "--no-llm",
                               "--quiet", "--json", "--threads-db", str(tmp_path / "threads.db"),
                               "--trace", str(tmp_path / "traces.jsonl")],
                              cwd=root, capture_output=True, text=True, timeout=300)

    assert chat(f"solve this sudoku: {PUZZLE4}").returncode == 0
    second = chat("give me a hint")  # a new process: the puzzle comes from the SQLite file
    assert second.returncode == 0, second.stdout + second.stderr
    h = json.loads(second.stdout)["hint"]
    assert SOLUTION4[h["row"] - 1][h["col"] - 1] == h["digit"]
