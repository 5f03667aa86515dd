"""Runbox's Python fork server: one sandboxed interpreter with the prelude and the preload modules imported,
forking a child per execution, which makes itself a sandbox of its own before any code runs (child.py).

zygote.py (beside this package) is what the daemon starts, in a sandbox with two capabilities inside its own
user namespace (CAP_SYS_ADMIN to make its children's namespaces and mounts, CAP_SETPCAP to drop their
capabilities) and the daemon's work directory bound at /runbox-work. docs/security.md ("Fork server") says what
children share and why that is acceptable.

  protocol.py  the lines in (configuration, fork, kill) and out (ready, forked, exited)
  child.py     G and H: the namespaces, the mounts, the limits, the capabilities and the filter
  linux.py     the system calls, through ctypes
"""

import _thread
import gc
import os
import select
import signal
import socket
import sys

from . import child, linux, protocol

MATPLOTLIB_DIR = "/tmp/matplotlib"


def serve(prelude_main):
    for name in [name for name in sys.modules if name.partition(".")[0] == "runbox_prelude"]:
        del sys.modules[name]  # as prelude.py does: the code cannot import the prelude (main is kept)
    os.closerange(3, 1 << 20)  # what bubblewrap let through (the work directory's descriptor): it has /runbox-work
    # The protocol moves off descriptors 0 and 1: what a preloaded module prints goes to the log (descriptor 2),
    # never into the events, and nothing reads the commands but the server.
    global _EVENTS
    commands, _EVENTS = os.dup(0), os.dup(1)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    lines = _Lines(commands)
    try:
        config = protocol.parse_config(lines.next_blocking())
    except (protocol.ProtocolError, EOFError) as exc:
        _emit({"type": "failed", "message": str(exc)})
        os._exit(1)
    _preload(config["preload"])
    fonts = _read_fonts()
    # Everything imported so far moves to the collector's permanent generation: no collection in a child walks it.
    # A child's full collection would otherwise visit every object of the preload (hundreds of thousands), writing
    # to each one's header, and so copy most of the image the children share (gc.freeze's documented use).
    gc.collect()
    gc.freeze()
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the wakeup descriptor is written
    own = (wake_r, wake_w, commands, _EVENTS)
    extra = [fd for fd in sorted(int(fd) for fd in os.listdir("/proc/self/fd")) if fd > 2 and fd not in own and _is_open(fd)]
    if extra:
        _log(f"descriptors the preload left open (children keep them, as the modules may still read them): {[_describe_fd(fd) for fd in extra]}")
    config["keep_fds"] = extra
    _emit({"type": "ready"})
    _Server(config, prelude_main, fonts, lines, wake_r).run()


class _Server:
    def __init__(self, config, prelude_main, fonts, lines, wake_r):
        self.config = config
        self.prelude_main = prelude_main
        self.fonts = fonts
        self.lines = lines
        self.wake_r = wake_r
        self.children = {}  # id -> pid of G
        self.ids = {}  # pid of G -> id
        # pid of G -> (this end of the socket pair G reports the code's wait status on, the lock that ends G's thread)
        self.links = {}

    def run(self):
        poll = select.poll()
        poll.register(self.lines.fd, select.POLLIN)
        poll.register(self.wake_r, select.POLLIN)
        while True:
            for fd, _ in poll.poll():
                if fd == self.wake_r:
                    _drain(self.wake_r)
                    self.reap()
                elif not self.read_commands():
                    self.stop()
            self.reap()

    # Handles the complete lines that arrived; False at end of input (the daemon is gone or closing).
    def read_commands(self):
        try:
            lines = self.lines.available()
        except EOFError:
            return False
        for line in lines:
            try:
                self.handle(line)
            except Exception as exc:  # noqa: BLE001 - one bad command must not end the server and its children
                _log(f"a command failed: {exc!r}")
        return True

    def handle(self, line):
        try:
            kind, value = protocol.parse_command(line)
        except protocol.ProtocolError as exc:
            _log(f"refused a command: {exc}")
            return
        if kind == "kill":
            pid = self.children.get(value)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)  # still its unreaped child, so the pid is still this one
            return
        self.fork(value)

    def fork(self, command):
        ident = command["id"]
        if ident in self.children:
            return _emit({"type": "fork_failed", "id": ident, "message": "that id is in use"})
        # G, the child, is born pid 1 of a pid namespace of its own: no intermediate process makes it, so an
        # execution costs two forks of the whole server image (G, then the code), not three. The namespace is made
        # on a thread of its own: unshare(CLONE_NEWPID) changes where the calling thread's children are born, once,
        # and the server's main thread must stay in its own for the next child (setns back is refused: the server
        # has no capability in the user namespace that owns its own pid namespace). The socket pair tells G when
        # the server is gone, and the server what the code ended with.
        try:
            link, link_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError as exc:
            return _emit({"type": "fork_failed", "id": ident, "message": str(exc)})
        outcome = _fork_in_new_pid_namespace(lambda: self._become_child(command, link, link_child))
        link_child.close()
        if isinstance(outcome, str):
            link.close()
            return _emit({"type": "fork_failed", "id": ident, "message": outcome})
        pid, thread_end = outcome
        link.setblocking(False)
        self.children[ident] = pid
        self.ids[pid] = ident
        self.links[pid] = (link, thread_end)
        _emit({"type": "forked", "id": ident, "pid": pid})

    # G, right after the fork: never returns.
    def _become_child(self, command, link, link_child):
        link.close()
        child.become_sandbox(self.config, command, link_child.detach(), self.prelude_main, self.fonts)
        os._exit(child.SETUP_FAILED)

    def reap(self):
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            ident = self.ids.pop(pid, None)
            link, thread_end = self.links.pop(pid, (None, None))
            code_status = _reported_status(link) if link is not None else None
            if thread_end is not None:
                thread_end.release()
            if ident is not None:
                del self.children[ident]
                _emit(protocol.exit_event(ident, status if code_status is None else code_status))

    def stop(self):
        for pid in self.children.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(0)


