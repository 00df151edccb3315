"""How the HRM reasons: inner-step dynamics, dimensionality of its latents, intermediate answers.

Each function works on its own (a loaded `HRM`, token tensors), and `run_benchmarks.py` uses them:

    segment_steps          the segment loop of `HRM.forward`, one inner update at a time
    forward_residuals      relative change ||z_t - z_{t-1}|| / ||z_{t-1}|| of z_H and z_L per inner step
    participation_ratio    (sum of covariance eigenvalues)^2 / sum of their squares
    intermediate_answers   the model's answer and confidence after every segment (sudoku)
    plot_* / save_*        matplotlib pictures (Agg backend, nothing is shown)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

from reasoner.act import run_segments
from reasoner.model import HRM, Carry

# --------------------------------------------------------------------------------------------
# Inner steps of a segment
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def segment_steps(model: HRM, carry: Carry, inputs: torch.Tensor, puzzle_ids: torch.Tensor) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
    """Yield ("L" | "H", z_H, z_L) after every inner update of one segment.

    The same computation as `HRM.forward` (without its gradient bookkeeping): N = H_cycles cycles,
    each of T = L_cycles updates z_L = L(z_L, z_H + x) and then one update z_H = H(z_H, z_L).
    """
    cfg = model.cfg
    x = model.embed_input(inputs, puzzle_ids)
    z_H, z_L = carry.z_H, carry.z_L
    for _ in range(cfg.H_cycles):
        for _ in range(cfg.L_cycles):
            z_L = model.L_level(z_L, z_H + x, model.rotary, model.attn_mask)
            yield "L", z_H, z_L
        z_H = model.H_level(z_H, z_L, model.rotary, model.attn_mask)
        yield "H", z_H, z_L


def run_segment_by_steps(model: HRM, carry: Carry, inputs: torch.Tensor, puzzle_ids: torch.Tensor) -> Carry:
    """One whole segment through `segment_steps`; returns the carry `model(carry, ...)` would."""
    z_H, z_L = carry.z_H, carry.z_L
    for _, z_H, z_L in segment_steps(model, carry, inputs, puzzle_ids):
        pass
    return Carry(z_H, z_L)


def relative_change(new: torch.Tensor, old: torch.Tensor) -> float:
    """Mean over the batch of ||new - old|| / ||old||, norms over positions and features."""
    diff = (new - old).float().flatten(1).norm(dim=1)
    base = old.float().flatten(1).norm(dim=1).clamp_min(1e-12)
    return float((diff / base).mean())


def forward_residuals(model: HRM, inputs: torch.Tensor, puzzle_ids: torch.Tensor, segments: int) -> tuple[dict, Carry]:
    """Forward residuals of z_H and z_L at every inner step of `segments` segments from the start.

    Returns ({"kind", "segment", "z_H", "z_L"} lists with one entry per inner step, the final
    carry). z_H does not move during L-steps, so its residual is 0 there.
    """
    model.eval()
    carry = model.initial_carry(inputs.shape[0], inputs.device)
    record: dict[str, list] = {"kind": [], "segment": [], "z_H": [], "z_L": []}
    for segment in range(1, segments + 1):
        prev_H, prev_L = carry.z_H, carry.z_L
        z_H, z_L = prev_H, prev_L
        for kind, z_H, z_L in segment_steps(model, carry, inputs, puzzle_ids):
            record["kind"].append(kind)
            record["segment"].append(segment)
            record["z_H"].append(relative_change(z_H, prev_H))
            record["z_L"].append(relative_change(z_L, prev_L))
            prev_H, prev_L = z_H, z_L
        carry = Carry(z_H, z_L)
    return record, carry


def summarize_residuals(record: dict) -> dict:
    """A few numbers that describe the curves: does z_L settle within a cycle, does z_H settle over segments?"""
    kinds, seg = np.array(record["kind"]), np.array(record["segment"])
    z_H, z_L = np.array(record["z_H"]), np.array(record["z_L"])
    h_steps = kinds == "H"
    last = seg.max()
    l_steps = np.flatnonzero(kinds == "L")
    # L-steps directly after an H update (or the start) vs. the L-step just before the next H update.
    first_l = [i for i in l_steps if i == 0 or kinds[i - 1] == "H"]
    last_l = [i for i in l_steps if i + 1 < len(kinds) and kinds[i + 1] == "H"]
    return {
        "z_H_first_segment_mean": float(z_H[h_steps & (seg == 1)].mean()),
        "z_H_last_segment_mean": float(z_H[h_steps & (seg == last)].mean()),
        "z_L_first_step_of_cycle_mean": float(z_L[first_l].mean()),
        "z_L_last_step_of_cycle_mean": float(z_L[last_l].mean()),
        "z_L_last_segment_mean": float(z_L[(kinds == "L") & (seg == last)].mean()),
    }


# --------------------------------------------------------------------------------------------
# Dimensionality
# --------------------------------------------------------------------------------------------


def participation_ratio(states: torch.Tensor | np.ndarray) -> float:
    """PR = (sum lambda)^2 / sum lambda^2 over the covariance eigenvalues of `states` [..., dim].

    All leading axes are samples. Isotropic data in k dimensions gives about k; rank-1 data gives 1.
    """
    x = torch.as_tensor(states)
    x = x.reshape(-1, x.shape[-1]).double()
    x = x - x.mean(0)
    cov = x.T @ x / max(1, len(x) - 1)
    eig = torch.linalg.eigvalsh(cov).clamp_min(0)
    return float(eig.sum() ** 2 / (eig**2).sum().clamp_min(1e-300))


def latent_participation(model: HRM, carry: Carry) -> dict:
    """PR of z_H and z_L over puzzles and grid positions (the puzzle-prefix slots left out)."""
    prefix = model.cfg.puzzle_emb_len
    return {
        "z_H": participation_ratio(carry.z_H[:, prefix:]),
        "z_L": participation_ratio(carry.z_L[:, prefix:]),
        "samples": int(carry.z_H[:, prefix:].shape[0] * carry.z_H[:, prefix:].shape[1]),
        "hidden_size": int(carry.z_H.shape[-1]),
    }


# --------------------------------------------------------------------------------------------
# Intermediate answers (sudoku boards)
# --------------------------------------------------------------------------------------------


def intermediate_answers(model: HRM, task, puzzles: np.ndarray, segments: int) -> dict:
    """Answer grid and per-cell confidence after each segment: digits/confidence [segments, B, n, n]."""
    model.eval()
    inputs = torch.from_numpy(np.stack([task.encode(p) for p in puzzles]))
    trace = run_segments(model, inputs, torch.zeros(len(puzzles), dtype=torch.long), segments)
    probs = torch.stack(trace.probs)  # [segments, B, seq, vocab]
    confidence, tokens = probs.max(-1)
    digits = np.stack([[task.decode(t) for t in seg] for seg in tokens.numpy()])
    shape = (segments, len(puzzles), task.size, task.size)
    return {"digits": digits.reshape(shape), "confidence": confidence.numpy().reshape(shape),
            "halt": trace.halt.numpy()}


def draw_board(ax, puzzle: np.ndarray, solution: np.ndarray, digits: np.ndarray | None,
               confidence: np.ndarray | None, box: tuple[int, int]) -> None:
    """Givens in black; the model's digits green when right, red when wrong, fainter when unsure."""
    n = len(puzzle)
    ax.set_xlim(0, n), ax.set_ylim(n, 0), ax.set_aspect("equal"), ax.set_xticks([]), ax.set_yticks([])
    for k in range(n + 1):
        heavy = 1.6 if k % box[0] == 0 else 0.4
        ax.axhline(k, color="black", lw=heavy)
        heavy = 1.6 if k % box[1] == 0 else 0.4
        ax.axvline(k, color="black", lw=heavy)
    size = {4: 13, 6: 10, 9: 8}.get(n, 8)
    for r in range(n):
        for c in range(n):
            if puzzle[r, c]:
                ax.text(c + 0.5, r + 0.5, str(puzzle[r, c]), ha="center", va="center", fontsize=size, weight="bold")
            elif digits is not None:
                right = digits[r, c] == solution[r, c]
                alpha = 0.25 + 0.75 * float(confidence[r, c])
                label = str(digits[r, c]) if digits[r, c] else "?"
                ax.add_patch(plt.Rectangle((c, r), 1, 1, color="#d8f0d8" if right else "#f8d8d8", alpha=alpha, lw=0))
                ax.text(c + 0.5, r + 0.5, label, ha="center", va="center", fontsize=size,
                        color="#1a7f1a" if right else "#c01818", alpha=alpha)


