"""Names that must stay spelled out (a Literal for a JSON or OpenAPI schema, a table per sudoku
side) agree with the one list of tasks and variants, reasoner/tasks/variants.py."""

import re
import sys
from pathlib import Path
from typing import get_args

from orchestrator.language import TaskName, Transcription
from orchestrator.nodes import LEVEL_BLANKS
from orchestrator.server import SolveRequest
from reasoner.inference import POLICIES
from reasoner.tasks import BOX_SHAPE, SUDOKU_BY_CELLS, TASKS, VARIANTS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
import load_test  # noqa: E402


def test_the_solve_endpoints_task_is_what_solve_answers():
    assert set(get_args(SolveRequest.model_fields["task"].annotation)) == set(POLICIES)
    assert SolveRequest.model_fields["task"].default in POLICIES


def test_the_chats_task_names_are_the_task_plug_ins_and_none():
    assert set(get_args(TaskName)) == set(TASKS) | {"none"}


def test_tables_per_sudoku_side_cover_the_sudoku_variants():
    sides = {v.side for v in VARIANTS.values() if v.family == "sudoku"}
    assert set(BOX_SHAPE) == sides == {v.side for v in SUDOKU_BY_CELLS.values()}
    assert set(get_args(Transcription.model_fields["size"].annotation)) == sides
    assert set(LEVEL_BLANKS) == sides
    assert set(load_test.BLANKS) == sides


def test_the_web_pages_cell_counts_are_the_sudoku_variants():
    # orchestrator/web/app.js reads a pasted puzzle's side from its number of cells.
    script = (Path(__file__).resolve().parents[1] / "orchestrator" / "web" / "app.js").read_text()
    table = re.search(r"const size = \{([^}]*)\}\[chars\.length\]", script).group(1)
    pairs = {int(cells): int(side) for cells, side in re.findall(r"(\d+)\s*:\s*(\d+)", table)}
    assert pairs == {cells: v.side for cells, v in SUDOKU_BY_CELLS.items()}
