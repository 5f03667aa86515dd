// The daemon's layers point down: a module imports its own layer or lower ones, never one above. The order is
// written once, here; docs/architecture.md explains it. The SDK sees only the wire layer of the daemon.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** Lowest first. An entry is a folder (every module under it) or one file, relative to the repository. */
const DAEMON_LAYERS: readonly (readonly string[])[] = [
  ['daemon/wire-types.ts', 'daemon/protocol.ts', 'daemon/errors.ts', 'daemon/tool-schemas.ts'],
  ['daemon/config.ts', 'daemon/descriptors.ts', 'daemon/secrets.ts'],
  ['daemon/files'],
  ['daemon/sandbox'],
  ['daemon/bridge'],
  ['daemon/packages'],
  ['daemon/sessions'],
  ['daemon/executions'],
  ['daemon/api'],
  ['daemon/mcp'],
  ['daemon/startup.ts', 'daemon/server.ts', 'daemon/main.ts'],
];
/** What the SDK may import from the daemon: the wire layer only (it ships without the daemon's code). */
const SDK_MAY_IMPORT = DAEMON_LAYERS[0];
/** The daemon modules that may import the SDK: the MCP layer serves Runbox's MCP server (sdk/mcp/server.ts) over
 * HTTP and stdio. It sits above every layer, so the SDK (which sees only the wire layer) cannot close a cycle
 * through it. */
const MAY_IMPORT_SDK = ['daemon/mcp'];

// Every .ts module under a folder, relative to the repository.
function modulesUnder(folder: string): string[] {
  return fs
    .readdirSync(path.join(root, folder), { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => path.join(folder, file));
}

// The repository-relative modules one module imports (static, dynamic and re-exports), local ones only.
function importsOf(module: string): string[] {
  const source = fs.readFileSync(path.join(root, module), 'utf8');
  const specifiers = [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)'(\.{1,2}\/[^']+)'/g)].map((match) => match[1]);
  return specifiers.map((specifier) => path.normalize(path.join(path.dirname(module), specifier)).replace(/\.js$/, '.ts'));
}

// The index of the layer a module is in, or -1.
function layerOf(module: string): number {
  return DAEMON_LAYERS.findIndex((layer) => layer.some((entry) => module === entry || module.startsWith(`${entry}/`)));
}

test('every daemon module is in a layer', () => {
  const unplaced = modulesUnder('daemon').filter((module) => layerOf(module) === -1);
  assert.deepEqual(unplaced, [], `add these to DAEMON_LAYERS in test/layers.test.ts: ${unplaced.join(', ')}`);
});

test('daemon modules import only their own layer or lower ones', () => {
  const upward: string[] = [];
  for (const module of modulesUnder('daemon')) {
    for (const imported of importsOf(module)) {
      if (imported.endsWith('.json')) continue;
      if (imported.startsWith('sdk/')) {
        assert.ok(MAY_IMPORT_SDK.some((entry) => module.startsWith(`${entry}/`)), `${module} imports the SDK (${imported})`);
        continue;
      }
      if (layerOf(imported) > layerOf(module)) upward.push(`${module} → ${imported}`);
    }
  }
  assert.deepEqual(upward, [], `imports that point up a layer:\n  ${upward.join('\n  ')}`);
});

test('the SDK imports nothing of the daemon but its wire layer', () => {
  const reaching: string[] = [];
  for (const module of modulesUnder('sdk')) {
    for (const imported of importsOf(module)) {
      if (imported.startsWith('daemon/') && !SDK_MAY_IMPORT.includes(imported)) reaching.push(`${module} → ${imported}`);
    }
  }
  assert.deepEqual(reaching, [], `the SDK reaches into the daemon:\n  ${reaching.join('\n  ')}`);
});

test('the layer walk sees imports (a module known to import a lower layer)', () => {
  // Guards the regex above: were it to match nothing, the other tests would pass without checking anything.
  assert.ok(importsOf('daemon/server.ts').includes('daemon/config.ts'));
  assert.ok(importsOf('sdk/options.ts').includes('daemon/protocol.ts'));
  assert.ok(importsOf('daemon/mcp/http.ts').includes('sdk/client.ts'));
});

// The modules one module loads when it is loaded: static imports and re-exports (`import type` and dynamic
// import() excluded), as specifiers (local ones relative to the repository, packages as named).
function staticImportsOf(module: string): string[] {
  const source = fs.readFileSync(path.join(root, module), 'utf8');
  const specifiers = [...source.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?\sfrom\s*'([^']+)'|^import\s*'([^']+)'/gm)].map((match) => match[1] ?? match[2]);
  return specifiers.map((specifier) => (specifier.startsWith('.') ? path.normalize(path.join(path.dirname(module), specifier)).replace(/\.js$/, '.ts') : specifier));
}

test("the daemon's start-up loads no MCP SDK: /mcp and mcpConfig load it when first needed", () => {
  // It was about a fifth of the daemon's idle RSS (bench: daemon RSS, idle), which most daemons never use.
  const seen = new Set<string>();
  const reaching: string[] = [];
  const walk = (module: string) => {
    if (seen.has(module)) return;
    seen.add(module);
    for (const imported of staticImportsOf(module)) {
      if (imported.startsWith('@modelcontextprotocol/')) reaching.push(`${module} → ${imported}`);
      else if (imported.endsWith('.ts') && fs.existsSync(path.join(root, imported))) walk(imported);
    }
  };
  walk('daemon/main.ts');
  assert.ok(seen.has('daemon/server.ts') && seen.has('daemon/mcp/http.ts'), 'the walk follows static imports');
  assert.deepEqual(reaching, [], `loaded at start:\n  ${reaching.join('\n  ')}`);
});
