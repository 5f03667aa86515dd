"""The `<Name>Input` and `<Name>Output` models of the tools, built from their JSON Schemas when first needed.

Both are dicts (values.AttrDict) with declared fields: a declared field that is absent reads as None, other
keys read as attributes as on any result. An Input model's constructor checks its arguments against the
tool's `parameters` (positional order = `properties` order, required fields, no undeclared field unless
`additionalProperties` allows them); an Output model never refuses a value (the tool's answer is what it is),
and wraps nested objects the `outputSchema` describes (properties, array items, local `$ref`s, `anyOf` with
null) in models of their own. Loaded lazily, like values.py; no pydantic.
"""

from .values import AttrDict, describe_keys

MAX_REF_HOPS = 32  # a $ref chain longer than this (or a loop of $refs) is taken as an untyped value
MAX_MODEL_DEPTH = 48  # objects nested deeper keep attribute access but get no model (the recursion stays short)


class Model(AttrDict):
    """A dict with declared fields; the base of every Input and Output model."""

    __slots__ = ()
    _runbox_tool = None  # the tool's name
    _runbox_fields = ()  # declared fields, in `properties` order
    _runbox_schema = None  # the object schema the fields come from
    _runbox_root = None  # the schema its `$ref`s resolve against

    # A declared field that was not given (or not returned) reads as None; other names raise as on any dict.
    def _absent(self, name):
        if name in type(self)._runbox_fields:
            return None
        fields = ", ".join(type(self)._runbox_fields) or "none"
        raise AttributeError(
            f"'{type(self).__name__}' object has no field or key {name!r}; its fields: {fields}; {describe_keys(self)}",
            name=name, obj=self,
        )

    # `GetUserInput(user_id='usr_123')`: the fields as keyword arguments, as a dataclass shows them.
    def __repr__(self):
        named = [f"{key}={value!r}" for key, value in self.items() if type(key) is str and key.isidentifier()]
        other = {key: value for key, value in self.items() if not (type(key) is str and key.isidentifier())}
        if other:
            named.append(f"**{other!r}")
        return f"{type(self).__name__}({', '.join(named)})"


class InputModel(Model):
    """The arguments of one tool call: `await get_user(GetUserInput(user_id='usr_123'))`."""

    __slots__ = ()
    _runbox_required = ()
    _runbox_open = False  # undeclared fields allowed (`additionalProperties` true or a schema)

    # Binds positional arguments to the fields in order, then keywords; refuses what the schema does not allow.
    def __init__(*args, **kwargs):  # self is taken from args, so a field may be called `self`
        self, args = args[0], args[1:]
        cls = type(self)
        fields = cls._runbox_fields
        if len(args) > len(fields):
            raise TypeError(f"{cls.__name__}() takes {len(fields)} positional argument{'' if len(fields) == 1 else 's'} "
                            f"({', '.join(fields) or 'none'}) but {len(args)} {'was' if len(args) == 1 else 'were'} given")
        bound = dict(zip(fields, args))
        for key, value in kwargs.items():
            if key in bound:
                raise TypeError(f"{cls.__name__}() got multiple values for field {key!r}")
            if not cls._runbox_open and key not in fields:
                raise TypeError(f"{cls.__name__}() got an unexpected field {key!r}; its fields: {', '.join(fields) or 'none'}")
            bound[key] = value
        missing = [field for field in cls._runbox_required if field not in bound]
        if missing:
            names = " and ".join(", ".join(repr(f) for f in missing).rsplit(", ", 1))
            raise TypeError(f"{cls.__name__}() missing {len(missing)} required field{'' if len(missing) == 1 else 's'}: {names}")
        dict.__init__(self, bound)

    # Setting a field as an attribute is checked like the constructor's keywords.
    def __setattr__(self, name, value):
        cls = type(self)
        if not cls._runbox_open and name not in cls._runbox_fields and not hasattr(cls, name):
            raise AttributeError(f"{cls.__name__} has no field {name!r}; its fields: {', '.join(cls._runbox_fields) or 'none'}",
                                 name=name, obj=self)
        AttrDict.__setattr__(self, name, value)


class OutputModel(Model):
    """A tool's result, as its `outputSchema` describes it: `user.email`, `user.to_dict()`."""

    __slots__ = ()

    # Takes a mapping and/or keywords like dict(); nested values get attribute access and their own models.
    def __init__(*args, **kwargs):  # self is taken from args, so a field may be called `self`
        self, args = args[0], args[1:]
        dict.__init__(self, *args, **kwargs)
        wrap_fields(self)


