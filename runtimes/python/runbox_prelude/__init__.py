"""Runbox's Python prelude: runs one program in a sandbox and reports it to the daemon over the bridge.

prelude.py (beside this package) is what the daemon starts in every sandbox. The prelude connects to the
bridge, a WebSocket over a Unix socket (docs/protocol.md, "The bridge"), receives the code, runs it as
main.py with the tool functions in its globals, and sends back the result, the declared output files and
the error, if any.

Every execution pays for the prelude's start-up, so it imports only modules that are built in or already
loaded by the interpreter (`_socket`, `_thread`, `_json` instead of `socket`, `threading`, `json`, which
pull in `re`, `enum` and `selectors`). asyncio, ast, traceback and linecache are imported only when the
code needs them. Standard library only.

  websocket.py  the RFC 6455 client and handshake
  bridge.py     the messages: `run` in, tool calls out and back, `done`
  jsonable.py   JSON in and out, and the conversions of results and tool arguments
  namespace.py  the globals the code gets: call_tool, set_result, one function per tool...
  values.py     tool results as dicts whose keys read as attributes (loaded on the first tool result)
  models.py     the tools' Input and Output models, from their schemas (loaded when first needed)
  toolsapi.py   the models by name and the `tools.api` module (loaded when first needed)
  discovery.py  search_tools and describe_tool over the declared tools (loaded on their first call)
  program.py    compiling, running and reporting the code
  imports.py    the code's missing imports: a hint, or the install (import_names.py, loaded then, maps names)
  figures.py    matplotlib figures saved as PNG files (acting only once the code has pyplot)
"""

import os
import sys

from .bridge import BridgeClient, BridgeError, die, receive_run
from .imports import MissingImports
from .program import Execution, warm_up
from .websocket import connect_websocket


# Takes the bridge's address out of the environment, opens it, receives the code, runs it and reports.
def main():
    socket_path = os.environ.pop("RUNBOX_BRIDGE_SOCKET", None)
    token = os.environ.pop("RUNBOX_BRIDGE_TOKEN", None)
    workspace = os.environ.pop("RUNBOX_WORKSPACE", None)
    if not socket_path or not token or not workspace:
        die("RUNBOX_BRIDGE_SOCKET, RUNBOX_BRIDGE_TOKEN and RUNBOX_WORKSPACE must all be set")
    try:
        websocket = connect_websocket(socket_path, token)
        warm_up()  # while the code is on its way
        source, tools, inputs, installs, capture_figures = receive_run(websocket)
    except (OSError, ValueError, BridgeError) as exc:
        die(f"cannot open the bridge to the daemon at {socket_path}: {exc}")
    # The sandbox starts outside the workspace, so nothing there (a matplotlibrc, a module) is read before the code.
    try:
        os.chdir(workspace)
    except OSError as exc:
        die(f"cannot enter the workspace {workspace}: {exc}")
    client = BridgeClient(websocket)
    execution = Execution(source, tools, client, inputs, capture_figures)  # its finder of tools.api comes before the one below
    sys.meta_path.append(MissingImports(client, installs))  # last: consulted only when an import fails
    execution.finish(execution.run())
