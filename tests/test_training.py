"""Training end to end on 4x4 Sudoku: learning, checkpoints, resuming."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from reasoner.act import ACTState, Batch, run_segments
from reasoner.checkpoint import CheckpointCard, load_checkpoint, save_checkpoint
from reasoner.config import cpu_tiny
from reasoner.evaluate import evaluate
from reasoner.model import HRM
from reasoner.optim import AdamATan2
from reasoner.tasks import VARIANTS, SudokuTask, make_task
from reasoner.train import build_configs, build_parser, load_sources
from reasoner.train import main as train_main
from reasoner.training import train_step


@pytest.mark.slow
def test_tiny_model_overfits_a_handful_of_4x4_puzzles():
    task = SudokuTask(2, 2)
    examples = task.examples_from_grids(*task.generate(8, (8, 10), np.random.default_rng(0), progress=False))
    torch.manual_seed(0)
    model = HRM(cpu_tiny(task.vocab_size, task.seq_len, hidden_size=64, **task.model_hints()))
    opt = AdamATan2([p for n, p in model.named_parameters() if n != "puzzle_emb"], lr=1e-3)
    pool = Batch(*(torch.from_numpy(a) for a in (examples.inputs, examples.labels, examples.puzzle_ids)))
    state = ACTState.empty(model, pool)
    before = evaluate(model, examples)["exact_accuracy"]
    accuracy = before
    for step in range(1, 1001):
        slots = state.halted.nonzero().squeeze(-1)
        if len(slots):  # a halted slot gets its own puzzle back: every puzzle stays in play
            state = state.refill(model, Batch(pool.inputs[slots], pool.labels[slots], pool.puzzle_ids[slots]))
        state, _, _ = train_step(model, state, [opt], len(examples))
        if step % 50 == 0:
            # The answer where the Q-head halts: with few puzzles it learns to halt after the first
            # segment, and segments it never trains on need not keep that answer.
            accuracy = evaluate(model, examples)["act_exact_accuracy"]
            model.train()
            if accuracy == 1.0:
                break
    assert before == 0.0
    assert accuracy == 1.0, f"still {accuracy:.0%} after {step} steps"


def test_save_then_load_gives_identical_outputs(tmp_path):
    task = SudokuTask(2, 2)
    torch.manual_seed(3)
    for architecture in ("hrm", "trm"):  # trm shares tensors between its H and L names
        cfg = cpu_tiny(task.vocab_size, task.seq_len, architecture=architecture, **task.model_hints())
        model = HRM(cfg).eval()
        with torch.no_grad():
            model.puzzle_emb.normal_()
            model.q_head.weight.normal_()
        card = CheckpointCard(task=task.spec(), model=cfg, seed=3, steps=0)
        path = save_checkpoint(model, tmp_path / architecture, card)
        loaded, loaded_task, loaded_card = load_checkpoint(path)
        inputs = torch.randint(1, 6, (5, 16))
        ids = torch.zeros(5, dtype=torch.long)
        a, b = run_segments(model, inputs, ids, 3), run_segments(loaded, inputs, ids, 3)
        for pa, pb in zip(a.probs, b.probs):
            assert torch.equal(pa, pb)
        assert torch.equal(a.q_halt, b.q_halt)
        assert loaded_task.spec() == task.spec() and loaded_card.model == cfg
        assert loaded_card.parameters > 0


def run_train(tmp_path, name, *extra):
    out = tmp_path / name
    args = ["--task", "sudoku-4x4", "--preset", "cpu-tiny", "--train-data", "gen:count=50,blanks=6-9",
            "--val-data", "gen:count=20,blanks=6-9", "--batch-size", "16", "--eval-every", "10",
            "--checkpoint-every", "10", "--lr-warmup-steps", "5", "--ema-decay", "0.9", "--out", str(out), *extra]
    assert train_main(args) == 0
    return out


@pytest.mark.slow
def test_training_writes_checkpoints_cards_and_logs(tmp_path):
    out = run_train(tmp_path, "run", "--steps", "20", "--export", str(tmp_path / "exported"))
    card = json.loads((out / "best.json").read_text())
    assert card["task"] == {"name": "sudoku", "box_rows": 2, "box_cols": 2}
    assert card["seed"] == 0 and card["steps"] in (10, 20) and card["cpu_seconds"] > 0
    assert "exact_accuracy" in card["metrics"]["validation"]
    assert card["data"]["train"] == "gen:count=50,blanks=6-9"
    assert card["command"].startswith("python -m reasoner.train")
    assert (tmp_path / "exported.safetensors").is_file() and (tmp_path / "exported.json").is_file()
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert any("eval" in r for r in records) and all(np.isfinite(r["loss"]) for r in records if "loss" in r)


@pytest.mark.slow
def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    straight = run_train(tmp_path, "straight", "--steps", "30")
    interrupted = run_train(tmp_path, "interrupted", "--steps", "15")
    assert train_main(["--out", str(interrupted), "--resume", "--steps", "30"]) == 0
    card = json.loads((interrupted / "last.json").read_text())
    assert "--steps 15" in card["command"] and card["resumed_with"][0].endswith("--resume --steps 30")
    a = load_file(str(straight / "last.safetensors"))
    b = load_file(str(interrupted / "last.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.slow
def test_a_constant_run_resumed_into_a_decay_equals_a_run_planned_that_way(tmp_path):
    decay = ["--lr-schedule", "wsd", "--lr-decay-steps", "10", "--lr-min-ratio", "0.1"]
    planned = run_train(tmp_path, "planned", "--steps", "30", *decay)
    constant = run_train(tmp_path, "constant", "--steps", "20")
    assert train_main(["--out", str(constant), "--resume", "--steps", "30", *decay]) == 0
    card = json.loads((constant / "last.json").read_text())
    assert (card["train"]["lr_schedule"], card["train"]["lr_decay_steps"]) == ("wsd", 10)
    a = load_file(str(planned / "last.safetensors"))
    b = load_file(str(constant / "last.safetensors"))
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # Everything else about a run is fixed once it started.
    with pytest.raises(SystemExit, match="only --lr-decay-steps, --lr-min-ratio, --lr-schedule, --steps may change"):
        train_main(["--out", str(constant), "--resume", "--steps", "40", "--batch-size", "8"])
    with pytest.raises(SystemExit, match="lr_decay_steps > 0"):
        train_main(["--out", str(constant), "--resume", "--lr-schedule", "wsd", "--lr-decay-steps", "0"])


@pytest.mark.slow
def test_refuses_to_overwrite_a_run_and_explains_bad_options(tmp_path):
    run_train(tmp_path, "run", "--steps", "5")
    with pytest.raises(SystemExit, match="already holds a run"):
        run_train(tmp_path, "run", "--steps", "5")
    with pytest.raises(SystemExit, match="invalid configuration"):
        train_main(["--task", "sudoku-4x4", "--model", "num_heads=3", "--out", str(tmp_path / "bad")])
    with pytest.raises(SystemExit, match="does not exist"):
        train_main(["--out", str(tmp_path / "nothing"), "--resume"])


@pytest.mark.slow
def test_each_task_trains_with_its_own_default_data(tmp_path):
    # No --train-data / --val-data: the task's defaults apply (maze specs differ from sudoku's).
    out = tmp_path / "maze"
    assert train_main(["--task", "maze-9x9", "--preset", "cpu-tiny", "--steps", "2", "--batch-size", "4",
                       "--eval-size", "4", "--out", str(out)]) == 0
    card = json.loads((out / "best.json").read_text())
    assert card["data"]["train"] == "gen:count=5000" and card["task"] == {"name": "maze", "size": 9}
    assert (card["model"]["attention"], card["model"]["relation"]) == ("relations", "window")  # the maze task's CPU-scale setting


@pytest.mark.parametrize("task_name, preset, overrides, attention, continue_loss", [
    ("maze-9x9", "cpu-small", [], "relations", False),                # CPU presets get the maze settings
    ("maze-9x9", "cpu-small", ["attention=global"], "global", False),  # --model still wins
    ("maze-30x30", "paper-27m", [], "global", True),                  # the paper's shape stays as published
    ("sudoku-9x9", "cpu-small", [], "global", True),                  # other tasks are untouched
    ("sudoku-9x9", "cpu-small", ["attention=relations"], "relations", True),  # ... until asked: peers
])
def test_cpu_presets_apply_the_tasks_cpu_model_hints(task_name, preset, overrides, attention, continue_loss):
    args = build_parser().parse_args(["--task", task_name, "--preset", preset, "--out", "unused"]
                                     + [arg for item in overrides for arg in ("--model", item)])
    model_cfg, _ = build_configs(args, make_task(**VARIANTS[task_name].params))
    assert (model_cfg.attention, model_cfg.act_continue_loss) == (attention, continue_loss)
    assert model_cfg.relation == ("peers" if task_name.startswith("sudoku") else "window")


@pytest.mark.slow
def test_init_from_starts_with_the_checkpoints_weights_and_records_where_they_came_from(tmp_path):
    parent = run_train(tmp_path, "parent", "--steps", "10")
    child = tmp_path / "child"
    # One step at a negligible learning rate (the puzzle embedding has its own): the child's weights
    # must still be the parent's best weights, not a fresh initialisation.
    assert train_main(["--task", "sudoku-4x4", "--init-from", str(parent / "best.safetensors"),
                       "--train-data", "gen:count=50,blanks=6-9", "--val-data", "gen:count=20,blanks=6-9",
                       "--batch-size", "16", "--steps", "1", "--lr", "1e-12", "--puzzle-emb-lr", "0", "--lr-warmup-steps", "0",
                       "--eval-every", "1", "--out", str(child)]) == 0
    card = json.loads((child / "last.json").read_text())
    parent_card = json.loads((parent / "best.json").read_text())
    assert card["model"] == parent_card["model"]  # the checkpoint's config, not the default preset's
    lineage = card["data"]["init_from"]
    assert lineage["steps"] == parent_card["steps"] and lineage["cpu_seconds"] == parent_card["cpu_seconds"]
    assert len(lineage["sha256"]) == 64 and lineage["command"] == parent_card["command"]
    a, b = load_file(str(parent / "best.safetensors")), load_file(str(child / "last.safetensors"))
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key


@pytest.mark.slow
def test_init_from_widens_a_checkpoint_when_asked_for_more_hidden_size_and_heads(tmp_path):
    parent = run_train(tmp_path, "parent", "--steps", "2")
    child = tmp_path / "wide"
    assert train_main(["--task", "sudoku-4x4", "--init-from", str(parent / "best.safetensors"), "--model", "hidden_size=64",
                       "--model", "num_heads=4", "--train-data", "gen:count=20,blanks=6-9", "--val-data", "gen:count=8,blanks=6-9",
                       "--batch-size", "8", "--steps", "1", "--eval-every", "1", "--out", str(child)]) == 0
    card = json.loads((child / "last.json").read_text())
    assert (card["model"]["hidden_size"], card["model"]["num_heads"]) == (64, 4)
    assert card["data"]["init_from"]["widened_from"] == {"hidden_size": 32, "num_heads": 2}
    assert load_file(str(child / "last.safetensors"))["embed_tokens.weight"].shape == (6, 64)


def test_init_from_refuses_another_tasks_checkpoint_and_resume(tmp_path):
    parent = run_train(tmp_path, "parent", "--steps", "2")
    with pytest.raises(SystemExit, match="not of"):
        train_main(["--task", "sudoku-6x6", "--init-from", str(parent / "best.safetensors"), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="starts a new run"):
        train_main(["--out", str(parent), "--resume", "--init-from", str(parent / "best.safetensors")])
    small_data = ["--train-data", "gen:count=20,blanks=6-9", "--val-data", "gen:count=8,blanks=6-9"]
    with pytest.raises(SystemExit, match="do not fit"):
        train_main(["--task", "sudoku-4x4", "--init-from", str(parent / "best.safetensors"), "--model", "expansion=4",
                    *small_data, "--out", str(tmp_path / "z")])
    with pytest.raises(SystemExit, match="needs num_heads 4"):  # widening keeps each head's size
        train_main(["--task", "sudoku-4x4", "--init-from", str(parent / "best.safetensors"), "--model", "hidden_size=64",
                    *small_data, "--out", str(tmp_path / "w")])
    with pytest.raises(SystemExit, match="no checkpoint"):
        train_main(["--task", "sudoku-4x4", "--init-from", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "y")])


@pytest.mark.slow
def test_a_size_free_maze_model_continues_on_a_larger_maze(tmp_path):
    # The curriculum across sizes: no absolute positions, so the 9x9 weights fit an 11x11 model.
    common = ["--preset", "cpu-tiny", "--batch-size", "4", "--eval-size", "4", "--steps", "2"]
    parent = tmp_path / "small"
    assert train_main(["--task", "maze-9x9", *common, "--model", "pos_encoding=none", "--model", "relation_bias=true",
                       "--train-data", "gen:count=8,style=long", "--val-data", "gen:count=4", "--out", str(parent)]) == 0
    child = tmp_path / "large"
    assert train_main(["--task", "maze-11x11", *common, "--init-from", str(parent / "best.safetensors"),
                       "--train-data", "gen:count=8", "--val-data", "gen:count=4", "--out", str(child)]) == 0
    card = json.loads((child / "last.json").read_text())
    assert card["task"] == {"name": "maze", "size": 11}
    assert card["model"]["grid_shape"] == [11, 11] and card["model"]["seq_len"] == 121
    assert card["data"]["init_from"]["path"] == str(parent / "best.safetensors")
    # With absolute positions the sizes do not mix.
    fixed = tmp_path / "fixed"
    assert train_main(["--task", "maze-9x9", *common, "--train-data", "gen:count=8", "--val-data", "gen:count=4",
                       "--out", str(fixed)]) == 0
    with pytest.raises(SystemExit, match="only a model with pos_encoding 'none'"):
        train_main(["--task", "maze-11x11", *common, "--init-from", str(fixed / "best.safetensors"), "--out", str(tmp_path / "x")])


def test_training_data_can_join_sources_with_plus(tmp_path):
    task = SudokuTask(2, 2)
    puzzles, _ = task.generate(3, (9, 9), np.random.default_rng(1), progress=False)
    path = tmp_path / "four.txt"
    path.write_text("\n".join("".join(map(str, p.reshape(-1))).replace("0", ".") for p in puzzles) + "\n")
    mixed = load_sources(task, f"gen:count=5,blanks=6+file:{path}[1:3]", np.random.default_rng(0), progress=False)
    blanks = (mixed.inputs == 1).sum(axis=1)  # token 1 = blank
    assert blanks.tolist() == [6] * 5 + [9, 9]
    assert np.array_equal(mixed.inputs[5:], np.stack([task.encode(p) for p in puzzles[1:3]]))


def test_precision_auto_is_bf16_only_where_the_device_computes_it(monkeypatch):
    # Emulated bf16 is several times slower than fp32 (CPUs without AVX512-BF16 / AMX), so the default
    # trains in bf16 only where it is native; "bf16" and "fp32" force one.
    import reasoner.inference as inference
    from reasoner.config import TrainConfig
    from reasoner.training import amp_dtype

    assert TrainConfig().precision == "auto"
    for native in (True, False):
        monkeypatch.setattr(inference, "bf16_native", lambda device, native=native: native)
        assert amp_dtype(TrainConfig(precision="auto"), "cpu") == (torch.bfloat16 if native else None)
        assert amp_dtype(TrainConfig(precision="bf16"), "cpu") == torch.bfloat16
        assert amp_dtype(TrainConfig(precision="fp32"), "cpu") is None
