"""How well does a served language model understand chat requests, and how does it explain?

Sends every message of a labelled set (eval/intent_set.jsonl: message, intent, task, context)
through the orchestrator's understand step against an OpenAI-compatible server and reports

* model: the model's own answer (intent, task), as the schema-guided reply came back;
* layer: what `LanguageLayer.understand` makes of it (the orchestrator's actual decision: the
  rules step in when the model says "other", a grid found by code settles the task);
* rules: the keyword rules alone, for comparison (no model);

with the accuracy of each, overall, per intent and per input form (the set's `form` field: one
line, markdown table, digits as words, ...), the mean and median latency of a model call, and every
miss. --rules-only scores the rules without a server. With --explain it also shows the model's
explanations of three verified results (a solve, a hint and a wrong answer checked) and whether the
claim check accepted them.

    python -m orchestrator llm serve --model smollm2-135m &      # or any OpenAI-compatible server
    .venv/bin/python eval/llm_intent_eval.py --url http://127.0.0.1:8000/v1 --explain --out runs/intent-smollm2.json
    .venv/bin/python eval/llm_intent_eval.py --rules-only
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


def evaluate(client: RecordingClient | None, items: list[dict]) -> dict:
    """Each message through the rules and, with a client, the model and the orchestrator's layer."""
    rows = []
    for item in items:
        message = item["message"]
        grids = extract_sudoku(message).grids
        first = grids[0] if grids else None
        with_puzzle = item.get("context") == "puzzle"
        context, thread_task = (WITH_PUZZLE, "sudoku") if with_puzzle else (NO_PUZZLE, None)
        rules = rule_understand(message, first, thread_task)
        row = {"message": message[:70].replace("\n", " / "), "want": [item["intent"], item["task"]],
               "form": item.get("form"), "split": item.get("split", "dev"), "rules": [rules.intent, rules.task],
               # the grid code read from the message, row by row, is exactly the labelled one
               "read": None if "grid" not in item else bool(grids) and _flat(grids[0]) == item["grid"]}
        if client is not None:
            layer = LanguageLayer(client)
            decided = layer.understand(message, first, thread_task, context)
            call = layer.calls[-1]
            raw = client.last if call.ok else None
            row.update({"model": [raw.intent, raw.task] if raw else None, "model_error": call.error,
                        "layer": [decided.intent, decided.task], "ms": call.ms})
        rows.append(row)
    keys = ("model", "layer", "rules") if client is not None else ("rules",)

    def acc(subset: list[dict], key: str, index: int | None) -> float:
        def hit(r):
            got = r[key]
            if got is None:
                return False
            return got == r["want"] if index is None else got[index] == r["want"][index]
        return round(100 * sum(hit(r) for r in subset) / len(subset), 1)

    def table(group: str) -> dict:
        value = (lambda r: r["want"][0]) if group == "intent" else (lambda r: r[group])
        names = sorted({value(r) for r in rows if value(r)})
        pick = lambda r, g: value(r) == g
        out = {}
        for name in names:
            subset = [r for r in rows if pick(r, name)]
            out[name] = {"n": len(subset), **{k: acc(subset, k, None) for k in keys}}
            labelled = [r["read"] for r in subset if r["read"] is not None]
            if group == "form" and labelled:
                out[name]["grid_read"] = round(100 * sum(labelled) / len(labelled), 1)
        return out

    read = [r["read"] for r in rows if r["read"] is not None]
    report = {
        "n": len(rows),
        "grids_read_exactly": {"n": len(read), "percent": round(100 * sum(read) / len(read), 1) if read else None},
        "accuracy_percent": {k: {"intent": acc(rows, k, 0), "task": acc(rows, k, 1), "both": acc(rows, k, None)} for k in keys},
        "by_intent_both_percent": table("intent"),
        "by_form_both_percent": table("form"),
        # "dev": the messages the keyword rules were adjusted on; "fresh": written after that, unseen by them.
        "by_split_both_percent": table("split"),
        "rows": rows,
    }
    if client is not None:
        ms = [r["ms"] for r in rows]
        report["model_errors"] = sum(r["model"] is None for r in rows)
        report["latency_ms"] = {"mean": round(statistics.mean(ms)), "median": round(statistics.median(ms)), "max": round(max(ms))}
    return report


def _flat(grid: list[list[int]]) -> str:
    return "".join(str(v) if v else "." for row in grid for v in row)


