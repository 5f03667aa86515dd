'use strict';
// searchTools and describeTool: finding tools among many from the code (docs/protocol.md, "Inside the sandbox").
// Both work on the tools of the run message, in the sandbox, without a round trip to the daemon. Loaded on the
// first call, so code that never searches pays nothing at start-up. The Python prelude's discovery.py follows
// the same rules, so both runtimes rank alike.

const MAX_LINE_CHARS = 120; // a search result's description: the first line, cut to this
const MAX_CLOSE_NAMES = 5; // names an unknown name's error suggests
const WORD = /[\p{L}\p{N}]+/gu;

// The tools matching the query's words, best first: a tool matching more of the words ranks higher, then one
// matching more of them in its name, then the declaration order. A tool matching none is left out; an empty
// query lists every tool in order. Words match case-insensitively, as parts of the name or the description.
function searchTools(tools, functionNames, query, options) {
  if (typeof query !== 'string') throw new TypeError(`searchTools: query must be a string, received ${typeof query}`);
  const limit = options?.limit === undefined ? 10 : options.limit;
  if (limit !== null && limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) {
    throw new TypeError(`searchTools: options.limit must be a positive integer or null, received ${String(limit)}`);
  }
  const words = query.toLowerCase().match(WORD) ?? [];
  const ranked = [];
  tools.forEach((tool, index) => {
    const name = nameOf(tool);
    if (name === null) return;
    const nameLower = name.toLowerCase();
    const descriptionLower = descriptionOf(tool).toLowerCase();
    const inName = words.filter((word) => nameLower.includes(word)).length;
    const matched = words.filter((word) => nameLower.includes(word) || descriptionLower.includes(word)).length;
    if (words.length > 0 && matched === 0) return;
    ranked.push({ matched, inName, index, tool, name });
  });
  ranked.sort((a, b) => b.matched - a.matched || b.inName - a.inName || a.index - b.index);
  const kept = limit === null || limit === Infinity ? ranked : ranked.slice(0, limit);
  return kept.map(({ tool, name }) => ({ name, function: functionNames.get(name) ?? null, description: firstLine(descriptionOf(tool)) }));
}

// A tool's full stub: the one the client rendered for this runtime (the declaration's `stub`), else its
// description and JSON Schemas as text. An unknown name throws an Error naming the closest names.
function describeTool(tools, functionNames, name) {
  if (typeof name !== 'string') throw new TypeError(`describeTool: name must be a string, received ${typeof name}`);
  const tool = tools.find((candidate) => nameOf(candidate) === name) ?? tools.find((candidate) => functionNames.get(nameOf(candidate)) === name);
  if (tool === undefined) {
    const close = closeNames(tools.map(nameOf).filter((candidate) => candidate !== null), name);
    const hint = close.length > 0 ? `close names: ${close.join(', ')}` : 'searchTools("...") lists the tools';
    throw new Error(`describeTool: no tool named ${JSON.stringify(name)}; ${hint}`);
  }
  return typeof tool.stub === 'string' && tool.stub !== '' ? tool.stub : plainStub(tool, functionNames.get(nameOf(tool)) ?? null);
}

// The description and schemas of a tool whose client sent no stub (a raw WebSocket client).
function plainStub(tool, functionName) {
  const name = nameOf(tool);
  const call = functionName === null ? '' : `await ${functionName}({...}) or `;
  const lines = [`// ${name}: ${firstLine(descriptionOf(tool), Infinity) || '(no description)'}`, `// call: ${call}await callTool(${JSON.stringify(name)}, {...})`];
  const description = descriptionOf(tool).trim();
  if (description.includes('\n')) lines.push(`/*\n${description.replace(/\*\//g, '*\\/')}\n*/`);
  lines.push(`const parameters = ${JSON.stringify(tool.parameters ?? {})};`);
  if (typeof tool.outputSchema === 'object' && tool.outputSchema !== null) lines.push(`const outputSchema = ${JSON.stringify(tool.outputSchema)};`);
  return `${lines.join('\n')}\n`;
}

// The first line of a description, cut to maxChars (ending in …).
function firstLine(text, maxChars = MAX_LINE_CHARS) {
  const line = text.trim().split('\n', 1)[0].trim();
  return line.length <= maxChars ? line : `${line.slice(0, maxChars - 1).trimEnd()}…`;
}

// The names closest to a wanted one: those containing it or contained in it first, then by edit distance.
function closeNames(names, wanted) {
  const wantedLower = wanted.toLowerCase();
  const scored = [];
  names.forEach((name, index) => {
    const lower = name.toLowerCase();
    const distance = editDistance(lower, wantedLower);
    const contains = wantedLower !== '' && (lower.includes(wantedLower) || wantedLower.includes(lower));
    if (contains || distance <= Math.max(2, Math.floor(wanted.length / 3))) scored.push({ rank: contains ? 0 : 1, distance, index, name });
  });
  scored.sort((a, b) => a.rank - b.rank || a.distance - b.distance || a.index - b.index);
  return scored.slice(0, MAX_CLOSE_NAMES).map((entry) => entry.name);
}

// Levenshtein distance: insertions, deletions and substitutions of one character each.
function editDistance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current.push(Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = current;
  }
  return previous[b.length];
}

function nameOf(tool) {
  return typeof tool?.name === 'string' ? tool.name : null;
}

function descriptionOf(tool) {
  return typeof tool?.description === 'string' ? tool.description : '';
}

module.exports = { searchTools, describeTool, closeNames, firstLine };
