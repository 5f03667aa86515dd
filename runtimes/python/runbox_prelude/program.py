"""One run of the user's code: compiled as main.py, run as the __main__ module, its ending reported.

The code may use top-level `await` (it then runs under asyncio.run, the only case asyncio is imported) and
top-level `return value`, which sets the result unless set_result was called; so does a trailing expression
(the last statement, as in a notebook). A raised exception is
reported with a traceback of the code's own frames (and the libraries it called), never the prelude's.
"""

import os
import sys

from .bridge import apply_workspace_config, flush_stdio
from .figures import FigureCapture  # imported now: prelude.py removes the package from sys.modules before the code
from .jsonable import ResultError, encode_json, safe_str
from .namespace import build_globals, load_prelude_module

USER_FILENAME = "main.py"
PYCF_ALLOW_TOP_LEVEL_AWAIT = 0x2000  # ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, without importing ast
PYCF_ONLY_AST = 0x400  # ast.PyCF_ONLY_AST: compile() returns the tree
CO_COROUTINE = 0x80  # inspect.CO_COROUTINE: compile() made the module a coroutine (top-level await)
# After `done`, how long the interpreter waits for the daemon to end its sandbox before it exits by itself.
HOLD_AFTER_DONE_S = 10
RETURN_MARK = "runbox: top-level return"  # first argument of the exception a rewritten `return` raises
TRAILING_MARK = "runbox: trailing expression"  # the same, for a trailing expression
_TRAILING_TEMPLATE = f"raise BaseException({TRAILING_MARK!r}, None)"  # the node a trailing expression becomes


# Names that code written for other code-mode executors uses without importing them, and what each is bound to:
# the module, or for `datetime` the class (`datetime.now().isoformat()`). docs/protocol.md lists them.
IMPLICIT_NAMES = {"asyncio": ("asyncio", None), "json": ("json", None), "datetime": ("datetime", "datetime")}


# Binds the implicit names the compiled code reads and nothing else gave it (an input, a tool, its own import
# rebinds them as it runs), importing only those: code that uses none of them pays nothing.
def bind_implicit_names(code, namespace):
    for name in _names_read(code) & IMPLICIT_NAMES.keys():
        if name in namespace:
            continue
        module_name, attribute = IMPLICIT_NAMES[name]
        module = __import__(module_name)
        namespace[name] = getattr(module, attribute) if attribute else module


# Every global or attribute name a code object and the functions and classes inside it read.
def _names_read(code):
    names = set(code.co_names)
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            names |= _names_read(constant)
    return names

