"""JSON in and out of the prelude, and the conversions that make any Python value a JSON value.

Uses the C scanner and encoder behind the json module directly: importing json pulls in `re`, which costs
as much as a third of a bare interpreter start. numpy, pandas, datetime and the like are recognised through
`sys.modules` and type module names, never imported, so code that does not use them never pays for them.
"""

import os
import sys

import _json
import binascii

from .protocol import MAX_JSON_DEPTH as MAX_DEPTH, decode_json  # noqa: F401 - decode_json is this module's too


class ResultError(Exception):
    """A value could not be converted to JSON (a reference cycle, or nesting too deep)."""

    __module__ = "__main__"  # shown as plain `ResultError` in tracebacks


# Encodes any value as compact JSON, converting what JSON has no type for (to_jsonable); raises ResultError.
def encode_json(value):
    try:
        text = _encode_plain(value)
        if not _nests_too_deep(text):
            return text
    except (ValueError, TypeError, RecursionError, OverflowError):
        pass  # NaN or infinity, a key that is not a string, a cycle or deep nesting: take the careful path
    try:
        return _encode_plain(_normalize(value, 0, set()))
    except ResultError:
        raise
    except Exception as exc:  # MemoryError and the like: still a clear error, never a crash of the prelude
        raise ResultError(f"the value cannot be converted to JSON: {safe_str(exc)}") from None


# Encodes with the C encoder (a fresh one: a failed run leaves its cycle markers behind).
def _encode_plain(value):
    encoder = _json.make_encoder({}, to_jsonable, _json.encode_basestring, None, ":", ",", False, False, False)
    return "".join(encoder(value, 0))


# True when a JSON text nests deeper than MAX_DEPTH. The C encoder stops only at the interpreter's recursion
# limit; counting brackets (in C) settles almost every text at once, and only a text with more brackets than
# MAX_DEPTH is parsed again and walked, without recursion.
def _nests_too_deep(text):
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    stack = [(decode_json(text), 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


# Rebuilds a value from plain JSON types only: NaN becomes null, keys become strings, cycles are refused.
def _normalize(value, depth, active):
    if depth > MAX_DEPTH:
        raise ResultError(f"the value nests deeper than {MAX_DEPTH} levels")
    if value is None or value is True or value is False or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if value - value == 0.0 else None  # NaN and infinities have no JSON number
    if not isinstance(value, (dict, list, tuple)):
        return _normalize(to_jsonable(value), depth + 1, active)
    if id(value) in active:
        raise ResultError("the value contains a reference cycle")
    active.add(id(value))
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            plain[_normalize_key(key, depth, active)] = _normalize(item, depth + 1, active)
    else:
        plain = [_normalize(item, depth + 1, active) for item in value]
    active.discard(id(value))
    return plain


# Turns a dict key into a string: scalars as JSON writes them (1, true, null), dates as ISO, others by str().
def _normalize_key(key, depth, active):
    plain = key if isinstance(key, str) else _normalize(key, depth + 1, active)
    if isinstance(plain, str):
        return plain
    if plain is None or isinstance(plain, (bool, int, float)):
        return _encode_plain(plain)
    return safe_str(key)


# Replaces one value JSON has no type for by the closest JSON-friendly value; never fails (repr comes last).
def to_jsonable(value):
    try:
        return _convert(value)
    except Exception:
        return safe_repr(value)


# The conversion rules of docs/protocol.md, in order; may raise (to_jsonable then falls back to repr).
def _convert(value):
    if isinstance(value, type):
        return safe_repr(value)
    cls = type(value)
    module = getattr(cls, "__module__", None) or ""
    package = module.partition(".")[0]
    if package == "pandas":
        converted = _convert_pandas(value)
        if converted is not value:
            return converted
    elif package == "numpy":
        if getattr(getattr(value, "dtype", None), "kind", None) == "M":
            return value.astype(str).tolist()  # datetime64: ISO text (tolist gives integers at ns precision)
        if hasattr(value, "tolist"):
            return value.tolist()  # scalars (like .item()) and arrays
    datetime = sys.modules.get("datetime")
    if datetime is not None:
        if isinstance(value, (datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, datetime.timedelta):
            return value.total_seconds()
    if isinstance(value, (set, frozenset)):
        return _sorted_if_possible(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return binascii.b2a_base64(data, newline=False).decode("ascii")
    if module in ("decimal", "fractions"):
        return float(value)
    if hasattr(cls, "__dataclass_fields__"):
        return {field.name: getattr(value, field.name) for field in sys.modules["dataclasses"].fields(value)}
    enum = sys.modules.get("enum")
    if enum is not None and isinstance(value, enum.Enum):
        return value.value
    if hasattr(value, "__fspath__"):
        return os.fsdecode(os.fspath(value))
    for method in ("to_dict", "model_dump", "tolist"):
        convert = getattr(value, method, None)
        if callable(convert):
            try:
                return convert()
            except Exception:
                pass
    from collections import abc  # only unusual values get this far

    if isinstance(value, abc.Mapping):
        return dict(value)
    if isinstance(value, abc.Set):
        return _sorted_if_possible(value)
    if isinstance(value, (abc.Sequence, abc.MappingView)):
        return list(value)
    return safe_repr(value)


# pandas: a DataFrame becomes records and a Series a list, unless the index carries labels (is anything but the
# default one, unnamed 0..n-1): then the frame's records lead with the index as fields (named as reset_index
# names them) and the Series is an object keyed by label. NaT and NA become null. Anything else (Timestamp,
# Timedelta, Index...) is returned as is, for the generic rules.
def _convert_pandas(value):
    pandas = sys.modules["pandas"]
    if value is pandas.NaT or value is pandas.NA:
        return None
    if isinstance(value, pandas.DataFrame):
        if not _is_positional(value.index, pandas):
            value = value.reset_index(names=_index_field_names(value))
        return value.to_dict(orient="records")
    if isinstance(value, pandas.Series):
        if _is_positional(value.index, pandas):
            return value.tolist()
        return value.to_dict()
    return value


# True for the index pandas gives by default, which says nothing a list's positions do not: one unnamed level
# holding 0..n-1 in order (a RangeIndex, or integers equal to one, as after concat).
def _is_positional(index, pandas):
    return index.nlevels == 1 and index.name is None and index.equals(pandas.RangeIndex(len(index)))


# The fields a frame's index levels become: each level's name, or, unnamed, "index" (one level) or "level_<i>"
# (several), as reset_index names them; a name a column (or an earlier level) already has gets a leading "_"
# until it is unique, so that no field of the records hides another.
def _index_field_names(frame):
    taken = {safe_str(column) for column in frame.columns}
    unnamed = ["index"] if frame.index.nlevels == 1 else [f"level_{i}" for i in range(frame.index.nlevels)]
    fields = []
    for name, default in zip(frame.index.names, unnamed):
        field = default if name is None else name
        while safe_str(field) in taken:
            field = f"_{safe_str(field)}"
        taken.add(safe_str(field))
        fields.append(field)
    return fields


# A set as a list, sorted when its items can be compared.
def _sorted_if_possible(items):
    try:
        return sorted(items)
    except TypeError:
        return list(items)


# repr() that cannot fail.
def safe_repr(value):
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"


# str() that cannot fail.
def safe_str(value):
    try:
        return str(value)
    except Exception:
        return safe_repr(value)
