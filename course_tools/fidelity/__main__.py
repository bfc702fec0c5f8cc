"""``python -m course_tools.fidelity``: see course_tools.fidelity.cli."""
import sys

from course_tools.fidelity.cli import main

sys.exit(main())
