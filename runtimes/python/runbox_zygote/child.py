"""One execution's child of the fork server, made a sandbox of its own before any code runs.

G, the server's child, is born pid 1 of a new pid namespace (the server made it for G alone). It waits until the
daemon has moved it into the execution's cgroup, makes the other namespaces (mount, IPC, network, UTS, cgroup),
takes its standard output and error from the execution's sockets, builds its mounts (a new /proc with the host's
files covered, its own /dev/pts, /dev/shm and /tmp, its workspace, its packages read-only, its bridge socket),
covers the server's view of the work directory, sets the rlimits, drops every capability, loads the seccomp
filter, then forks H and reaps like an init. H, pid 2 (as under bubblewrap's init), runs the prelude. G dies with
the server and H with G (PR_SET_PDEATHSIG; and a pid namespace ends with its pid 1). G reports the code's wait
status to the daemon (status.sock) and to the server (its socket pair), since a pid 1 cannot end by the code's
signal itself.
"""

import os
import resource
import select
import signal
import sys

from . import linux

# The pid namespace is G's already: the server made it (unshare before its fork), as G's own children are born in it.
SANDBOX_FLAGS = linux.CLONE_NEWNS | linux.CLONE_NEWIPC | linux.CLONE_NEWNET | linux.CLONE_NEWUTS | linux.CLONE_NEWCGROUP
PRELUDE_ARGV = ["/runbox/python/prelude.py"]
SETUP_FAILED = 125
_RLIMIT_IDS = {"nofile": resource.RLIMIT_NOFILE, "fsize": resource.RLIMIT_FSIZE, "core": resource.RLIMIT_CORE, "as": resource.RLIMIT_AS, "cpu": resource.RLIMIT_CPU}


# Runs in G, right after the server's fork; never returns. link is G's end of a socket pair with the server: it
# reads end of file once the server is gone, and takes the code's wait status at the end.
def become_sandbox(config, command, link, prelude_main, fonts):
    try:
        _leave_server(config.get("keep_fds", []), link)
        # Named by its execution's directory, as a bubblewrap sandbox is by its binds: `ps`, and the tests that
        # look for what a sandbox left, find it by the work directory's path (the server's own line names none).
        linux.set_command_line(f"runbox-sandbox {os.path.join(config['host_work_dir'], command['dir'], '')}")
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        if select.select([link], [], [], 0)[0]:
            os._exit(SETUP_FAILED)  # the server died before the parent-death signal was set (its end is closed)
        root = os.path.join(config["work_root"], command["dir"])
        status_socket = _wait_for_release(root)
        linux.unshare(SANDBOX_FLAGS)
        linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
        _take_output(root)
        token = _read_token(root)
        _mount_sandbox(config, command, root, fonts)
        _limit(config["rlimits"])
        linux.drop_capabilities()
        linux.load_seccomp(config["seccomp"])
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(number, signal.SIG_IGN)  # pid 1 keeps reaping whatever the code sends it
        code = os.fork()
    except BaseException as exc:  # noqa: BLE001 - reported on the execution's stderr (or the server's log)
        _say(f"runbox fork server: cannot set up the sandbox: {exc}\n")
        os._exit(SETUP_FAILED)
    if code == 0:
        os.close(link)
        os.close(status_socket)
        _run_code(command["env"], token, prelude_main)
    # G waits for its children's ends in sigwaitinfo, not in waitpid: the kernel freezes a process asleep there
    # where it sleeps, while one in waitpid must first be woken and given a CPU (about 1 ms on these machines), and
    # the daemon freezes the sandbox at the code's `done`. SIGCHLD is blocked only now, so H starts with none
    # blocked; an end before this is found by the first waitpid below.
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            os._exit(0)
        if pid == 0:
            signal.sigwaitinfo([signal.SIGCHLD])
            continue
        if pid == code:
            # Straight to the daemon first: this process still has to tear down the server's memory image it was
            # forked with (milliseconds), which the result need not wait for.
            for fd in (status_socket, link):
                try:
                    os.write(fd, str(status).encode())
                except OSError:
                    pass
            os._exit(0)


# G, before it makes anything: connects to status.sock and waits there for the daemon's one byte, which it sends
# once this process is in the execution's cgroup. Every process of the sandbox is then born inside it, and none
# runs a moment outside its limits (nor has the daemon to walk /proc for processes to move). Without the byte (the
# daemon closed the socket, or killed this process) nothing is made. Answers the connected socket, which G keeps
# to report the code's end on.
def _wait_for_release(root):
    status_socket = _connect(os.path.join(root, "status.sock"))
    if os.read(status_socket, 1) != b"g":
        os._exit(SETUP_FAILED)
    return status_socket


