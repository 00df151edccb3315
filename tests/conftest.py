import pytest

from reasoner.tasks.base import default_data_dir

# External data (Sudoku-Extreme, Maze-Hard, ARC) lives outside the repository.
DATA_DIR = default_data_dir()

needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"external data folder {DATA_DIR} not found (set HRM_DATA_DIR)")
