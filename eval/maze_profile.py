"""Compare generated mazes with Maze-Hard: wall share, shortest-path length, dead ends, S-G distance.

    python eval/maze_profile.py --maze-file ../shared/data/maze-30x30-hard-1k/train_question.txt --count 1000

prints one row per statistic (5th / 25th / 50th / 75th / 95th percentile and the mean) for the file
and for the task's two generator styles at the file's size ("random": random walls, rejection on
the path bound; "long": random walls lengthened by the hill climb in reasoner/tasks/maze_long.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reasoner.tasks import MazeTask  # noqa: E402
from reasoner.tasks.maze import maze_side  # noqa: E402
from verifiers.maze import bfs_shortest_path  # noqa: E402

PERCENTILES = (5, 25, 50, 75, 95)


def profile(mazes: list[str]) -> dict[str, np.ndarray]:
    """Per maze: wall share, shortest path (cells, S and G included), share of open cells that are
    dead ends (one open neighbour), Manhattan distance S-G."""
    stats = {"wall share": [], "shortest path": [], "dead-end share": [], "S-G distance": []}
    for text in mazes:
        n = maze_side(text)
        grid = np.array(list(text)).reshape(n, n)
        is_open = grid != "#"
        padded = np.pad(is_open, 1)
        neighbours = padded[:-2, 1:-1].astype(int) + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
        s, g = np.argwhere(grid == "S")[0], np.argwhere(grid == "G")[0]
        stats["wall share"].append(1 - is_open.mean())
        stats["shortest path"].append(bfs_shortest_path(text).length)
        stats["dead-end share"].append(((neighbours == 1) & is_open).sum() / is_open.sum())
        stats["S-G distance"].append(int(np.abs(s - g).sum()))
    return {k: np.array(v, dtype=float) for k, v in stats.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--maze-file", type=Path, required=True, help="Maze-Hard style file, one maze per line")
    parser.add_argument("--count", type=int, default=1000, help="mazes from the file and from each generator style (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.maze_file.is_file():
        raise SystemExit(f"error: no maze file at {args.maze_file}")
    lines = [line.rstrip("\n") for line in args.maze_file.open() if line.strip()][: args.count]
    task = MazeTask(maze_side(lines[0]))
    sets = {args.maze_file.name: lines}
    for style in ("random", "long"):
        questions, _ = task.generate(len(lines), np.random.default_rng(args.seed), style=style, progress=True)
        sets[f"generated, style {style}"] = [task.to_string(q) for q in questions]
    print(f"{task.size}x{task.size}, {len(lines)} mazes per set; percentiles {'/'.join(map(str, PERCENTILES))} and mean\n")
    print("| statistic | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    profiles = {name: profile(mazes) for name, mazes in sets.items()}
    for stat in next(iter(profiles.values())):
        cells = []
        for p in profiles.values():
            values = p[stat]
            digits = 0 if stat in ("shortest path", "S-G distance") else 3
            cells.append(" / ".join(f"{v:.{digits}f}" for v in np.percentile(values, PERCENTILES)) + f"; {values.mean():.{max(digits, 1)}f}")
        print(f"| {stat} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
