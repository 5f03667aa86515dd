"""What the code sees: the globals the prelude adds (docs/protocol.md, "Inside the sandbox").

call_tool, call_tools_parallel, set_result, ToolError, install_package, InstallError, and one async function
per declared tool. They look
like the code's own (`__module__` is `__main__`), so reprs, help() and pickling behave as for user code.
Tool answers get attribute access and models (values.py, models.py, toolsapi.py: loaded on first use by
load_prelude_module), and `tools.api` is importable.
"""

import sys

import _thread

from .bridge import ToolError, parse_parallel_item
from .protocol import INSTALL_TOOL  # the daemon's reserved tool that installs packages

PRELUDE_NAMES = ("call_tool", "call_tools_parallel", "set_result", "ToolError", "install_package", "InstallError",
                 "search_tools", "describe_tool")


class InstallError(Exception):
    """install_package failed: str(error) is the daemon's or the installer's message, .code says which kind
    (invalid_package, package_not_allowed, install_failed, install_timeout, install_too_large, limit_exceeded)."""

    __module__ = "__main__"

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


# Builds the globals: the documented names and one async function per usable tool name. Also makes `tools.api`
# importable (a finder consulted last, so a `tools` module of the code's own wins).
def build_globals(client, tools, record_result):
    results = _tool_values(tools)

    def call_tool(name, args=None):
        """Calls a tool and returns its JSON result (also awaitable); a tool error raises ToolError."""
        return _awaitable(results.convert(name, client.call(name, args)))

    def call_tools_parallel(calls):
        """Calls tools concurrently, [(name, args), ...]: results in order, or the first ToolError once all ended."""
        calls = list(calls)
        answers = client.call_parallel(calls)
        names = [parse_parallel_item(item)[0] for item in calls]
        return _awaitable([results.convert(name, answer) for name, answer in zip(names, answers)])

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

    names = {name: _as_global(function, name) for name, function in _tool_functions(client, tools, results).items()}
    results.functions.update(names)
    sys.meta_path.append(results)
    names.update(call_tool=_as_global(call_tool), call_tools_parallel=_as_global(call_tools_parallel),
                 set_result=_as_global(set_result), ToolError=ToolError,
                 install_package=_as_global(install_package), InstallError=InstallError)
    names.update(_discovery_functions(tools, {name: name for name in results.functions}))
    return names


# search_tools and describe_tool over the declared tools (discovery.py, loaded on the first call); function_names
# maps a tool's name to the name of its function, for the tools that have one.
def _discovery_functions(tools, function_names):
    def search_tools(query="", limit=10):
        """The tools matching the query's words, best first (at most limit; None: all): a list of
        {name, function, description}; function is the name to call, or None for call_tool. Also awaitable."""
        found = load_prelude_module("discovery").search_tools(tools, function_names, query, limit)
        return _awaitable(load_prelude_module("values").with_attributes(found))

    def describe_tool(name):
        """The full stub of a tool (by its name or its function's), as text; also awaitable. An unknown name
        raises ValueError listing close names."""
        return _awaitable(load_prelude_module("discovery").describe_tool(tools, function_names, name))

    return {"search_tools": _as_global(search_tools), "describe_tool": _as_global(describe_tool)}


# One async function per declared tool whose name is a usable identifier (not a keyword, a dunder, a builtin
# such as print or open, or one of the prelude's names); tools with other names stay reachable through call_tool.
def _tool_functions(client, tools, results):
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
        first = properties[parameter_names[0]] if parameter_names else None
        first_type = first.get("type") if isinstance(first, dict) else None
        first_takes_object = first_type == "object" or (isinstance(first_type, list) and "object" in first_type)
        functions[name] = _tool_function(client, results, name, tool.get("description"), parameter_names,
                                         first_takes_object)
    return functions


