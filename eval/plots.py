"""Small plotting helpers shared by the evaluation scripts (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path


def plot_by_segment(curves: dict[str, list[float]], ylabel: str, path: Path, dashed: set[str] = frozenset()) -> None:
    """One line per set: a share (0..1) after each test-time segment, segments on a log2 axis, in %;
    the curves named in `dashed` dashed, in the colour of the solid curve whose name theirs extends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6 + 0.18 * len(curves)))
    colours: dict[str, str] = {}
    for name, curve in curves.items():
        base = max((s for s in colours if name.startswith(s + ",")), key=len, default=None) if name in dashed else None
        (line,) = ax.plot(range(1, len(curve) + 1), [100 * v for v in curve], label=name,
                          linestyle="--" if name in dashed else "-", color=colours.get(base))
        if name not in dashed:
            colours[name] = line.get_color()
    ax.set_xscale("log", base=2)
    ax.set_xlabel("test-time segments")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    # Below the axes: with many curves a legend inside hides them.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1 if len(curves) > 4 else 2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
