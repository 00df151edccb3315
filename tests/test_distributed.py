"""Training on several processes, checked on the CPU with the gloo backend (torchrun).

Two processes with half the batch each must train exactly what one process with the whole batch
trains: the same puzzles in the same slots, the same exploration, gradients and puzzle-embedding
update combined across processes, the loss normalised by the global batch, validation counted once.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from reasoner.config import cpu_tiny
from reasoner.distributed import Processes
from reasoner.losses import act_loss
from reasoner.model import HRM
from reasoner.tasks import SudokuTask

ROOT = Path(__file__).resolve().parents[1]
# fp32 so that the only differences between 1 and 2 processes are float summation orders. Without
# the Q-continue loss: its target is the model's own next prediction, so early on its gradient is
# rounding noise, whose sign differs between one sum of 16 rows and two sums of 8 added together, and
# adam-atan2, which is scale-free, turns either sign into a full step (seen on an AVX2 CPU: the
# Q-head alone 1.8e-3 apart after 12 steps, everything else within 1.2e-7).
RUN = ["--task", "sudoku-4x4", "--preset", "cpu-tiny", "--train-data", "gen:count=50,blanks=6-9",
       "--val-data", "gen:count=20,blanks=6-9", "--batch-size", "16", "--eval-every", "6",
       "--checkpoint-every", "6", "--lr-warmup-steps", "3", "--precision", "fp32", "--no-progress",
       "--model", "act_continue_loss=false"]
# Largest weight difference allowed between 1 and 2 processes after 12 steps: measured 7.5e-8
# (each step moves a weight by up to lr = 1e-3, so a real difference in what is trained shows up
# far above this).
WEIGHT_TOLERANCE = 1e-5


def train(processes: int, *args: str) -> None:
    """`python -m reasoner.train` in a fresh interpreter, or under torchrun with several processes."""
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*launcher, "-m", "reasoner.train", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def state(run: Path) -> dict:
    return torch.load(run / "train_state.pt", weights_only=True)


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "two"
    train(2, *RUN, "--steps", "12", "--out", str(out))
    return out


@pytest.mark.slow
def test_two_processes_train_what_one_process_with_their_whole_batch_trains(two_process_run, tmp_path):
    one = tmp_path / "one"
    train(1, *RUN, "--steps", "12", "--out", str(one))
    a, b = state(one), state(two_process_run)

    # The same puzzles in the same slots, at the same point of their segments: each process held its
    # own half of them, drawn from one stream, and every halting and exploration decision agreed.
    for key in ("inputs", "labels", "puzzle_ids", "steps", "halted"):
        assert torch.equal(a["act"][key], b["act"][key]), key
    assert not torch.equal(b["act"]["inputs"][:8], b["act"]["inputs"][8:])  # the processes' halves differ
    assert a["sample_rng"] == b["sample_rng"] and torch.equal(a["act_gen"], b["act_gen"])
    # The weights: gradients summed over both processes, normalised by the global batch of 16.
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        torch.testing.assert_close(b["model"][key], a["model"][key], rtol=0, atol=WEIGHT_TOLERANCE, msg=key)
    # The puzzle embedding moved (sign-SGD, lr 1e-3 a step), by the same steps in both runs.
    assert a["model"]["puzzle_emb"].abs().max() > 5e-3
    torch.testing.assert_close(b["model"]["puzzle_emb"], a["model"]["puzzle_emb"], rtol=0, atol=WEIGHT_TOLERANCE)

    # One log, written once: the same records (loss over the global batch), each validation puzzle
    # counted once.
    log_a, log_b = records(one), records(two_process_run)
    assert [sorted(r) for r in log_a] == [sorted(r) for r in log_b]
    for ra, rb in zip(log_a, log_b):
        if "loss" in ra:
            assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-5)
        if "eval" in ra:
            assert rb["eval"]["puzzles"] == 20 and rb["eval"]["halt_histogram"] == ra["eval"]["halt_histogram"]
            assert rb["eval"]["token_accuracy"] == ra["eval"]["token_accuracy"]
    card = json.loads((two_process_run / "last.json").read_text())
    assert card["metrics"]["validation"]["puzzles"] == 20 and card["steps"] == 12


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """The two-process run stopped at step 6, with puzzles half-way through their segments."""
    out = tmp_path_factory.mktemp("dist") / "stopped"
    train(2, *RUN, "--steps", "6", "--out", str(out))
    assert state(out)["act"]["steps"].min() > 0
    return out


@pytest.mark.slow
def test_two_process_run_resumes_exactly(two_process_run, stopped_run, tmp_path):
    resumed = tmp_path / "resumed"
    shutil.copytree(stopped_run, resumed)
    train(2, "--out", str(resumed), "--resume", "--steps", "12", "--no-progress")
    a, b = state(two_process_run), state(resumed)
    for part in ("model", "main_opt", "act"):
        flat_a, flat_b = flatten(a[part]), flatten(b[part])
        assert flat_a.keys() == flat_b.keys()
        for key in flat_a:
            assert torch.equal(flat_a[key], flat_b[key]), (part, key)
    assert a["sample_rng"] == b["sample_rng"] and torch.equal(a["act_gen"], b["act_gen"])


@pytest.mark.slow
def test_one_process_continues_a_two_process_run(two_process_run, stopped_run, tmp_path):
    # The saved state is the global batch's, so one process can continue it (up to float sums).
    resumed = tmp_path / "resumed"
    shutil.copytree(stopped_run, resumed)
    train(1, "--out", str(resumed), "--resume", "--steps", "12", "--no-progress")
    for key, value in state(two_process_run)["model"].items():
        torch.testing.assert_close(state(resumed)["model"][key], value, rtol=0, atol=WEIGHT_TOLERANCE, msg=key)


def flatten(tree, prefix: str = "") -> dict[str, torch.Tensor]:
    """Tensors of a nested state dict by their path (numbers as 0-d tensors)."""
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in flatten(value, f"{prefix}{key}/").items()}
    if isinstance(tree, (list, tuple)):
        return {k: v for i, value in enumerate(tree) for k, v in flatten(value, f"{prefix}{i}/").items()}
    return {prefix: tree if isinstance(tree, torch.Tensor) else torch.tensor(tree)}


def gradient_worker(rank: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        procs = Processes(rank, 2)
        # A row gradient: process 0 touches rows 1 and 3 (row 3 twice), process 1 rows 3 and 4
        # (an uneven number of rows, one row shared).
        rows = [[1, 3, 3], [3, 4]][rank]
        values = torch.arange(len(rows) * 2, dtype=torch.float32).view(-1, 2) + 10 * rank
        grad = torch.sparse_coo_tensor(torch.tensor([rows]), values, (6, 2))
        results[f"rows{rank}"] = procs.sum_row_gradient(grad).to_dense()

        # A model's gradients: each process backpropagates its half of a batch of 8 (loss / 8, the
        # global batch); after sync_gradients they must be those of the whole batch in one process.
        task = SudokuTask(2, 2)
        examples = task.examples_from_grids(*task.generate(8, (6, 8), np.random.default_rng(0), progress=False))
        examples.puzzle_ids[:] = [0, 1, 2, 3, 2, 3, 4, 5]  # processes share rows 2 and 3 of the table
        torch.manual_seed(0)
        model = HRM(cpu_tiny(task.vocab_size, task.seq_len, num_puzzle_identifiers=6, **task.model_hints()))
        for part in (slice(None), procs.share(8)):
            data = examples.take(part)
            inputs, labels, ids = (torch.from_numpy(a) for a in (data.inputs, data.labels, data.puzzle_ids))
            out = model(model.initial_carry(len(data)), inputs, ids)
            loss, _ = act_loss(out.logits, labels, out.q_halt, out.q_continue, None, model.cfg.loss)
            model.zero_grad(set_to_none=True)
            (loss / 8).backward()
            if part == slice(None):
                whole = {name: p.grad.to_dense().clone() for name, p in model.named_parameters()}
        procs.sync_gradients(model)
        results[f"model{rank}"] = {name: (p.grad.to_dense(), whole[name]) for name, p in model.named_parameters()}
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_gradients_and_puzzle_embedding_rows_add_up_across_processes():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = mp.Manager().dict()
    mp.spawn(gradient_worker, args=(port, results), nprocs=2)

    expected = torch.zeros(6, 2)
    expected[1] = torch.tensor([0.0, 1.0])
    expected[3] = torch.tensor([2.0, 3.0]) + torch.tensor([4.0, 5.0]) + torch.tensor([10.0, 11.0])
    expected[4] = torch.tensor([12.0, 13.0])
    assert torch.equal(results["rows0"], expected) and torch.equal(results["rows1"], expected)

    for rank in (0, 1):
        grads = results[f"model{rank}"]
        assert grads["puzzle_emb"][1][[0, 5]].abs().sum() > 0  # rows only one process touched
        for name, (combined, whole) in grads.items():
            torch.testing.assert_close(combined, whole, rtol=1e-5, atol=1e-8, msg=name)


def test_the_batch_must_split_evenly_over_the_processes():
    assert Processes(1, 2).local_batch(16) == 8 and Processes(1, 2).share(16) == slice(8, 16)
    with pytest.raises(ValueError, match="must divide evenly over the 2 processes"):
        Processes(0, 2).local_batch(15)
    assert Processes(2, 3).share(20) == slice(13, 20) and Processes(0, 3).share(20) == slice(0, 6)
