# The daemon's mount helper: one long-lived process that calls mount(2) and umount2(2) for the daemon, so that no
# process is spawned (a fork of the whole daemon) for each workspace tmpfs mounted or unmounted. It runs on the
# host as root, next to the daemon and never inside a sandbox (daemon/sandbox/mounter.ts starts it; nothing of
# runtimes/host is copied into the runtime directory sandboxes bind). It takes commands only from its standard
# input, a pipe that only the daemon holds: one JSON object per line, answered by one JSON line on standard
# output, in order. It exits when that pipe closes, and is killed when the daemon dies (PR_SET_PDEATHSIG), so it
# never carries out a command a dead daemon left in the pipe. Its one argument is the daemon's pid.
#
#   {"id": 1, "op": "mount_tmpfs", "dir": "/abs", "options": "size=...,mode=0700"}   -> {"id": 1, "ok": true}
#       (with "name": "runbox-executions" for the tmpfs that holds the execution directories; a workspace's else)
#   {"id": 2, "op": "umount", "dir": "/abs", "lazy": false}                        -> {"id": 2, "ok": false,
#                                                         "errno": "EBUSY", "message": "Device or resource busy"}
#   {"id": 3, "op": "bind", "source": "/abs", "dir": "/abs"}    {"id": 4, "op": "make_shared", "dir": "/abs"}
#   {"id": 5, "op": "ping"}
#   {"id": 6, "op": "release_on_exit", "dir": "/sys/fs/cgroup/freezer/runbox", "prefix": "1234-5678-a1b2c3-"}
#
# release_on_exit names where the daemon's frozen sandboxes are: the freezer parent of its cgroups, and the prefix
# of its groups' names. A sandbox frozen at its report stays frozen, and unkillable, until thawed: if the daemon
# dies with some frozen (SIGKILL), this helper, told of the death by PR_SET_PDEATHSIG (SIGHUP), kills every
# process of those groups where it stopped and thaws them, so that they die instead of waiting for the next daemon.
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
# What release_on_exit names (cgroupfs only, and a daemon's group names only: <pid>-<start time>-<hex>-).
_RELEASE = {"dir": None, "prefix": None}
_CGROUP_ROOT = "/sys/fs/cgroup/"
# The source names of Runbox's tmpfs mounts (daemon/sandbox/mounts.ts): each workspace's, and the one that holds the
# execution directories. The sweep finds them by these names; no other name is ever mounted.
WORKSPACE_FS_NAME = "runbox-workspace"
FS_NAMES = (WORKSPACE_FS_NAME, "runbox-executions")

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
    # Always nosuid and nodev (flags, which tmpfs refuses among its options), its options as data.
    target = _path(command, "dir")
    data = _text(command, "options")
    name = command.get("name", WORKSPACE_FS_NAME)
    if name not in FS_NAMES:
        raise Refused("EINVAL", "name: expected one of " + ", ".join(FS_NAMES))
    _not_a_link(target)
    _check(_mount(name.encode(), target, b"tmpfs", MS_NOSUID | MS_NODEV, data))


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


def release_on_exit(command):
    target = os.fsdecode(_path(command, "dir"))
    prefix = _text(command, "prefix").decode()
    if not target.startswith(_CGROUP_ROOT) or "/../" in target + "/":
        raise Refused("EINVAL", "dir: expected a directory under " + _CGROUP_ROOT)
    parts = prefix.split("-")
    if len(parts) != 4 or parts[3] != "" or not (parts[0].isdigit() and parts[1].isdigit() and parts[2].isalnum()):
        raise Refused("EINVAL", "prefix: expected <pid>-<start time>-<tag>-")
    _RELEASE["dir"], _RELEASE["prefix"] = target, prefix


def _write_control(path, value):
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return False
    try:
        os.write(fd, value)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _release_frozen():
    # Kills, then thaws, every group of the dead daemon (v1: freezer.state; v2: cgroup.kill, or each pid and
    # cgroup.freeze). A group that is not frozen gets the kill too: its daemon is gone, its code must end.
    parent, prefix = _RELEASE["dir"], _RELEASE["prefix"]
    if parent is None:
        return
    try:
        names = [name for name in os.listdir(parent) if name.startswith(prefix)]
    except OSError:
        return
    for name in names:
        group = os.path.join(parent, name)
        if _write_control(os.path.join(group, "cgroup.kill"), b"1"):
            continue
        try:
            with open(os.path.join(group, "cgroup.procs"), "rb") as procs:
                pids = [int(line) for line in procs.read().split()]
        except (OSError, ValueError):
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not _write_control(os.path.join(group, "freezer.state"), b"THAWED"):
            _write_control(os.path.join(group, "cgroup.freeze"), b"0")


def _on_parent_death(signum, frame):
    # SIGHUP also comes from a terminal that hangs up: only a daemon that is gone (no longer the parent) counts.
    if str(os.getppid()) == sys.argv[1]:
        return
    _release_frozen()
    os._exit(0)


OPS = {"release_on_exit": release_on_exit, "mount_tmpfs": mount_tmpfs, "umount": umount, "bind": bind, "make_shared": make_shared, "ping": lambda command: None}


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
    # Told the moment the daemon dies (SIGHUP): it releases the daemon's frozen sandboxes and exits, carrying out
    # nothing more of what the pipe holds. A daemon that died before this line is no longer the parent.
    signal.signal(signal.SIGHUP, _on_parent_death)
    if _prctl(PR_SET_PDEATHSIG, signal.SIGHUP, 0, 0, 0) != 0 or len(sys.argv) != 2 or str(os.getppid()) != sys.argv[1]:
        sys.exit(1)
    try:
        for line in sys.stdin.buffer:
            write_all((json.dumps(answer(line)) + "\n").encode("utf-8"))
    except BrokenPipeError:
        pass
    # The pipe closed: the daemon is closing (its sandboxes are gone, or going) or dead (its end closes before the
    # SIGHUP comes). Either way no sandbox of it may stay frozen.
    _release_frozen()


if __name__ == "__main__":
    main()
