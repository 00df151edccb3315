"""Every bad input or option of solve() and hrm-solve ends in a clear error, never a traceback or a
wrong answer; a model with non-finite outputs still ends in the exact search's verified answer."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from reasoner import PuzzleBatchError, PuzzleInputError, solve
from reasoner.checkpoint import CheckpointCard, save_checkpoint
from reasoner.cli import main as cli_main
from reasoner.config import cpu_tiny
from reasoner.model import HRM
from reasoner.tasks import MazeTask, SudokuTask
from verifiers import sudoku as rules

ROOT = Path(__file__).resolve().parents[1]
TASK4 = SudokuTask(2, 2)
PUZZLE4 = "1..4.4....2..3.."
SOLUTION4 = rules.grid_to_string(rules.analyse_puzzle(TASK4.parse(PUZZLE4), 2, 2).solution)
UNIQUE_9X9 = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
MAZE5 = ["S   #", "### #", "#   #", "# ###", "#   G"]


def checkpoint(path, task, fill=None):
    torch.manual_seed(0)
    model = HRM(cpu_tiny(task.vocab_size, task.seq_len, **task.model_hints()))
    if fill is not None:
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(fill)
    return save_checkpoint(model, path, CheckpointCard(task=task.spec(), model=model.cfg, seed=0))


@pytest.fixture(scope="module")
def tiny4(tmp_path_factory):
    return checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny4", TASK4)


@pytest.mark.parametrize("options, message", [
    ({"batch_size": -5}, "batch_size must be a whole number of at least 1"),
    ({"batch_size": 0}, "batch_size must be"),
    ({"batch_size": 2.5}, "batch_size must be"),
    ({"segments": -1}, "segments must be a whole number from 1"),
    ({"segments": 0}, "segments must be"),
    ({"segments": True}, "segments must be"),
    ({"segments": 10**9}, "segments must be"),
    ({"halting": "bogus"}, "halting must be 'verified', 'act' or 'fixed'"),
    ({"halting": ["act"]}, "halting must be"),
    ({"repair": "no"}, "repair must be True or False"),
    ({"compile": "yes"}, "compile must be True or False"),
    ({"device": "bogus"}, "not a device name"),
    ({"device": "mps"}, "only 'cpu' and 'cuda'"),
    ({"task": "chess"}, "unknown task 'chess'"),
    ({"task": None}, "unknown task None"),
    ({"checkpoint": 42}, "checkpoint must be a path"),
    ({"batch": "yes"}, "batch must be True, False or None"),
])
def test_bad_options_raise_a_clear_value_error(tiny4, options, message):
    with pytest.raises(ValueError, match=message):
        solve(PUZZLE4, **{"checkpoint": tiny4, **options})


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused_before_any_work(tiny4):
    with pytest.raises(ValueError, match="CUDA is not available on this machine; use device='cpu'"):
        solve(PUZZLE4, checkpoint=tiny4, device="cuda")


def test_decimal_digits_of_any_script_are_read_as_their_value(tiny4):
    fullwidth = PUZZLE4.translate(str.maketrans("1234", "１２３４"))
    arabic_indic = PUZZLE4.translate(str.maketrans("1234.", "١٢٣٤٠"))
    for text in (fullwidth, arabic_indic):
        assert solve(text, checkpoint=tiny4).answer_string() == SOLUTION4


@pytest.mark.parametrize("sign", ["²", "①", "Ⅳ", "½"])
def test_other_numeric_signs_are_refused_clearly(tiny4, sign):
    with pytest.raises(PuzzleInputError, match=f"character '{sign}' at position 4 is a numeric sign, not a decimal digit"):
        solve(PUZZLE4.replace("4", sign, 1), checkpoint=tiny4)


def test_nine_rows_with_one_short_row_are_one_puzzle_with_a_bad_row():
    rows = [UNIQUE_9X9[i : i + 9] for i in range(0, 81, 9)]
    rows[4] = rows[4][:8]
    with pytest.raises(PuzzleInputError, match="row 5 has 8 cells; each row of a 9x9 sudoku has 9"):
        solve(rows)


def test_rows_of_one_grid_still_solve_and_batch_true_reads_each_string_as_a_puzzle(tiny4):
    rows = [PUZZLE4[i : i + 4] for i in range(0, 16, 4)]
    assert solve(rows, checkpoint=tiny4).answer_string() == SOLUTION4
    with pytest.raises(PuzzleBatchError, match="4 of 4 puzzles cannot be used: puzzle 1: a sudoku has 16, 36 or 81 cells"):
        solve(rows, checkpoint=tiny4, batch=True)
    assert [r.answer_string() for r in solve([PUZZLE4], checkpoint=tiny4, batch=True)] == [SOLUTION4]


@pytest.mark.parametrize("maze", ["", "S", "SG##", ["SG", "##"]])
def test_mazes_too_small_to_hold_a_path_are_refused(maze):
    with pytest.raises(PuzzleInputError):
        solve(maze, task="maze")


def test_tiny_maze_names_its_size():
    with pytest.raises(PuzzleInputError, match="a maze has at least 3x3 cells; this one is 2x2"):
        solve("SG##", task="maze")


def test_a_model_with_nan_weights_gives_the_exact_search_answer_with_a_note(tmp_path):
    nan4 = checkpoint(tmp_path / "nan4", TASK4, fill=float("nan"))
    r = solve(PUZZLE4, checkpoint=nan4)
    assert r.verified and r.path == "search" and r.answer_string() == SOLUTION4
    assert not r.model_correct and any("not finite" in note for note in r.notes)
    assert np.isfinite(r.confidence).all()
    json.loads(r.model_dump_json())  # serialisable: no NaN left in the result
    assert solve(PUZZLE4, checkpoint=nan4, repair=False).answer is None


def test_a_maze_model_with_nan_weights_gives_the_breadth_first_search_answer(tmp_path):
    nan5 = checkpoint(tmp_path / "nan5", MazeTask(5), fill=float("nan"))
    r = solve(MAZE5, task="maze", checkpoint=nan5)
    assert r.verified and r.path == "search" and any("not finite" in note for note in r.notes)
    assert np.isfinite(r.confidence).all()


# -- hrm-solve ------------------------------------------------------------------------------


def test_cli_answers_every_good_line_and_names_the_bad_ones(tiny4, tmp_path, capsys):
    path = tmp_path / "puzzles.txt"
    path.write_text(f"{PUZZLE4}\n\n11..............\n1..4.4....2..3.²\n{PUZZLE4}\n")
    assert cli_main(["--file", str(path), "--checkpoint", str(tiny4)]) == 2
    out, err = capsys.readouterr()
    assert out.split() == [SOLUTION4, "bad_input", "bad_input", SOLUTION4]
    assert "line 3: row 1 has 1 twice" in err and "line 4: character '²' at position 16" in err
    assert cli_main(["--file", str(path), "--checkpoint", str(tiny4), "--json"]) == 2
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["status"] for r in records] == ["solved", "bad_input", "bad_input", "solved"]
    assert records[1]["line"] == 3


def test_cli_answers_the_lines_its_checkpoint_fits_and_names_the_others(tiny4, tmp_path, capsys):
    path = tmp_path / "mixed.txt"
    path.write_text(f"{PUZZLE4}\n{UNIQUE_9X9}\n{PUZZLE4}\n")
    assert cli_main(["--file", str(path), "--checkpoint", str(tiny4)]) == 2
    out, err = capsys.readouterr()
    assert out.split() == [SOLUTION4, "bad_input", SOLUTION4]
    assert "line 2: checkpoint" in err and "the puzzle is a sudoku-9x9" in err


def test_cli_reports_input_that_is_not_utf8(tiny4, tmp_path, capsys, monkeypatch):
    # An argument Python could not decode arrives with its bytes as surrogate escapes.
    assert cli_main([PUZZLE4[:-1] + "\udcff", "--checkpoint", str(tiny4)]) == 2
    assert "the puzzle argument is not UTF-8 text: byte 0xff at byte 16" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(PUZZLE4[:5].encode() + b"\xfe\n")))
    assert cli_main(["-", "--checkpoint", str(tiny4)]) == 2
    assert "standard input is not UTF-8 text: byte 0xfe at byte 6" in capsys.readouterr().err
    path = tmp_path / "latin1.txt"
    path.write_bytes(f"{PUZZLE4}\n{PUZZLE4}\n\xe9".encode("latin-1"))
    assert cli_main(["--file", str(path), "--checkpoint", str(tiny4)]) == 2
    err = capsys.readouterr().err
    assert f"{path} is not UTF-8 text" in err and "(line 3)" in err


def test_cli_bad_options_and_checkpoints_are_errors_not_tracebacks(tiny4, tmp_path, capsys):
    assert cli_main([PUZZLE4, "--checkpoint", str(tiny4), "--segments", "0"]) == 2
    assert "segments must be" in capsys.readouterr().err
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"x")
    (tmp_path / "broken.json").write_text("{")
    assert cli_main([PUZZLE4, "--checkpoint", str(broken)]) == 2
    assert str(tmp_path / "broken.json") in capsys.readouterr().err
    assert cli_main(["--file", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err
    (tmp_path / "blank.txt").write_text("\n  \n")
    assert cli_main(["--file", str(tmp_path / "blank.txt")]) == 2
    assert "blank.txt holds no puzzle" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_output_piped_into_a_reader_that_stops_ends_quietly(tiny4, tmp_path):
    path = tmp_path / "many.txt"
    path.write_text(f"{PUZZLE4}\n" * 400)  # JSON lines well beyond a pipe's buffer
    proc = subprocess.Popen([sys.executable, "-m", "reasoner.cli", "--file", str(path), "--json", "--checkpoint", str(tiny4)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and "Traceback" not in err, err