def board_inches(n: int) -> float:
    """Figure inches per board so that digits stay readable."""
    return {4: 1.35, 6: 1.6}.get(n, 2.0)


def save_intermediate_grid(path: Path, puzzles, solutions, answers: dict, box: tuple[int, int], title: str) -> Path:
    """PNG: one row per puzzle, one column per segment."""
    digits, conf = answers["digits"], answers["confidence"]
    segments, count = digits.shape[:2]
    inches = board_inches(len(puzzles[0]))
    fig, axes = plt.subplots(count, segments, figsize=(inches * segments + 0.6, (inches + 0.05) * count + 0.7), squeeze=False)
    for i in range(count):
        for s in range(segments):
            ax = axes[i, s]
            draw_board(ax, puzzles[i], solutions[i], digits[s, i], conf[s, i], box)
            if i == 0:
                ax.set_title(f"seg {s + 1}", fontsize=8)
            ok = bool(np.all(digits[s, i] == solutions[i]))
            halted = bool(answers["halt"][s, i])
            ax.set_xlabel(("solved" if ok else "") + (" | Q halts" if halted else ""), fontsize=6)
    fig.suptitle(title + "\nblack: givens; green/red: model digit right/wrong, faint = low confidence", fontsize=8)
    return _save(fig, path)


