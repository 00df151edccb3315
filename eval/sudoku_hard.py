"""The HRM alone on hard sudoku: exact accuracy against test-time segments, by givens and by rating.

Sets: fresh generated minimal puzzles (`gen:count=N,givens=A-B`, seed SEED, never a training seed)
and, optionally, more generated sets (--gen) and files (e.g. Sudoku-Extreme rows 900-1000, which no
shipped run trains on: the cards say which rows they used). For each set and segment count, HRM alone (no repair, no search):
  exact        every cell right after that many segments (halting off)
  verified     stopped at the first segment whose answer the rule checker accepts (within the count)
  views        with --views N: solved when any of N symmetric copies of the puzzle (reasoner/views.py)
               gives an answer the rule checker accepts within the count
  picked       with --views N: the copy the model is surest of (its Q-head's halt logit) at that count is
               right: the HRM alone, no rule checker involved
and, at the largest count, the exact share per number of givens and per rating (the fixed exact
solver's dead ends, verifiers.sudoku.search_effort), plus what the model's guidance does for the
exact search: search nodes with and without the model's value order, and the share of puzzles the
guided search solves without branching.
With --commit K [K ...] every set is scored once per K, with committed decoding (reasoner/commit.py;
K 0: without): every --commit-every segments each unhalted puzzle (or copy) writes its K surest blank
cells into its input as givens. The plot: exact against segments, one copy (solid) and, with --views,
the model-picked copies (dashed).

    python eval/sudoku_hard.py --generated 200 --givens 17-25 \\
        --file '../shared/data/sudoku/sudoku_extreme_train_1k_subset.txt[900:1000]' --out docs/sudoku-hard
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plots import plot_by_segment  # noqa: E402
from reasoner.act import run_segments  # noqa: E402
from reasoner.checkpoint import load_checkpoint  # noqa: E402
from reasoner.commit import EVERY, Commit  # noqa: E402
from reasoner.inference import autocast  # noqa: E402
from reasoner.model import HRM  # noqa: E402
from reasoner.views import score_views  # noqa: E402
from verifiers import sudoku as rules  # noqa: E402

SEED = 2027
BATCH = 100
GIVENS_BUCKETS = ((17, 20), (21, 22), (23, 24), (25, 26), (27, 30), (31, 81))
RATING_BUCKETS = ((0, 0), (1, 9), (10, 99), (100, None))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("reasoner/checkpoints/sudoku-9x9.safetensors"),
                        help="a 9x9 sudoku checkpoint (default: %(default)s)")
    parser.add_argument("--generated", type=int, default=200, help="fresh generated puzzles (0: none; default: %(default)s)")
    parser.add_argument("--givens", default="17-25", help="givens of the generated puzzles, A-B (default: %(default)s)")
    parser.add_argument("--gen", action="append", default=[], metavar="SPEC",
                        help="another generated set, any generator spec, repeatable, e.g. count=256,blanks=40")
    parser.add_argument("--file", action="append", default=[], help="file:PATH[start:end]-style set, repeatable, e.g. PATH[900:1000]")
    parser.add_argument("--segments", type=int, nargs="+", default=[8, 16, 32, 64, 128],
                        help="test-time segment counts (default: %(default)s)")
    parser.add_argument("--views", type=int, default=1,
                        help="also score N symmetric copies per puzzle, verifier-picked and model-picked "
                             "(default: %(default)s: off)")
    parser.add_argument("--commit", type=int, nargs="+", default=[0], metavar="K",
                        help="committed decoding: every --commit-every segments, each puzzle the Q-head has not "
                             "halted writes its K surest blank cells into its input; several K score each set once "
                             "per K (default: %(default)s: off)")
    parser.add_argument("--commit-every", type=int, default=EVERY, metavar="R",
                        help="segments between commitments (default: %(default)s)")
    parser.add_argument("--cycles", type=int, nargs=2, metavar=("H", "L"),
                        help="run the checkpoint's weights with H high-level cycles of L low-level updates per segment "
                             "(default: the card's)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model's updates (tens of seconds once; then faster)")
    parser.add_argument("--out", type=Path, default=Path("sudoku-hard"), help="output prefix: .json, .md, .png (default: %(default)s)")
    return parser


def bucket_name(low: int, high: int | None) -> str:
    return str(low) if low == high else (f"{low}-{high}" if high is not None else f">={low}")


def by_bucket(values: np.ndarray, right: np.ndarray, buckets) -> dict:
    out = {}
    for low, high in buckets:
        mask = (values >= low) & (values <= (high if high is not None else values.max(initial=0)))
        if mask.any():
            out[bucket_name(low, high)] = {"puzzles": int(mask.sum()), "exact": float(right[mask].mean())}
    return out


def grids(task, source: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Puzzles and solutions of a data source (`gen:count=N,givens=A-B`, `file:PATH[a:b]`) as grids."""
    examples = task.load_examples(source, rng, progress=False)
    return np.stack([task.decode(x) for x in examples.inputs]), np.stack([task.decode(y) for y in examples.labels])


