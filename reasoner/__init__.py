"""HRM reasoner: a Hierarchical Reasoning Model that trains and runs on CPU.

    from reasoner import solve
    result = solve("53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79")
    print(result.status, result.answer_string())
"""

from __future__ import annotations

import importlib
from typing import Any

# Exports load on first use (PEP 562), so `import reasoner` and the command line start without
# torch; it loads with the first model.
_EXPORTS = {
    "solve": "inference", "SolveResult": "inference", "MazeSolveResult": "inference", "PuzzleBatchError": "inference",
    "CheckpointError": "checkpoint",
    "PuzzleInputError": "tasks", "ContradictoryPuzzleError": "tasks", "make_task": "tasks",
    "HRM": "model", "ModelConfig": "config", "TrainConfig": "config", "PRESETS": "config",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'reasoner' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