# Builds the Input model of a tool from its `parameters` schema.
def input_model(class_name, tool_name, schema):
    schema = schema if isinstance(schema, dict) else {}
    fields = _field_names(schema)
    required = schema.get("required")
    extra = schema.get("additionalProperties")
    namespace = {
        "__slots__": (), "__module__": "tools.api", "_runbox_tool": tool_name, "_runbox_input_of": tool_name,
        "_runbox_fields": fields, "_runbox_schema": schema, "_runbox_root": schema,
        "_runbox_required": tuple(f for f in fields if isinstance(required, list) and f in required),
        "_runbox_open": extra is True or isinstance(extra, dict),
        "__doc__": f"The arguments of the tool {tool_name!r}: {', '.join(fields) or 'none'}.",
    }
    return type(class_name, (InputModel,), namespace)


# Builds the Output model of a tool from its `outputSchema` (None: a model that accepts any fields).
def output_model(class_name, tool_name, schema, root=None):
    schema = schema if isinstance(schema, dict) else {}
    namespace = {
        "__slots__": (), "__module__": "tools.api", "_runbox_tool": tool_name, "_runbox_fields": _field_names(schema),
        "_runbox_schema": schema, "_runbox_root": schema if root is None else root, "_runbox_nested": {},
        "__doc__": f"The result of the tool {tool_name!r}.",
    }
    return type(class_name, (OutputModel,), namespace)


# Wraps a tool's result (already with attribute access) as its outputSchema says: a dict in the Output model,
# nested objects in theirs. A value of another shape than the schema's is returned as it is.
def wrap_output(output_class, value, depth=0):
    if isinstance(value, dict):
        wrapped = dict.__new__(output_class)
        dict.update(wrapped, value)
        return wrap_fields(wrapped, depth)
    return _wrap(value, output_class._runbox_schema, output_class, output_class.__name__, depth)


# Wraps the values of a model's declared fields that are objects (or arrays of objects) in their schema.
def wrap_fields(model, depth=0):
    cls = type(model)
    properties = cls._runbox_schema.get("properties")
    if not isinstance(properties, dict):
        return model
    for field in cls._runbox_fields:
        if field in model and isinstance(model[field], (dict, list)):
            nested = _wrap(model[field], properties[field], cls, cls.__name__ + pascal_name(field), depth + 1)
            dict.__setitem__(model, field, nested)
    return model


# Wraps one value by its schema; model classes for nested objects are built once per schema and owner class.
def _wrap(value, schema, owner, class_name, depth):
    schema = _resolve(schema, owner._runbox_root)
    if schema is None or depth > MAX_MODEL_DEPTH:
        return value
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        cache = owner._runbox_nested
        nested = cache.get(id(schema))
        if nested is None:
            nested = cache[id(schema)] = output_model(class_name, owner._runbox_tool, schema, owner._runbox_root)
            nested._runbox_nested = cache  # one cache per tool: a recursive schema reuses its classes
        return wrap_output(nested, value, depth)
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        for index, item in enumerate(value):
            if isinstance(item, (dict, list)):
                value[index] = _wrap(item, items, owner, class_name + "Item", depth + 1)
    return value


# Follows local `$ref`s ("#/$defs/User") and picks the one non-null branch of an `anyOf`/`oneOf`; None if unusable.
def _resolve(schema, root):
    for _ in range(MAX_REF_HOPS):
        if not isinstance(schema, dict):
            return None
        ref = schema.get("$ref")
        if isinstance(ref, str):
            schema = _follow_ref(ref, root)
            continue
        branches = schema.get("anyOf", schema.get("oneOf"))
        if isinstance(branches, list) and "properties" not in schema and "items" not in schema:
            usable = [b for b in branches if isinstance(b, dict) and b.get("type") != "null"]
            if len(usable) != 1:
                return None
            schema = usable[0]
            continue
        return schema
    return None


# The schema a local JSON pointer names inside the root schema, or None.
def _follow_ref(ref, root):
    if not ref.startswith("#"):
        return None
    target = root
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            return None
        target = target[part]
    return target


# The declared property names of an object schema, in order.
def _field_names(schema):
    properties = schema.get("properties")
    return tuple(name for name in properties if isinstance(name, str)) if isinstance(properties, dict) else ()


# PascalCase of a tool or field name: get_user, getUser, search.docs, list-items → GetUser, GetUser, SearchDocs, ListItems.
def pascal_name(name):
    parts = name.replace(".", "_").replace("-", "_").split("_")
    return "".join(part[:1].upper() + part[1:] for part in parts)

