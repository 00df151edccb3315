"""Measure where `solve()` may give up on a checkpoint's Q-head, and write it on the card.

With halting="verified", `solve()` stops a puzzle at the first segment whose answer verifies, or
earlier when the checkpoint's card has a `give_up` threshold and the Q-head's halt logit falls
under it. A Q-head is its checkpoint's own, so the threshold is measured per checkpoint:

  rule: from segment 1, the highest threshold (in steps of 0.1) that keeps --keep-share (default
  99%) of the keep set's HRM answers: a puzzle the HRM solves within M_max segments is given up iff
  its halt logit fell under the threshold at some segment before its answer first verified.

The keep set (--keep) says which puzzles the give-up must never cost an HRM answer: the lower it sets
the bar, the more segments every hopeless puzzle spends before the search takes over; --hard SOURCE
also reports what the threshold does to harder puzzles (how many
segments they get, and how many of the HRM's own solves of them it gives up).

    python eval/calibrate_give_up.py reasoner/checkpoints/sudoku-9x9.safetensors --keep gen:count=256,blanks=40 \\
        --hard 'file:../shared/data/sudoku/sudoku_extreme_train_1k_subset.txt[900:1000]' --write
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reasoner.act import answer_probabilities  # noqa: E402
from reasoner.checkpoint import GiveUp, card_path, load_checkpoint  # noqa: E402
from reasoner.inference import autocast  # noqa: E402

SEED = 31337  # the sets are drawn with their own seed, which no training run uses


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a checkpoint (.safetensors with its card)")
    parser.add_argument("--keep", required=True, help="data source whose HRM solves must never be given up, "
                        "e.g. gen:count=256,blanks=40")
    parser.add_argument("--keep-share", type=float, default=0.99,
                        help="share of the keep set's HRM answers the threshold keeps (default: %(default)s)")
    parser.add_argument("--hard", action="append", default=[], help="data source to report on, repeatable")
    parser.add_argument("--write", action="store_true", help="write the threshold on the checkpoint's card")
    return parser


@torch.no_grad()
def trace(model, task, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(halt logits [N, M_max], first verified segment [N], 0 if none) of the HRM on a data source."""
    examples = task.load_examples(source, np.random.default_rng(SEED), progress=False)
    grids = np.stack([task.decode(x) for x in examples.inputs])
    inputs, segments = torch.from_numpy(examples.inputs), model.cfg.halt_max_steps
    carry, ids = model.initial_carry(len(inputs)), torch.zeros(len(inputs), dtype=torch.long)
    q = np.zeros((len(inputs), segments))
    first = np.zeros(len(inputs), dtype=np.int64)
    with autocast("cpu"):
        for s in range(segments):
            out = model(carry, inputs, ids)
            carry = out.carry
            q[:, s] = out.q_halt.float().numpy()
            ok = task.accepts(grids, answer_probabilities(out.logits, model.cfg.loss).argmax(-1).numpy())
            first[(first == 0) & ok] = s + 1
    return q, first


def effect(q: np.ndarray, first: np.ndarray, give_up: GiveUp) -> dict:
    """Segments each puzzle gets under `give_up`, and the HRM solves it gives up."""
    segments = q.shape[1]
    given_up = np.zeros(len(q), dtype=bool)
    used = np.full(len(q), segments)
    for i in range(len(q)):
        for s in range(1, segments + 1):
            if first[i] == s:
                used[i] = s
                break
            if s >= give_up.from_segment and q[i, s - 1] < give_up.logit:
                used[i], given_up[i] = s, True
                break
    solved = first > 0
    return {"puzzles": len(q), "hrm_solves": int(solved.sum()), "solves_given_up": int((solved & given_up).sum()),
            "mean_segments": round(float(used.mean()), 2)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model, task, card = load_checkpoint(args.checkpoint)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}")
    keep = args.keep
    q, first = trace(model, task, keep)
    if first.max() == 0:
        raise SystemExit(f"error: the HRM solves none of {keep}: no threshold keeps anything")
    if not 0 < args.keep_share <= 1:
        raise SystemExit("error: --keep-share must be in (0, 1]")
    # Each HRM answer's lowest score while not yet right (none before segment 1's: infinity).
    lowest = np.array([q[i, : first[i] - 1].min(initial=np.inf) for i in np.flatnonzero(first > 0)])
    bound = float(np.quantile(lowest, 1 - args.keep_share, method="lower"))
    logit = math.floor(bound * 10) / 10 if np.isfinite(bound) else math.floor(q.max() * 10) / 10 + 0.1
    give_up = GiveUp(logit=logit, from_segment=1,
                     measured=f"python eval/calibrate_give_up.py {args.checkpoint} --keep {keep} --keep-share "
                              f"{args.keep_share}: keeps that share of the HRM's answers to those puzzles")
    report = {"give_up": give_up.model_dump(), "keep": {"source": keep, **effect(q, first, give_up)}}
    for source in args.hard:
        report[source] = effect(*trace(model, task, source), give_up)
    print(json.dumps(report, indent=1))
    if args.write:
        path = card_path(args.checkpoint.with_suffix(".safetensors"))
        data = json.loads(path.read_text())
        data["give_up"] = give_up.model_dump()
        path.write_text(json.dumps(data, indent=2) + "\n")
        print(f"written to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
