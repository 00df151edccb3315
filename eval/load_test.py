"""A bounded load test of `python -m orchestrator serve` on 127.0.0.1: concurrent chats and solve
requests; every reply must arrive (none lost) and every answer must pass the verifier.

    python eval/load_test.py                       # 50 chats + 200 solves against a server it starts itself
    python eval/load_test.py --url http://127.0.0.1:8080 --chats 10 --solves 20

Each chat is its own thread of two turns, sent by all chats at once: "solve this sudoku: <puzzle>"
(the reply's answer must be the puzzle's unique solution, re-checked by the verifier) and "give me
a hint" (one cell, which must match that solution). The solve requests (POST /v1/solve) run
`--solve-concurrency` at a time beside the chats. Puzzles are generated with a fixed seed (4x4,
6x6 and 9x9 in turn). The server this script starts uses the rule-based language layer, as the
chat does when no language model is reachable. Exit status 0 only when nothing was lost and every
answer was verified.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from reasoner.tasks import BOX_SHAPE, SudokuTask
from verifiers import sudoku as rules

BLANKS = {4: (6, 10), 6: (14, 20), 9: (36, 45)}  # blanks per sudoku side (their box shapes: BOX_SHAPE)


@dataclass
class Tally:
    sent: int = 0
    answered: int = 0  # an HTTP 200 with a body
    verified: int = 0  # ... whose answer passed the checks
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        return {"sent": self.sent, "answered": self.answered, "lost": self.sent - self.answered,
                "verified": self.verified,
                "latency_s": {"median": round(statistics.median(lat), 3) if lat else None,
                              "p95": round(lat[int(0.95 * (len(lat) - 1))], 3) if lat else None,
                              "max": round(lat[-1], 3) if lat else None},
                "failures": self.failures[:10]}


def puzzles(count: int, seed: int) -> list[tuple[list[list[int]], list[list[int]]]]:
    """`count` (puzzle, unique solution) pairs, the sizes in turn."""
    rng = np.random.default_rng(seed)
    sizes = [list(BLANKS)[i % len(BLANKS)] for i in range(count)]
    out: dict[int, list] = {}
    for n in set(sizes):
        qs, sols = SudokuTask(*BOX_SHAPE[n]).generate(sizes.count(n), BLANKS[n], rng, progress=False)
        out[n] = [(q.tolist(), s.tolist()) for q, s in zip(qs, sols)]
    return [out[n].pop() for n in sizes]


def flat(grid: list[list[int]]) -> str:
    return "".join(str(v) if v else "." for row in grid for v in row)


def answer_ok(puzzle, solution, answer) -> bool:
    return answer == solution and rules.check_solution(puzzle, answer, *BOX_SHAPE[len(puzzle)]).ok


async def timed_post(client: httpx.AsyncClient, path: str, body: dict, tally: Tally) -> dict | None:
    tally.sent += 1
    start = time.perf_counter()
    try:
        response = await client.post(path, json=body)
    except httpx.HTTPError as err:
        tally.failures.append(f"{path}: {type(err).__name__}: {err}")
        return None
    tally.latencies.append(time.perf_counter() - start)
    if response.status_code != 200:
        tally.failures.append(f"{path}: HTTP {response.status_code}: {response.text[:200]}")
        return None
    tally.answered += 1
    return response.json()


async def one_chat(client, index: int, puzzle, solution, tally: Tally) -> None:
    thread = f"load-{index}"
    reply = await timed_post(client, "/v1/chat", {"message": f"solve this sudoku: {flat(puzzle)}", "thread_id": thread}, tally)
    if reply is not None:
        if reply.get("verified") and answer_ok(puzzle, solution, reply.get("answer")):
            tally.verified += 1
        else:
            tally.failures.append(f"chat {index} solve: status {reply.get('status')}, not the verified solution")
    reply = await timed_post(client, "/v1/chat", {"message": "give me a hint", "thread_id": thread}, tally)
    if reply is not None:
        hint = reply.get("hint")
        if hint and puzzle[hint["row"] - 1][hint["col"] - 1] == 0 and solution[hint["row"] - 1][hint["col"] - 1] == hint["digit"]:
            tally.verified += 1
        else:
            tally.failures.append(f"chat {index} hint: {hint} does not match the solution")


async def one_solve(client, gate: asyncio.Semaphore, puzzle, solution, tally: Tally) -> None:
    async with gate:
        result = await timed_post(client, "/v1/solve", {"puzzle": puzzle}, tally)
    if result is not None:
        if result.get("verified") and answer_ok(puzzle, solution, result.get("answer")):
            tally.verified += 1
        else:
            tally.failures.append(f"solve: status {result.get('status')}, not the verified solution")


async def run_load(url: str, chats: int, solves: int, solve_concurrency: int, seed: int, timeout: float) -> dict:
    """Everything at once: `chats` conversations and `solves` solve requests; the tallies and times."""
    chat_puzzles, solve_puzzles = puzzles(chats, seed), puzzles(solves, seed + 1)
    chat, solve = Tally(), Tally()
    gate = asyncio.Semaphore(solve_concurrency)
    limits = httpx.Limits(max_connections=chats + solve_concurrency + 4)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        await asyncio.gather(
            *(one_chat(client, i, p, s, chat) for i, (p, s) in enumerate(chat_puzzles)),
            *(one_solve(client, gate, p, s, solve) for p, s in solve_puzzles),
        )
    wall = time.perf_counter() - started
    return {"url": url, "chats": chats, "solves": solves, "solve_concurrency": solve_concurrency, "seed": seed,
            "wall_s": round(wall, 2), "requests_per_s": round((chat.sent + solve.sent) / wall, 2),
            "chat_turns": chat.summary(), "solve_requests": solve.summary()}


def passed(report: dict) -> bool:
    parts = (report["chat_turns"], report["solve_requests"])
    return all(p["lost"] == 0 and p["verified"] == p["sent"] for p in parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (default: start one on 127.0.0.1, a free port, rules only)")
    parser.add_argument("--chats", type=int, default=50, help="concurrent chat threads, two turns each (default 50)")
    parser.add_argument("--solves", type=int, default=200, help="POST /v1/solve requests (default 200)")
    parser.add_argument("--solve-concurrency", type=int, default=10, help="solve requests in flight at once (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="puzzle seed (default 0)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one request may take (default 600)")
    parser.add_argument("--report", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    if min(args.chats, args.solves) < 0 or args.solve_concurrency < 1:
        parser.error("--chats and --solves must be >= 0, --solve-concurrency >= 1")

    with ExitStack() as stack:
        url = args.url
        if url is None:
            from orchestrator import Settings
            from orchestrator.server import build, running

            traces = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "traces.jsonl"
            url = stack.enter_context(running(build(Settings(llm_url=None, trace_path=traces))))
        report = asyncio.run(run_load(url, args.chats, args.solves, args.solve_concurrency, args.seed, args.timeout))
    text = json.dumps(report, indent=2)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    return 0 if passed(report) else 1


if __name__ == "__main__":
    sys.exit(main())
