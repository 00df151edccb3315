"""The chat graph's nodes (graph.py wires them): each reads the turn's state and returns what it
changes.

The one rule every node keeps: an answer reaches the reply only from the verify node, where the
rule-based verifier re-checks it (`verifiers.sudoku.check_solution`, `verifiers.maze.check_maze_answer`);
the thread's `solution` is stored there too, so what `lookup` shows was verified as well. Givens
come only from the user's own text (code extraction, or a model transcription checked against it).
"""

from __future__ import annotations

import re

import numpy as np

from reasoner.tasks import BOX_SHAPE, ContradictoryPuzzleError, PuzzleInputError
from reasoner.tasks.maze import MazeTask
from verifiers import maze as maze_rules
from verifiers import sudoku as sudoku_rules

from .extract import Grid, extract_maze, extract_sudoku, sudoku_task, written_cells
from .claims import check_knowledge, hint_knowledge, solve_knowledge, steps_knowledge
from .facts import (
    CheckFacts,
    SolveFacts,
    StepsFacts,
    check_answer,
    as_people_write,
    find_hint,
    solve_facts,
    solving_steps,
)
from .language import (
    HELP_TEXT,
    cell_reference,
    continues_steps,
    is_injection,
    requested_level,
    requested_size,
    template_check,
    template_hint,
    template_solve_explanation,
    template_steps,
)
from .state import ChatState, Reply, TurnContext

# Blank cells of generated puzzles per size and level (easy, medium, hard). The generator keeps
# the solution unique, so more blanks means fewer clues and more reasoning per cell. One entry per
# sudoku side of reasoner.tasks.BOX_SHAPE (tests/test_registry.py checks it).
LEVEL_BLANKS = {
    4: [(5, 6), (7, 9), (10, 11)],
    6: [(12, 15), (16, 20), (21, 24)],
    9: [(36, 42), (43, 49), (50, 54)],
}
LEVEL_NAMES = ("easy", "medium", "hard")
# A message needs this many digits (figures or words) before a grid described in words is worth
# a transcription call; "what is in row 3" or "set row 1 to 1111" is not a grid.
MIN_DIGITS_FOR_TRANSCRIPTION = 10
# Solving steps shown per reply: enough to follow a line of reasoning, few enough to read.
STEPS_PER_REPLY = 5

INJECTION_NOTE = ("I can't change the givens you gave me or skip verification: the givens are exactly the grid "
                  "you pasted, and I only ever show answers the rule-based verifier has accepted.")


def render_sudoku(grid: Grid) -> str:
    return sudoku_task(len(grid)).format_grid(np.asarray(grid))


def render_maze(rows: list[str]) -> str:
    return MazeTask(len(rows)).format_grid(np.array([list(r) for r in rows]))


def _stop(text: str, ok: bool = False, **more) -> dict:
    return {"lines": [text], "ok": ok, "stop": True, **more}


def understand(state: ChatState, ctx: TurnContext) -> dict:
    message = state["message"]
    limit = ctx.settings.max_message_chars
    if not message.strip():
        return _stop("Your message is empty. " + HELP_TEXT)
    if len(message) > limit:
        return _stop(f"Your message is {len(message):,} characters long; I read at most {limit:,}. "
                     "Please send just the puzzle and your question.")
    # The one reading of the message's sudoku grids this turn: intent rules and extract share it.
    found = extract_sudoku(message)
    first = found.grids[0] if found.grids else None
    # Follow-ups without a puzzle type ("solve it", "row 3?") are about the thread's sudoku.
    thread_task = "sudoku" if state.get("puzzle") else None
    got = ctx.language.understand(message, first, thread_task, _thread_summary(state))
    out: dict = {"intent": got.intent, "task": got.task, "found": found}
    if is_injection(message):
        if got.intent in ("other", "lookup") and first is None:
            refusal = _stop(INJECTION_NOTE + " To work on a different puzzle, paste it in full.")
            return {**out, **refusal, "intent": "other"}
        out["notes"] = [INJECTION_NOTE]
    if got.task == "arc":
        return {**out, **_stop("ARC puzzles are not available in this chat yet: no ARC reasoner is shipped. "
                               "I can solve, check and explain sudoku (4x4, 6x6, 9x9) today.")}
    if got.intent == "other":
        out.update(_stop(HELP_TEXT, ok=True))
    return out


def _thread_summary(state: ChatState) -> str:
    puzzle = state.get("puzzle")
    if not puzzle:
        return "no puzzle in the conversation yet"
    n = len(puzzle)
    solved = "solved" if state.get("solution") else "not solved yet"
    return f"current puzzle: a {n}x{n} sudoku, {solved}; previous request: {state.get('last_intent') or 'none'}"


