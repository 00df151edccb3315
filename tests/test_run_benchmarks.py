"""eval/run_benchmarks.py and eval/analysis.py: the step-by-step HRM loop, participation ratio, a --quick run."""

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from reasoner.act import run_segments
from reasoner.checkpoint import CheckpointCard, save_checkpoint
from reasoner.config import ModelConfig, cpu_tiny
from reasoner.model import HRM
from reasoner.tasks import SudokuTask, make_task
from reasoner.train import main as train_main

from .test_arc_task import toy, toy_source  # noqa: F401 -- `toy` is a fixture: tiny ARC task files

EVAL_DIR = Path(__file__).resolve().parents[1] / "eval"
sys.path.insert(0, str(EVAL_DIR))
import analysis
import run_benchmarks


def tiny_model(architecture: str, seed: int = 0) -> HRM:
    torch.manual_seed(seed)
    base = cpu_tiny(vocab_size=6, seq_len=16).model_dump()
    return HRM(ModelConfig(**{**base, "architecture": architecture})).eval()


def random_inputs(batch: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 6, (batch, 16), generator=g), torch.zeros(batch, dtype=torch.long)


@pytest.mark.parametrize("architecture", ["hrm", "trm"])
def test_step_by_step_segments_equal_the_models_forward_exactly(architecture):
    model = tiny_model(architecture)
    inputs, ids = random_inputs()
    carry = stepped = model.initial_carry(len(inputs))
    kinds = [kind for kind, _, _ in analysis.segment_steps(model, carry, inputs, ids)]
    assert kinds == (["L"] * model.cfg.L_cycles + ["H"]) * model.cfg.H_cycles
    for _ in range(3):  # the carry handed on between segments stays identical too
        carry = model(carry, inputs, ids).carry
        stepped = analysis.run_segment_by_steps(model, stepped, inputs, ids)
        assert torch.equal(stepped.z_H, carry.z_H)
        assert torch.equal(stepped.z_L, carry.z_L)


def test_forward_residuals_cover_every_inner_step_and_end_where_run_segments_ends():
    model = tiny_model("hrm")
    inputs, ids = random_inputs()
    segments = 3
    record, final = analysis.forward_residuals(model, inputs, ids, segments)
    cfg = model.cfg
    assert len(record["z_H"]) == len(record["z_L"]) == segments * cfg.H_cycles * (cfg.L_cycles + 1)
    kinds = np.array(record["kind"])
    assert np.all(np.array(record["z_H"])[kinds == "L"] == 0)  # z_H only moves at H-steps
    assert np.all(np.array(record["z_L"])[kinds == "H"] == 0)
    assert np.all(np.array(record["z_L"])[kinds == "L"] > 0)
    expected = run_segments(model, inputs, ids, segments, keep_carries=True).carries[-1]
    assert torch.equal(final.z_H, expected.z_H)
    summary = analysis.summarize_residuals(record)
    assert all(np.isfinite(v) and v >= 0 for v in summary.values())


@pytest.mark.parametrize("k", [1, 3, 10])
def test_participation_ratio_of_isotropic_k_dimensional_data_is_k(k):
    g = torch.Generator().manual_seed(k)
    basis, _ = torch.linalg.qr(torch.randn(32, k, generator=g, dtype=torch.float64))
    data = torch.randn(40_000, k, generator=g, dtype=torch.float64) @ basis.T * 3.0 + 5.0  # rotated, scaled, shifted
    assert analysis.participation_ratio(data) == pytest.approx(k, rel=0.03)


def test_participation_ratio_of_rank_one_data_is_one_and_accepts_numpy_and_extra_axes():
    rng = np.random.default_rng(0)
    direction = rng.normal(size=16)
    data = rng.normal(size=(50, 20, 1)) * direction  # [puzzles, positions, dim]
    assert analysis.participation_ratio(data) == pytest.approx(1.0, abs=1e-9)
    two = np.stack([rng.normal(size=5000), 1e-3 * rng.normal(size=5000)], axis=1)
    assert 1.0 < analysis.participation_ratio(two) < 1.01  # a nearly flat second direction adds almost nothing


def save_untrained_checkpoint(folder: Path, task, name: str, data: dict | None = None) -> Path:
    """A small model with random weights: enough to run a section through the Task interface."""
    cfg = ModelConfig(**{**cpu_tiny(task.vocab_size, task.seq_len).model_dump(), **task.model_hints()})
    torch.manual_seed(0)
    card = CheckpointCard(task=task.spec(), model=cfg, data=data or {"train": "gen:count=64", "val": "gen:count=16"}, steps=1)
    return save_checkpoint(HRM(cfg), folder / name, card)


