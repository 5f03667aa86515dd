// The docs stay true: every configuration option and every wire error code is documented.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { CONFIG_OPTIONS } from '../daemon/config.js';
import { WIRE_ERRORS } from '../daemon/errors.js';

const read = (name: string) => fs.readFile(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

test('docs/configuration.md lists every option with its flag and environment variable', async () => {
  const doc = await read('configuration.md');
  for (const option of CONFIG_OPTIONS) {
    assert.ok(doc.includes(`\`${option.name}\``), `${option.name} is not documented`);
    if (option.flag) assert.ok(doc.includes(`\`--${option.flag}\``), `--${option.flag} is not documented`);
    if (option.env) assert.ok(doc.includes(`\`${option.env}\``), `${option.env} is not documented`);
  }
});

test('docs/errors.md lists every wire error code with its HTTP status', async () => {
  const doc = await read('errors.md');
  for (const [code, { httpStatus }] of Object.entries(WIRE_ERRORS)) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
    assert.ok(row, `${code} is not documented`);
    if (!['unknown_tool', 'no_client', 'tool_error'].includes(code)) assert.ok(row.includes(`| ${httpStatus} |`), `${code}: HTTP ${httpStatus} not in "${row}"`);
  }
});
