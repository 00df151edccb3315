"""How one maze checkpoint does across maze sizes and test-time segments.

For a size-free checkpoint (pos_encoding "none": one set of weights for every size), each size gets
fresh mazes from the task's generator, by default in the Maze-Hard style (`gen:...,style=long`:
shortest paths of at least 3.67 N cells; `--style random` for random walls), and optionally a
Maze-Hard file (e.g. the 1,000 training mazes in ../shared/data, which such a checkpoint never
trained on: its cards name only generated data).
For every size and segment count it reports, HRM alone (no search):
  valid    the answer is a shortest S->G path (verifiers.maze)
  exact    the answer is exactly the BFS tie-break label
and where a verifier-halt would stop (the first segment whose answer is valid); with --views N also
the valid rate when N turned/mirrored copies of each maze run and any valid answer counts
(reasoner/views.py), and when the copy the model is surest of (its Q-head's halt logit) answers, with
no verifier involved. A GIF shows the
path forming segment by segment on one 30x30 maze; a PNG plots valid rate against segments.

    python eval/maze_sizes.py reasoner/checkpoints/maze.safetensors --sizes 9 15 21 30 --mazes 64 \\
        --segments 4 8 16 32 64 --maze-file ../shared/data/maze-30x30-hard-1k/train_question.txt \\
        --out docs/maze-sizes
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plots import plot_by_segment  # noqa: E402
from reasoner.act import run_segments  # noqa: E402
from reasoner.checkpoint import load_checkpoint, read_card  # noqa: E402
from reasoner.inference import autocast  # noqa: E402
from reasoner.tasks import Examples  # noqa: E402
from reasoner.views import score_views  # noqa: E402

SEED = 2026  # generated test mazes: seed SEED + size (training runs draw with their own seeds)
BATCH = 32


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a maze checkpoint (.safetensors with its card)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[9, 15, 21, 30], help="maze sides to generate (default: %(default)s)")
    parser.add_argument("--mazes", type=int, default=64, help="generated mazes per size (0: none, to score only --maze-file; default: %(default)s)")
    parser.add_argument("--style", choices=["long", "random"], default="long",
                        help="generator style of the fresh mazes: long (Maze-Hard's path lengths) or random "
                             "(random walls, the default shortest-path bound) (default: %(default)s)")
    parser.add_argument("--segments", type=int, nargs="+", default=[4, 8, 16, 32, 64],
                        help="test-time segment counts to report (default: %(default)s)")
    parser.add_argument("--canvas", type=int, metavar="N",
                        help="run every generated maze smaller than N inside an N x N grid of walls (the same mazes); "
                             "0: each maze on a grid of its own size (default: the checkpoint's own grid, as solve() "
                             "runs a smaller maze)")
    parser.add_argument("--views", type=int, default=1, choices=range(1, 9), metavar="N",
                        help="also score N symmetric copies per maze, verifier-picked and model-picked, 2-8 "
                             "(default: %(default)s: off)")
    parser.add_argument("--maze-file", type=Path, help="also score a Maze-Hard style file (one maze per line)")
    parser.add_argument("--rows", default=None, help="lines of --maze-file as START:END (default: all)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model's updates (a compile per grid size, tens of seconds; then faster)")
    parser.add_argument("--out", type=Path, default=Path("maze-sizes"),
                        help="output prefix: PREFIX.json, PREFIX.md, PREFIX.png, PREFIX.gif (default: %(default)s)")
    return parser


@torch.inference_mode()
def score(model, task, examples: Examples, segment_counts: list[int], views: int = 1) -> tuple[dict, dict]:
    """Valid / exact rates at each segment count, the verifier-halt segments, and one maze's frames."""
    top = max(segment_counts)
    valid = np.zeros((top, len(examples)), dtype=bool)
    exact = np.zeros((top, len(examples)), dtype=bool)
    frames = []  # the first maze's answer probabilities after each segment
    for start in range(0, len(examples), BATCH):
        part = examples.take(slice(start, start + BATCH))
        inputs = torch.from_numpy(part.inputs)
        with autocast("cpu"):
            trace = run_segments(model, inputs, torch.from_numpy(part.puzzle_ids), top)
        for k, probs in enumerate(trace.probs):
            answers = probs.argmax(-1).numpy()
            exact[k, start : start + len(part)] = (answers == part.labels).all(-1)
            for i, (question, answer) in enumerate(zip(part.inputs, answers)):
                valid[k, start + i] = task.verify(task.decode(question), task.decode(answer)).ok
            if start == 0:
                frames.append(probs[0].numpy())
    first_valid = np.where(valid.any(0), valid.argmax(0) + 1, 0)
    rates = {
        "mazes": len(examples),
        "valid": {str(s): float(valid[s - 1].mean()) for s in segment_counts},
        "exact": {str(s): float(exact[s - 1].mean()) for s in segment_counts},
        "valid_by_segment": valid.mean(1).round(4).tolist(),
        # Verifier-halt: each maze stops at its first valid answer (or runs all `top` segments).
        "verifier_halt": {"valid": float(valid.any(0).mean()), "mean_segments": float(np.where(first_valid > 0, first_valid, top).mean())},
    }
    if views > 1:
        questions = np.stack([task.decode(q) for q in examples.inputs])
        with autocast("cpu"):
            copies = score_views(model, task, questions, top, views, np.random.default_rng(SEED), BATCH)
        rates.update(views=views, valid_views={str(s): float(copies.verified[s - 1].mean()) for s in segment_counts},
                     picked_views={str(s): float(copies.picked[s - 1].mean()) for s in segment_counts})
    return rates, {"question": examples.inputs[0], "label": examples.labels[0], "frames": frames}