def explanations(client: LLMClient) -> list[dict]:
    """The model's wording of three verified results, next to the template it would replace."""
    from orchestrator.claims import check_knowledge, hint_knowledge, solve_knowledge
    from orchestrator.facts import check_answer, find_hint, solve_facts
    from orchestrator.language import template_check, template_hint, template_solve_explanation
    from reasoner import solve

    puzzle = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
    result = solve(puzzle)
    grid = [[int(ch) if ch != "." else 0 for ch in puzzle[r * 9:(r + 1) * 9]] for r in range(9)]
    wrong = [row[:] for row in result.answer]
    wrong[8][7], wrong[8][8] = wrong[8][8], wrong[8][7]
    hint = find_hint(grid, result.answer)
    checked = check_answer(grid, wrong)
    solved = solve_facts(result)
    cases = [("solve", solved, template_solve_explanation, solve_knowledge(grid, result.answer, solved)),
             ("hint", hint, template_hint, hint_knowledge(grid, result.answer, hint)),
             ("check (two cells swapped)", checked, template_check, check_knowledge(grid, wrong, checked))]
    out = []
    for name, facts, template, knowledge in cases:
        layer = LanguageLayer(client)
        start = time.perf_counter()
        text = layer.explain(facts, template(facts), knowledge)
        call = layer.calls[-1]
        out.append({"case": name, "accepted": call.ok, "error": call.error, "failed_claims": call.failed_claims,
                    "ms": round(1000 * (time.perf_counter() - start)), "text": text if call.ok else None,
                    "raw": call.raw, "template": template(facts)})
    return out


LABELS = {"model": "model alone", "layer": "chat (rules + model)", "rules": "rules alone"}


def print_report(report: dict, set_name: str) -> None:
    keys = [k for k in ("model", "layer", "rules") if k in report["accuracy_percent"]]
    print(f"{report['n']} messages from {set_name}" + (f"; model {report['model']} at {report['url']}" if report["model"] else ""))
    for key in keys:
        a = report["accuracy_percent"][key]
        print(f"  {LABELS[key]:22s} intent {a['intent']:5.1f}%  task {a['task']:5.1f}%  both {a['both']:5.1f}%")
    g = report["grids_read_exactly"]
    print(f"  grids read by code exactly as labelled: {g['percent']}% of {g['n']}")
    for group in ("by_intent_both_percent", "by_form_both_percent", "by_split_both_percent"):
        print(f"intent and task both right, {group.split('_')[1]}:")
        read = " grid read" if group == "by_form_both_percent" else ""
        print("  " + f"{'':22s}" + "".join(f"{LABELS[k]:>22s}" for k in keys) + read)
        for name, row in report[group].items():
            cells = "".join(f"{row[k]:21.1f}%" for k in keys)
            extra = f"{row['grid_read']:9.1f}%" if "grid_read" in row else ""
            print("  " + f"{name} ({row['n']})".ljust(22) + cells + extra)
    if "latency_ms" in report:
        lat = report["latency_ms"]
        print(f"model call latency: mean {lat['mean']} ms, median {lat['median']} ms, max {lat['max']} ms; "
              f"failed calls: {report['model_errors']}")
    decider = "layer" if "layer" in keys else "rules"
    print(f"misses of the {LABELS[decider]}:")
    for r in report["rows"]:
        if r[decider] != r["want"]:
            extra = f" (model: {'/'.join(r['model']) if r['model'] else r.get('model_error')})" if "model" in r else ""
            print(f"  {'/'.join(r['want']):17s} -> {'/'.join(r[decider]):17s}{extra} {r['message']!r}")
    for e in report.get("explanations", []):
        verdict = "accepted" if e["accepted"] else f"rejected ({e['error']})"
        print(f"\nexplanation, {e['case']}: {verdict}, {e['ms']} ms")
        if e["text"]:
            print(f"  model:    {e['text']}")
        print(f"  template: {e['template']}")


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
    parser.add_argument("--rules-only", action="store_true", help="score the keyword rules alone (no server needed)")
    args = parser.parse_args(argv)

    items = load_set(args.set)
    if args.rules_only:
        report = {"url": None, "model": None, **evaluate(None, items)}
    else:
        client = RecordingClient(args.url, args.model, timeout=args.timeout, schema_in_prompt=not args.no_schema_in_prompt)
        if not client.available():
            print(f"error: no OpenAI-compatible server answers at {args.url} (--rules-only scores the rules alone)",
                  file=sys.stderr)
            return 1
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
    print_report(report, args.set.name)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
