"""Small plotting helpers shared by the evaluation scripts (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path


def plot_by_segment(curves: dict[str, list[float]], ylabel: str, path: Path) -> None:
    """One line per set: a share (0..1) after each test-time segment, segments on a log2 axis, in %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), [100 * v for v in curve], label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("test-time segments")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
