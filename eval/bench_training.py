"""Training-step speed: segments/s, tokens/s and achieved GFLOP/s as a share of a plain matmul
measured in the same run on this machine.

    python eval/bench_training.py                  # the shipped sudoku-9x9 shape, fp32 and bf16
    python eval/bench_training.py --batch-size 64 128 256 --compile   # larger batches, torch.compile too
    python eval/bench_training.py --preset paper-27m --batch-size 8 --steps 3

FLOPs are counted by torch's FlopCounterMode over one whole optimizer step (the segment's
forward, the Q-target forward, the backward), so "achieved" means useful model arithmetic per
second. The matmul reference runs the model's largest GEMM shape ([batch x tokens, hidden] times
[hidden, 2 x MLP width]) in the same precision, right after the steps it is compared with, and a
square 2048 GEMM.
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

from reasoner.act import ACTState, Batch
from reasoner.checkpoint import CheckpointCard, card_path
from reasoner.config import PRESETS, preset_config
from reasoner.inference import CHECKPOINT_DIR
from reasoner.model import HRM, count_parameters
from reasoner.optim import AdamATan2
from reasoner.tasks import VARIANTS
from reasoner.training import train_step


class Steps:
    """Optimizer steps on a pool the size of the batch: a halted slot gets its own puzzle back."""

    def __init__(self, model: HRM, opt: torch.optim.Optimizer, pool: Batch, autocast_dtype: torch.dtype | None):
        self.model, self.opt, self.pool, self.autocast_dtype = model, opt, pool, autocast_dtype
        self.act = ACTState.empty(model, pool)

    def __call__(self) -> None:
        if self.act.halted.any():
            idx = self.act.halted.nonzero().squeeze(-1)
            fresh = Batch(self.pool.inputs[idx], self.pool.labels[idx], self.pool.puzzle_ids[idx])
            self.act = self.act.refill(self.model, fresh)
        self.act, _, _ = train_step(self.model, self.act, [self.opt], len(self.pool.inputs),
                                    autocast_dtype=self.autocast_dtype)


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


def measure(cfg, pool: Batch, batch_size: int, name: str, dtype, compiled: bool, steps: int) -> dict:
    """One row: a model trained for `steps` optimizer steps, then the matmul reference at its shape."""
    torch.manual_seed(0)
    model = HRM(cfg)
    opt = AdamATan2([p for n, p in model.named_parameters() if n != "puzzle_emb"], lr=1e-4)
    step = Steps(model, opt, pool, dtype)
    step()
    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    if compiled:  # as train.py does: only the transformer stacks (inductor cannot take the sparse lookup)
        for module in (model.L_level, model.H_level):
            module.compile()
        step()  # compiles
    seconds = timed(step, steps)
    matmul = matmul_gflops(batch_size * cfg.total_len, cfg.hidden_size, cfg.mlp_hidden * 2, dtype or torch.float32)
    achieved = flops / seconds / 1e9
    return {
        "precision": name, "compiled": compiled, "batch": batch_size,
        "seconds_per_step": round(seconds, 4),
        "segments_per_s": round(batch_size / seconds, 1),
        "tokens_per_s": round(batch_size * cfg.total_len / seconds),
        "gflop_per_step": round(flops / 1e9, 2),
        "achieved_gflops": round(achieved, 1),
        "matmul_gflops_model_shape": round(matmul, 1),
        "share_of_matmul": f"{achieved / matmul:.0%}",
        "matmul_gflops_2048": round(matmul_gflops(2048, 2048, 2048, dtype or torch.float32, repeats=5), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a preset's shape instead of the shipped sudoku-9x9's")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[64], help="one row per batch size and precision")
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per row")
    parser.add_argument("--compile", action="store_true", help="also rows with the transformer stacks torch.compile'd")
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"], help="rows to run")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--threads", type=int, help="intra-op threads (default: torch's); 1 on a CPU other jobs keep busy")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    variant = VARIANTS["sudoku-9x9"]
    task = variant.make()
    if args.preset:
        cfg, shape = preset_config(args.preset, task.vocab_size, task.seq_len, **task.model_hints()), f"preset {args.preset}"
    else:
        card = CheckpointCard.model_validate_json(card_path(CHECKPOINT_DIR / variant.checkpoint).read_text())
        cfg, shape = card.model, f"the shipped {variant.name} shape (hidden {card.model.hidden_size})"
    rows = []
    for batch_size in args.batch_size:
        puzzles, solutions = task.generate(batch_size, (40, 40), np.random.default_rng(0), progress=False)
        ex = task.examples_from_grids(puzzles, solutions)
        pool = Batch(torch.from_numpy(ex.inputs), torch.from_numpy(ex.labels), torch.from_numpy(ex.puzzle_ids))
        for compiled in (False, True) if args.compile else (False,):
            for name in args.precision:
                dtype = torch.bfloat16 if name == "bf16" else None
                rows.append(measure(cfg, pool, batch_size, name, dtype, compiled, args.steps))
    header = (f"{shape}: {count_parameters(HRM(cfg)):,} parameters, 9x9 sudoku, "
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