def load(checkpoint: Path, size: int, compile: bool):
    """The checkpoint's model on a grid of `size` (and its task), compiled for inference if asked."""
    model, task, _ = load_checkpoint(checkpoint, size=size)
    if compile:
        model.compile_inference()
    return model, task


def generated_set(checkpoint: Path, size: int, mazes: int, style: str, segment_counts: list[int],
                  rng: np.random.Generator, views: int = 1, canvas: int | None = None,
                  compile: bool = False) -> tuple[str, dict, tuple]:
    """Fresh mazes of one size through score(): (set name, rates with the seconds taken, (task, the
    first maze's frames) for gif()). With `canvas` larger than `size`, the same mazes each inside a
    canvas x canvas grid of walls (at random places; solve() centres them); None: the checkpoint's
    own grid, the grid solve() runs a smaller maze on (reasoner.inference.load_model_for)."""
    if canvas is None:
        canvas = read_card(checkpoint).task["size"]
    inside = canvas > size
    model, task = load(checkpoint, canvas if inside else size, compile)
    start = time.time()
    examples = task.load_examples(f"gen:count={mazes},style={style}" + (f",side={size}" if inside else ""), rng,
                                  progress=False)
    rates, example = score(model, task, examples, segment_counts, views)
    rates["seconds"] = round(time.time() - start, 1)
    where = f" inside {canvas}x{canvas} walls" if inside else ""
    return f"generated {size}x{size} (style {style}){where}", rates, (task, example)


def gif(task, example: dict, path: Path, cell: int = 12) -> None:
    """The path forming: walls dark, S green, G red, the model's path cells blue (darker = surer),
    the BFS label's path cells the model has not drawn pale yellow."""
    from PIL import Image, ImageDraw

    n = task.size
    question = task.decode(example["question"])
    path_id = 5
    label_path = np.asarray(example["label"]).reshape(n, n) == path_id
    images = []
    for k, probs in enumerate(example["frames"]):
        p_path = probs[:, path_id].reshape(n, n)
        img = Image.new("RGB", (n * cell, n * cell + 16), "white")
        draw = ImageDraw.Draw(img)
        for r in range(n):
            for c in range(n):
                ch = question[r, c]
                colour = {"#": (40, 40, 40), "S": (30, 160, 60), "G": (200, 40, 40)}.get(ch)
                if colour is None and probs[r * n + c].argmax() == path_id:
                    shade = int(220 * (1 - p_path[r, c]))
                    colour = (shade, shade, 255)
                elif colour is None and label_path[r, c]:
                    colour = (255, 236, 170)
                if colour is not None:
                    draw.rectangle([c * cell, 16 + r * cell, (c + 1) * cell - 1, 16 + (r + 1) * cell - 1], fill=colour)
        draw.text((2, 2), f"segment {k + 1}", fill="black")
        images.append(img)
    images[0].save(path, save_all=True, append_images=images[1:] + [images[-1]] * 4, duration=350, loop=0)