def extract(state: ChatState, ctx: TurnContext) -> dict:
    message, intent = state["message"], state["intent"]
    if state["task"] == "maze":
        found = extract_maze(message)
        if found.rows is None:
            return _stop(f"I could not read a maze: {as_people_write(found.problem)}")
        return {"maze": found.rows}

    found = state["found"]
    memory = state.get("puzzle")
    if intent == "check":
        if len(found.grids) >= 2:
            puzzle, answer = found.grids[0], found.grids[1]
        elif len(found.grids) == 1:
            answer = found.grids[0]
            puzzle = memory if memory and len(memory) == len(answer) else None
        else:
            return _stop("Paste the answer you want me to check (all cells, one line or one row per line).")
        if puzzle is not None and len(puzzle) != len(answer):
            return _stop(f"The puzzle is {len(puzzle)}x{len(puzzle)} but the answer is {len(answer)}x{len(answer)}.")
        return {"grid": puzzle, "user_answer": answer, "grid_source": "text", "task": "sudoku"}

    if found.grids:
        notes = ["Your message holds more than one grid; I used the first."] if len(found.grids) > 1 else []
        return {"grid": found.grids[0], "grid_source": "text", "notes": notes, "task": "sudoku"}

    # No grid code can read. A grid described in words is the language model's job (checked
    # against the user's digits); otherwise the thread's puzzle is meant ("solve it", "a hint").
    if _describes_grid(message):
        grid, why = ctx.language.transcribe(message)
        if grid is not None:
            notes = ["I read your grid with the language model's help; it is shown below so you can "
                     "check that it is the puzzle you meant."]
            return {"grid": grid, "grid_source": "llm", "notes": notes, "task": "sudoku"}
        reason = f" ({why})" if why else ""
        return _stop(_sentences([f"I could not read a sudoku grid from your message{reason}.", *found.problems[:2],
                                 ("Please paste the grid itself: one line of 16/36/81 cells or one row per line, "
                                  "blanks as . 0 or _.")]))
    if memory:
        return {"grid": memory, "grid_source": "memory", "task": "sudoku"}
    return _stop(_sentences(["I found no sudoku grid in your message.", *found.problems[:2]]) + "\n\n" + HELP_TEXT)


def _describes_grid(message: str) -> bool:
    """Enough cells for a grid (digits and blanks, in figures or words), or rows described one by one."""
    _, cells = written_cells(message)
    rows = len(re.findall(r"\brows?\b", message, re.IGNORECASE))
    return len(cells) >= MIN_DIGITS_FOR_TRANSCRIPTION or (len(cells) >= 4 and rows >= 2)


def _sentences(parts: list[str]) -> str:
    """Problem descriptions (lower-case fragments) and sentences joined into one paragraph."""
    return " ".join(p[0].upper() + p[1:] + ("" if p.endswith(".") else ".") for p in parts)


def solve(state: ChatState, ctx: TurnContext) -> dict:
    if state["task"] == "maze":
        return _solve_maze(state, ctx)
    grid = state["grid"]
    n = len(grid)
    # A hint or "solve it" about the thread's puzzle reuses the verified solution already found.
    if grid == state.get("puzzle") and state.get("solution") and state.get("solution_facts"):
        facts = SolveFacts.model_validate(state["solution_facts"])
        return {"solve_facts": facts.model_dump(), "answer": state["solution"], "status": facts.status, "path": facts.path}
    try:
        result = ctx.solver(grid, checkpoint=ctx.settings.checkpoint)
    except FileNotFoundError as err:
        return _stop(f"The {n}x{n} sudoku solver is not installed here yet (its checkpoint is missing), so I "
                     f"cannot solve this puzzle. Details: {err}", status="unavailable", grid=grid)
    except ContradictoryPuzzleError:
        verdict = sudoku_rules.analyse_puzzle(grid, *BOX_SHAPE[n])
        ctx.trace.verdicts.append({"check": "sudoku.analyse_puzzle", "status": verdict.status.value,
                                   "reasons": verdict.reasons})
        cells = ", ".join(f"r{r + 1}c{c + 1}" for r, c in verdict.conflict_cells)
        return _stop(f"The givens break the rules before any cell is filled: the same digit appears twice in a "
                     f"row, column or box at {cells}. Please check the grid.", status="contradictory", grid=grid)
    except PuzzleInputError as err:
        return _stop(f"I cannot use this grid: {err}.", status="bad_input", grid=grid)
    facts = solve_facts(result)
    return {"solve_facts": facts.model_dump(), "answer": result.answer, "status": result.status, "path": result.path}