class Execution:
    """The code's module, its result and declared files, and how it ended."""

    def __init__(self, source, tools, client, inputs=None, capture_figures=True):
        self.source = source
        self.capture_figures = capture_figures
        self.figures = None  # a FigureCapture while the code runs, when figures are captured
        self.client = client
        self.result_json = "null"
        self.result_set = False
        self.files = []
        self.error = None
        self.module = type(sys)("__main__")
        self.globals = self.module.__dict__
        self.globals.update(__file__=USER_FILENAME, __builtins__=sys.modules["builtins"])
        self.globals["__loader__"] = _SourceLoader(source)
        self.globals.update(build_globals(client, tools, self.set_result))
        # The request's inputs, as variables of the code's module (the daemon checked their names); objects in them
        # read as attributes too, as tool results do (values.py, loaded only for an input that holds one).
        for name, value in (inputs or {}).items():
            if type(value) is dict or type(value) is list:
                value = load_prelude_module("values").with_attributes(value)
            self.globals[name] = value

    # Records the result as JSON at once (so a conversion error points at the caller's line); files=None
    # keeps the files declared before.
    def set_result(self, value, files=None):
        result_json = encode_json(value)
        if files is not None:
            if isinstance(files, (str, bytes)) or hasattr(files, "__fspath__"):
                files = [files]
            try:
                self.files = [os.fsdecode(os.fspath(path)) for path in files]
            except TypeError:
                raise TypeError("set_result files: expected a list of paths (str or os.PathLike)") from None
        self.result_json = result_json
        self.result_set = True

    # Runs the code as the program's __main__ module, from the workspace; returns the process exit code.
    def run(self):
        sys.modules["__main__"] = self.module
        sys.argv = [USER_FILENAME]
        sys.path.insert(0, os.getcwd())
        _add_packages_to_path()
        apply_workspace_config()
        if self.capture_figures:
            self.figures = FigureCapture(os.getcwd())
            self.figures.start()
        if os.path.lexists(USER_FILENAME):  # linecache would read that file for the code's lines otherwise
            _register_source(self.source)
        try:
            code = compile_user_code(self.source)
            bind_implicit_names(code, self.globals)
            if code.co_flags & CO_COROUTINE:
                import asyncio

                asyncio.run(eval(code, self.globals))
            else:
                exec(code, self.globals)
            return 0
        except SystemExit as exc:
            return self._record_exit(exc)
        except BaseException as exc:
            if type(exc) is BaseException and len(exc.args) == 2 and exc.args[0] in (RETURN_MARK, TRAILING_MARK):
                return self._record_return(exc)
            self.error = self._describe(exc)
            _write_stderr(self.error["traceback"])  # as the interpreter would print it
            return 1

    # Reports the ending to the daemon, then exits without waiting for threads the code left running.
    def finish(self, exit_code):
        _flush_open_files(self.globals.values())
        if self.figures is not None:  # before atexit, where matplotlib destroys its figures
            self.files = self.files + self.figures.finish(self.files)
        _run_atexit_handlers()
        try:
            files_json, error_json = encode_json(self.files), encode_json(self.error)
        except ResultError:
            files_json, error_json = "[]", '{"type":"ResultError","message":"the error could not be encoded"}'
        flush_stdio()
        # exitCode lets the daemon end the execution here: it freezes the sandbox and reads what is left of the
        # output rather than wait for this process to tear down its memory. This process waits to be frozen (or
        # killed): one that exited now would be tearing its memory down in the kernel, where no freezer stops it,
        # and the freeze would wait for that.
        reported = self.client.send_done(
            f'{{"type":"done","result":{self.result_json},"files":{files_json},"error":{error_json},"exitCode":{exit_code & 0xFF}}}'
        )
        flush_stdio()
        if reported:
            import time

            time.sleep(HOLD_AFTER_DONE_S)
        os._exit(exit_code)

    # A top-level `return value` or a trailing expression: the result, unless set_result was called. A conversion
    # error points at that line. A trailing None, or matplotlib objects (`ax.bar(...)`, `plt.title(...)` as the last
    # line: drawing, whose figure comes back as a file), are no result.
    def _record_return(self, marker):
        value = marker.args[1]
        if self.result_set or (marker.args[0] == TRAILING_MARK and (value is None or _is_drawing(value))):
            return 0
        try:
            self.set_result(value)
            return 0
        except ResultError as exc:
            exc.__suppress_context__ = True
            self.error = self._describe(exc.with_traceback(marker.__traceback__))
            return 1

    # sys.exit(): 0 or None end normally; a number is the exit code; anything else is printed, exit code 1.
    def _record_exit(self, exc):
        code = exc.code
        if code is None or (isinstance(code, int) and code == 0):
            return 0
        self.error = self._describe(exc)
        if isinstance(code, int):
            self.error["message"] = f"exited with code {int(code)}"
            return code & 0xFF or 1
        _write_stderr(f"{self.error['message']}\n")
        return 1

    # The error object of `done`: the exception's class, message, and traceback without the prelude.
    def _describe(self, exc):
        import traceback

        _register_source(self.source)
        _strip_prelude_frames(exc)
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return {"type": type(exc).__name__, "message": safe_str(exc), "traceback": text}


class _SourceLoader:
    """The module's __loader__: lets linecache find the code (tracebacks, warnings, inspect.getsource)."""

    def __init__(self, source):
        self._source = source

    # Returns the code, as importlib loaders do.
    def get_source(self, fullname):
        return self._source


