"""How well does a served language model understand chat requests, and how does it explain?

Sends every message of a labelled set (eval/intent_set.jsonl: message, intent, task, context)
through the orchestrator's understand step against an OpenAI-compatible server and reports

* model: the model's own answer (intent, task), as the schema-guided reply came back;
* layer: what `LanguageLayer.understand` makes of it (the orchestrator's actual decision: the
  rules step in when the model says "other", a grid found by code settles the task);
* rules: the keyword rules alone, for comparison (no model);

with the accuracy of each, the mean and median latency of a model call, and every miss. With
--explain it also shows the model's explanations of three verified results (a solve, a hint and a
wrong answer checked) and whether the grounding check accepted them.

    python -m orchestrator llm serve --model smollm2-135m &      # or any OpenAI-compatible server
    .venv/bin/python eval/llm_intent_eval.py --url http://127.0.0.1:8000/v1 --explain --out runs/intent-smollm2.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.config import DEFAULT_LLM_URL  # noqa: E402
from orchestrator.extract import extract_sudoku  # noqa: E402
from orchestrator.language import LanguageLayer, Understanding, rule_understand  # noqa: E402
from orchestrator.llm import LLMClient, LLMError  # noqa: E402

NO_PUZZLE = "no puzzle in the conversation yet"
# What the graph's _thread_summary says after "solve this sudoku: ..." was answered.
WITH_PUZZLE = "current puzzle: a 9x9 sudoku, solved; previous request: solve"


class RecordingClient(LLMClient):
    """The orchestrator's client, keeping the model's raw (validated) answer of the last call."""

    last: Understanding | None = None

    def chat_json(self, messages, schema, **kw):
        self.last = None
        value = super().chat_json(messages, schema, **kw)
        self.last = value
        return value


def load_set(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def evaluate(client: RecordingClient, items: list[dict]) -> dict:
    rows = []
    for item in items:
        message = item["message"]
        has_grid = bool(extract_sudoku(message).grids)
        with_puzzle = item.get("context") == "puzzle"
        context, thread_task = (WITH_PUZZLE, "sudoku") if with_puzzle else (NO_PUZZLE, None)
        layer = LanguageLayer(client)
        decided = layer.understand(message, has_grid, thread_task, context)
        call = layer.calls[-1]
        raw = client.last if call.ok else None
        rules = rule_understand(message, has_grid, thread_task)
        rows.append({
            "message": message[:70].replace("\n", " / "), "want": [item["intent"], item["task"]],
            "model": [raw.intent, raw.task] if raw else None, "model_error": call.error,
            "layer": [decided.intent, decided.task], "rules": [rules.intent, rules.task], "ms": call.ms,
        })

    def acc(key: str, index: int | None) -> float:
        def hit(r):
            got = r[key]
            if got is None:
                return False
            return got == r["want"] if index is None else got[index] == r["want"][index]
        return round(100 * sum(hit(r) for r in rows) / len(rows), 1)

    ms = [r["ms"] for r in rows]
    return {
        "n": len(rows),
        "accuracy_percent": {k: {"intent": acc(k, 0), "task": acc(k, 1), "both": acc(k, None)}
                             for k in ("model", "layer", "rules")},
        "model_errors": sum(r["model"] is None for r in rows),
        "latency_ms": {"mean": round(statistics.mean(ms)), "median": round(statistics.median(ms)), "max": round(max(ms))},
        "rows": rows,
    }


def explanations(client: LLMClient) -> list[dict]:
    """The model's wording of three verified results, next to the template it would replace."""
    from orchestrator.facts import check_answer, find_hint, solve_facts
    from orchestrator.language import template_check, template_hint, template_solve_explanation
    from reasoner import solve

    puzzle = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
    result = solve(puzzle)
    grid = [[int(ch) if ch != "." else 0 for ch in puzzle[r * 9:(r + 1) * 9]] for r in range(9)]
    wrong = [row[:] for row in result.answer]
    wrong[8][7], wrong[8][8] = wrong[8][8], wrong[8][7]
    cases = [("solve", solve_facts(result), template_solve_explanation),
             ("hint", find_hint(grid, result.answer), template_hint),
             ("check (two cells swapped)", check_answer(grid, wrong), template_check)]
    out = []
    for name, facts, template in cases:
        layer = LanguageLayer(client)
        start = time.perf_counter()
        text = layer.explain(facts, template(facts))
        call = layer.calls[-1]
        out.append({"case": name, "accepted": call.ok, "error": call.error, "ms": round(1000 * (time.perf_counter() - start)),
                    "text": text if call.ok else None, "template": template(facts)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_LLM_URL, help=f"OpenAI-compatible base URL (default {DEFAULT_LLM_URL})")
    parser.add_argument("--model", help="model name (default: the first the server lists)")
    parser.add_argument("--set", type=Path, default=ROOT / "eval" / "intent_set.jsonl", help="labelled messages")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per model call (default 120)")
    parser.add_argument("--explain", action="store_true", help="also show three explanations")
    parser.add_argument("--no-schema-in-prompt", action="store_true",
                        help="do not describe the JSON schema in the system message (the client's default does)")
    parser.add_argument("--out", type=Path, help="write the full report here as JSON")
    args = parser.parse_args(argv)

    client = RecordingClient(args.url, args.model, timeout=args.timeout, schema_in_prompt=not args.no_schema_in_prompt)
    if not client.available():
        print(f"error: no OpenAI-compatible server answers at {args.url}", file=sys.stderr)
        return 1
    items = load_set(args.set)
    try:
        report = {"url": args.url, "model": client.model, "schema_in_prompt": client.schema_in_prompt,
                  **evaluate(client, items)}
        if args.explain:
            report["explanations"] = explanations(client)
    except LLMError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        client.close()

    print(f"model {report['model']} at {args.url}: {report['n']} messages from {args.set.name}"
          f"{'' if client.schema_in_prompt else ' (schema not described in the prompt)'}")
    for key, label in [("model", "model alone"), ("layer", "orchestrator (model + rules)"), ("rules", "rules alone")]:
        a = report["accuracy_percent"][key]
        print(f"  {label:30s} intent {a['intent']:5.1f}%  task {a['task']:5.1f}%  both {a['both']:5.1f}%")
    lat = report["latency_ms"]
    print(f"  model call latency: mean {lat['mean']} ms, median {lat['median']} ms, max {lat['max']} ms; "
          f"failed calls: {report['model_errors']}")
    print("misses of the model (want -> model | orchestrator):")
    for r in report["rows"]:
        if r["model"] != r["want"]:
            got = "/".join(r["model"]) if r["model"] else f"error {r['model_error']}"
            print(f"  {'/'.join(r['want']):17s} -> {got:17s} | {'/'.join(r['layer']):17s} {r['message']!r}")
    for e in report.get("explanations", []):
        verdict = "accepted" if e["accepted"] else f"rejected ({e['error']})"
        print(f"\nexplanation, {e['case']}: {verdict}, {e['ms']} ms")
        if e["text"]:
            print(f"  model:    {e['text']}")
        print(f"  template: {e['template']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
