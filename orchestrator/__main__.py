"""python -m orchestrator chat | serve | mcp | llm ..."""

import sys

from .cli import main

sys.exit(main())
