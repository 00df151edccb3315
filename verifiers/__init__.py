"""Rule-based checkers for the HRM tasks (Sudoku, Maze, ARC).

Every checker is a pure function (numpy and the standard library only, no torch) that
returns a typed verdict with human-readable reasons naming the offending cells as
``(row,col)`` and rows, columns and boxes counted from 1 (the verdicts' cell lists, for code,
are 0-based indices). Malformed input yields either a verdict with ok=False or a
:class:`VerifierInputError` (a ValueError), never a stray IndexError. The exact sudoku
search behind analysis and solving runs compiled by numba (sudoku_core.py); the rule
checks themselves stay plain Python.
"""

from .arc import ArcAnswerVerdict, ArcVerdict, check_arc_answer, check_arc_grid
from .common import Cell, VerifierInputError
from .maze import (
    MazeInputError,
    MazeQuestionVerdict,
    MazeVerdict,
    ShortestPath,
    bfs_shortest_path,
    check_maze_answer,
    label_maze,
    validate_maze_question,
)
from .sudoku import (
    PuzzleStatus,
    PuzzleVerdict,
    SearchResult,
    SearchStatus,
    SolutionVerdict,
    analyse_puzzle,
    box_index,
    check_solution,
    confident_consistent_cells,
    count_solutions,
    grid_to_string,
    guided_search,
    minimal_puzzles,
    python_solver,
    search_effort,
)

__all__ = [
    "ArcAnswerVerdict",
    "ArcVerdict",
    "Cell",
    "MazeInputError",
    "MazeQuestionVerdict",
    "MazeVerdict",
    "PuzzleStatus",
    "PuzzleVerdict",
    "SearchResult",
    "SearchStatus",
    "ShortestPath",
    "SolutionVerdict",
    "VerifierInputError",
    "analyse_puzzle",
    "box_index",
    "bfs_shortest_path",
    "check_arc_answer",
    "check_arc_grid",
    "check_maze_answer",
    "check_solution",
    "confident_consistent_cells",
    "count_solutions",
    "grid_to_string",
    "guided_search",
    "label_maze",
    "minimal_puzzles",
    "python_solver",
    "search_effort",
    "validate_maze_question",
]
