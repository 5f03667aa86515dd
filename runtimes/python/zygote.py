"""The entry point of the Python fork server: `python3 -I -B -u /runbox/python/zygote.py`, in a sandbox of its own.

It imports the prelude (runbox_prelude, beside this file) and the preload modules once, then forks one child per
execution on the daemon's request; each child makes itself a sandbox before any code runs (runbox_zygote).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import runbox_prelude
    import runbox_zygote
finally:
    del sys.path[0]
runbox_prelude.warm_up()  # once, so that every child starts with it done
runbox_zygote.serve(runbox_prelude.main)  # the last argument is room for each child's command line (child.py)
