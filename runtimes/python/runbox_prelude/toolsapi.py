"""The models of an execution's tools by name, and the `tools.api` module that holds them.

`from tools.api import GetUserInput, GetUserOutput` (or `import tools.api as api`, `from tools import api`)
gets, for every declared tool, `<PascalCaseName>Input` and `<PascalCaseName>Output`, the models of the
objects nested in their schemas (`GetUserOutputAddress`, named as the SDK's stubs name them), and the tool
functions the code has as globals. Names: `get_user`, `getUser` → `GetUser`; `search.docs` → `SearchDocs`;
`list-items` → `ListItems`. When two tools give one name, the one declared first has it and the other's
models are left out of the module (its results still come back as its own Output model); a nested model
never takes a name an Input or Output model has. A tool function whose name is also a model's name is left
out too (it is still a global). Loaded lazily, like values.py.
"""

import sys

from .models import input_model, nested_models, output_model, pascal_name, wrap_output

API_MODULE = "tools.api"
PACKAGE_MODULE = "tools"


class ToolModels:
    """The Input and Output models of one execution's tools, each built the first time it is needed."""

    def __init__(self, tools, functions):
        self._tools = {tool["name"]: tool for tool in tools if isinstance(tool.get("name"), str)}
        self._functions = functions  # the tool functions the code has as globals, by name
        self._classes = {}  # (tool name, "Input" or "Output") → class
        self._api_names = {}  # PascalCase name → tool name: the first tool declared with it
        for name in self._tools:
            self._api_names.setdefault(pascal_name(name), name)

    # The model class of one tool ("Input" or "Output"), built once.
    def model(self, name, kind):
        cls = self._classes.get((name, kind))
        if cls is None:
            tool = self._tools[name]
            class_name = pascal_name(name) + kind
            if kind == "Input":
                cls = input_model(class_name, name, tool.get("parameters"))
            else:
                cls = output_model(class_name, name, tool.get("outputSchema"))
            self._classes[(name, kind)] = cls
        return cls

    # A result of a tool that declared an outputSchema, as its Output model (nested objects in theirs).
    def wrap_result(self, name, value):
        if name not in self._tools:
            return value
        return wrap_output(self.model(name, "Output"), value)

    # What `tools.api` holds: every model by its name, then the nested ones and the tool functions whose names
    # are still free.
    def api_namespace(self):
        names = {}
        for base, tool_name in self._api_names.items():
            names[base + "Input"] = self.model(tool_name, "Input")
            names[base + "Output"] = self.model(tool_name, "Output")
        for tool_name in self._api_names.values():
            for kind in ("Input", "Output"):
                for name, cls in nested_models(self.model(tool_name, kind)).items():
                    names.setdefault(name, cls)
        for name, function in self._functions.items():
            names.setdefault(name, function)
        return names

    # The import spec of `tools` (a package with nothing of its own but `api`) or `tools.api`, for the finder.
    def module_spec(self, fullname):
        spec_type = type(sys.__spec__)  # importlib.machinery.ModuleSpec, without importing importlib
        return spec_type(fullname, _ApiLoader(self), origin="runbox", is_package=fullname == PACKAGE_MODULE)


class _ApiLoader:
    """Fills the `tools` and `tools.api` modules (the import system makes the module objects)."""

    def __init__(self, models):
        self._models = models

    # Lets the import system make a plain module.
    def create_module(self, spec):
        return None

    # Puts the models (and tool functions) in `tools.api`; `tools` only gets its docstring.
    def exec_module(self, module):
        if module.__name__ == API_MODULE:
            names = self._models.api_namespace()
            module.__dict__.update(names)
            module.__all__ = sorted(names)
            module.__doc__ = "The tools' Input and Output models (and their functions), made by Runbox for this execution."
        else:
            module.__doc__ = "Runbox's tools package: see tools.api."