# The server's descriptors are closed (its commands and events are no business of a child's) and its signal
# handling undone; 0 and 1 become /dev/null until G has the execution's own. What the preload left open is kept
# (matplotlib's FreeType reads its font file through one): closed, its number would be reused by a socket; it is
# reopened, so that the child has an offset of its own. The link to the server is kept as it is.
def _leave_server(preloaded, link):
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    low = 3
    for fd in sorted([*preloaded, link]):
        os.closerange(low, fd)
        low = fd + 1
        if fd != link:
            _reopen(fd)
    os.closerange(low, 1 << 20)


# Gives this process its own open file behind descriptor fd, at the same offset: after fork the offset is shared
# with the server and every other child, and two children reading a font at once would move each other's.
def _reopen(fd):
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        fresh = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(fd)  # not a file that can be opened again (a pipe, a socket): closed, not shared
        return
    os.lseek(fresh, offset, os.SEEK_SET)
    os.dup2(fresh, fd, inheritable=os.get_inheritable(fd))
    os.close(fresh)


# Descriptors 1 and 2 become the execution's output sockets (stdout.sock, stderr.sock in its directory).
def _take_output(root):
    for fd, name in ((1, "stdout.sock"), (2, "stderr.sock")):
        number = _connect(os.path.join(root, name))
        os.dup2(number, fd)
        os.close(number)


# A connected Unix stream socket, as a bare descriptor (no socket object whose finalizer could close it).
def _connect(path):
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.connect(path)
    return sock.detach()


# The bridge token: given through a file of the execution's directory, never through the server (whatever
# the server held would be in the memory of every child forked after).
def _read_token(root):
    with open(os.path.join(root, "bridge.token"), "rb") as file:
        return file.read().decode("ascii").strip()


def _mount_sandbox(config, command, root, fonts):
    work_root = config["work_root"]
    sized = f"mode=0755,size={config['tmp_bytes']}"
    linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    for name in config["masked_proc_files"]:
        target = os.path.join("/proc", name)
        if os.path.exists(target):
            _bind(config["empty_file"], target, read_only=True)
    linux.mount("devpts", "/dev/pts", "devpts", linux.MS_NOSUID | linux.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    linux.mount("tmpfs", "/dev/shm", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, sized)
    linux.mount("tmpfs", "/tmp", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, sized)
    if fonts:
        os.mkdir("/tmp/matplotlib", 0o700)
        for name, content in fonts.items():
            with open(os.path.join("/tmp/matplotlib", name), "wb") as file:
                file.write(content)
    _bind(os.path.join(work_root, command["workspace"]), "/workspace")
    _bind(os.path.join(work_root, command["packages"]), "/runbox/packages", read_only=True)
    _bind(os.path.join(root, "bridge.sock"), "/run/runbox/bridge.sock")
    # Covered, not unmounted: the kernel keeps mounts that came from a more privileged namespace locked in place
    # (umount says EINVAL). An empty read-only tmpfs on top hides every other execution's directory, and without
    # capabilities, and with umount denied by the filter, the code cannot take it off.
    linux.mount("tmpfs", work_root, "tmpfs", linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC, "size=4k,nr_inodes=1,mode=0555")
    os.chdir("/")


def _bind(source, target, read_only=False):
    linux.mount(source, target, None, linux.MS_BIND)
    if read_only:
        linux.mount(None, target, None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV)


def _limit(rlimits):
    for name, (soft, hard) in rlimits.items():
        resource.setrlimit(_RLIMIT_IDS[name], (soft, hard))


# H: the code's interpreter, with the execution's environment, as a freshly started prelude would be.
def _run_code(env, token, prelude_main):
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(number, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(env)
        os.environ["RUNBOX_BRIDGE_TOKEN"] = token
        sys.argv = list(PRELUDE_ARGV)
        for name in [name for name in sys.modules if name.partition(".")[0] == "runbox_zygote"]:
            del sys.modules[name]
        _reseed()
        prelude_main()
    except SystemExit as exc:
        _flush()
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    except BaseException as exc:  # noqa: BLE001 - the prelude reports the code's errors itself; this is its own
        _say(f"runbox: the prelude failed: {exc!r}\n")
        os._exit(1)
    _flush()
    os._exit(0)


# What fork copied that must differ between executions: numpy's global generator (random reseeds itself at fork).
def _reseed():
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed()
        except Exception:  # noqa: BLE001 - a numpy without it has no global state to reseed
            pass


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass


def _say(text):
    try:
        os.write(2, text.encode(errors="replace"))
    except OSError:
        pass
