"""The entry point the daemon starts in every sandbox: `python3 -I -B -u /runbox/python/prelude.py`.

The prelude itself is the runbox_prelude package beside this file. Python compiles a script from source on
every run (about 6 ms for the prelude), but loads an imported module from the bytecode in __pycache__
that scripts/setup.sh compiles ahead of time, still checked against the source so an edited file is never
run stale. Without that bytecode everything works the same, only slower to start.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import runbox_prelude
finally:
    del sys.path[0]
for name in [name for name in sys.modules if name.partition(".")[0] == "runbox_prelude"]:
    del sys.modules[name]  # the code cannot import the prelude, or shadow it with a module of its own
runbox_prelude.main()
