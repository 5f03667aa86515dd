"""The prelude's conversation with the daemon: the `run` message in, tool calls out and back, `done` last.

Requests go out from any thread under the socket's write lock; one reader thread, started on the first
tool call, hands each tool_result to whoever waits for it: a lock for synchronous callers (any thread), a
future resolved on its event loop's thread for coroutines. So sync, threaded and asyncio code all work,
and asyncio.gather keeps every call in flight at once.
"""

import os
import sys

import _signal
import _thread
from itertools import count

from .jsonable import ResultError, decode_json, encode_json, safe_repr, safe_str
from .protocol import EXIT_BRIDGE_FAILURE  # the bridge could not be opened, or broke while the code ran
from .websocket import BridgeError



class ToolError(Exception):
    """A tool call failed: str(error) is the tool's message, .tool the tool's name, .code the error code."""

    __module__ = "__main__"  # shown as plain `ToolError` in tracebacks; pickles as the code's global

    def __init__(self, message, tool=None, code=None):
        super().__init__(message)
        self.tool = tool
        self.code = code


# Waits for the daemon's `run` message: (code, tools, inputs, installs, capture_figures). A warm sandbox may first get `preload`: modules to
# import on a background thread while it waits, so the code finds them loaded.
def receive_run(websocket):
    while True:
        text = websocket.receive_text()
        if text is None:
            raise BridgeError("the daemon closed the bridge before sending the code")
        message = decode_json(text)
        if not isinstance(message, dict) or message.get("type") != "preload":
            break
        modules = message.get("modules")
        if isinstance(modules, list) and not _packages_shadow_environment(os.environ.get("RUNBOX_PACKAGES")):
            _thread.start_new_thread(_preload, ([m for m in modules if isinstance(m, str)],))
    _CODE_ARRIVED.append(True)  # a preload still going stops before its next module: the code has the CPU
    if not isinstance(message, dict) or message.get("type") != "run" or not isinstance(message.get("code"), str):
        raise BridgeError("the daemon's first message is not a valid `run` message")
    tools = message.get("tools")
    inputs = message.get("inputs")
    return (
        message["code"],
        [tool for tool in tools if isinstance(tool, dict)] if isinstance(tools, list) else [],
        inputs if isinstance(inputs, dict) else {},
        message.get("installs"),
        message.get("captureFigures") is not False,
    )


# True when the packages installed for the session hold a top-level module the environment has too (a numpy of
# the code's own, say): preloading would import the environment's copy, and the code's would never load. Only
# names are compared: the installed packages are not on sys.path before `run`, and nothing of theirs is read.
def _packages_shadow_environment(packages_dir):
    if not packages_dir:
        return False
    installed = _top_level_names(os.path.join(packages_dir, "python"))
    if not installed:
        return False
    for entry in sys.path:
        if entry.endswith("site-packages") and installed & _top_level_names(entry):
            return True
    return False


# The importable top-level names in a directory (packages, modules, extension modules), without metadata.
def _top_level_names(directory):
    try:
        entries = os.listdir(directory)
    except OSError:
        return set()
    names = set()
    for entry in entries:
        name = entry.partition(".")[0]
        if name and not entry.endswith((".dist-info", ".egg-info", ".pth")) and name != "__pycache__":
            names.add(name)
    return names


# Called once the code runs, from the workspace: a matplotlib preloaded outside it never saw a matplotlibrc there,
# which an import from the workspace would have read. Applying it now keeps the behaviour, inside the execution.
def apply_workspace_config():
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is None or not hasattr(matplotlib, "rc_file") or not os.path.isfile("matplotlibrc"):
        return
    try:
        matplotlib.rc_file("matplotlibrc")
    except BaseException as exc:  # noqa: BLE001 - a broken rc file warns, as it would at import
        sys.stderr.write(f"matplotlibrc: {safe_str(exc)}\n")


# Set (non-empty) once the code has arrived; a list, so that no lock or threading import is needed to share it.
_CODE_ARRIVED = []


# Imports modules ahead of the code; a module that fails to import is left for the code to import (and fail) itself.
# Once the code has arrived, the modules not started yet are left alone: they would compete with it for the GIL
# (a loop of tool calls ran 3–5 times slower next to a preload), and the code imports what it needs itself.
def _preload(modules):
    for name in modules:
        if _CODE_ARRIVED:
            return
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001 - nothing a preload does may reach the code
            pass


