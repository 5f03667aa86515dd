"""search_tools and describe_tool: finding tools among many from the code (docs/protocol.md, "Inside the sandbox").

Both work on the tools of the run message, in the sandbox, without a round trip to the daemon. Loaded on the
first call (namespace.load_prelude_module), so code that never searches pays nothing at start-up. The Node
prelude's discovery.cjs follows the same rules, so both runtimes rank alike.
"""

import json
import re

MAX_LINE_CHARS = 120  # a search result's description: the first line, cut to this
MAX_CLOSE_NAMES = 5  # names an unknown name's error suggests

_WORD = re.compile(r"[^\W_]+")


# The tools matching the query's words, best first: a tool matching more of the words ranks higher, then one
# matching more of them in its name, then the declaration order. A tool matching none is left out; an empty
# query lists every tool in order. Words match case-insensitively, as parts of the name or the description.
def search_tools(tools, function_names, query, limit):
    if not isinstance(query, str):
        raise TypeError(f"search_tools: query must be a string, received {type(query).__name__}")
    if limit is not None and (type(limit) is not int or limit < 1):
        raise ValueError(f"search_tools: limit must be a positive integer or None, received {limit!r}")
    words = _WORD.findall(query.lower())
    ranked = []
    for index, tool in enumerate(tools):
        name = _name(tool)
        if name is None:
            continue
        name_lower, description_lower = name.lower(), _description(tool).lower()
        in_name = sum(1 for word in words if word in name_lower)
        matched = sum(1 for word in words if word in name_lower or word in description_lower)
        if words and matched == 0:
            continue
        ranked.append((-matched, -in_name, index, tool, name))
    ranked.sort(key=lambda entry: entry[:3])
    if limit is not None:
        ranked = ranked[:limit]
    return [{"name": name, "function": function_names.get(name), "description": first_line(_description(tool))}
            for *_, tool, name in ranked]


# A tool's full stub: the one the client rendered for this runtime (the declaration's `stub`), else its
# description and JSON Schemas as text. An unknown name raises ValueError naming the closest names.
def describe_tool(tools, function_names, name):
    if not isinstance(name, str):
        raise TypeError(f"describe_tool: name must be a string, received {type(name).__name__}")
    tool = _find(tools, function_names, name)
    if tool is None:
        close = close_names([_name(tool) for tool in tools if _name(tool) is not None], name)
        hint = f"close names: {', '.join(close)}" if close else 'search_tools("...") lists the tools'
        raise ValueError(f"describe_tool: no tool named {json.dumps(name)}; {hint}")
    stub = tool.get("stub")
    return stub if isinstance(stub, str) and stub != "" else plain_stub(tool, function_names.get(_name(tool)))


# The description and schemas of a tool whose client sent no stub (a raw WebSocket client).
def plain_stub(tool, function):
    name = _name(tool)
    call = f"await {function}(...) or " if function else ""
    lines = [f"# {name}: {first_line(_description(tool), 10**6) or '(no description)'}",
             f"# call: {call}await call_tool({json.dumps(name)}, {{...}})"]
    description = _description(tool).strip()
    if "\n" in description:
        lines.append('"""' + description.replace('"""', '\\"\\"\\"') + '"""')
    lines.append("parameters = " + _json(tool.get("parameters") or {}))
    if isinstance(tool.get("outputSchema"), dict):
        lines.append("output_schema = " + _json(tool["outputSchema"]))
    return "\n".join(lines) + "\n"


# The first line of a description, cut to max_chars (ending in …).
def first_line(text, max_chars=MAX_LINE_CHARS):
    line = text.strip().split("\n", 1)[0].strip() if text else ""
    return line if len(line) <= max_chars else line[: max_chars - 1].rstrip() + "…"


# The names closest to a wanted one: those containing it or contained in it first, then by edit distance.
def close_names(names, wanted):
    wanted_lower = wanted.lower()
    scored = []
    for index, name in enumerate(names):
        lower = name.lower()
        distance = edit_distance(lower, wanted_lower)
        contains = wanted_lower != "" and (wanted_lower in lower or lower in wanted_lower)
        if contains or distance <= max(2, len(wanted) // 3):
            scored.append((0 if contains else 1, distance, index, name))
    scored.sort()
    return [entry[3] for entry in scored[:MAX_CLOSE_NAMES]]


# Levenshtein distance: insertions, deletions and substitutions of one character each.
def edit_distance(a, b):
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _find(tools, function_names, name):
    for tool in tools:
        if _name(tool) == name:
            return tool
    for tool in tools:
        if function_names.get(_name(tool)) == name:
            return tool
    return None


# JSON as the Node prelude writes it (no spaces), so both runtimes show a schema alike.
def _json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _name(tool):
    name = tool.get("name") if isinstance(tool, dict) else None
    return name if isinstance(name, str) else None


def _description(tool):
    description = tool.get("description")
    return description if isinstance(description, str) else ""