def _solve_maze(state: ChatState, ctx: TurnContext) -> dict:
    rows = state["maze"]
    question = maze_rules.validate_maze_question(rows)
    ctx.trace.verdicts.append({"check": "maze.validate_maze_question", "ok": question.ok, "reasons": question.reasons})
    try:
        result = ctx.solver("\n".join(rows), task="maze")
    except (ValueError, FileNotFoundError, NotImplementedError) as err:
        where = ""
        if question.start and question.goal:
            (sr, sc), (gr, gc) = question.start, question.goal
            where = f" (S at row {sr + 1}, column {sc + 1}; G at row {gr + 1}, column {gc + 1})"
        return _stop(f"I read your {len(rows)}x{len(rows)} maze{where}, but cannot solve it: {as_people_write(str(err))}",
                     status="unavailable")
    if getattr(result, "status", None) == "no_solution":
        return _stop("This maze has no solution: G cannot be reached from S through open cells.", status="no_solution")
    answer = getattr(result, "answer", None)
    if answer is None:
        return _stop("The maze solver found no verified path.", status=getattr(result, "status", "unsolved"))
    answer_rows = answer if isinstance(answer[0], str) else ["".join(r) for r in answer]
    return {"answer": answer_rows, "path": getattr(result, "path", None)}


def verify(state: ChatState, ctx: TurnContext) -> dict:
    if state.get("maze"):
        return _verify_maze(state, ctx)
    if state["intent"] == "check":
        facts = check_answer(state["grid"], state["user_answer"])
        ctx.trace.verdicts.append({"check": "sudoku.check_solution", "ok": facts.ok, "reasons": facts.verifier_reasons})
        return {"check": facts.model_dump(), "status": "correct" if facts.ok else "incorrect"}
    grid, answer = state["grid"], state.get("answer")
    if answer is None:
        ctx.trace.verdicts.append({"check": "solve", "ok": False, "status": state.get("status")})
        return {"answer": None, "verified": False}
    # Belt and braces: the SolveResult says it is verified; check it again here, where the reply is made.
    verdict = sudoku_rules.check_solution(grid, answer, *BOX_SHAPE[len(grid)])
    ctx.trace.verdicts.append({"check": "sudoku.check_solution", "ok": verdict.ok, "reasons": verdict.reasons,
                               "status": state.get("status"), "path": state.get("path")})
    if not verdict.ok:
        return {"answer": None, "verified": False, "status": "unsolved",
                "notes": ["The solver's answer failed the final check, so I show none."]}
    memory = {}
    thread_puzzle = state.get("puzzle")
    progress = state["intent"] == "hint" and _is_progress_of(grid, thread_puzzle)
    if not progress:  # a new puzzle (or the same one): it becomes the thread's puzzle
        same = grid == thread_puzzle
        memory = {"puzzle": grid, "solution": answer, "solution_facts": state["solve_facts"],
                  "revealed": state.get("revealed", False) if same else False,
                  "steps_shown": state.get("steps_shown", 0) if same else 0}
    return {"verified": True, **memory}


def _verify_maze(state: ChatState, ctx: TurnContext) -> dict:
    verdict = maze_rules.check_maze_answer(state["maze"], state["answer"])
    ctx.trace.verdicts.append({"check": "maze.check_maze_answer", "ok": verdict.ok, "reasons": verdict.reasons})
    if not verdict.ok:
        return {"answer": None, "verified": False, "status": "unsolved"}
    return {"verified": True, "status": "solved", "path_length": verdict.path_length}


def _is_progress_of(grid: Grid, puzzle: Grid | None) -> bool:
    """The user's partly filled grid of the thread's puzzle (all its givens kept, more filled)."""
    if not puzzle or len(puzzle) != len(grid) or grid == puzzle:
        return False
    n = len(grid)
    return all(grid[r][c] == puzzle[r][c] for r in range(n) for c in range(n) if puzzle[r][c])


