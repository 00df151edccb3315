"""eval/maze_sizes.py, eval/maze_profile.py and eval/sudoku_hard.py end to end on tiny inputs."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from reasoner.checkpoint import CheckpointCard, save_checkpoint
from reasoner.config import cpu_tiny
from reasoner.model import HRM
from reasoner.tasks import MazeTask, SudokuTask

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
import maze_profile  # noqa: E402
import maze_sizes  # noqa: E402
import sudoku_hard  # noqa: E402


def tiny_checkpoint(tmp_path, task, **model):
    torch.manual_seed(0)
    cfg = cpu_tiny(task.vocab_size, task.seq_len, **{**task.model_hints(), **model})
    return save_checkpoint(HRM(cfg), tmp_path / "ckpt", CheckpointCard(task=task.spec(), model=cfg, seed=0))


def test_maze_sizes_scores_one_size_free_checkpoint_on_several_sizes(tmp_path):
    path = tiny_checkpoint(tmp_path, MazeTask(5), pos_encoding="none", attention="relations", relation_bias=True)
    mazes = tmp_path / "hard_question.txt"
    questions, _ = MazeTask(30).generate(2, np.random.default_rng(0), progress=False, style="long")
    mazes.write_text("".join(MazeTask(30).to_string(q) + "\n" for q in questions))
    out = tmp_path / "report"
    assert maze_sizes.main([str(path), "--sizes", "5", "7", "--mazes", "3", "--segments", "1", "2",
                            "--maze-file", str(mazes), "--views", "3", "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert list(report["sets"]) == ["generated 5x5 (style long)", "generated 7x7 (style long)", "Maze-Hard hard_question.txt"]
    for rates in report["sets"].values():
        assert set(rates["valid"]) == {"1", "2"} and all(0 <= v <= 1 for v in rates["valid"].values())
        assert all(rates["exact"][k] <= rates["valid"][k] for k in rates["exact"])  # the label is one valid path
        assert rates["views"] == 3 and 0 <= rates["valid_views"]["1"] <= rates["valid_views"]["2"] <= 1
        assert all(0 <= rates["picked_views"][k] <= rates["valid_views"][k] for k in ("1", "2"))
    assert "| generated 5x5 (style long), 3 views (valid) | 3 |" in out.with_suffix(".md").read_text()
    from PIL import Image

    assert Image.open(out.with_suffix(".gif")).n_frames == 2 and out.with_suffix(".png").stat().st_size > 0
    with pytest.raises(SystemExit, match="absolute positions"):
        maze_sizes.main([str(tiny_checkpoint(tmp_path / "fixed", MazeTask(5))), "--sizes", "7", "--out", str(out)])
    assert maze_sizes.main([str(path), "--mazes", "0", "--segments", "1", "--maze-file", str(mazes), "--out", str(out)]) == 0
    assert list(json.loads(out.with_suffix(".json").read_text())["sets"]) == ["Maze-Hard hard_question.txt"]
    with pytest.raises(SystemExit, match="nothing to score"):
        maze_sizes.main([str(path), "--mazes", "0", "--out", str(out)])


def test_maze_profile_prints_the_statistics_of_the_file_and_both_styles(tmp_path, capsys):
    mazes = tmp_path / "m_question.txt"
    questions, _ = MazeTask(9).generate(5, np.random.default_rng(1), progress=False)
    mazes.write_text("".join(MazeTask(9).to_string(q) + "\n" for q in questions))
    assert maze_profile.main(["--maze-file", str(mazes), "--count", "5"]) == 0
    table = capsys.readouterr().out
    assert "| shortest path |" in table and "style long" in table and "dead-end share" in table


@pytest.mark.slow
def test_sudoku_hard_reports_segments_givens_ratings_and_guidance(tmp_path):
    path = tiny_checkpoint(tmp_path, SudokuTask(3, 3))
    out = tmp_path / "hard"
    assert sudoku_hard.main(["--checkpoint", str(path), "--generated", "4", "--givens", "21-30",
                             "--gen", "count=2,blanks=40", "--segments", "1", "2", "--views", "2", "--commit", "0", "3",
                             "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    # Every set once without and once with committed decoding (3 cells after every segment).
    assert report["commit"] == {"cells": [0, 3], "every": 1} and "K cells after every segment" in out.with_suffix(".md").read_text()
    assert list(report["sets"]) == ["generated, givens 21-30", "generated, givens 21-30, commit 3",
                                    "generated, count=2,blanks=40", "generated, count=2,blanks=40, commit 3"]
    assert report["sets"]["generated, count=2,blanks=40, commit 3"]["puzzles"] == 2
    assert len(report["sets"]["generated, givens 21-30, commit 3"]["picked_views_by_segment"]) == 2
    assert out.with_suffix(".png").stat().st_size > 0
    r = report["sets"]["generated, givens 21-30"]
    assert r["puzzles"] == 4 and set(r["exact"]) == {"1", "2"}
    assert sum(b["puzzles"] for b in r["by_givens"].values()) == 4 == sum(b["puzzles"] for b in r["by_rating"].values())
    assert r["search"]["nodes_guided_mean"] >= 0 and "| generated, givens 21-30 | 4 |" in out.with_suffix(".md").read_text()
    assert r["views"] == 2 and 0 <= r["verified_views"]["1"] <= r["verified_views"]["2"] <= 1
    assert all(0 <= r["picked_views"][k] <= r["verified_views"][k] for k in ("1", "2"))
    assert "| generated, givens 21-30, 2 views (verified) | 4 |" in out.with_suffix(".md").read_text()
    assert "| generated, givens 21-30, 2 views (model-picked) | 4 |" in out.with_suffix(".md").read_text()


def test_calibrate_give_up_writes_a_threshold_that_keeps_the_keep_sets_answers(tmp_path, capsys):
    import shutil

    import calibrate_give_up

    from reasoner.checkpoint import read_card
    from reasoner.inference import CHECKPOINT_DIR

    path = tmp_path / "s4.safetensors"  # the shipped 4x4, copied: --write changes its card
    shutil.copy(CHECKPOINT_DIR / "sudoku-4x4.safetensors", path)
    shutil.copy(CHECKPOINT_DIR / "sudoku-4x4.json", path.with_suffix(".json"))
    with pytest.raises(SystemExit):  # the keep set must be named
        calibrate_give_up.main([str(path)])
    assert calibrate_give_up.main([str(path), "--keep", "gen:count=32,blanks=8", "--keep-share", "1",
                                   "--hard", "gen:count=8,blanks=11", "--write"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["keep"]["hrm_solves"] > 0 and report["keep"]["solves_given_up"] == 0  # share 1: all kept
    assert report["gen:count=8,blanks=11"]["puzzles"] == 8
    give_up = read_card(path).give_up
    assert give_up.logit == report["give_up"]["logit"] and "--keep-share 1" in give_up.measured


def test_maze_sizes_can_run_small_mazes_inside_a_larger_grid_of_walls(tmp_path):
    path = tiny_checkpoint(tmp_path, MazeTask(7), pos_encoding="none", attention="relations", relation_bias=True)
    out = tmp_path / "report"
    assert maze_sizes.main([str(path), "--sizes", "5", "--canvas", "7", "--mazes", "2", "--segments", "1",
                            "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    (name, rates), = report["sets"].items()
    assert name == "generated 5x5 (style long) inside 7x7 walls" and rates["mazes"] == 2
    # By default as solve() runs them: on the checkpoint's own grid; --canvas 0: each on its own size.
    for extra, expected in (([], "generated 5x5 (style long) inside 7x7 walls"), (["--canvas", "0"], "generated 5x5 (style long)")):
        assert maze_sizes.main([str(path), "--sizes", "5", "--mazes", "2", "--segments", "1", "--out", str(out), *extra]) == 0
        assert list(json.loads(out.with_suffix(".json").read_text())["sets"]) == [expected]
