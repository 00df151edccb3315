import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# External data (Sudoku-Extreme, Maze-Hard, ARC) lives outside the repository.
DATA_DIR = Path(os.environ.get("HRM_DATA_DIR", ROOT.parent / "shared" / "data"))

needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"external data folder {DATA_DIR} not found (set HRM_DATA_DIR)")