def explain(state: ChatState, ctx: TurnContext) -> dict:
    if state.get("maze"):
        return _explain_maze(state)
    intent, language = state["intent"], ctx.language
    if intent == "check":
        facts = CheckFacts.model_validate(state["check"])
        knowledge = check_knowledge(state.get("grid"), state["user_answer"], facts)
        return {"lines": [language.explain(facts, template_check(facts), knowledge)], "ok": True}
    if intent == "explain" and state.get("grid") is None:
        if not state.get("solution_facts"):
            return {"lines": ["There is nothing to explain yet: ask me to solve a puzzle first."], "ok": False}
        facts = SolveFacts.model_validate(state["solution_facts"])
        knowledge = solve_knowledge(state["puzzle"], state.get("solution"), facts)
        return {"lines": [language.explain(facts, template_solve_explanation(facts), knowledge)], "ok": True}

    facts = SolveFacts.model_validate(state["solve_facts"])
    grid, answer = state["grid"], state.get("answer")
    lines = []
    if state.get("grid_source") == "llm":
        lines.append("The puzzle as I read it:\n\n" + render_sudoku(grid))
    if answer is None:
        headline = {"no_solution": "This puzzle has no solution.",
                    "unsolved": "I could not find a verified answer for this puzzle."}.get(state.get("status"), "No verified answer.")
        lines += [headline, template_solve_explanation(facts)]
        return {"lines": lines, "ok": False}

    if intent == "hint":
        # The verified solution stays in the thread's memory; the reply carries one cell of it.
        hint = find_hint(grid, answer)
        if hint is None:
            return {"lines": lines + ["This grid has no empty cell left, so there is nothing to hint."], "ok": False,
                    "answer": None}
        lines.append(language.explain(hint, template_hint(hint), hint_knowledge(grid, answer, hint)))
        if hint.technique == "from_solution" and facts.status == "multiple_solutions":
            lines.append("This puzzle has more than one solution: that digit belongs to the verified solution I "
                         "found, other solutions may differ there.")
        return {"lines": lines, "hint": hint.model_dump(), "ok": True, "answer": None}

    if intent == "explain":
        return _explain_steps(state, ctx, lines, grid, answer)

    headline = ("Solved and verified." if facts.status == "solved"
                else "Solved and verified (this puzzle has more than one solution; here is one).")
    knowledge = solve_knowledge(grid, answer, facts)
    lines += [headline, render_sudoku(answer), language.explain(facts, template_solve_explanation(facts), knowledge)]
    return {"lines": lines, "ok": True, "revealed": True}


def _explain_maze(state: ChatState) -> dict:
    if not state.get("verified"):
        return {"lines": ["The maze solver's path did not pass the verifier, so I show none."], "ok": False}
    how = ("The reasoner (HRM) found this path itself." if state.get("path") == "hrm" else
           "The reasoner's own path was not a shortest path, so this one comes from an exact breadth-first search.")
    # Like a solved sudoku, the reply carries the verified answer (the maze's rows with the path drawn).
    return {"lines": [f"Solved and verified: the path ('o', {state['path_length']} cells from S to G) is a shortest "
                      f"route. {how}\n\n" + render_maze(state["answer"])], "ok": True}


def _explain_steps(state: ChatState, ctx: TurnContext, lines: list[str], grid: Grid, answer: Grid) -> dict:
    """How to solve it: the next few steps of the rule-based solving path, not the answer."""
    steps = solving_steps(grid, answer)
    same_puzzle = state.get("grid_source") == "memory"
    start = state.get("steps_shown") or 0 if same_puzzle and continues_steps(state["message"]) else 0
    if start >= len(steps):
        return {"lines": lines + [f"That was the last of the {len(steps)} steps: the puzzle is filled."],
                "ok": True, "answer": None}
    shown = steps[start : start + STEPS_PER_REPLY]
    facts = StepsFacts(total_steps=len(steps), guesses=sum(s.rule == "guess" for s in steps), first=start + 1, steps=shown)
    end = start + len(shown)
    intro = (f"How to solve it, one rule at a time: steps {start + 1}-{end} of {len(steps)}"
             + (f" ({facts.guesses} of them need a guess: no simple rule applies there)." if facts.guesses else
                " (every step follows from a rule; no guessing needed)."))
    text = ctx.language.explain(facts, template_steps(facts), steps_knowledge(grid, answer, steps, facts))
    more = "Say 'next steps' for more." if end < len(steps) else "That fills the puzzle."
    return {"lines": lines + [intro, text, more], "ok": True, "answer": None, "steps_shown": end}


