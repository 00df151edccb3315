"""Mazes with long shortest paths, like Maze-Hard's, at any size.

Random walls almost never give Maze-Hard's paths: at 30x30, 28-45% walls on random cells, the best
of 20,000 draws had 102 cells, while every Maze-Hard maze has 110-147. So a draw here starts as
random walls and is then *lengthened* by a hill climb that keeps the wall count: swap a wall with
an open cell (half the time a cell of the current shortest path, which is where a swap can lengthen
it) and keep the swap when G stays reachable and the shortest path does not get shorter. It stops
at a target length drawn from Maze-Hard's own profile scaled to the size: at least
`LONG_PATH_PER_SIDE * N` cells plus a short exponential tail (docs/results.md compares the result
with the 1,000 Maze-Hard mazes: wall share, path lengths, dead ends).

The BFS runs thousands of times per maze, so it is compiled (numba); everything else about a maze
(labels, validity) still comes from `verifiers.maze`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Maze-Hard (30x30): shortest paths >= 110 cells, median 113, 95th percentile 125 (S, G included).
LONG_PATH_PER_SIDE = 110 / 30
LONG_PATH_TAIL_PER_SIDE = 3 / 30  # mean of the exponential part above the bound (Maze-Hard: median 113)
# Small mazes cannot hold 3.67 N cells of path: the bound is capped at this share of the cells
# (it binds below 9x9: 10 cells at 5x5, 21 at 7x7).
LONG_PATH_MAX_SHARE = 0.42
# Swaps tried per maze before the draw is abandoned (a fresh draw follows), per cell of the grid.
SWAPS_PER_CELL = 40

_DOWN_LEFT_RIGHT_UP = np.array([[1, 0], [0, -1], [0, 1], [-1, 0]], dtype=np.int64)


@njit(cache=True)
def _bfs(is_open: np.ndarray, n: int, start: int, goal: int, parent: np.ndarray, queue: np.ndarray) -> int:
    """Shortest S->G path length in cells (S and G included), -1 if unreachable; fills `parent`."""
    parent[:] = -2
    parent[start] = -1
    queue[0] = start
    head, tail = 0, 1
    dist = np.zeros(n * n, dtype=np.int64)
    dist[start] = 1
    while head < tail:
        cell = queue[head]
        head += 1
        if cell == goal:
            return dist[cell]
        r, c = cell // n, cell % n
        for k in range(4):
            rr, cc = r + _DOWN_LEFT_RIGHT_UP[k, 0], c + _DOWN_LEFT_RIGHT_UP[k, 1]
            if 0 <= rr < n and 0 <= cc < n:
                nxt = rr * n + cc
                if is_open[nxt] and parent[nxt] == -2:
                    parent[nxt] = cell
                    dist[nxt] = dist[cell] + 1
                    queue[tail] = nxt
                    tail += 1
    return -1


@njit(cache=True)
def _lengthen(is_open: np.ndarray, n: int, start: int, goal: int, target: int, max_swaps: int, seed: int) -> int:
    """Hill-climb `is_open` (in place) towards a shortest path of `target` cells; returns the length reached."""
    np.random.seed(seed)
    cells = n * n
    parent = np.empty(cells, dtype=np.int64)
    queue = np.empty(cells, dtype=np.int64)
    path = np.empty(cells, dtype=np.int64)
    length = _bfs(is_open, n, start, goal, parent, queue)
    if length < 0:
        return -1
    for _ in range(max_swaps):
        if length >= target:
            break
        # The cells strictly between S and G on the current shortest path.
        k, cell = 0, parent[goal]
        while cell != start:
            path[k] = cell
            k += 1
            cell = parent[cell]
        if k > 0 and np.random.random() < 0.5:
            closed = path[np.random.randint(k)]
        else:
            closed = np.random.randint(cells)
            while not is_open[closed] or closed == start or closed == goal:
                closed = np.random.randint(cells)
        opened = np.random.randint(cells)
        while is_open[opened]:
            opened = np.random.randint(cells)
        is_open[closed], is_open[opened] = False, True
        new = _bfs(is_open, n, start, goal, parent, queue)
        if new >= length:
            length = new
        else:  # undo, and restore the parents of the kept maze
            is_open[closed], is_open[opened] = True, False
            _bfs(is_open, n, start, goal, parent, queue)
    return length


def long_min_path(n: int) -> int:
    """The default bound on the shortest path of a long-style N x N maze (cells, S and G included)."""
    return min(round(LONG_PATH_PER_SIDE * n), round(LONG_PATH_MAX_SHARE * n * n))


def long_path_target(n: int, rng: np.random.Generator, min_path: int | None = None) -> int:
    """A target length: the bound (default `long_min_path`) plus an exponential tail."""
    bound = min_path if min_path is not None else long_min_path(n)
    return bound + int(rng.exponential(LONG_PATH_TAIL_PER_SIDE * n))


def lengthen(walls: np.ndarray, start: int, goal: int, target: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Swap walls and open cells of an N*N wall mask (True = wall) until the shortest S->G path has
    `target` cells or the swap budget is spent. Returns the new mask and the length reached (-1:
    G unreachable from the start)."""
    n = int(round(len(walls) ** 0.5))
    is_open = ~np.asarray(walls, dtype=bool).copy()
    seed = int(rng.integers(0, 2**31 - 1))
    length = _lengthen(is_open, n, int(start), int(goal), int(target), SWAPS_PER_CELL * n * n, seed)
    return ~is_open, int(length)