class BridgeClient:
    """Sends tool calls and routes each tool_result to the caller waiting for it; sends `done` at the end."""

    def __init__(self, websocket):
        self._websocket = websocket
        self._pending = {}  # callId → function called with the tool_result message, on the reader thread
        self._call_ids = count(1)
        # Whoever reads the socket holds _read_role: a synchronous caller reading its own answer inline, or the
        # reader thread, which takes it once and keeps it. _state_lock makes the choice between them atomic.
        self._state_lock = _thread.allocate_lock()
        self._read_role = _thread.allocate_lock()
        self._reader_started = False
        self._finished = False  # set before `done` goes out: from then on a closed bridge is expected
        self.pid = os.getpid()  # a forked child shares the socket but must never write to it

    # Calls one tool and blocks until it answers; works from any thread, including an event loop's.
    def call(self, name, args):
        waiter = _Waiter()
        request = self._request(name, args, waiter.settle)
        # With nothing else in flight and no reader thread yet, this thread reads its answer itself: a sequential
        # loop of calls then never wakes another thread (one thread switch per call was half its round trip).
        quiet = _no_signal_handlers()
        with self._state_lock:
            inline = quiet and not self._reader_started and len(self._pending) == 1 and self._read_role.acquire(False)
        if not inline:
            self._send([request])
            return _unpack_answer(name, waiter.wait())
        # Calls made meanwhile by another thread or a coroutine start the reader thread, which waits for the role;
        # answers that come first are settled from here. Only without signal handlers of the code's own: one that
        # raises between a read and the buffer taking its bytes would lose them (the reader thread runs none).
        try:
            self._send([request], start_reader=False)
            while waiter.message is None:
                try:
                    more = self._read_one()
                except BridgeError as exc:  # anything else is the code's own (its signal handler's) to see
                    self._lost(f"the bridge to the daemon broke while the code was running: {exc}")
                if not more:
                    self._lost("the bridge to the daemon closed while the code was running")
        finally:
            self._read_role.release()
        return _unpack_answer(name, waiter.message)

    # Sends every call at once, waits for all of them, then raises the first error in order, if any.
    def call_parallel(self, calls):
        requests = [parse_parallel_item(item) for item in calls]
        waiters = [_Waiter() for _ in requests]
        self._send([self._request(name, args, waiter.settle) for (name, args), waiter in zip(requests, waiters)])
        answers = [waiter.wait() for waiter in waiters]
        return [_unpack_answer(name, answer) for (name, _), answer in zip(requests, answers)]

    # Calls one tool from a coroutine without blocking its event loop.
    async def call_async(self, name, args):
        loop = _running_asyncio_loop()
        if loop is None:  # driven by something other than asyncio: wait the simple way
            return self.call(name, args)
        future = loop.create_future()

        # Runs on the reader thread: hands the answer to the loop's own thread.
        def settle(message):
            try:
                loop.call_soon_threadsafe(_settle_future, future, message)
            except RuntimeError:  # the loop was closed while the call was in flight: nobody is waiting
                pass

        self._send([self._request(name, args, settle)])
        return _unpack_answer(name, await future)

    # Sends `done` and a close frame. Returns False in a forked child, which must leave the bridge alone.
    def send_done(self, done):
        if os.getpid() != self.pid:
            return False
        self._finished = True
        try:
            self._websocket.send_texts([done], close=True)
        except OSError:
            die("could not report the result: the bridge to the daemon is closed")
        return True

    # Encodes one tool_call message and registers who waits for its answer.
    def _request(self, name, args, settle):
        if not isinstance(name, str):
            raise TypeError(f"tool name: expected a string, received {type(name).__name__}")
        try:
            args_json = encode_json({} if args is None else args)
        except ResultError as exc:
            raise TypeError(f"{name}: the arguments cannot be sent as JSON: {exc}") from None
        if not args_json.startswith("{"):
            raise TypeError(f"{name}: arguments must be a dict of parameter names to values, received {args_json[:40]}")
        call_id = str(next(self._call_ids))
        self._pending[call_id] = settle
        return f'{{"type":"tool_call","callId":"{call_id}","name":{encode_json(name)},"args":{args_json}}}'

    # Sends encoded requests, starting the reader thread on the first call.
    def _send(self, requests, start_reader=True):
        if os.getpid() != self.pid:
            raise ToolError("tools can only be called from the sandbox's main process, not a forked one")
        if start_reader:
            self._start_reader()
        try:
            self._websocket.send_texts(requests)
        except OSError:
            self._lost("the bridge to the daemon closed while the code was running")

    # The bridge closed or broke under a thread of the code. Before `done` that ends the process; after it the
    # daemon is ending the sandbox (freezing it, or killing it), and the thread waits for that rather than exit
    # with a status that is not the code's.
    def _lost(self, message):
        if not self._finished:
            die(message)
        park = _thread.allocate_lock()
        park.acquire()
        park.acquire()

    # Starts the reader thread once; while a synchronous caller reads inline, the thread waits for the role.
    def _start_reader(self):
        with self._state_lock:
            if self._reader_started:
                return
            self._reader_started = True
        _thread.start_new_thread(self._read_answers, ())

    # Reads one message and settles the call it answers; False when the bridge closed.
    def _read_one(self):
        text = self._websocket.receive_text()
        if text is None:
            return False
        message = decode_json(text)
        if isinstance(message, dict) and message.get("type") == "tool_result":
            settle = self._pending.pop(message.get("callId"), None)
            if settle is not None:
                settle(message)
        return True

    # The reader thread: resolves each answer; if the bridge breaks while the code runs, ends the process.
    def _read_answers(self):
        self._read_role.acquire()  # never given back: from now on every answer comes through this thread
        try:
            while self._read_one():
                pass
        except Exception:
            pass
        self._lost("the bridge to the daemon closed while the code was running")