@torch.inference_mode()
def score(model, task, puzzles: np.ndarray, solutions: np.ndarray, counts: list[int], views: int = 1,
          commit: Commit | None = None) -> dict:
    top = max(counts)
    exact = np.zeros((top, len(puzzles)), dtype=bool)
    accepted = np.zeros((top, len(puzzles)), dtype=bool)
    guided_nodes, plain_nodes = [], []
    for start in range(0, len(puzzles), BATCH):
        grids, sols = puzzles[start : start + BATCH], solutions[start : start + BATCH]
        inputs = torch.from_numpy(np.stack([task.encode(g) for g in grids]))
        with autocast("cpu"):
            trace = run_segments(model, inputs, torch.zeros(len(grids), dtype=torch.long), top, commit=commit)
        for k, probs in enumerate(trace.probs):
            tokens = probs.argmax(-1).numpy()
            exact[k, start : start + len(grids)] = (tokens - 1 == sols.reshape(len(grids), -1)).all(-1)
            accepted[k, start : start + len(grids)] = task.accepts(grids, tokens)
        digit_probs = trace.probs[-1][..., 2:11].float().numpy().reshape(len(grids), 9, 9, 9)
        for grid, p in zip(grids, digit_probs):
            plain_nodes.append(rules.guided_search(grid, 3, 3).nodes)
            guided_nodes.append(rules.guided_search(grid, 3, 3, value_scores=p).nodes)
    first_ok = np.where(accepted.any(0), accepted.argmax(0) + 1, top + 1)
    givens = (puzzles.reshape(len(puzzles), -1) > 0).sum(1)
    ratings = np.array([rules.search_effort(p, 3, 3) for p in puzzles])
    plain, guided = np.array(plain_nodes), np.array(guided_nodes)
    with_views = {}
    if views > 1:
        with autocast("cpu"):
            copies = score_views(model, task, puzzles, top, views, np.random.default_rng(SEED), BATCH, commit)
        with_views = {"views": views, "verified_views": {str(s): float(copies.verified[s - 1].mean()) for s in counts},
                      "picked_views": {str(s): float(copies.picked[s - 1].mean()) for s in counts},
                      "picked_views_by_segment": copies.picked.mean(1).round(4).tolist()}
    return {
        **with_views,
        "puzzles": len(puzzles),
        "exact": {str(s): float(exact[s - 1].mean()) for s in counts},
        "verified": {str(s): float((first_ok <= s).mean()) for s in counts},
        "mean_segments_verified_halting": {str(s): float(np.minimum(first_ok, s).mean()) for s in counts},
        "exact_by_segment": exact.mean(1).round(4).tolist(),
        "by_givens": by_bucket(givens, exact[-1], GIVENS_BUCKETS),
        "by_rating": by_bucket(ratings, exact[-1], RATING_BUCKETS),
        "search": {
            "nodes_plain_mean": float(plain.mean()), "nodes_guided_mean": float(guided.mean()),
            "nodes_plain_median": float(np.median(plain)), "nodes_guided_median": float(np.median(guided)),
            "no_branching_plain": float((plain == 0).mean()), "no_branching_guided": float((guided == 0).mean()),
        },
    }


def markdown(report: dict) -> str:
    return f"Checkpoint `{report['checkpoint']}`; command: `{report['command']}`\n\n" + tables(report)


