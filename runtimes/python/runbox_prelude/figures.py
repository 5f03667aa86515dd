"""matplotlib figures come back as PNG files without being declared, as a notebook shows them.

Nothing here imports matplotlib: it acts only once the code has imported matplotlib.pyplot (or a warm sandbox
preloaded it). Then `plt.show()` saves every open figure and closes it, and the figures still open when the
code ends are saved too. Each becomes the next free `figure_<n>.png` of the workspace (never a name that exists
or that the code declared), in the order captured. A figure the code saved itself into the workspace comes back
as that file (once, and not at all when the code declared it), never as a second copy. docs/protocol.md, "Inside the sandbox", is the contract.
"""

import os
import sys

PYPLOT = "matplotlib.pyplot"
MAX_FIGURES = 100  # figures captured per execution; more are closed with a note on stderr (maxOutputFiles is 100)
_SAVED_PATHS = "_runbox_saved_paths"  # attribute of a Figure: the absolute paths its savefig wrote


class FigureCapture:
    """Patches pyplot once the code has it, holds the figures shown, and writes them all at the end."""

    def __init__(self, workspace):
        self.workspace = workspace
        self._pyplot = None
        self._captured = []  # (png bytes, the set of paths that figure's savefig wrote)
        self._dropped = 0
        self._watcher = None

    # Starts watching: patches a pyplot already loaded (a warm sandbox's preload), else waits for its import.
    def start(self):
        if PYPLOT in sys.modules:
            _wait_for_import(PYPLOT)  # a preload still importing it on its thread: let it finish first
        module = sys.modules.get(PYPLOT)
        if module is not None and hasattr(module, "get_fignums"):
            self._patch(module)
        else:
            self._watcher = _PyplotWatcher(self._patch)
            sys.meta_path.insert(0, self._watcher)

    # Saves the figures still open, then writes every capture not already declared; returns the names written.
    def finish(self, declared):
        if self._watcher in sys.meta_path:
            sys.meta_path.remove(self._watcher)
        declared_names = {os.path.normpath(path) for path in declared if isinstance(path, str)}
        declared_paths = {os.path.join(self.workspace, name) for name in declared_names}
        if self._pyplot is not None:
            try:
                self._capture_open_figures(lambda saved: self._kept_by_code(saved, declared_paths))
            except Exception as exc:  # noqa: BLE001 - a figure that cannot be drawn must not lose the result
                _note(f"the open figures could not be saved: {type(exc).__name__}: {exc}")
        if self._dropped:
            _note(f"{self._dropped} figures beyond the first {MAX_FIGURES} were not saved")
        kept, saved_files = [], []
        for png, saved in self._captured:
            if saved & declared_paths:
                continue
            own = self._saved_in_workspace(saved)
            if own:
                saved_files += [name for name in own if name not in saved_files]
            elif png is not None:
                kept.append(png)
        self._captured = []
        return saved_files + self._write(kept, declared_names | set(saved_files))

    # The workspace files (relative paths) a figure's savefig wrote that are still there.
    def _saved_in_workspace(self, saved):
        inside = os.path.join(self.workspace, "")
        return [os.path.relpath(path, self.workspace) for path in sorted(saved) if path.startswith(inside) and os.path.isfile(path)]

    # True when the code kept a figure itself (saved to a declared file, or into the workspace): it comes back as
    # that file, so drawing it again at the end would be wasted time (a chart takes tens of milliseconds).
    def _kept_by_code(self, saved, declared_paths):
        return bool(saved & declared_paths) or bool(self._saved_in_workspace(saved))

    # Renders every open figure to PNG bytes (matplotlib's savefig defaults) and closes it; one for which
    # skip(its saved paths) is true is closed without being drawn.
    def _capture_open_figures(self, skip=None):
        pyplot = self._pyplot
        from io import BytesIO
        from matplotlib._pylab_helpers import Gcf

        for number in sorted(pyplot.get_fignums()):
            manager = Gcf.get_fig_manager(number)
            if manager is None:
                continue
            figure = manager.canvas.figure
            saved = figure.__dict__.setdefault(_SAVED_PATHS, set())
            if skip is not None and skip(saved):
                self._captured.append((None, saved))  # not drawn: it comes back as the file the code saved
            elif len(self._captured) >= MAX_FIGURES:
                self._dropped += 1
            else:
                buffer = BytesIO()
                self._savefig(figure, buffer, format="png")
                self._captured.append((buffer.getvalue(), saved))
            pyplot.close(figure)

    # Writes each PNG to the next free figure_<n>.png: never over an entry that exists (O_EXCL) or a declared name.
    def _write(self, pngs, declared_names):
        names = []
        number = 0
        for png in pngs:
            while True:
                number += 1
                name = f"figure_{number}.png"
                if name in declared_names:
                    continue
                try:
                    with open(os.path.join(self.workspace, name), "xb") as file:
                        file.write(png)
                except FileExistsError:
                    continue
                except OSError as exc:
                    _note(f"{name} could not be written: {exc}")
                    return names
                names.append(name)
                break
        return names

    # Makes pyplot.show capture the figures, and Figure.savefig remember the files it wrote.
    def _patch(self, pyplot):
        if self._pyplot is not None:
            return
        self._pyplot = pyplot
        import functools  # loaded by matplotlib already

        from matplotlib.figure import Figure

        original_savefig = self._savefig = Figure.savefig

        # pyplot.show(): saves and closes every open figure (with the Agg backend it would do nothing).
        def show(*args, **kwargs):
            self._capture_open_figures()

        # Figure.savefig(): saves as before, and records where, so a declared file is not captured again.
        def savefig(figure, fname, *args, **kwargs):
            result = original_savefig(figure, fname, *args, **kwargs)
            if isinstance(fname, (str, bytes)) or hasattr(fname, "__fspath__"):
                path = os.path.abspath(os.fsdecode(os.fspath(fname)))
                saved = figure.__dict__.setdefault(_SAVED_PATHS, set())
                saved.add(path)
                if not os.path.splitext(path)[1]:  # matplotlib adds the format's extension
                    saved.add(f"{path}.{kwargs.get('format') or pyplot.rcParams['savefig.format']}")
            return result

        functools.update_wrapper(show, pyplot.show)
        functools.update_wrapper(savefig, original_savefig)
        pyplot.show = show
        Figure.savefig = savefig


