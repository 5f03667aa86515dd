"""What the code sees: the globals the prelude adds (docs/protocol.md, "Inside the sandbox").

call_tool, call_tools_parallel, set_result, ToolError, install_package, InstallError, and one async function
per declared tool. They look
like the code's own (`__module__` is `__main__`), so reprs, help() and pickling behave as for user code.
"""

from .bridge import ToolError
from .protocol import INSTALL_TOOL  # the daemon's reserved tool that installs packages

PRELUDE_NAMES = ("call_tool", "call_tools_parallel", "set_result", "ToolError", "install_package", "InstallError")


class InstallError(Exception):
    """install_package failed: str(error) is the daemon's or the installer's message, .code says which kind
    (invalid_package, package_not_allowed, install_failed, install_timeout, install_too_large, limit_exceeded)."""

    __module__ = "__main__"

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


# Builds the globals: the four documented names and one async function per usable tool name.
def build_globals(client, tools, record_result):
    def call_tool(name, args=None):
        """Calls a tool and returns its JSON result (also awaitable); a tool error raises ToolError."""
        return _awaitable(client.call(name, args))

    def call_tools_parallel(calls):
        """Calls tools concurrently, [(name, args), ...]: results in order, or the first ToolError once all ended."""
        return _awaitable(client.call_parallel(calls))

    def set_result(value, files=None):
        """Sets the result (it wins over a top-level return) and, when given, the workspace files to return."""
        record_result(value, files)

    def install_package(*packages):
        """Installs packages ("httpx", "rich==13.7.1") for this session, or this execution without one, and makes
        them importable at once. Blocks until done (the result is also awaitable); raises InstallError."""
        requested = []
        for package in packages:
            requested.extend(package if isinstance(package, (list, tuple)) else [package])
        try:
            answer = client.call(INSTALL_TOOL, {"packages": requested})
        except ToolError as exc:
            raise InstallError(str(exc), code=exc.code) from None
        import importlib

        importlib.invalidate_caches()
        return _awaitable(answer)

    names = {name: _as_global(function, name) for name, function in _tool_functions(client, tools).items()}
    names.update(call_tool=_as_global(call_tool), call_tools_parallel=_as_global(call_tools_parallel),
                 set_result=_as_global(set_result), ToolError=ToolError,
                 install_package=_as_global(install_package), InstallError=InstallError)
    return names


# One async function per declared tool whose name is a usable identifier (not a keyword, a dunder, a builtin
# such as print or open, or one of the prelude's names); tools with other names stay reachable through call_tool.
def _tool_functions(client, tools):
    functions = {}
    if not tools:
        return functions
    import builtins
    import keyword

    for tool in tools:
        name = tool.get("name")
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            continue
        if name in PRELUDE_NAMES or hasattr(builtins, name) or (name.startswith("__") and name.endswith("__")):
            continue
        parameters = tool.get("parameters")
        properties = parameters.get("properties") if isinstance(parameters, dict) else None
        parameter_names = list(properties) if isinstance(properties, dict) else []
        functions[name] = _tool_function(client, name, tool.get("description"), parameter_names)
    return functions


# Builds the async function of one tool; its docstring is the tool's description and argument names.
def _tool_function(client, name, description, parameter_names):
    # Binds the arguments, then waits for the tool's answer without blocking the event loop.
    async def tool_function(*args, **kwargs):
        return await client.call_async(name, _bind_arguments(name, parameter_names, args, kwargs))

    doc = description if isinstance(description, str) else ""
    if parameter_names:
        doc = f"{doc}\n\nArguments: {', '.join(parameter_names)}".strip()
    tool_function.__doc__ = doc or None
    return tool_function


# Binds positional arguments to the declared parameters in order, then keywords by name, with Python's errors.
def _bind_arguments(name, parameter_names, args, kwargs):
    if len(args) > len(parameter_names):
        takes = len(parameter_names)
        raise TypeError(
            f"{name}() takes {takes} positional argument{'' if takes == 1 else 's'} but {len(args)} "
            f"{'was' if len(args) == 1 else 'were'} given"
        )
    bound = dict(zip(parameter_names, args))
    for key, value in kwargs.items():
        if key in bound:
            raise TypeError(f"{name}() got multiple values for argument '{key}'")
        bound[key] = value
    return bound


# Names a function as a global of the code's module.
def _as_global(function, name=None):
    function.__name__ = function.__qualname__ = name or function.__name__
    function.__module__ = "__main__"
    return function


# call_tool's results are also awaitable, so `await call_tool(...)` written for async executors works too:
# `await value` gives the value itself; pickling and copying give the plain type. None and booleans cannot
# be subclassed and stay as they are.
def _awaitable_type(base):
    # A generator that finishes at once: `await value` evaluates to the value.
    def __await__(self):
        return self
        yield

    # Pickles and copies as the plain base type.
    def __reduce__(self):
        return base, (base(self),)

    namespace = {"__slots__": (), "__module__": "runbox", "__await__": __await__, "__reduce__": __reduce__}
    return type(base.__name__, (base,), namespace)


_AWAITABLE_TYPES = {base: _awaitable_type(base) for base in (dict, list, str, int, float)}


# Wraps a tool result in its awaitable twin when it has one.
def _awaitable(value):
    awaitable_type = _AWAITABLE_TYPES.get(type(value))
    return value if awaitable_type is None else awaitable_type(value)
