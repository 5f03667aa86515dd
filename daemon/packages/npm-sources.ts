// Which npm dependencies come from somewhere other than the registry (git, a tarball URL, a path), found in the
// package metadata npm cached during an install it refused: npm says that it refused a dependency, not always
// which, and the code should be told which one.
import fs from 'node:fs/promises';
import path from 'node:path';

export type NpmSource = 'registry' | 'git' | 'url' | 'path';

export interface ForeignDependency {
  /** The package version that names it, e.g. `runbox-url-deps@1.0.0`. */
  readonly from: string;
  /** The dependency's name; null when it is the version's own tarball that the packument puts elsewhere. */
  readonly name: string | null;
  /** The spec as written, e.g. `git+http://host/repo.git`. */
  readonly spec: string;
  readonly source: Exclude<NpmSource, 'registry'>;
}

/** Packuments larger than this are not read (the biggest real ones are tens of MB). */
const MAX_PACKUMENT_BYTES = 64 * 1024 * 1024;
const CACHE_KEY_PREFIX = 'make-fetch-happen:request-cache:';
const DEPENDENCY_FIELDS = ['dependencies', 'optionalDependencies', 'peerDependencies'] as const;

// Pure: where an npm dependency spec takes its package from, following npm-package-arg's rules: a version,
// range or dist-tag (or an npm: alias of one) is the registry; git hosts and git+ URLs are git; other URLs are
// tarball URLs; file:, link: and path-like specs are paths.
export function npmSpecSource(spec: string): NpmSource {
  const text = spec.trim();
  if (/^npm:/i.test(text)) {
    const aliased = text.slice(4);
    const at = aliased.indexOf('@', aliased.startsWith('@') ? 1 : 0);
    return at === -1 ? 'registry' : npmSpecSource(aliased.slice(at + 1));
  }
  if (/^(git\+|git:|git@|github:|gitlab:|bitbucket:|gist:)/i.test(text)) return 'git';
  if (/^(file:|link:|\.|\/|~)/i.test(text) || /^[a-z]:[\\/]/i.test(text)) return 'path';
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) return /^https?:\/\/[^#]*\.git(#.*)?$/i.test(text) ? 'git' : 'url';
  if (/\.(tgz|tar|tar\.gz)$/i.test(text)) return 'path';
  // `owner/repo` (optionally #ref) is a GitHub shorthand; no version, range or tag holds a slash.
  if (text.includes('/')) return 'git';
  return 'registry';
}

// Pure: the dependencies of every version in a packument that do not come from the registry, and the versions
// whose tarball is not on the registry's origin.
export function foreignDependenciesOf(packument: unknown, registryOrigin: string): ForeignDependency[] {
  if (!packument || typeof packument !== 'object') return [];
  const { name, versions } = packument as { name?: unknown; versions?: unknown };
  if (typeof name !== 'string' || !versions || typeof versions !== 'object') return [];
  const found: ForeignDependency[] = [];
  for (const [version, manifest] of Object.entries(versions as Record<string, unknown>)) {
    if (!manifest || typeof manifest !== 'object') continue;
    const tarball = (manifest as { dist?: { tarball?: unknown } }).dist?.tarball;
    if (typeof tarball === 'string' && originOf(tarball) !== registryOrigin) found.push({ from: `${name}@${version}`, name: null, spec: tarball, source: 'url' });
    for (const field of DEPENDENCY_FIELDS) {
      const dependencies = (manifest as Record<string, unknown>)[field];
      if (!dependencies || typeof dependencies !== 'object') continue;
      for (const [dependency, spec] of Object.entries(dependencies as Record<string, unknown>)) {
        if (typeof spec !== 'string') continue;
        const source = npmSpecSource(spec);
        if (source !== 'registry') found.push({ from: `${name}@${version}`, name: dependency, spec, source });
      }
    }
  }
  return found;
}

// The non-registry dependencies named by the packuments in an npm cache directory (npm's cacache: index
// entries name each response's URL and content hash), at most maxResults of them, without duplicates.
export async function findForeignDependencies(npmCacheDir: string, registryOrigin: string, maxResults = 10): Promise<ForeignDependency[]> {
  const cacache = path.join(npmCacheDir, '_cacache');
  const indexFiles = await listFiles(path.join(cacache, 'index-v5'));
  const found = new Map<string, ForeignDependency>();
  for (const file of indexFiles) {
    for (const line of (await fs.readFile(file, 'utf8').catch(() => '')).split('\n')) {
      const entry = parseIndexLine(line);
      if (!entry || entry.url.includes('/-/')) continue; // /-/ paths are tarballs
      const content = contentPath(cacache, entry.integrity);
      const stat = content ? await fs.stat(content).catch(() => null) : null;
      if (!content || !stat || stat.size > MAX_PACKUMENT_BYTES) continue;
      let packument: unknown;
      try {
        packument = JSON.parse(await fs.readFile(content, 'utf8'));
      } catch {
        continue;
      }
      for (const dependency of foreignDependenciesOf(packument, registryOrigin)) {
        found.set(`${dependency.from} ${dependency.name} ${dependency.spec}`, dependency);
        if (found.size >= maxResults) return [...found.values()];
      }
    }
  }
  return [...found.values()];
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

function parseIndexLine(line: string): { url: string; integrity: string } | null {
  const tab = line.indexOf('\t');
  if (tab === -1) return null;
  try {
    const entry = JSON.parse(line.slice(tab + 1)) as { key?: unknown; integrity?: unknown };
    if (typeof entry.key !== 'string' || !entry.key.startsWith(CACHE_KEY_PREFIX) || typeof entry.integrity !== 'string') return null;
    return { url: entry.key.slice(CACHE_KEY_PREFIX.length), integrity: entry.integrity };
  } catch {
    return null;
  }
}

// Where cacache keeps the content of an integrity string (its first hash): content-v2/<algo>/<2>/<2>/<rest>.
function contentPath(cacache: string, integrity: string): string | null {
  const match = /^(sha\d+)-([A-Za-z0-9+/=]+)/.exec(integrity.trim());
  if (!match) return null;
  const hex = Buffer.from(match[2], 'base64').toString('hex');
  return hex.length < 8 ? null : path.join(cacache, 'content-v2', match[1], hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name));
}
