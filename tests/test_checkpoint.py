"""Checkpoints as a pair: written atomically, weights and card checked against each other, errors
that name the file; a resumed run's log without repeated steps."""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from reasoner import solve
from reasoner.checkpoint import (CheckpointCard, CheckpointError, card_path, file_sha256, load_checkpoint,
                                 load_train_state, save_checkpoint)
from reasoner.config import cpu_tiny
from reasoner.inference import CHECKPOINT_DIR
from reasoner.model import HRM
from reasoner.tasks import SudokuTask
from reasoner.train import main as train_main

from .test_training import run_train

TASK4 = SudokuTask(2, 2)
PUZZLE4 = "1..4.4....2..3.."


def tiny(path, hidden=64, seed=0):
    torch.manual_seed(seed)
    cfg = cpu_tiny(TASK4.vocab_size, TASK4.seq_len).model_copy(update={"hidden_size": hidden})
    return save_checkpoint(HRM(cfg), path, CheckpointCard(task=TASK4.spec(), model=cfg, seed=seed))


def test_every_shipped_card_records_its_weights_sha256():
    weights = sorted(CHECKPOINT_DIR.glob("*.safetensors"))
    assert weights
    for path in weights:
        card = json.loads(card_path(path).read_text())
        assert card["weights_sha256"] == file_sha256(path), path


def test_the_card_records_the_weights_sha256_and_no_temporary_file_is_left(tmp_path):
    path = tiny(tmp_path / "m")
    assert json.loads(card_path(path).read_text())["weights_sha256"] == file_sha256(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]


def test_a_crash_between_the_two_renames_is_caught_when_loading(tmp_path, monkeypatch):
    """Killed right after the weights were replaced: new weights (another shape) beside the old card."""
    path = tiny(tmp_path / "last")
    real_replace = os.replace

    def replace_weights_then_die(src, dst):
        if str(dst).endswith(".json"):
            raise KeyboardInterrupt  # the process is gone before the card is renamed
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_weights_then_die)
    with pytest.raises(KeyboardInterrupt):
        tiny(tmp_path / "last", hidden=32, seed=1)
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="weights and card do not match") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and str(card_path(path)) in str(err.value)
    with pytest.raises(CheckpointError, match="weights and card do not match"):
        solve(PUZZLE4, checkpoint=path)


def test_a_crash_while_writing_the_weights_keeps_the_old_pair(tmp_path, monkeypatch):
    path = tiny(tmp_path / "best")
    before = file_sha256(path)
    monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        tiny(tmp_path / "best", hidden=32, seed=1)
    monkeypatch.undo()
    model, task, card = load_checkpoint(path)
    assert file_sha256(path) == before and card.model.hidden_size == 64


def test_an_older_card_without_sha256_loads_unchecked(tmp_path):
    path = tiny(tmp_path / "old")
    card = json.loads(card_path(path).read_text())
    del card["weights_sha256"]
    card_path(path).write_text(json.dumps(card))
    assert load_checkpoint(path)[2].weights_sha256 is None


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_weights_raise_an_error_naming_the_file(tmp_path, damage):
    path = tiny(tmp_path / "m")
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint" * 10, "empty": b""}[damage])
    card = json.loads(card_path(path).read_text())
    del card["weights_sha256"]  # reach the safetensors reader itself
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


@pytest.mark.parametrize("card_bytes", [b"{not json", b"[1, 2]", b'{"task": {"name": "sudoku"}}', b"\xff\xfe{",
                                        b'{"task": {"name": "chess"}, "model": {"vocab_size": 6, "seq_len": 16}}'])
def test_malformed_cards_raise_an_error_naming_the_card(tmp_path, card_bytes):
    path = tiny(tmp_path / "m")
    card_path(path).write_bytes(card_bytes)
    with pytest.raises(CheckpointError, match=str(card_path(path))):
        load_checkpoint(path)


def test_a_weights_file_of_another_shape_names_the_file(tmp_path):
    """An old card without sha256 beside weights of another size: no raw 'size mismatch' traceback."""
    path = tiny(tmp_path / "m")
    other = tiny(tmp_path / "other", hidden=32)
    shutil.copy(other, path)
    card = json.loads(card_path(path).read_text())
    del card["weights_sha256"]
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=f"cannot load the weights {path}"):
        load_checkpoint(path)


def test_a_truncated_training_state_names_the_file(tmp_path):
    state = tmp_path / "train_state.pt"
    torch.save({"step": 3, "w": torch.ones(100)}, state)
    state.write_bytes(state.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=str(state)):
        load_train_state(state)


@pytest.mark.slow
def test_a_resumed_run_logs_each_step_once(tmp_path):
    """The run logged steps past its last saved state, then died: resuming must not log them twice."""
    out = run_train(tmp_path, "run", "--steps", "20")
    saved_at_20 = (out / "train_state.pt").read_bytes()
    assert train_main(["--out", str(out), "--resume", "--steps", "40"]) == 0
    (out / "train_state.pt").write_bytes(saved_at_20)  # as if killed after logging step 40, before saving
    with (out / "log.jsonl").open("a") as log:
        log.write('{"step": 4')  # and torn mid-line
    assert train_main(["--out", str(out), "--resume", "--steps", "40"]) == 0
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    loss_steps = [r["step"] for r in records if "loss" in r]
    eval_steps = [r["step"] for r in records if "eval" in r]
    assert loss_steps == sorted(set(loss_steps)) == [20, 40]
    assert eval_steps == [10, 20, 30, 40]


@pytest.mark.slow
def test_export_writes_a_matching_pair(tmp_path):
    out = run_train(tmp_path, "run", "--steps", "10", "--export", str(tmp_path / "shipped" / "sudoku-4x4"))
    exported = tmp_path / "shipped" / "sudoku-4x4.safetensors"
    assert json.loads(card_path(exported).read_text())["weights_sha256"] == file_sha256(exported)
    assert load_checkpoint(exported)[2].steps == 10
    assert sorted(p.name for p in exported.parent.iterdir()) == ["sudoku-4x4.json", "sudoku-4x4.safetensors"]
    assert Path(out, "best.safetensors").is_file()
