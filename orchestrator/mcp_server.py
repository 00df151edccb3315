"""`python -m orchestrator mcp`: the reasoner as MCP tools on standard input/output.

Tools: solve_sudoku, solve_maze, check_sudoku, hint. Every answer a tool returns has passed the
rule-based verifier (`verified` says so; an unverified answer is never returned). Unusable input
is a tool error with the reason, which the client shows to its model.

Register it in an MCP client (e.g. a `mcpServers` entry) as the command
`python -m orchestrator mcp`, run from this project's environment.
"""

from __future__ import annotations

from typing import Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from .extract import Grid
from .facts import CheckFacts, HintFacts, check_answer, find_hint
from .nodes import render_maze, render_sudoku
from .language import template_check, template_hint
from .puzzles import clash, read_sudoku


class SudokuSolution(BaseModel):
    status: Literal["solved", "multiple_solutions", "no_solution", "unsolved"]
    verified: bool  # True exactly when `answer` is set: the verifier accepted it
    answer: Grid | None
    drawn: str | None  # the answer as a grid of text
    path: str  # hrm | hrm+repair | search | none: what produced the answer
    model_correct: bool  # the HRM's own first answer was right
    notes: list[str]


class MazeSolution(BaseModel):
    status: Literal["solved", "no_solution", "unsolved"]
    verified: bool
    answer: list[str] | None  # the maze's rows with one shortest S->G path drawn as 'o'
    drawn: str | None
    path_length: int | None  # cells on the path, S and G included
    path: str  # hrm | search | none
    model_correct: bool


class CheckResult(BaseModel):
    correct: bool
    explanation: str
    facts: CheckFacts  # cells are 1-based (row, column)


class Hint(BaseModel):
    explanation: str
    facts: HintFacts  # the cell (1-based), its verified digit and the rule that forces it


def parse_sudoku(text: str, what: str = "puzzle") -> Grid:
    from reasoner import PuzzleInputError

    try:
        return read_sudoku(text, what)
    except PuzzleInputError as err:
        raise ToolError(str(err)) from None


def build_server(checkpoint: str | None = None, solver: Any = None) -> MCPServer:
    """The MCP server with its four tools (`solver`: reasoner.solve, replaceable in tests)."""
    if solver is None:
        from reasoner import solve as solver  # torch loads here, not at import

    def solve(puzzle: Any, task: str):
        from reasoner import ContradictoryPuzzleError, PuzzleInputError

        try:
            return solver(puzzle, task=task, checkpoint=checkpoint)
        except ContradictoryPuzzleError:
            raise ToolError(clash(puzzle)) from None
        except PuzzleInputError as err:
            raise ToolError(str(err)) from None
        except (FileNotFoundError, ValueError, NotImplementedError) as err:
            raise ToolError(str(err)) from None

    def verified_solution(puzzle: str) -> tuple[Grid, Any]:
        grid = parse_sudoku(puzzle)
        return grid, solve(grid, "sudoku")

    server = MCPServer("hrm-reasoner", instructions=(
        "Sudoku (4x4, 6x6, 9x9) and maze solving by a Hierarchical Reasoning Model. Every answer has passed a "
        "rule-based verifier; rows and columns are numbered from 1."))

    @server.tool()
    def solve_sudoku(puzzle: str) -> SudokuSolution:
        """Solve a sudoku: 81 (or 16, 36) characters in one line or one row per line, blanks as . 0 or _.
        Returns the verified answer, or the status saying why there is none."""
        grid, result = verified_solution(puzzle)
        return SudokuSolution(status=result.status, verified=result.verified, answer=result.answer,
                              drawn=render_sudoku(result.answer) if result.answer else None, path=result.path,
                              model_correct=result.model_correct, notes=result.notes)

    @server.tool()
    def solve_maze(maze: str) -> MazeSolution:
        """Find a shortest path in a square maze: one row per line, '#' wall, ' ' open, 'S' start, 'G' goal
        (a shipped model exists for 9x9). Returns the rows with the verified path drawn as 'o'."""
        rows = [r for r in maze.replace("\r\n", "\n").split("\n") if r.strip()]
        side = max((len(rows), *map(len, rows)), default=0)
        result = solve([r.ljust(side) for r in rows], "maze")  # editors drop trailing spaces
        return MazeSolution(status=result.status, verified=result.verified, answer=result.answer,
                            drawn=render_maze(result.answer) if result.answer else None,
                            path_length=result.path_length, path=result.path, model_correct=result.model_correct)

    @server.tool()
    def check_sudoku(puzzle: str, answer: str) -> CheckResult:
        """Check a filled-in answer against its puzzle (same formats as solve_sudoku): which givens were
        changed, which cells are empty, clash, or differ from the unique solution."""
        grid, filled = parse_sudoku(puzzle), parse_sudoku(answer, "answer")
        if len(grid) != len(filled):
            raise ToolError(f"the puzzle is {len(grid)}x{len(grid)} but the answer is {len(filled)}x{len(filled)}")
        facts = check_answer(grid, filled)
        return CheckResult(correct=facts.ok, explanation=template_check(facts), facts=facts)

    @server.tool()
    def hint(puzzle: str) -> Hint:
        """One cell of the sudoku (or of a partly filled grid of it) with its verified digit and the rule that
        forces it, without revealing the rest of the solution."""
        grid, result = verified_solution(puzzle)
        if result.answer is None:
            raise ToolError(f"no hint: this grid has no verified solution (status {result.status}); "
                            "a filled cell may be wrong")
        facts = find_hint(grid, result.answer)
        if facts is None:
            raise ToolError("no hint: the grid has no empty cell")
        return Hint(explanation=template_hint(facts), facts=facts)

    return server


def run(checkpoint: str | None = None) -> int:
    build_server(checkpoint).run("stdio")
    return 0

