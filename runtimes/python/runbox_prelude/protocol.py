"""The bridge protocol's limits and constants, from runtimes/protocol.json (/runbox/protocol.json in a sandbox).

The same file is read by the daemon, the SDK and the Node prelude, so the limits cannot drift apart.
"""

import os

import _json


class _ScanContext:
    """The settings _json's C scanner reads from a json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN and Infinity: JSON.stringify never writes them


_scan_json = _json.make_scanner(_ScanContext())


# Parses one JSON text sent by the daemon.
def decode_json(text):
    try:
        value, end = _scan_json(text, 0)
    except StopIteration as stop:
        raise ValueError(f"invalid JSON at character {stop.value}") from None
    if text[end:].strip():
        raise ValueError(f"unexpected data after the JSON value at character {end}")
    return value


with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "protocol.json"), encoding="utf-8") as _file:
    PROTOCOL = decode_json(_file.read())

MAX_JSON_DEPTH = PROTOCOL["maxJsonDepth"]
MAX_HANDSHAKE_BYTES = PROTOCOL["maxHandshakeBytes"]
INSTALL_TOOL = PROTOCOL["installTool"]
EXIT_BRIDGE_FAILURE = PROTOCOL["bridgeFailureExitCode"]
