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
    return _root_model(InputModel, class_name, tool_name, schema)


# Builds the Output model of a tool from its `outputSchema` (None: a model that accepts any fields).
def output_model(class_name, tool_name, schema):
    return _root_model(OutputModel, class_name, tool_name, schema)


# A tool's Input or Output model. A root schema that is a `$ref` (`{"$ref": "#/$defs/User", "$defs": ...}`) has the
# fields of its target; the root's `$ref`s ("#" included) lead back to this class.
def _root_model(base, class_name, tool_name, schema):
    root = schema if isinstance(schema, dict) else {}
    target = _resolve(root, root)[0] or root
    cls = _model_class(base, class_name, tool_name, target, root, {}, class_name)
    if base is InputModel:
        cls._runbox_input_of = tool_name  # the one class a tool function takes as its arguments object
    cls._runbox_nested[id(root)] = cls._runbox_nested[id(target)] = cls
    return cls


# One model class: an object schema's fields, the tool's root schema (for `$ref`s), the tool's cache of nested
# classes by schema (one per kind of root), and the root model's name (nested names start with it).
def _model_class(base, class_name, tool_name, schema, root, nested, root_name):
    fields = _field_names(schema)
    namespace = {
        "__slots__": (), "__module__": "tools.api", "_runbox_tool": tool_name, "_runbox_fields": fields,
        "_runbox_schema": schema, "_runbox_root": root, "_runbox_nested": nested, "_runbox_root_name": root_name,
    }
    if base is InputModel:
        required = schema.get("required")
        extra = schema.get("additionalProperties")
        namespace["_runbox_required"] = tuple(f for f in fields if isinstance(required, list) and f in required)
        namespace["_runbox_open"] = extra is True or isinstance(extra, dict)
        namespace["__doc__"] = f"Arguments of the tool {tool_name!r}: {', '.join(fields) or 'none'}."
    else:
        namespace["__doc__"] = f"The result of the tool {tool_name!r}."
    return type(class_name, (base,), namespace)


# The class of a nested object schema, made once per schema and root model, under `name` (see _nested_name).
def _nested_class(owner, schema, name):
    cache = owner._runbox_nested
    cls = cache.get(id(schema))
    if cls is None:
        base = InputModel if issubclass(owner, InputModel) else OutputModel
        cls = cache[id(schema)] = _model_class(base, name, owner._runbox_tool, schema, owner._runbox_root, cache, owner._runbox_root_name)
    return cls


# The name of a nested model, as the SDK's stubs name it: after its `$ref` (the root model's name and the ref's
# last segment: GetUserOutput + Address), else after its path from the root (GetUserOutputOrdersItem).
def _nested_name(owner, ref, path_name):
    if ref is None:
        return path_name
    return owner._runbox_root_name + pascal_name(ref.rsplit("/", 1)[-1])


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


# Wraps one value by its schema, in the nested model of the schema.
def _wrap(value, schema, owner, path_name, depth):
    schema, ref = _resolve(schema, owner._runbox_root)
    if schema is None or depth > MAX_MODEL_DEPTH:
        return value
    name = _nested_name(owner, ref, path_name)
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        return wrap_output(_nested_class(owner, schema, name), value, depth)
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        for index, item in enumerate(value):
            if isinstance(item, (dict, list)):
                value[index] = _wrap(item, items, owner, name + "Item", depth + 1)
    return value


# Every nested model a root model's schema reaches (properties, array items, local `$ref`s, an anyOf with null),
# by name, the same classes wrapping a result makes: what `tools.api` holds beside the Input and Output models,
# so that a name the stubs show can be imported. The first of two schemas with one name keeps it.
def nested_models(root_class):
    found = {}
    seen = set()

    def visit(schema, path_name, depth):
        schema, ref = _resolve(schema, root_class._runbox_root)
        if schema is None or depth > MAX_MODEL_DEPTH or id(schema) in seen:
            return
        seen.add(id(schema))
        name = _nested_name(root_class, ref, path_name)
        properties = schema.get("properties")
        if isinstance(properties, dict):
            cls = _nested_class(root_class, schema, name)
            found.setdefault(cls.__name__, cls)
            for field in cls._runbox_fields:
                visit(properties[field], cls.__name__ + pascal_name(field), depth + 1)
        items = schema.get("items")
        if isinstance(items, dict):
            visit(items, name + "Item", depth + 1)

    seen.add(id(root_class._runbox_schema))
    properties = root_class._runbox_schema.get("properties")
    for field in root_class._runbox_fields:
        visit(properties[field], root_class.__name__ + pascal_name(field), 1)
    items = root_class._runbox_schema.get("items")
    if isinstance(items, dict):
        visit(items, root_class.__name__ + "Item", 1)
    return found


# Follows local `$ref`s ("#/$defs/User") and picks the one non-null branch of an `anyOf`/`oneOf`: the schema and
# the last `$ref` followed (None: none was); (None, None) if unusable.
def _resolve(schema, root):
    last_ref = None
    for _ in range(MAX_REF_HOPS):
        if not isinstance(schema, dict):
            return None, None
        ref = schema.get("$ref")
        if isinstance(ref, str):
            schema = _follow_ref(ref, root)
            last_ref = ref
            continue
        branches = schema.get("anyOf", schema.get("oneOf"))
        if isinstance(branches, list) and "properties" not in schema and "items" not in schema:
            usable = [b for b in branches if isinstance(b, dict) and b.get("type") != "null"]
            if len(usable) != 1:
                return None, None
            schema = usable[0]
            continue
        return schema, last_ref
    return None, None


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


# PascalCase of a tool, field or $ref name, as the SDK's stubs make it (sdk/stubs/names.ts): words are the runs of
# ASCII letters and digits, each capitalized; get_user, getUser, search.docs, list-items → GetUser, GetUser,
# SearchDocs, ListItems; "" → Model, 2fa → M2fa.
def pascal_name(name):
    words, word = [], ""
    for char in name:
        if char.isascii() and char.isalnum():
            word += char
        elif word:
            words.append(word)
            word = ""
    words.append(word)
    joined = "".join(w[:1].upper() + w[1:] for w in words if w)
    if not joined:
        return "Model"
    return "M" + joined if joined[0].isdigit() else joined

