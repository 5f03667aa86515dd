"""The lines the fork server reads and writes (daemon/sandbox/fork-server/messages.ts is the other side): JSON,
one per line. The first line in is the configuration; then `fork` and `kill` commands. Out: `ready` (or
`failed`), and for each fork `forked` (or `fork_failed`), later `exited`."""

import base64
import json
import os
import signal

RLIMITS = ("nofile", "fsize", "core", "as", "cpu")


class ProtocolError(ValueError):
    pass


def encode(event):
    return (json.dumps(event, separators=(",", ":")) + "\n").encode()


# The configuration line, checked: every field the children need, of the right type.
def parse_config(line):
    config = _object(line)
    if config.get("type") != "config":
        raise ProtocolError("the first line must be the configuration")
    try:
        seccomp = base64.b64decode(config["seccomp"], validate=True)
        rlimits = {name: (int(config["rlimits"][name][0]), int(config["rlimits"][name][1])) for name in RLIMITS}
        parsed = {
            "preload": [name for name in config["preload"] if isinstance(name, str)],
            "seccomp": seccomp,
            "rlimits": rlimits,
            "tmp_bytes": int(config["tmpBytes"]),
            "masked_proc_files": [name for name in config["maskedProcFiles"] if isinstance(name, str) and _plain(name)],
            "empty_file": str(config["emptyFile"]),
            "work_root": str(config["workRoot"]),
            "host_work_dir": str(config["hostWorkDir"]),
        }
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ProtocolError(f"a malformed configuration: {exc!r}") from None
    if not seccomp or len(seccomp) % 8:
        raise ProtocolError("the seccomp program is not a whole number of 8-byte instructions")
    return parsed


# A command: ("fork", fields) or ("kill", id). Paths must be plain relative paths (no "..", no empty parts).
def parse_command(line):
    command = _object(line)
    kind, ident = command.get("type"), command.get("id")
    if not isinstance(ident, str) or not ident:
        raise ProtocolError("a command without an id")
    if kind == "kill":
        return "kill", ident
    if kind != "fork":
        raise ProtocolError(f"an unknown command {kind!r}")
    paths = {key: command.get(key) for key in ("dir", "workspace", "packages")}
    for key, value in paths.items():
        if not isinstance(value, str) or not _plain(value):
            raise ProtocolError(f"fork {key}: expected a plain relative path, got {value!r}")
    env = command.get("env")
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) and "=" not in k and "\0" not in k + v for k, v in env.items()):
        raise ProtocolError("fork env: expected an object of strings")
    return "fork", {"id": ident, "env": env, **paths}


# How a process ended, as the daemon names it.
def exit_event(ident, status):
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"SIG{number}"
        return {"type": "exited", "id": ident, "code": None, "signal": name}
    return {"type": "exited", "id": ident, "code": os.waitstatus_to_exitcode(status), "signal": None}


def _object(line):
    try:
        value = json.loads(line)
    except ValueError:
        raise ProtocolError(f"not JSON: {line[:200]!r}") from None
    if not isinstance(value, dict):
        raise ProtocolError("not a JSON object")
    return value


def _plain(path):
    parts = path.split("/")
    return bool(path) and "\0" not in path and not path.startswith("/") and all(part not in ("", ".", "..") for part in parts)