# Compiles the code as main.py with top-level await allowed. Parsed to a tree first (compile's PyCF_ONLY_AST,
# no ast import): a trailing expression statement is rewritten to raise BaseException(TRAILING_MARK, value), as a
# `return value` is to raise BaseException(RETURN_MARK, value). A `return` at top level (outside def and class) is rewritten the same way, with ast
# imported only for code that has one. Every node keeps its line and column, so tracebacks point at the code.
def compile_user_code(source):
    tree = compile(source, USER_FILENAME, "exec", PYCF_ONLY_AST | PYCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    _return_trailing_expression(tree)
    try:
        return _compile_tree(tree, source)
    except SyntaxError as exc:
        if exc.msg != "'return' outside function":
            raise
    import ast

    class TopLevelReturns(ast.NodeTransformer):
        # Leaves a def or a class alone: a return inside belongs to it.
        def visit_FunctionDef(self, node):
            return node

        visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef

        # Turns `return value` into `raise BaseException(RETURN_MARK, value)` at the same position.
        def visit_Return(self, node):
            value = node.value if node.value is not None else ast.Constant(None)
            marker = ast.Call(ast.Name("BaseException", ast.Load()), [ast.Constant(RETURN_MARK), value], [])
            return ast.copy_location(ast.Raise(marker, None), node)

    return _compile_tree(ast.fix_missing_locations(TopLevelReturns().visit(tree)), source)


# Does once, before any code arrives, what the first compile_user_code in a process pays for: the interpreter builds
# its ast node types on the first parse to a tree (about 1 ms). The fork server calls it before it forks, so each
# child inherits them built; a sandbox of its own calls it while it waits for the code. Nothing the code sees.
def warm_up():
    compile_user_code("None")


# Compiles a tree of the code; a SyntaxError found then (compiled from a tree) lacks its line's text: add it back.
def _compile_tree(tree, source):
    try:
        return compile(tree, USER_FILENAME, "exec", PYCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    except SyntaxError as exc:
        if exc.text is None and exc.lineno:
            exc.text = (source.splitlines() + [""] * exc.lineno)[exc.lineno - 1] + "\n"
        raise


# When the last top-level statement is an expression (`df.describe()`, `x + y`, `await main()`), makes it the
# result as a notebook would: it becomes `raise BaseException(TRAILING_MARK, <expression>)` at its own position,
# which Execution reads like a top-level return. A lone string literal is the module's docstring, not a result.
# The nodes come from parsing a template, so no ast import is needed.
def _return_trailing_expression(tree):
    body = tree.body
    if not body or type(body[-1]).__name__ != "Expr":
        return
    expression = body[-1].value
    if len(body) == 1 and type(expression).__name__ == "Constant" and isinstance(expression.value, str):
        return
    (raise_node,) = compile(_TRAILING_TEMPLATE, USER_FILENAME, "exec", PYCF_ONLY_AST, dont_inherit=True).body
    call = raise_node.exc
    call.args[1] = expression
    for node in (raise_node, call, call.func, call.args[0]):
        for attribute in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            setattr(node, attribute, getattr(body[-1], attribute))
    body[-1] = raise_node


# True for a matplotlib object, or a non-empty list or tuple of them (what plt.plot and ax.bar return).
def _is_drawing(value):
    items = value if isinstance(value, (list, tuple)) and value else (value,)
    return all((type(item).__module__ or "").startswith("matplotlib.") for item in items)


# Puts the code in linecache for good (mtime None: never checked against a file on disk).
def _register_source(source):
    import linecache

    lines = [line + "\n" for line in source.splitlines()]
    linecache.cache[USER_FILENAME] = (len(source), None, lines, USER_FILENAME)


# Removes the prelude's frames, and the asyncio runner's above the code's first frame, from an exception
# and the exceptions it chains to.
def _strip_prelude_frames(exc):
    prelude_directory = os.path.dirname(__file__)
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        pending += (current.__cause__, current.__context__)
        frames = []
        tb = current.__traceback__
        while tb is not None:
            frames.append(tb)
            tb = tb.tb_next
        filenames = [tb.tb_frame.f_code.co_filename for tb in frames]
        first = filenames.index(USER_FILENAME) if USER_FILENAME in filenames else 0
        kept = [tb for tb, name in zip(frames[first:], filenames[first:]) if os.path.dirname(name) != prelude_directory]
        for tb, next_tb in zip(kept, kept[1:] + [None]):
            tb.tb_next = next_tb
        current.__traceback__ = kept[0] if kept else None


# Flushes files the code opened at top level and never closed: a normal exit would, os._exit does not.
def _flush_open_files(values):
    import io

    for value in list(values):
        if isinstance(value, io.IOBase):
            try:
                value.flush()
            except Exception:
                pass


# Runs the atexit handlers the code registered (logging's flush among them), as a normal exit would.
def _run_atexit_handlers():
    import atexit

    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass


# Writes to the code's stderr, or to the real one when the code broke sys.stderr.
def _write_stderr(text):
    try:
        sys.stderr.write(text)
    except Exception:
        os.write(2, text.encode("utf-8", "backslashreplace"))


# Packages installed at runtime (install_package) come before the environment's own site-packages, so a version
# the code asked for wins over the preinstalled one; the standard library still comes first.
def _add_packages_to_path():
    packages = os.environ.pop("RUNBOX_PACKAGES", None)
    if not packages:
        return
    target = os.path.join(packages, "python")
    if target in sys.path:
        return
    site = next((i for i, entry in enumerate(sys.path) if entry.endswith("site-packages")), len(sys.path))
    sys.path.insert(site, target)
