"""The compiled exact sudoku core: the search of :mod:`verifiers.sudoku`, in numba.

It is the readable pure-Python solver of ``verifiers/sudoku.py`` compiled: the same rules
(naked and hidden singles, reaching the same fixpoint; see ``_propagate``), the same branching
cell (``_pick_mrv``, ``_pick_confident``), the same value order and the same depth-first order
(``verifiers.sudoku._search``). So both give the same solution counts, the same solutions in
the same order and the same node counts; a property test holds them to it.
``verifiers.sudoku`` validates input and calls in here; nothing here checks its arguments.

Conventions (those of ``verifiers.sudoku._Layout``): cells are numbered row-major; units are
rows 0..n-1, columns n..2n-1, boxes 2n..3n-1; ``cell_units[i]`` holds the three units of cell
i and ``unit_cells[u]`` the n cells of unit u. A digit d is bit d-1 of an int64 mask, so
boards up to ``MAX_N`` x ``MAX_N`` fit; larger ones stay with the Python solver.

The functions compile on first use (15-20 s on a busy 2-core machine) and numba caches the
result beside this file, so later processes only load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Digit masks are int64 and must stay positive: 62 digits at most.
MAX_N = 62


@njit(cache=True)
def _popcount(m: int) -> int:
    """Set bits of a non-negative int64, branch-free (the classic SWAR sum)."""
    m = m - ((m >> 1) & 0x5555555555555555)
    m = (m & 0x3333333333333333) + ((m >> 2) & 0x3333333333333333)
    m = (m + (m >> 4)) & 0x0F0F0F0F0F0F0F0F
    return (m * 0x0101010101010101) >> 56


@njit(cache=True)
def _digit(bit: int) -> int:
    """The digit of a one-bit mask: bit d-1 set means d."""
    return _popcount(bit - 1) + 1


@njit(cache=True)
def _place(vals, used, cell_units, i, bit):
    vals[i] = _digit(bit)
    used[cell_units[i, 0]] |= bit
    used[cell_units[i, 1]] |= bit
    used[cell_units[i, 2]] |= bit


@njit(cache=True)
def _start(vals, used, cell_units) -> bool:
    """Fill the unit masks from the givens in ``vals``; False if two givens clash."""
    used[:] = 0
    for i in range(vals.shape[0]):
        d = vals[i]
        if d:
            bit = np.int64(1) << (d - 1)
            a, b, c = cell_units[i, 0], cell_units[i, 1], cell_units[i, 2]
            if (used[a] | used[b] | used[c]) & bit:
                return False
            used[a] |= bit
            used[b] |= bit
            used[c] |= bit
    return True


@njit(cache=True)
def _assign(vals, used, cand, cell_units, peers, queue, qn, i, bit) -> int:
    """Place digit ``bit`` in cell i and strike it from the peers' candidates.

    Peers left with one candidate are queued as naked singles. Returns the new queue length,
    or -1 when a peer is left with no candidate.
    """
    _place(vals, used, cell_units, i, bit)
    cand[i] = 0
    for k in range(peers.shape[1]):
        p = peers[i, k]
        m = cand[p]
        if m & bit:
            m ^= bit
            cand[p] = m
            if m == 0:
                return -1
            if m & (m - 1) == 0:
                queue[qn] = p
                qn += 1
    return qn


@njit(cache=True)
def _candidates(vals, used, cand, cell_units, full, queue) -> int:
    """Every blank cell's candidate mask into ``cand`` (0 for filled cells); cells with one
    candidate are queued. Returns the queue length, or -1 if a blank cell has none."""
    qn = 0
    for i in range(vals.shape[0]):
        cand[i] = 0
        if vals[i]:
            continue
        m = full & ~(used[cell_units[i, 0]] | used[cell_units[i, 1]] | used[cell_units[i, 2]])
        if m == 0:
            return -1
        cand[i] = m
        if m & (m - 1) == 0:
            queue[qn] = i
            qn += 1
    return qn


@njit(cache=True)
def _propagate(vals, used, cand, cell_units, unit_cells, peers, full, queue, qn) -> bool:
    """Naked and hidden singles until stuck: the fixpoint of ``verifiers.sudoku._propagate``.

    ``cand`` must hold the exact candidates and ``queue[:qn]`` the cells with one candidate
    (as _candidates or _assign leave them). False on a contradiction; otherwise ``cand``
    holds each blank cell's candidates at the fixpoint (all zeros when solved).

    The Python reference rescans the board after every wave of placements; here candidates
    are kept exact as digits are placed and only the peers of a placed cell are touched.
    The order of placements differs, the outcome does not: both rules only ever place
    digits that every state reached later must contain or else contradict, so any order
    that runs to the fixpoint reaches the same one, or a contradiction if either does.
    """
    nunits, width = unit_cells.shape
    while True:
        while qn > 0:  # naked singles
            qn -= 1
            i = queue[qn]
            if vals[i] == 0:  # a hidden single may have filled it meanwhile (same digit)
                qn = _assign(vals, used, cand, cell_units, peers, queue, qn, i, cand[i])
                if qn < 0:
                    return False
        placed = False
        for u in range(nunits):  # hidden singles
            once = np.int64(0)
            twice = np.int64(0)
            for k in range(width):
                m = cand[unit_cells[u, k]]
                twice |= once & m
                once |= m
            need = full & ~used[u]
            if need & ~once:
                return False  # some missing digit fits nowhere in this unit
            singles = need & once & ~twice
            while singles:
                bit = singles & -singles
                singles ^= bit
                home = -1
                for k in range(width):
                    if cand[unit_cells[u, k]] & bit:
                        home = unit_cells[u, k]
                        break
                if home < 0:
                    return False  # its only home was just taken by another single
                qn = _assign(vals, used, cand, cell_units, peers, queue, qn, home, bit)
                if qn < 0:
                    return False
                placed = True
        if not placed and qn == 0:
            return True


@njit(cache=True)
def _pick_mrv(cand) -> int:
    """The open cell with the fewest candidates (first on ties); -1 when none is open."""
    best_i = -1
    best_k = 1 << 30
    for i in range(cand.shape[0]):
        m = cand[i]
        if m:
            k = _popcount(m)
            if k < best_k:
                best_i = i
                best_k = k
                if k == 2:
                    break
    return best_i


@njit(cache=True)
def _pick_confident(cand, scores, n) -> int:
    """MRV; among equally constrained cells the one whose best candidate scores highest."""
    best_k = 1 << 30
    for i in range(cand.shape[0]):
        if cand[i]:
            best_k = min(best_k, _popcount(cand[i]))
    if best_k == 1 << 30:
        return -1
    best_i = -1
    best_conf = -np.inf
    for i in range(cand.shape[0]):
        m = cand[i]
        if m and _popcount(m) == best_k:
            conf = -np.inf
            for d in range(1, n + 1):
                if m >> (d - 1) & 1:
                    conf = max(conf, scores[i, d - 1])
            if conf > best_conf:
                best_i = i
                best_conf = conf
    return best_i


@njit(cache=True)
def _order_values(mask, row, n, scored, scores, i) -> int:
    """Write cell i's candidates into ``row`` in the order to try them; return how many.

    Ascending digits, or by descending score with ties kept ascending (a stable sort).
    """
    k = 0
    for d in range(1, n + 1):
        if mask >> (d - 1) & 1:
            row[k] = d
            k += 1
    if scored:
        for j in range(1, k):
            d = row[j]
            s = scores[i, d - 1]
            t = j
            while t > 0 and scores[i, row[t - 1] - 1] < s:
                row[t] = row[t - 1]
                t -= 1
            row[t] = d
    return k


@njit(cache=True)
def search(grid, cell_units, unit_cells, peers, n, max_solutions, node_limit, scores):
    """Depth-first search with propagation at every node, as ``verifiers.sudoku._search``.

    grid: flat int64 cells (0 blank). scores: (cells, n) float64 value scores, or an empty
    (0, n) array for ascending values and plain MRV. node_limit < 0 means none.
    Returns (solutions[:count], nodes, dead_ends, hit_limit): a node is one value tried at
    a branching cell; a dead end is a node whose propagation met a contradiction.
    """
    return _search(grid, cell_units, unit_cells, peers, n, max_solutions, node_limit, scores, -1, 0)


@njit(cache=True)
def _search(grid, cell_units, unit_cells, peers, n, max_solutions, node_limit, scores, ban_cell, ban_digit):
    """search, where cell ``ban_cell`` (if >= 0) may not take ``ban_digit``."""
    ncells = grid.shape[0]
    full = (np.int64(1) << n) - 1
    scored = scores.shape[0] > 0
    sols = np.zeros((min(max_solutions, 16), ncells), dtype=np.int64)
    count = 0
    nodes = 0
    dead = 0
    # One level per branching decision; each level fills at least one cell.
    # (np.empty: every entry is written before it is read.)
    vals = np.empty((ncells + 1, ncells), dtype=np.int64)
    used = np.empty((ncells + 1, unit_cells.shape[0]), dtype=np.int64)
    cand = np.empty((ncells + 1, ncells), dtype=np.int64)  # exact, so a child need not rescan
    queue = np.empty(ncells, dtype=np.int64)
    branch_cell = np.empty(ncells + 1, dtype=np.int64)
    order = np.empty((ncells + 1, n), dtype=np.int64)
    todo = np.empty(ncells + 1, dtype=np.int64)  # values at this level
    tried = np.empty(ncells + 1, dtype=np.int64)  # of which tried so far
    vals[0] = grid
    if not _start(vals[0], used[0], cell_units):
        return sols[:0], 0, 0, False
    depth = 0
    qn = _candidates(vals[0], used[0], cand[0], cell_units, full, queue)
    if qn >= 0 and ban_cell >= 0 and vals[0, ban_cell] == 0:
        m = cand[0, ban_cell] & ~(np.int64(1) << (ban_digit - 1))
        if m == 0:
            qn = -1
        elif m != cand[0, ban_cell]:
            cand[0, ban_cell] = m
            if m & (m - 1) == 0:
                queue[qn] = ban_cell
                qn += 1
    # "Settle" a level: propagate, then record a solution or set up its branching values.
    while True:
        if qn >= 0 and _propagate(vals[depth], used[depth], cand[depth], cell_units, unit_cells, peers, full, queue, qn):
            here = cand[depth]
            i = _pick_confident(here, scores, n) if scored else _pick_mrv(here)
            if i < 0:
                if count == sols.shape[0]:
                    grown = np.zeros((min(2 * count, max_solutions), ncells), dtype=np.int64)
                    grown[:count] = sols
                    sols = grown
                sols[count] = vals[depth]
                count += 1
            else:
                branch_cell[depth] = i
                todo[depth] = _order_values(here[i], order[depth], n, scored, scores, i)
                tried[depth] = 0
                depth += 1  # so that the backtracking below starts at this level
        elif depth > 0:
            dead += 1
        # Back up to the deepest level with a value left to try.
        depth -= 1
        while depth >= 0 and tried[depth] == todo[depth]:
            depth -= 1
        if depth < 0 or count >= max_solutions:
            return sols[:count], nodes, dead, False
        if 0 <= node_limit <= nodes:
            return sols[:count], nodes, dead, True
        d = order[depth, tried[depth]]
        tried[depth] += 1
        nodes += 1
        vals[depth + 1] = vals[depth]
        used[depth + 1] = used[depth]
        cand[depth + 1] = cand[depth]
        qn = _assign(vals[depth + 1], used[depth + 1], cand[depth + 1], cell_units, peers, queue, 0,
                     branch_cell[depth], np.int64(1) << (d - 1))
        depth += 1


@njit(cache=True)
def minimal_puzzles(scores, removal_orders, cell_units, unit_cells, peers, n):
    """Minimal puzzles with unique solutions, one per row of ``scores``.

    For puzzle p: the complete grid is the first solution of the empty board when values are
    tried in the order of ``scores[p]`` (random scores give a random grid); then each cell, in
    the order ``removal_orders[p]``, is blanked and put back if the puzzle stops being unique.
    One pass leaves a minimal puzzle: a clue kept once stays necessary as more are removed.
    Returns (puzzles, solutions, ratings) with flat rows; the rating is the search effort of
    the fixed solver (ascending values, MRV): the dead ends it meets while proving the puzzle
    unique, which does not depend on how the digits are named.
    """
    count, ncells = removal_orders.shape
    no_scores = np.zeros((0, n), dtype=np.float64)
    puzzles = np.zeros((count, ncells), dtype=np.int64)
    solutions = np.zeros((count, ncells), dtype=np.int64)
    ratings = np.zeros(count, dtype=np.int64)
    empty = np.zeros(ncells, dtype=np.int64)
    for p in range(count):
        solutions[p] = search(empty, cell_units, unit_cells, peers, n, 1, -1, scores[p])[0][0]
        puzzle = solutions[p].copy()
        for i in removal_orders[p]:
            keep = puzzle[i]
            puzzle[i] = 0
            # Unique before, so a second solution would differ here: look for one without `keep`.
            if _search(puzzle, cell_units, unit_cells, peers, n, 1, -1, no_scores, i, keep)[0].shape[0]:
                puzzle[i] = keep
        puzzles[p] = puzzle
        ratings[p] = search(puzzle, cell_units, unit_cells, peers, n, 2, -1, no_scores)[2]
    return puzzles, solutions, ratings