_SIGNALS = None


# True when no signal has a Python handler of the code's (only the defaults: SIG_DFL, SIG_IGN and the
# KeyboardInterrupt of SIGINT, which nothing outside the sandbox sends): about 2 µs.
def _no_signal_handlers():
    global _SIGNALS
    if _SIGNALS is None:
        _SIGNALS = [n for n in range(1, _signal.NSIG) if n not in (_signal.SIGKILL, _signal.SIGSTOP)]
    defaults = (_signal.SIG_DFL, _signal.SIG_IGN, None, _signal.default_int_handler)
    getsignal = _signal.getsignal
    for number in _SIGNALS:
        if getsignal(number) not in defaults:
            return False
    return True


class _Waiter:
    """A blocked synchronous caller: settle() runs on the reader thread, wait() returns the answer."""

    __slots__ = ("_lock", "message")

    def __init__(self):
        self._lock = _thread.allocate_lock()
        self._lock.acquire()
        self.message = None

    # Stores the answer and wakes the caller.
    def settle(self, message):
        self.message = message
        self._lock.release()

    # Blocks until the answer came.
    def wait(self):
        self._lock.acquire()
        return self.message


# Reads one item of call_tools_parallel: (name, args), (name,), name, or {"name": ..., "args": ...}.
def parse_parallel_item(item):
    if isinstance(item, str):
        return item, None
    if isinstance(item, dict) and "name" in item:
        return item["name"], item.get("args")
    if isinstance(item, (tuple, list)) and 1 <= len(item) <= 2:
        return item[0], item[1] if len(item) == 2 else None
    raise TypeError(f"call_tools_parallel: expected (name, args) pairs, received {safe_repr(item)[:80]}")


# Returns a tool_result's result, or raises ToolError with the tool's message.
def _unpack_answer(name, message):
    error = message.get("error")
    if error is None:
        return message.get("result")
    if not isinstance(error, dict):
        error = {"message": safe_str(error)}
    raise ToolError(error.get("message") or f"tool {name} failed", tool=name, code=error.get("code"))


# The running asyncio event loop, or None (asyncio not imported, or no loop running in this thread).
def _running_asyncio_loop():
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# Resolves a tool call's future on its event loop's thread (unless the waiting task was cancelled).
def _settle_future(future, message):
    if not future.done():
        future.set_result(message)


# Flushes stdout and stderr, whatever the code did to them.
def flush_stdio():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass


# Ends the process at once with a message on stderr: the bridge is unusable, nothing can be reported.
def die(message):
    flush_stdio()
    try:
        os.write(2, f"runbox prelude: {message}\n".encode("utf-8", "backslashreplace"))
    finally:
        os._exit(EXIT_BRIDGE_FAILURE)