def tables(report: dict) -> str:
    """The tables of `report["sets"]` (each a score() result) at `report["segments"]`."""
    counts = report["segments"]
    every = (report.get("commit") or {}).get("every")
    when = "after every segment" if every == 1 else f"every {every} segments"
    how = f" (rows named 'commit K': committed decoding, K cells {when})" if every else ""
    lines = [f"HRM alone{how}, exact (verified-halting: solved within the count) by test-time segments:", "",
             "| set | n | " + " | ".join(f"@{s}" for s in counts) + " |", "|---|---|" + "---|" * len(counts)]
    for name, r in report["sets"].items():
        cells = [f"{100 * r['exact'][str(s)]:.1f}% ({100 * r['verified'][str(s)]:.1f}%)" for s in counts]
        lines.append(f"| {name} | {r['puzzles']} | " + " | ".join(cells) + " |")
        if "views" in r:
            cells = [f"{100 * r['verified_views'][str(s)]:.1f}%" for s in counts]
            lines.append(f"| {name}, {r['views']} views (verified) | {r['puzzles']} | " + " | ".join(cells) + " |")
            cells = [f"{100 * r['picked_views'][str(s)]:.1f}%" for s in counts]
            lines.append(f"| {name}, {r['views']} views (model-picked) | {r['puzzles']} | " + " | ".join(cells) + " |")
    lines += ["", f"At {counts[-1]} segments, by givens and by rating (the exact solver's dead ends):", ""]
    for name, r in report["sets"].items():
        parts = [f"{k} givens: {100 * v['exact']:.0f}% of {v['puzzles']}" for k, v in r["by_givens"].items()]
        parts += [f"rating {k}: {100 * v['exact']:.0f}% of {v['puzzles']}" for k, v in r["by_rating"].items()]
        lines.append(f"- {name}: " + "; ".join(parts))
    lines += ["", "The exact search with and without the model's value order (at the last segment):", "",
              "| set | branching nodes, plain (mean / median) | branching nodes, guided | no branching, plain | no branching, guided |",
              "|---|---|---|---|---|"]
    for name, r in report["sets"].items():
        s = r["search"]
        lines.append(f"| {name} | {s['nodes_plain_mean']:.1f} / {s['nodes_plain_median']:.0f} | "
                     f"{s['nodes_guided_mean']:.1f} / {s['nodes_guided_median']:.0f} | "
                     f"{100 * s['no_branching_plain']:.1f}% | {100 * s['no_branching_guided']:.1f}% |")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    curves = {name: r["exact_by_segment"] for name, r in report["sets"].items()}
    views = {f"{name}, {r['views']} views (model-picked)": r["picked_views_by_segment"]
             for name, r in report["sets"].items() if "picked_views_by_segment" in r}
    plot_by_segment(curves | views, "exact, HRM alone (%)", path, dashed=set(views))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.checkpoint.with_suffix(".safetensors").is_file():
        raise SystemExit(f"error: no checkpoint at {args.checkpoint}")
    model, task, card = load_checkpoint(args.checkpoint)
    if args.cycles and min(args.cycles) < 1:
        raise SystemExit(f"error: --cycles needs two whole numbers of at least 1, got {args.cycles}")
    if args.cycles:  # the same weights, more (or fewer) updates per segment
        cycles = dict(zip(("H_cycles", "L_cycles"), args.cycles))
        deeper = HRM(model.cfg.model_copy(update=cycles)).eval()
        deeper.load_state_dict(model.state_dict())
        model = deeper
    if args.compile:
        model.compile_inference()
    if getattr(task, "size", None) != 9 or task.name != "sudoku":
        raise SystemExit(f"error: {args.checkpoint} is not a 9x9 sudoku checkpoint ({task!r})")
    try:
        commits = [(k, Commit.for_task(task, k, args.commit_every)) for k in dict.fromkeys(args.commit)]
    except ValueError as err:
        raise SystemExit(f"error: --commit: {err}")
    counts = sorted(set(args.segments))
    report = {"checkpoint": str(args.checkpoint), "command": "python eval/sudoku_hard.py " + " ".join(argv or sys.argv[1:]),
              "segments": counts, "sets": {},
              "commit": {"cells": [k for k, _ in commits], "every": args.commit_every} if any(r for _, r in commits) else None}
    sets = []
    if args.generated:
        sets.append((f"generated, givens {args.givens}", f"gen:count={args.generated},givens={args.givens}"))
    sets += [(f"generated, {spec}", f"gen:{spec}") for spec in args.gen]
    sets += [(Path(spec.split("[")[0]).name + ("[" + spec.split("[", 1)[1] if "[" in spec else ""), f"file:{spec}")
             for spec in args.file]
    for name, source in sets:
        try:
            puzzles, solutions = grids(task, source, np.random.default_rng(SEED))
        except (ValueError, FileNotFoundError) as err:
            raise SystemExit(f"error: {source}: {err}")
        for cells, commit in commits:
            row = name + (f", commit {cells}" if commit else "")
            report["sets"][row] = score(model, task, puzzles, solutions, counts, args.views, commit)
            print(row, report["sets"][row]["exact"], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    plot(report, args.out.with_suffix(".png"))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