def markdown(report: dict) -> str:
    return f"Checkpoint `{report['checkpoint']}`; command: `{report['command']}`\n\n" + table(report)


def table(report: dict) -> str:
    """One row per set of `report["sets"]` (each a score() result) at `report["segments"]`."""
    counts = report["segments"]
    lines = ["| mazes | n | " + " | ".join(f"valid / exact @ {s}" for s in counts) + " | verifier-halt: valid, mean segments |",
             "|---|---|" + "---|" * len(counts) + "---|"]
    for name, r in report["sets"].items():
        cells = [f"{100 * r['valid'][str(s)]:.1f} / {100 * r['exact'][str(s)]:.1f}%" for s in counts]
        vh = r["verifier_halt"]
        lines.append(f"| {name} | {r['mazes']} | " + " | ".join(cells) + f" | {100 * vh['valid']:.1f}%, {vh['mean_segments']:.1f} |")
        if "views" in r:
            cells = [f"{100 * r['valid_views'][str(s)]:.1f}%" for s in counts]
            lines.append(f"| {name}, {r['views']} views (valid) | {r['mazes']} | " + " | ".join(cells) + " | |")
            cells = [f"{100 * r['picked_views'][str(s)]:.1f}%" for s in counts]
            lines.append(f"| {name}, {r['views']} views (model-picked) | {r['mazes']} | " + " | ".join(cells) + " | |")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    plot_by_segment({name: r["valid_by_segment"] for name, r in report["sets"].items()}, "valid shortest path, HRM alone (%)", path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.checkpoint.with_suffix(".safetensors").is_file():
        raise SystemExit(f"error: no checkpoint at {args.checkpoint}")
    _, _, card = load_checkpoint(args.checkpoint)
    if card.task.get("name") != "maze":
        raise SystemExit(f"error: {args.checkpoint} is not a maze checkpoint ({card.task})")
    if not card.model.size_free and set(args.sizes) != {card.task["size"]}:
        raise SystemExit(f"error: {args.checkpoint} has absolute positions: it runs only on {card.task['size']}x{card.task['size']}")
    if args.mazes < 0 or (args.mazes == 0 and not args.maze_file):
        raise SystemExit("error: --mazes must be at least 1, or 0 with --maze-file (nothing to score otherwise)")
    torch.manual_seed(0)
    report = {"checkpoint": str(args.checkpoint), "command": "python eval/maze_sizes.py " + " ".join(argv or sys.argv[1:]),
              "segments": sorted(args.segments), "sets": {}}
    example_30 = None
    for n in args.sizes if args.mazes else []:
        name, rates, example = generated_set(args.checkpoint, n, args.mazes, args.style, report["segments"],
                                             np.random.default_rng(SEED + n), args.views, args.canvas, args.compile)
        report["sets"][name] = rates
        print(f"{n}x{n}: valid {rates['valid']}, exact {rates['exact']} ({rates['seconds']} s)", flush=True)
        if n == 30 or example_30 is None:
            example_30 = example
    if args.maze_file:
        model, task = load(args.checkpoint, 30, args.compile)
        source = f"file:{args.maze_file}" + (f"[{args.rows}]" if args.rows else "")
        examples = task.load_examples(source, np.random.default_rng(0), progress=False)
        rates, example = score(model, task, examples, report["segments"], args.views)
        report["sets"][f"Maze-Hard {args.maze_file.name}" + (f" [{args.rows}]" if args.rows else "")] = rates
        print(f"Maze-Hard: valid {rates['valid']}, exact {rates['exact']}", flush=True)
        example_30 = (task, example)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    plot(report, args.out.with_suffix(".png"))
    gif(example_30[0], example_30[1], args.out.with_suffix(".gif"))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
