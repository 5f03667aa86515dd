// What an install left in its tree: the version of each requested package, read from the files installers
// write (a Python distribution's *.dist-info/METADATA, an npm package's package.json).
import fs from 'node:fs/promises';
import path from 'node:path';
import { normalizeName, type PackageSpec } from './specs.js';

export interface InstalledPackage {
  readonly name: string;
  readonly version: string;
}

export interface Distribution {
  /** The *.dist-info directory's name. */
  readonly dirName: string;
  /** PEP 503 normalized name from METADATA. */
  readonly normalized: string;
  readonly version: string;
}

/** METADATA headers end well before this; the rest is the description. */
const METADATA_HEAD_BYTES = 16 * 1024;

// The requested packages with the versions found in the tree; null for any that is not there.
export async function readInstalledVersions(
  runtime: 'python' | 'node',
  dir: string,
  specs: readonly PackageSpec[],
): Promise<Array<{ name: string; version: string | null }>> {
  if (runtime === 'python') {
    const versions = new Map((await listDistributions(dir)).map((dist) => [dist.normalized, dist.version]));
    return specs.map((spec) => ({ name: spec.name, version: versions.get(spec.normalized) ?? null }));
  }
  return Promise.all(
    specs.map(async (spec) => {
      const manifest = await fs.readFile(path.join(dir, 'node_modules', spec.name, 'package.json'), 'utf8').catch(() => null);
      const version = manifest === null ? null : (JSON.parse(manifest) as { version?: unknown }).version;
      return { name: spec.name, version: typeof version === 'string' ? version : null };
    }),
  );
}

// Every Python distribution installed in a --target directory.
export async function listDistributions(dir: string): Promise<Distribution[]> {
  const names = (await fs.readdir(dir)).filter((name) => name.endsWith('.dist-info'));
  const found = await Promise.all(names.map((dirName) => readDistribution(dir, dirName)));
  return found.filter((dist): dist is Distribution => dist !== null);
}

// Removes what pip --target --upgrade leaves of an upgraded distribution (pip does not uninstall in a target):
// the old *.dist-info, and the files its RECORD lists that the new version's RECORD does not.
export async function removeSupersededDistributions(dir: string, before: readonly Distribution[]): Promise<void> {
  const after = await listDistributions(dir);
  const existed = new Set(before.map((dist) => dist.dirName));
  for (const old of after.filter((dist) => existed.has(dist.dirName))) {
    const replacement = after.find((dist) => dist.normalized === old.normalized && !existed.has(dist.dirName));
    if (!replacement) continue;
    const kept = new Set(await readRecord(dir, replacement.dirName));
    for (const file of await readRecord(dir, old.dirName)) {
      if (!kept.has(file) && isInside(dir, file)) await fs.rm(path.join(dir, file), { force: true });
    }
    await fs.rm(path.join(dir, old.dirName), { recursive: true, force: true });
  }
}

async function readDistribution(dir: string, dirName: string): Promise<Distribution | null> {
  const handle = await fs.open(path.join(dir, dirName, 'METADATA')).catch(() => null);
  if (!handle) return null;
  try {
    const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(METADATA_HEAD_BYTES) });
    const head = buffer.toString('utf8', 0, bytesRead).split(/\r?\n\r?\n/)[0];
    const header = (key: string): string | undefined => new RegExp(`^${key}:[ \\t]*(.+?)\\s*$`, 'mi').exec(head)?.[1];
    const name = header('Name');
    const version = header('Version');
    return name && version ? { dirName, normalized: normalizeName('python', name), version } : null;
  } finally {
    await handle.close();
  }
}

// The paths a RECORD lists (relative to the target directory), without its hash and size columns.
async function readRecord(dir: string, dirName: string): Promise<string[]> {
  const record = await fs.readFile(path.join(dir, dirName, 'RECORD'), 'utf8').catch(() => '');
  return record
    .split(/\r?\n/)
    .map((line) => (line.startsWith('"') ? line.slice(1, line.indexOf('"', 1)) : line.split(',')[0]))
    .filter((file) => file !== '');
}

function isInside(dir: string, file: string): boolean {
  const relative = path.relative(dir, path.resolve(dir, file));
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