def save_untrained_maze_checkpoint(folder: Path, size: int = 7) -> Path:
    return save_untrained_checkpoint(folder, make_task("maze", size=size), f"maze-{size}x{size}")


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path, capsys):
    run = tmp_path / "run"
    train_main(["--task", "sudoku-4x4", "--preset", "cpu-tiny", "--train-data", "gen:count=64,blanks=4-8",
                "--val-data", "gen:count=16,blanks=4-8", "--steps", "30", "--eval-every", "30", "--batch-size", "32",
                "--precision", "fp32", "--no-progress", "--out", str(run)])
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(run / f"best{suffix}", ckpt / f"sudoku-4x4{suffix}")
    card = json.loads((run / "best.json").read_text())
    save_untrained_maze_checkpoint(ckpt)
    # An outside puzzle file without solutions (solved exactly), one unreadable row.
    task = SudokuTask(2, 2)
    puzzles, _ = task.generate(3, (8, 8), np.random.default_rng(99), progress=False)
    outside = tmp_path / "outside.txt"
    outside.write_text("\n".join([task.to_string(p) for p in puzzles] + ["12x4" * 4]) + "\n")

    out = tmp_path / "bench"
    assert run_benchmarks.main(["--quick", "--puzzles", "8", "--checkpoint-dir", str(ckpt), "--out", str(out),
                                "--sudoku-file", str(outside), "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert "| sudoku-4x4 |" in printed and "Inference-time scaling" in printed and "Maze" in printed
    assert "by search effort" in printed

    report = json.loads((out / "benchmarks.json").read_text())
    assert report["errors"] == {}
    config = report["config"]
    assert config["seed"] == 5 and config["mode"] == "quick" and config["torch_version"] == torch.__version__
    assert config["checkpoints"]["sudoku-4x4"]["card"]["steps"] > 0
    assert any("sudoku-6x6: no checkpoint" in n for n in report["notes"])
    assert any("sudoku-9x9: no checkpoint" in n for n in report["notes"])
    assert report["sudoku_hard"] == {"status": "no checkpoint yet", "checkpoints": {}} and "hard sudoku: no checkpoint yet" in printed
    assert report["maze_sizes"] == {"status": "no usable checkpoint", "checkpoints": {}}  # maze-7x7 has absolute positions
    assert any(n.startswith("maze-7x7, maze_sizes: no maze-sizes table: absolute positions") for n in report["notes"])

    s4 = report["sudoku"]["sudoku-4x4"]
    assert s4["checkpoint"]["parameters"] > 0 and s4["checkpoint"]["train_cpu_hours"] > 0
    assert set(s4["sets"]) == {"6 blanks", "8 blanks", "10 blanks", "file outside.txt"}
    assert s4["sets"]["file outside.txt"]["puzzles"] == 3
    m_max = s4["checkpoint"]["M_max"]
    for name, s in s4["sets"].items():
        for key in ("exact_accuracy", "cell_accuracy_all_cells", "cell_accuracy_blank_cells", "exact_accuracy_at_act_halt"):
            assert 0 <= s[key] <= 1, (name, key)
        assert 1 <= s["mean_segments_used_act"] <= m_max
        assert sum(s["halt_histogram"]) == s["puzzles"] and len(s["halt_histogram"]) == m_max
        assert list(s["scaling"]) == ["1", "2", "4", "8"] and all(0 <= v <= 1 for v in s["scaling"].values())
        assert s["scaling"][str(m_max)] == s["exact_accuracy"]
        assert s["classical"]["accuracy"] == 1.0 and s["classical"]["ms_per_puzzle"] > 0
        assert sum(s["solve"]["shares"].values()) == pytest.approx(1.0)
        assert s["solve"]["answers_equal_solution"] == 1.0  # every puzzle ends verified and right
        assert s["search_nodes"]["guided_mean"] >= 0 and s["search_nodes"]["unguided_mean"] >= 0
        effort = s["by_search_effort"]
        assert sum(b["puzzles"] for b in effort.values()) == s["puzzles"]  # every puzzle in exactly one bucket
        right = sum(b["exact"] * b["puzzles"] for b in effort.values() if b["puzzles"])
        assert right == pytest.approx(s["exact_accuracy"] * s["puzzles"])  # the buckets split the headline number
    assert s4["speed"]["latency_batch1"]["median_ms"] > 0 and s4["speed"]["throughput"]["puzzles_per_s"] > 0

    a = s4["analysis"]
    steps = m_max * 2 * (2 + 1)  # cpu-tiny: N=2 cycles of T=2 L-steps + 1 H-step per segment
    assert len(a["residuals"]["trained"]["z_L"]) == len(a["residuals"]["untrained"]["z_H"]) == steps
    for label in ("trained", "untrained"):
        for latent in ("z_H", "z_L"):
            assert 1 <= a["participation_ratio"][label][latent] <= card["model"]["hidden_size"]

    maze = report["maze"]["checkpoints"]["maze-7x7"]
    assert maze["puzzles"] == 8 and "re-drawn with --seed" in maze["source"]
    assert 0 <= maze["exact_label_match"] <= 1 and 0 <= maze["valid_shortest_path_rate"] <= 1
    assert maze["valid_shortest_path_rate"] >= maze["exact_label_match"]  # an exact label always verifies

    for name in ("accuracy_vs_segments.png", "residuals.png", "halting.png", "intermediate_sudoku-4x4.png",
                 "intermediate_sudoku-4x4.gif", "benchmarks.json"):
        assert (out / name).stat().st_size > 0, name
    from PIL import Image

    with Image.open(out / "intermediate_sudoku-4x4.gif") as gif:
        assert gif.n_frames == min(m_max, 16)


IN_PROGRESS = Path(__file__).resolve().parents[1] / "reasoner" / "checkpoints" / "in-progress"


@pytest.mark.slow
def test_hard_sudoku_and_maze_sizes_sections(tmp_path, capsys):
    ckpt = tmp_path / "checkpoints"
    # An untrained 9x9 model whose card says it validated on row 0 of the outside file, and the size-free
    # maze checkpoint (trained on 9x9 only) that the maze-sizes table is for.
    save_untrained_checkpoint(ckpt, SudokuTask(3, 3), "sudoku-9x9", {"train": "gen:count=64,blanks=40",
                                                                     "val": "file:elsewhere/outside9.txt[0:1]"})
    for suffix in (".safetensors", ".json"):
        shutil.copy(IN_PROGRESS / f"maze-sizefree-15x15{suffix}", ckpt / f"maze-sizefree-15x15{suffix}")
    sudoku = SudokuTask(3, 3)
    puzzles, _ = sudoku.generate(3, (50, 50), np.random.default_rng(4), progress=False)
    (tmp_path / "outside9.txt").write_text("".join(sudoku.to_string(p) + "\n" for p in puzzles))
    maze = make_task("maze", size=5)  # another size than the maze checkpoint's 9x9: read at the file's
    mazes, _ = maze.generate(5, np.random.default_rng(5), progress=False, style="long")
    (tmp_path / "mazes5_question.txt").write_text("".join(maze.to_string(m) + "\n" for m in mazes))

    out = tmp_path / "bench"
    assert run_benchmarks.main(["--quick", "--tasks", "sudoku-9x9", "maze", "--puzzles", "2", "--checkpoint-dir", str(ckpt),
                                "--out", str(out), "--sudoku-file", str(tmp_path / "outside9.txt"),
                                "--maze-file", str(tmp_path / "mazes5_question.txt")]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "benchmarks.json").read_text())
    assert report["errors"] == {}
    assert "### Hard sudoku (sudoku-9x9" in printed and "### Maze sizes (maze-sizefree-15x15" in printed
    assert report["config"]["givens"] == [17, 25] and report["config"]["profile"]["hard_segments"] == [8, 16]

    hard = report["sudoku_hard"]["checkpoints"]["sudoku-9x9"]
    assert hard["segments"] == [8, 16] and hard["givens"] == [17, 25]
    assert {name: s["puzzles"] for name, s in hard["sets"].items()} == {
        "generated, givens 17-25": 16, "generated, givens 17-25, commit 1": 16, "file outside9.txt": 2, "file outside9.txt, commit 1": 2}
    assert hard["commit"] == {"cells": [0, 1], "every": 1}
    for name, s in hard["sets"].items():
        for count in ("8", "16"):  # an exact answer is one the rule checker accepts
            assert 0 <= s["exact"][count] <= s["verified"][count] <= 1, name
            assert 1 <= s["mean_segments_verified_halting"][count] <= int(count)
        assert len(s["exact_by_segment"]) == 16
        assert sum(b["puzzles"] for b in s["by_givens"].values()) == s["puzzles"] == sum(b["puzzles"] for b in s["by_rating"].values())
        search = s["search"]
        assert search["nodes_plain_mean"] >= 0 and search["nodes_guided_mean"] >= 0
        assert 0 <= search["no_branching_plain"] <= 1 and 0 <= search["no_branching_guided"] <= 1
    assert set(hard["sets"]["generated, givens 17-25"]["by_givens"]) <= {"17-20", "21-22", "23-24", "25-26"}
    assert "| generated, givens 17-25 | 16 |" in printed

    sizes = report["maze_sizes"]["checkpoints"]["maze-sizefree-15x15"]
    assert sizes["segments"] == [1, 2, 4, 8] and sizes["style"] == "long"
    assert {name: s["mazes"] for name, s in sizes["sets"].items()} == {
        "generated 9x9 (style long) inside 15x15 walls": 4, "generated 30x30 (style long)": 4, "file mazes5_question.txt": 4}
    for name, s in sizes["sets"].items():
        assert all(0 <= s["exact"][k] <= s["valid"][k] <= 1 for k in s["valid"]), name  # the label is one valid path
        assert len(s["valid_by_segment"]) == 8
        assert 0 <= s["verifier_halt"]["valid"] <= 1 and 1 <= s["verifier_halt"]["mean_segments"] <= 8
    assert sizes["gif_set"] == "generated 30x30 (style long)" and "| generated 30x30 (style long) | 4 |" in printed
    # The maze section reads the 5x5 file with the same weights (a 9x9 task could not parse it).
    assert report["maze"]["checkpoints"]["maze-sizefree-15x15"]["puzzles"] == 2
    from PIL import Image

    with Image.open(out / "maze_sizes_maze-sizefree-15x15.gif") as gif:
        assert gif.n_frames == 8
    for key in ("sudoku_hard_sudoku-9x9_png", "maze_sizes_maze-sizefree-15x15_png", "maze_sizes_maze-sizefree-15x15_gif"):
        assert Path(report["files"][key]).stat().st_size > 0, key


def test_missing_checkpoints_are_noted_not_fatal(tmp_path, capsys):
    assert run_benchmarks.main(["--quick", "--checkpoint-dir", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr().out
    assert "maze: no checkpoint yet" in printed
    report = json.loads((tmp_path / "o" / "benchmarks.json").read_text())
    assert report["sudoku"] == {} and len([n for n in report["notes"] if "no checkpoint" in n]) == 3


def test_help_names_every_option_with_defaults(capsys):
    with pytest.raises(SystemExit):
        run_benchmarks.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--quick", "--checkpoint-dir", "--out", "--sudoku-file", "--sudoku-solutions", "--maze-file",
                   "--maze-answers", "--arc-data-dir", "--seed", "--tasks", "default"):
        assert option in text


@pytest.mark.slow
def test_maze_files_are_read_through_the_task_and_training_rows_left_out(tmp_path):
    ckpt = tmp_path / "checkpoints"
    path = save_untrained_maze_checkpoint(ckpt)
    card = json.loads(path.with_suffix(".json").read_text())
    card["data"]["train"] = "file:elsewhere/mazes_question.txt[0:2]"  # the card says rows 0-1 were trained on
    path.with_suffix(".json").write_text(json.dumps(card))
    task = make_task("maze", size=7)
    questions, answers = task.generate(5, np.random.default_rng(3), progress=False)
    (tmp_path / "mazes_question.txt").write_text("\n".join(task.to_string(q) for q in questions) + "\n")
    (tmp_path / "mazes_answer.txt").write_text("\n".join(task.to_string(a) for a in answers) + "\n")
    for extra in ([], ["--maze-answers", str(tmp_path / "mazes_answer.txt")]):
        out = tmp_path / f"out{len(extra)}"
        run_benchmarks.main(["--quick", "--tasks", "maze", "--checkpoint-dir", str(ckpt), "--out", str(out),
                             "--maze-file", str(tmp_path / "mazes_question.txt"), *extra])
        report = json.loads((out / "benchmarks.json").read_text())
        assert report["errors"] == {}
        maze = report["maze"]["checkpoints"]["maze-7x7"]
        assert maze["puzzles"] == 3  # rows 2, 3, 4
        assert any("rows 0:2 of mazes_question.txt left out" in n for n in report["notes"])
        assert 0 <= maze["valid_shortest_path_rate"] <= 1


def test_training_rows_are_left_out_of_every_part_of_a_mixed_source():
    # As the shipped 9x9 card: generated puzzles + two files, one of them the outside set's first rows.
    card = SimpleNamespace(data={"train": "gen:count=8,blanks=40-56+file:d/norvig.txt+file:d/extreme.txt[0:800]",
                                 "val": "file:d/extreme.txt[800:900]"})
    seen, notes = run_benchmarks.rows_seen_in_training(card, Path("elsewhere/extreme.txt"), 1000)
    assert np.flatnonzero(~seen).tolist() == list(range(900, 1000))
    assert notes == ["rows 0:800 of extreme.txt left out: the card's train data",
                     "rows 800:900 of extreme.txt left out: the card's val data"]


@pytest.mark.slow
def test_arc_section_scores_a_tiny_arc_checkpoint_through_arc_eval(toy, tmp_path, capsys):
    # A tiny ARC checkpoint, built as tests/test_arc_task.py builds one: the toy task files, cpu-tiny, a few steps.
    run = tmp_path / "run"
    assert train_main(["--task", "arc-10x10", "--preset", "cpu-tiny", "--train-data", toy_source(toy),
                       "--val-data", "arc:split=test", "--steps", "4", "--batch-size", "8", "--eval-every", "4",
                       "--eval-size", "8", "--precision", "fp32", "--out", str(run), "--no-progress"]) == 0
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(run / f"last{suffix}", ckpt / f"arc-toy{suffix}")
    before = sorted(p.name for p in ckpt.iterdir())

    out = tmp_path / "bench"
    assert run_benchmarks.main(["--quick", "--tasks", "arc", "--checkpoint-dir", str(ckpt), "--out", str(out),
                                "--arc-data-dir", str(toy)]) == 0
    printed = capsys.readouterr().out
    assert "### ARC (pass@k over the checkpoint's evaluation tasks)" in printed and "| arc-toy |" in printed
    assert sorted(p.name for p in ckpt.iterdir()) == before  # nothing written beside the checkpoint

    report = json.loads((out / "benchmarks.json").read_text())
    assert report["errors"] == {} and report["arc"]["status"] == "measured"
    assert report["config"]["arc_data_dir"] == str(toy) and report["config"]["profile"]["arc_versions"] == 8
    assert report["config"]["checkpoints"]["arc-toy"]["card"]["task"]["name"] == "arc"
    arc = report["arc"]["checkpoints"]["arc-toy"]
    # The toy build: flip01 (1 test input) and recol02 (2 test inputs) are evaluation tasks, each with the
    # identity + aug=5 versions: all 6 are asked (--quick asks up to 8).
    assert (arc["tasks"], arc["test_outputs"], arc["test_inputs"]) == (2, 3, 3)
    assert arc["versions_available"] == {"min": 6, "max": 6} and arc["versions_requested"] == 8
    assert arc["answers"] == 3 * 6 and arc["versions_asked_per_test_input"] == 6
    assert 0 <= arc["discarded"] <= arc["answers"]
    for key in ("pass@1", "pass@2", "strict_pass@1", "strict_pass@2"):
        assert 0 <= arc[key] <= 1, key
    assert arc["pass@1"] <= arc["pass@2"] and arc["strict_pass@2"] <= arc["pass@2"]
    assert arc["segments"] == arc["checkpoint"]["M_max"] and arc["ms_per_answer"] > 0
    assert arc["checkpoint"]["parameters"] > 0 and arc["checkpoint"]["train_steps"] == 4
    assert arc["checkpoint"]["train_data"] == toy_source(toy)
    # The same numbers as reasoner.arc_eval gives; the submission names both evaluation tasks.
    assert set(arc["per_task"]) == {"flip01", "recol02"}
    assert arc["pass@2"] == pytest.approx(np.mean([t["pass@2"] for t in arc["per_task"].values()]))
    submission = json.loads(Path(arc["submission"]).read_text())
    assert set(submission) == {"flip01", "recol02"} and len(submission["recol02"]) == 2

    # Task files missing: a note, no traceback, the run goes on.
    out = tmp_path / "missing"
    assert run_benchmarks.main(["--quick", "--tasks", "arc", "--checkpoint-dir", str(ckpt), "--out", str(out),
                                "--arc-data-dir", str(tmp_path / "nowhere")]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "benchmarks.json").read_text())
    assert report["errors"] == {} and report["arc"]["checkpoints"] == {}
    assert any(n.startswith(f"arc-toy: ARC data not found at {tmp_path / 'nowhere'}") and n.endswith("skipped")
               for n in report["notes"])
    assert "ARC data not found" in printed and "Traceback" not in printed
