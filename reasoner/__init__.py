"""HRM reasoner: a Hierarchical Reasoning Model that trains and runs on CPU.

    from reasoner import solve
    result = solve("53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79")
    print(result.status, result.answer_string())
"""

from .config import PRESETS, ModelConfig, TrainConfig
from .checkpoint import CheckpointError
from .inference import MazeSolveResult, PuzzleBatchError, SolveResult, solve
from .model import HRM
from .tasks import ContradictoryPuzzleError, PuzzleInputError, make_task

__all__ = [
    "solve", "SolveResult", "MazeSolveResult", "PuzzleInputError", "ContradictoryPuzzleError", "PuzzleBatchError",
    "CheckpointError",
    "HRM", "ModelConfig", "TrainConfig", "PRESETS", "make_task",
]
