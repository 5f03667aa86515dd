// The docs stay true: every configuration option, every wire error code and every code the sandboxed code sees
// is documented, in its own table, and nothing is documented that the registries do not have.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { CONFIG_OPTIONS } from '../daemon/config.js';
import { CODE_ERRORS, WIRE_ERRORS } from '../daemon/errors.js';

const read = (name: string) => fs.readFile(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

test('docs/configuration.md lists every option with its flag and environment variable', async () => {
  const doc = await read('configuration.md');
  for (const option of CONFIG_OPTIONS) {
    assert.ok(doc.includes(`\`${option.name}\``), `${option.name} is not documented`);
    if (option.flag) assert.ok(doc.includes(`\`--${option.flag}\``), `--${option.flag} is not documented`);
    if (option.env) assert.ok(doc.includes(`\`${option.env}\``), `${option.env} is not documented`);
  }
});

// The rows of the table under a `## ` heading of a document, as their cells (the header row left out).
function tableUnder(doc: string, heading: string): string[][] {
  const start = doc.indexOf(`\n## ${heading}\n`);
  assert.notEqual(start, -1, `no "## ${heading}" section`);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end === -1 ? undefined : end);
  const rows = section.split('\n').filter((line) => line.startsWith('| '));
  return rows.slice(1).filter((row) => !row.startsWith('|---')).map((row) => row.split(' | ').map((cell) => cell.replace(/^\| |\s*\|$/g, '').trim()));
}

// The codes of a table's first column (`code`).
function codesOf(rows: string[][]): string[] {
  return rows.map((cells) => cells[0].replace(/^`|`$/g, ''));
}

test('docs/errors.md lists every wire error code with its HTTP status, and no other', async () => {
  const rows = tableUnder(await read('errors.md'), 'Errors clients get');
  assert.deepEqual(codesOf(rows).sort(), Object.keys(WIRE_ERRORS).sort());
  for (const cells of rows) {
    const code = codesOf([cells])[0] as keyof typeof WIRE_ERRORS;
    assert.equal(cells[1], String(WIRE_ERRORS[code].httpStatus), `${code}: HTTP ${WIRE_ERRORS[code].httpStatus} not in its row`);
  }
});

test('docs/errors.md lists every code the sandboxed code sees, and no other', async () => {
  const rows = tableUnder(await read('errors.md'), 'Errors the code sees');
  assert.deepEqual(codesOf(rows).sort(), Object.keys(CODE_ERRORS).sort());
  for (const cells of rows) assert.match(cells[1], /ToolError|InstallError/, `${cells[0]}: says what the code raises`);
});