def save_intermediate_gif(path: Path, puzzles, solutions, answers: dict, box: tuple[int, int], title: str,
                          frame_ms: int = 700) -> Path:
    """Animated GIF: one frame per segment, the puzzles side by side."""
    digits, conf = answers["digits"], answers["confidence"]
    segments, count = digits.shape[:2]
    frames = []
    for s in range(segments):
        inches = 1.4 * board_inches(len(puzzles[0]))
        fig, axes = plt.subplots(1, count, figsize=(inches * count, inches + 0.4), squeeze=False)
        for i in range(count):
            draw_board(axes[0, i], puzzles[i], solutions[i], digits[s, i], conf[s, i], box)
        solved = int(sum(np.all(digits[s, i] == solutions[i]) for i in range(count)))
        fig.suptitle(f"{title}: segment {s + 1}/{segments}, {solved}/{count} solved", fontsize=9)
        fig.tight_layout()
        fig.canvas.draw()
        frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()))
        plt.close(fig)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return path


# --------------------------------------------------------------------------------------------
# Summary plots
# --------------------------------------------------------------------------------------------


def _grid_of_axes(count: int, width: float = 4.2, height: float = 3.2):
    cols = min(3, max(1, count))
    rows = -(-count // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.axis("off")
    return fig, list(axes.flat)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_accuracy_vs_segments(path: Path, curves: dict[str, dict[str, dict[int, float]]], trained_segments: dict[str, int]) -> Path:
    """curves[variant][set] = {segments: exact accuracy}; a dashed line marks the training M_max."""
    fig, axes = _grid_of_axes(len(curves))
    for ax, (variant, sets) in zip(axes, curves.items()):
        for name, points in sets.items():
            xs = sorted(points)
            ax.plot(xs, [points[x] for x in xs], marker="o", label=name)
        ax.axvline(trained_segments[variant], color="grey", ls="--", lw=1, label="M_max (training)")
        ax.set_xscale("log", base=2)
        ticks = sorted({x for points in sets.values() for x in points})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("test-time segments")
        ax.set_ylabel("exact accuracy")
        ax.set_title(variant)
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_residuals(path: Path, residuals: dict[str, dict[str, dict]]) -> Path:
    """residuals[variant]["trained" | "untrained"] = forward_residuals record; log scale."""
    fig, axes = _grid_of_axes(len(residuals), width=5.5)
    for ax, (variant, runs) in zip(axes, residuals.items()):
        for label, rec in runs.items():
            style = "-" if label == "trained" else ":"
            steps = np.arange(1, len(rec["z_L"]) + 1)
            h = np.array(rec["kind"]) == "H"
            # Each latent only moves at its own updates (z_L at L-steps, z_H at H-steps).
            ax.plot(steps[~h], np.array(rec["z_L"])[~h], style, color="tab:blue", marker=".", ms=3, lw=1,
                    label=f"z_L ({label}, L-steps)")
            ax.plot(steps[h], np.array(rec["z_H"])[h], style, color="tab:red", marker=".", lw=1, label=f"z_H ({label}, H-steps)")
        seg = np.array(next(iter(runs.values()))["segment"])
        for b in np.flatnonzero(np.diff(seg)) + 1.5:
            ax.axvline(b, color="grey", lw=0.3)
        ax.set_yscale("log")
        ax.set_xlabel("inner step (grey lines: segment boundaries)")
        ax.set_ylabel("||z_t - z_{t-1}|| / ||z_{t-1}||")
        ax.set_title(variant)
        ax.legend(fontsize=6)
    return _save(fig, path)


def plot_halting(path: Path, histograms: dict[str, dict[str, list[int]]]) -> Path:
    """histograms[variant][set] = puzzles the Q-head halts after segment k+1 (share per set)."""
    fig, axes = _grid_of_axes(len(histograms))
    for ax, (variant, sets) in zip(axes, histograms.items()):
        width = 0.8 / max(1, len(sets))
        for j, (name, hist) in enumerate(sets.items()):
            hist = np.asarray(hist, dtype=float)
            xs = np.arange(1, len(hist) + 1) + (j - (len(sets) - 1) / 2) * width
            ax.bar(xs, hist / max(1.0, hist.sum()), width=width, label=name)
        ax.set_xticks(np.arange(1, max(len(h) for h in sets.values()) + 1))
        ax.set_xlabel("Q-head halts after segment\n(the last bar: not before M_max)")
        ax.set_ylabel("share of puzzles")
        ax.set_title(variant)
        ax.legend(fontsize=7)
    return _save(fig, path)
