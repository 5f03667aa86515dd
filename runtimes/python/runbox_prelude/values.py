"""Tool results as the code sees them: dicts that also allow attribute access (`lead.company_id`), nested ones too.

Loaded on the first tool result that is an object or an array, never at start-up (namespace.load_prelude_module).
A result is still the dict or list it was decoded as: `isinstance(r, dict)`, `==`, subscripting, `.get`,
`json.dumps` and the prelude's own encoder see a dict (the C encoder takes dict subclasses as dicts, so
passing a result back to a tool or to set_result costs nothing more). Attribute access is only a second way
to read a key: where a key and a dict method share a name (`items`, `keys`, `get`, `copy`, `to_dict`...), the
method wins and the key stays reachable by subscript, as do keys that are not identifiers and `__dunder__`
keys (protocols such as `__fspath__` or `__array__` are probed by attribute and must never find a key).
"""


class AttrDict(dict):
    """A dict whose string keys read as attributes too; `to_dict()` gives plain dicts and lists back."""

    __slots__ = ()

    # Reached only when no method or class attribute has that name: the key, else a clear AttributeError.
    def __getattr__(self, name):
        if _is_dunder(name):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute {name!r}", name=name, obj=self)
        try:
            return self[name]
        except KeyError:
            pass  # raised outside the handler, so the error does not chain to a KeyError
        return self._absent(name)

    # `r.value = 3` sets the key; a name that is a dict method or a dunder stays an attribute (and cannot be set).
    def __setattr__(self, name, value):
        self._check_settable(name)
        self[name] = value

    # `del r.value` removes the key.
    def __delattr__(self, name):
        self._check_settable(name)
        if name not in self:
            self._absent(name)
        del self[name]

    # dir() shows the keys that read as attributes, beside the dict's methods.
    def __dir__(self):
        keys = {key for key in self if type(key) is str and key.isidentifier() and not _is_dunder(key)}
        return sorted(set(dir(type(self))) | keys)

    # A deep copy as plain dicts and lists (what json.loads would give), for code that wants no wrapper.
    def to_dict(self):
        return plain(self)

    # copy() keeps the type (dict.copy would give a plain dict, without attribute access).
    def copy(self):
        return self.__copy__()

    def __copy__(self):
        new = dict.__new__(type(self))
        dict.update(new, self)
        return new

    # copy.deepcopy keeps the types too, nested ones included.
    def __deepcopy__(self, memo):
        import copy

        new = dict.__new__(type(self))
        memo[id(self)] = new
        for key, item in self.items():
            dict.__setitem__(new, copy.deepcopy(key, memo), copy.deepcopy(item, memo))
        return new

    # Pickles as a plain dict: the class lives only inside the prelude, a pickle must load anywhere.
    def __reduce__(self):
        return dict, (dict(self),)

    # `await result` gives the result itself, so code written for async executors works on sync call_tool too.
    def __await__(self):
        return self
        yield  # noqa: unreachable - makes this a generator that finishes at once

    # What a missing key reads as: an AttributeError naming the key and some of the keys there are.
    def _absent(self, name):
        raise AttributeError(f"'{type(self).__name__}' object has no attribute or key {name!r}; {describe_keys(self)}",
                             name=name, obj=self)

    # Refuses to set or delete a name that is a method or attribute of the class, or a dunder.
    def _check_settable(self, name):
        if _is_dunder(name) or hasattr(type(self), name):
            raise AttributeError(
                f"'{type(self).__name__}' object attribute {name!r} is a dict method or attribute, not a key; "
                f"use [{name!r}] to set or delete the key",
                name=name, obj=self,
            )


AttrDict.__name__ = AttrDict.__qualname__ = "dict"  # tracebacks and type(r).__name__ say dict, as for any dict
AttrDict.__module__ = "runbox"


# "its keys: 'a', 'b', ... (12 more)": a few of a dict's keys, for error messages.
def describe_keys(mapping, limit=8):
    keys = list(mapping)
    if not keys:
        return "it has no keys"
    shown = ", ".join(repr(key) for key in keys[:limit])
    return f"its keys: {shown}" + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


# Gives decoded JSON attribute access, in place: every dict becomes an AttrDict, lists stay lists.
def with_attributes(value):
    kind = type(value)
    if kind is list:
        for index, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                value[index] = with_attributes(item)
        return value
    if kind is dict:
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                value[key] = with_attributes(item)  # replaces a value: the dict's size does not change
        return AttrDict(value)
    return value


# A deep copy made of plain dicts and lists, and plain str, int and float (the awaitable twins undone).
def plain(value):
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    for base in (str, float, int):
        if isinstance(value, base) and kind is not bool:
            return base(value)
    return value


# True for `__name__`-shaped names.
def _is_dunder(name):
    return name[:2] == "__" and name[-2:] == "__" and len(name) > 4
