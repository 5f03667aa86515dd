# The daemon's mount helper: one long-lived process that calls mount(2) and umount2(2) for the daemon, so that no
# process is spawned (a fork of the whole daemon) for each workspace tmpfs mounted or unmounted. It runs on the
# host as root, next to the daemon and never inside a sandbox (daemon/sandbox/mounter.ts starts it; nothing of
# runtimes/host is copied into the runtime directory sandboxes bind). It takes commands only from its standard
# input, a pipe that only the daemon holds: one JSON object per line, answered by one JSON line on standard
# output, in order. It exits when that pipe closes, and is killed when the daemon dies (PR_SET_PDEATHSIG), so it
# never carries out a command a dead daemon left in the pipe. Its one argument is the daemon's pid.
#
#   {"id": 1, "op": "mount_tmpfs", "dir": "/abs", "options": "size=...,mode=0700"}   -> {"id": 1, "ok": true}
#   {"id": 2, "op": "umount", "dir": "/abs", "lazy": false}                        -> {"id": 2, "ok": false,
#                                                         "errno": "EBUSY", "message": "Device or resource busy"}
#   {"id": 3, "op": "bind", "source": "/abs", "dir": "/abs"}    {"id": 4, "op": "make_shared", "dir": "/abs"}
#   {"id": 5, "op": "ping"}
#
# Paths are used exactly as given, never canonicalized (umount(8) resolved them, following links): they must be
# absolute, the daemon owns every directory above the mount point, and an unmount never follows a symbolic link
# in the last component (UMOUNT_NOFOLLOW). Standard library only.
import ctypes
import errno
import json
import os
import signal
import stat
import sys

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_SHARED = 1 << 20
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8
PR_SET_PDEATHSIG = 1
# The source name of every workspace tmpfs (WORKSPACE_FS_NAME in daemon/sandbox/mounts.ts): the sweep finds them by it.
WORKSPACE_FS_NAME = b"runbox-workspace"

# The C library this interpreter is linked with (glibc or musl), without ctypes.util (which runs ldconfig).
_libc = ctypes.CDLL(None, use_errno=True)
_mount = _libc.mount
_mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_mount.restype = ctypes.c_int
_umount2 = _libc.umount2
_umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_umount2.restype = ctypes.c_int
_prctl = _libc.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int


class Refused(Exception):
    """A command that is not carried out: its errno name and why."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _path(command, key):
    value = command.get(key)
    if not isinstance(value, str) or value == "":
        raise Refused("EINVAL", "%s: expected an absolute path, received %s" % (key, json.dumps(value)[:200]))
    if "\0" in value:
        raise Refused("EINVAL", "%s: a path cannot hold a NUL byte" % key)
    if not value.startswith("/"):
        raise Refused("EINVAL", "%s: expected an absolute path, received %s" % (key, json.dumps(value)[:200]))
    return os.fsencode(value)


def _text(command, key):
    value = command.get(key)
    if not isinstance(value, str) or "\0" in value:
        raise Refused("EINVAL", "%s: expected a string without NUL bytes" % key)
    return value.encode("utf-8")


def _check(result):
    if result != 0:
        code = ctypes.get_errno()
        raise Refused(errno.errorcode.get(code, "E%d" % code), os.strerror(code))


def _not_a_link(target):
    # mount(2) has no flag to stay off a symbolic link at the target; the daemon owns its parent, so this check
    # (made here, where the mount follows at once) only refuses a mistake, never a race.
    try:
        mode = os.lstat(target).st_mode
    except OSError as error:
        raise Refused(errno.errorcode.get(error.errno, "EIO"), os.strerror(error.errno))
    if stat.S_ISLNK(mode):
        raise Refused("ELOOP", "the mount point is a symbolic link")


def mount_tmpfs(command):
    # A workspace: always nosuid and nodev (flags, which tmpfs refuses among its options), its options as data.
    target = _path(command, "dir")
    data = _text(command, "options")
    _not_a_link(target)
    _check(_mount(WORKSPACE_FS_NAME, target, b"tmpfs", MS_NOSUID | MS_NODEV, data))


def umount(command):
    target = _path(command, "dir")
    lazy = command.get("lazy", False)
    if not isinstance(lazy, bool):
        raise Refused("EINVAL", "lazy: expected true or false")
    _check(_umount2(target, UMOUNT_NOFOLLOW | (MNT_DETACH if lazy else 0)))


def bind(command):
    source = _path(command, "source")
    target = _path(command, "dir")
    _not_a_link(target)
    _check(_mount(source, target, None, MS_BIND, None))


def make_shared(command):
    _check(_mount(None, _path(command, "dir"), None, MS_SHARED, None))


OPS = {"mount_tmpfs": mount_tmpfs, "umount": umount, "bind": bind, "make_shared": make_shared, "ping": lambda command: None}


def answer(line):
    try:
        command = json.loads(line)
    except ValueError:
        return {"id": None, "ok": False, "errno": "EINVAL", "message": "a command is one JSON object per line"}
    if not isinstance(command, dict):
        return {"id": None, "ok": False, "errno": "EINVAL", "message": "a command is one JSON object per line"}
    request_id = command.get("id")
    op = OPS.get(command.get("op"))
    if op is None:
        return {"id": request_id, "ok": False, "errno": "EINVAL", "message": "unknown op %s" % json.dumps(command.get("op"))[:80]}
    try:
        op(command)
    except Refused as refused:
        return {"id": request_id, "ok": False, "errno": refused.code, "message": refused.message}
    return {"id": request_id, "ok": True}


def write_all(data):
    while data:
        data = data[os.write(1, data):]


def main():
    # The helper ends when the daemon closes its pipe: a signal sent to every process of the daemon's group or
    # service (Ctrl-C, a service manager's stop) must not take it away while the daemon unmounts on its way out.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Killed the moment the daemon dies; a daemon that died before this line is no longer the parent.
    if _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or len(sys.argv) != 2 or str(os.getppid()) != sys.argv[1]:
        sys.exit(1)
    for line in sys.stdin.buffer:
        try:
            write_all((json.dumps(answer(line)) + "\n").encode("utf-8"))
        except BrokenPipeError:
            return


if __name__ == "__main__":
    main()