# Builds the async function of one tool; its docstring is the tool's description and argument names.
def _tool_function(client, results, name, description, parameter_names, first_takes_object):
    # Binds the arguments, then waits for the tool's answer without blocking the event loop.
    async def tool_function(*args, **kwargs):
        arguments = _bind_arguments(name, parameter_names, args, kwargs, first_takes_object)
        return results.convert(name, await client.call_async(name, arguments))

    doc = description if isinstance(description, str) else ""
    if parameter_names:
        doc = f"{doc}\n\nArguments: {', '.join(parameter_names)}".strip()
    tool_function.__doc__ = doc or None
    return tool_function


# Binds positional arguments to the declared parameters in order, then keywords by name, with Python's errors.
# One dict alone is the arguments object when it is this tool's Input model, or when its keys are all declared
# parameters (any keys, for a tool that declares none) and the first parameter is not itself an object.
def _bind_arguments(name, parameter_names, args, kwargs, first_takes_object=False):
    if len(args) == 1 and not kwargs and isinstance(args[0], dict):
        only = args[0]
        if getattr(type(only), "_runbox_input_of", None) == name:
            return only
        if not parameter_names or (not first_takes_object and all(key in parameter_names for key in only)):
            return only
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


_PACKAGE = sys.modules[__package__]  # the prelude package: prelude.py removes it from sys.modules once loaded
_LOAD_LOCK = _thread.allocate_lock()  # threads that get their first results at once load the modules once


# Imports a module of the prelude after start-up (values, models, toolsapi), once: the package and its loaded
# modules go back into sys.modules for the import only, so the code still cannot import or shadow them.
def load_prelude_module(name):
    module = getattr(_PACKAGE, name, None)
    if module is not None:
        return module
    with _LOAD_LOCK:
        return getattr(_PACKAGE, name, None) or _import_prelude_module(name)


# The import itself, under _LOAD_LOCK (another thread's cleanup must not remove the package mid-import).
def _import_prelude_module(name):
    prefix = f"{__package__}."
    modules = sys.modules
    codes_own = {key: value for key, value in modules.items() if key == __package__ or key.startswith(prefix)}
    loaded = {prefix + attr: value for attr, value in vars(_PACKAGE).items()
              if type(value) is type(sys) and getattr(value, "__name__", None) == prefix + attr}
    modules[__package__] = _PACKAGE
    modules.update(loaded)
    try:
        __import__(prefix + name)
        return getattr(_PACKAGE, name)
    finally:
        for key in [key for key in modules if key == __package__ or key.startswith(prefix)]:
            del modules[key]
        modules.update(codes_own)


# What tool answers become in the code: dicts with attribute access (values.py), and the Output model of a tool
# that declared an outputSchema (models.py, toolsapi.py); also the import finder of `tools` and `tools.api`, put
# last on sys.meta_path. Closures rather than a class, so the prelude's start-up defines none: code that calls
# no tool and imports no tools.api pays nothing more, and those modules load on first use.
def _tool_values(tools):
    with_output_schema = {tool.get("name") for tool in tools if isinstance(tool.get("outputSchema"), dict)}
    functions = {}  # the tool functions, by name (tools.api lists them too), filled in by build_globals
    built = []  # the tools' models (toolsapi.ToolModels), once made
    building = _thread.allocate_lock()  # one set of model classes, whichever thread asks first

    # The tools' models, built on first use.
    def models():
        if not built:
            with building:
                if not built:
                    built.append(load_prelude_module("toolsapi").ToolModels(tools, functions))
        return built[0]

    # One tool answer as the code gets it.
    def convert(name, value):
        if type(value) is dict or type(value) is list:
            value = load_prelude_module("values").with_attributes(value)
            if name in with_output_schema:
                value = models().wrap_result(name, value)
        return value

    # The import system asks here only when no other finder has `tools` or `tools.api` (the code's own win).
    def find_spec(fullname, path=None, target=None):
        if fullname != "tools" and fullname != "tools.api":
            return None
        return models().module_spec(fullname)

    return _Namespace(convert=convert, find_spec=find_spec, functions=functions)


_Namespace = type(sys.implementation)  # types.SimpleNamespace, without importing types


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
