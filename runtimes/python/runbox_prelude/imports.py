"""Missing imports of the code's own: the error says how to install the module, or (installOnImport) it is installed.

A finder at the end of sys.meta_path is consulted only when no other finder found a module, so it costs nothing
until an import fails. It acts only for a top-level name the code itself imports (main.py, directly or through
importlib.import_module): never a library's optional import, a standard-library name, a _private name, a
submodule or a relative import. Then it loads import_names.py (the map of import names to distributions and the
hints' wording) and raises ModuleNotFoundError with a hint, or, when the daemon's `run` said installOnImport,
installs the distribution through runbox.install (the same validation, policy and limits as install_package),
at most once per name, and returns the module's spec. Its frames are the prelude's: tracebacks drop them.
"""

import os
import sys

from _frozen_importlib_external import PathFinder as _PathFinder, SourceFileLoader as _SourceFileLoader

from .bridge import ToolError
from .program import USER_FILENAME
from .protocol import INSTALL_TOOL

_PRELUDE_PACKAGE = __name__.partition(".")[0]


class MissingImports:
    """The last finder of sys.meta_path: hints for, or installs of, the code's missing top-level imports."""

    def __init__(self, client, installs):
        self._client = client
        self._installs = installs if isinstance(installs, dict) else None  # None: the daemon installs nothing
        self._failures = {}  # import name → why installing it on import gave no module (None: it did)
        self._names = None  # import_names.py, loaded on the first missing import

    # Consulted for every import no other finder resolved: None lets the import fail as usual.
    def find_spec(self, name, path=None, target=None):
        if path is not None or "." in name or name.startswith("_") or name in sys.stdlib_module_names:
            return None
        if name == _PRELUDE_PACKAGE:  # the code cannot import the prelude; nothing of that name is to be installed
            return None
        if sys.meta_path[-1] is not self or not _imported_by_code():  # a finder added after this one comes first
            return None
        names = self._load_names()
        distribution = names.distribution_for(name)
        if distribution is None:
            return None
        if self._installs is None or self._installs.get("onImport") is not True:
            raise ModuleNotFoundError(names.hint(name, distribution, self._installs), name=name)
        if name not in self._failures:
            self._failures[name] = self._install(distribution)
        reason = self._failures[name]
        if reason is None:
            spec = _PathFinder.find_spec(name)
            if spec is not None:
                return spec
            reason = self._failures[name] = f"{distribution} was installed, but it has no module {name}"
        raise ModuleNotFoundError(f"No module named {name!r} ({reason})", name=name)

    # Installs the distribution as install_package would; returns None, or why it failed (the daemon's reason).
    def _install(self, distribution):
        try:
            self._client.call(INSTALL_TOOL, {"packages": [distribution]})
        except ToolError as exc:
            return f"installing {distribution} for it failed: {exc}"
        import importlib

        importlib.invalidate_caches()
        return None

    # Loads import_names.py from the prelude's folder: the package is gone from sys.modules once the prelude
    # started (the code cannot import it), so a relative import would not find it.
    def _load_names(self):
        if self._names is None:
            filename = os.path.join(os.path.dirname(__file__), "import_names.py")
            module = type(sys)("runbox_prelude.import_names")
            module.__file__ = filename
            _SourceFileLoader(module.__name__, filename).exec_module(module)
            self._names = module
        return self._names


# True when the import being resolved was asked for by the code's own lines (main.py, a function of it, its
# importlib.import_module or __import__ call), not by a library or the prelude.
def _imported_by_code():
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<frozen importlib") and not filename.endswith("/importlib/__init__.py"):
            return filename == USER_FILENAME
        frame = frame.f_back
    return False