def generate(state: ChatState, ctx: TurnContext) -> dict:
    message = state["message"]
    if state.get("task") == "maze":
        return _stop("I cannot generate mazes yet; I generate sudoku (4x4, 6x6, 9x9). Paste a maze "
                     "('#' walls, S, G) and I will solve it.")
    memory = state.get("puzzle")
    n = requested_size(message) or (len(memory) if memory else 9)
    level, note = requested_level(message, state.get("level"))
    rng = np.random.default_rng(ctx.settings.seed)
    puzzles, _ = sudoku_task(n).generate(1, LEVEL_BLANKS[n][level], rng, progress=False)
    puzzle = puzzles[0].tolist()
    # The generator promises a unique solution; the verifier's exact analysis confirms it.
    verdict = sudoku_rules.analyse_puzzle(puzzle, *BOX_SHAPE[n])
    ctx.trace.verdicts.append({"check": "sudoku.analyse_puzzle", "status": verdict.status.value})
    blanks = sum(1 for row in puzzle for v in row if not v)
    unique = verdict.status is sudoku_rules.PuzzleStatus.UNIQUE
    lines = [note] if note else []
    lines += [(f"Here is a{'n' if level == 0 else ''} {LEVEL_NAMES[level]} {n}x{n} sudoku with {blanks} blanks"
               f"{' and exactly one solution (checked by the verifier)' if unique else ''}:"),
              render_sudoku(puzzle),
              "Ask for a hint, send me your answer to check, or say 'solve it'."]
    return {"lines": lines, "ok": unique, "grid": puzzle, "grid_source": "generated", "status": "generated",
            "puzzle": puzzle, "solution": None, "solution_facts": None, "revealed": False, "steps_shown": 0, "level": level,
            "task": "sudoku"}


def lookup(state: ChatState, ctx: TurnContext) -> dict:
    puzzle = state.get("puzzle")
    if not puzzle:
        return {"lines": ["There is no puzzle in this conversation yet. " + HELP_TEXT], "ok": False}
    ref = cell_reference(state["message"])
    if ref is None:
        return {"lines": ["Which row, column, box or cell do you mean? For example: 'what is in row 3?' or 'r2c4'."]}
    n = len(puzzle)
    shown = state.get("solution") if state.get("revealed") else None
    grid, source = (shown, "the verified answer") if shown else (puzzle, "the puzzle")
    more = "" if shown else " (blanks shown as '.'; say 'solve it' to see the verified answer)"
    for value in (ref.row, ref.col, ref.box):
        if value is not None and not 1 <= value <= n:
            return {"lines": [f"This puzzle is {n}x{n}: rows, columns and boxes are numbered 1 to {n}."]}
    cell = lambda v: str(v) if v else "."
    if ref.kind == "row":
        text = f"Row {ref.row} of {source}: " + " ".join(cell(v) for v in grid[ref.row - 1])
    elif ref.kind == "column":
        text = f"Column {ref.col} of {source}: " + " ".join(cell(grid[r][ref.col - 1]) for r in range(n))
    elif ref.kind == "box":
        br, bc = BOX_SHAPE[n]
        r0, c0 = (ref.box - 1) // (n // bc) * br, (ref.box - 1) % (n // bc) * bc
        text = f"Box {ref.box} of {source}: " + " / ".join(
            " ".join(cell(grid[r][c]) for c in range(c0, c0 + bc)) for r in range(r0, r0 + br))
    else:
        text = f"Row {ref.row}, column {ref.col} of {source}: {cell(grid[ref.row - 1][ref.col - 1])}"
    return {"lines": [text + more], "ok": True, "grid": puzzle, "grid_source": "memory",
            "answer": shown, "verified": shown is not None}


def reply(state: ChatState, ctx: TurnContext) -> dict:
    """The turn's Reply, the graph's output: the paragraphs, then the notes (the once-per-thread
    notice that rules are answering among them); and the intent, remembered for the next turn."""
    intent, task, notes = state.get("intent", "other"), state.get("task"), state.get("notes", [])
    out: dict = {"last_intent": intent}
    if ctx.no_model_reason and not state.get("told_no_model") and state["message"].strip():
        out["told_no_model"] = True
        notes = [*notes, ctx.no_model_reason]
    notes = [*notes, *ctx.language.notes]
    answer = state.get("answer") if state.get("verified") else None  # only verified answers leave
    out["reply"] = Reply(
        text="\n\n".join([*state.get("lines", []), *notes]), ok=bool(state.get("ok")), intent=intent,
        task=None if task in (None, "none") else task, grid=state.get("grid"), answer=answer,
        verified=answer is not None, status=state.get("status"), path=state.get("path") if answer else None,
        hint=state.get("hint"), check=state.get("check"), notes=notes,
        language="model" if ctx.language.uses_model else "rules", thread_id=ctx.trace.thread_id,
        trace_id=ctx.trace.request_id,
    )
    return out