class _PyplotWatcher:
    """A meta path finder that finds nothing itself: it lets the others find matplotlib.pyplot and patches it
    once it has run, so the code's `plt.show` and `from matplotlib.pyplot import show` are the capturing ones."""

    def __init__(self, on_loaded):
        self._on_loaded = on_loaded

    # Only matplotlib.pyplot: its spec from the other finders, with a loader that patches after running it.
    def find_spec(self, fullname, path=None, target=None):
        if fullname != PYPLOT:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None) if finder is not self else None
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _PatchingLoader(spec.loader, self._on_loaded)
                return spec
        return None


class _PatchingLoader:
    """Runs a module with its own loader, then hands it over; anything else is the original loader's."""

    def __init__(self, loader, on_loaded):
        self._loader = loader
        self._on_loaded = on_loaded

    def __getattr__(self, name):
        return getattr(self._loader, name)

    # Creates the module as the original loader would.
    def create_module(self, spec):
        return self._loader.create_module(spec)

    # Runs the module, then patches it.
    def exec_module(self, module):
        self._loader.exec_module(module)
        self._on_loaded(module)


# Waits until a module another thread is importing has finished, importing nothing itself.
def _wait_for_import(name):
    bootstrap = sys.modules.get("_frozen_importlib")
    lock_unlock = getattr(bootstrap, "_lock_unlock_module", None)
    if lock_unlock is not None:
        lock_unlock(name)


# One line on the code's stderr about a figure that could not be kept.
def _note(text):
    try:
        sys.stderr.write(f"runbox: {text}\n")
    except Exception:  # noqa: BLE001 - stderr is the code's; the files list still says what came back
        pass
