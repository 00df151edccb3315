"""Training-step speed: segments/s and achieved GFLOP/s against a plain matmul on this machine.

    python eval/bench_training.py                  # cpu-small on 9x9 sudoku, fp32 and bf16
    python eval/bench_training.py --preset paper-27m --batch-size 8 --steps 3

FLOPs are counted by torch's FlopCounterMode over one whole optimizer step (the segment's
forward, the Q-target forward, the backward), so "achieved" means useful model arithmetic per
second. The matmul reference runs the largest GEMM shape of the model and a square 2048 GEMM.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from reasoner.act import ACTState, Batch, act_train_segment
from reasoner.config import PRESETS, preset_config
from reasoner.losses import act_loss
from reasoner.model import HRM, count_parameters
from reasoner.optim import AdamATan2
from reasoner.tasks import SudokuTask


def train_step_fn(model, opt, pool, batch_size, autocast_dtype):
    state = {"act": ACTState.empty(model, pool)}

    def step():
        act = state["act"]
        if act.halted.any():
            idx = act.halted.nonzero().squeeze(-1)
            act = act.refill(model, Batch(pool.inputs[idx], pool.labels[idx], pool.puzzle_ids[idx]))
        with torch.autocast("cpu", dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
            seg = act_train_segment(model, act)
            loss, _ = act_loss(seg.out.logits, act.batch.labels, seg.out.q_halt, seg.out.q_continue,
                               seg.target_q_continue, model.cfg.loss)
        (loss / batch_size).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        state["act"] = seg.state

    return step


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def matmul_gflops(m: int, k: int, n: int, dtype: torch.dtype, repeats: int = 20) -> float:
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    seconds = timed(lambda: a @ b, repeats)
    return 2 * m * k * n / seconds / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu-small", choices=sorted(PRESETS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per precision")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    task = SudokuTask(3, 3)
    puzzles, solutions = task.generate(args.batch_size, (40, 40), np.random.default_rng(0), progress=False)
    ex = task.examples_from_grids(puzzles, solutions)
    pool = Batch(torch.from_numpy(ex.inputs), torch.from_numpy(ex.labels), torch.from_numpy(ex.puzzle_ids))
    cfg = preset_config(args.preset, task.vocab_size, task.seq_len, **task.model_hints())
    rows = []
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        torch.manual_seed(0)
        model = HRM(cfg)
        opt = AdamATan2([p for n, p in model.named_parameters() if n != "puzzle_emb"], lr=1e-4)
        step = train_step_fn(model, opt, pool, args.batch_size, dtype)
        step()
        with FlopCounterMode(display=False) as counter:
            step()
        flops = counter.get_total_flops()
        seconds = timed(step, args.steps)
        rows_tokens = args.batch_size * cfg.total_len
        mm_dtype = dtype or torch.float32
        rows.append({
            "precision": name,
            "seconds_per_step": round(seconds, 4),
            "segments_per_s": round(args.batch_size / seconds, 1),
            "gflop_per_step": round(flops / 1e9, 2),
            "achieved_gflops": round(flops / seconds / 1e9, 1),
            "matmul_gflops_model_shape": round(matmul_gflops(rows_tokens, cfg.hidden_size, cfg.mlp_hidden * 2, mm_dtype), 1),
            "matmul_gflops_2048": round(matmul_gflops(2048, 2048, 2048, mm_dtype, repeats=5), 1),
        })
    header = (f"preset {args.preset}: {count_parameters(HRM(cfg)):,} parameters, batch {args.batch_size}, 9x9 sudoku, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(header + "\n")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    if args.json:
        args.json.write_text(json.dumps({"setup": header, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