# Forks on a thread started for it, after making a pid namespace for that thread's children: answers the child's pid
# and the lock that ends the thread, or what went wrong. In the child, in_child runs (alone: a fork keeps only the
# thread that forked). The thread lives until the lock is released, once the child is reaped: the kernel sends the
# child's parent-death signal when the thread that forked it ends, not the process.
def _fork_in_new_pid_namespace(in_child):
    outcome = []
    finished = _thread.allocate_lock()
    finished.acquire()
    ended = _thread.allocate_lock()
    ended.acquire()

    def fork():
        try:
            linux.unshare(linux.CLONE_NEWPID)
            pid = os.fork()
        except BaseException as exc:  # noqa: BLE001 - reported as a failed fork
            outcome.append(str(exc))
            finished.release()
            return
        if pid == 0:
            in_child()
        outcome.append(pid)
        finished.release()
        ended.acquire()

    try:
        _thread.start_new_thread(fork, ())
    except RuntimeError as exc:
        return str(exc)
    finished.acquire()
    return outcome[0] if isinstance(outcome[0], str) else (outcome[0], ended)


# The code's wait status as G wrote it before it ended (G, a pid 1, cannot end by the code's signal itself), or
# None when G wrote none (killed, or its set-up failed): its own status then stands.
def _reported_status(link):
    try:
        text = link.recv(64)
    except OSError:
        text = b""
    finally:
        link.close()
    return int(text) if text.strip().isdigit() else None


class _Lines:
    """Lines from a descriptor, read with os.read (no buffered reader that could hold a command back)."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""

    def next_blocking(self):
        while b"\n" not in self.buffer:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise EOFError("the daemon closed the fork server's input")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    # The complete lines after one read; EOFError at end of input.
    def available(self):
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            raise EOFError
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [line.decode() for line in lines if line.strip()]


# Imports the preload modules once for every child; with pyplot, a figure is drawn and thrown away, so that
# fonts and the renderer are loaded before the first child (a chart's first draw costs tens of ms otherwise).
# With pandas too, the line is drawn through DataFrame.plot: pandas loads its plotting backend on its first plot
# (about 20 ms in every child otherwise), and puts matplotlib's unit converters back as they were after each plot.
def _preload(modules):
    for name in modules:
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001 - a module that fails is left for the code to import (and fail)
            pass
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            import io

            figure, axes = pyplot.subplots()
            pandas = sys.modules.get("pandas")
            if pandas is not None:
                pandas.DataFrame({"x": [0, 1], "runbox": [0, 1]}).plot(x="x", y="runbox", ax=axes)
            else:
                axes.plot([0, 1], [0, 1], label="runbox")
            axes.set_title("runbox")
            axes.legend()
            figure.savefig(io.BytesIO(), format="png")
            pyplot.close("all")
        except BaseException:  # noqa: BLE001 - a warm-up that fails only leaves the first chart slower
            pass


def _read_fonts():
    fonts = {}
    try:
        names = os.listdir(MATPLOTLIB_DIR)
    except OSError:
        return fonts
    for name in names:
        try:
            with open(os.path.join(MATPLOTLIB_DIR, name), "rb") as file:
                fonts[name] = file.read()
        except OSError:
            pass
    return fonts


def _describe_fd(fd):
    try:
        return f"{fd} {os.readlink(f'/proc/self/fd/{fd}')}"
    except OSError:
        return str(fd)


# False for the descriptor os.listdir had open while it listed /proc/self/fd.
def _is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _drain(fd):
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


_EVENTS = 1  # the descriptor events are written to (serve() moves it off 1)


def _emit(event):
    os.write(_EVENTS, protocol.encode(event))


def _log(text):
    try:
        os.write(2, (text + "\n").encode(errors="replace"))
    except OSError:
        pass
