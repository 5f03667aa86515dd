// What sandboxed code may ask to install: package names with optional versions, checked character by character
// before any installer sees them, so nothing it sends can become an option, a URL, a path or a marker.
import { describeReceived } from '../errors.js';
import { InstallError } from './errors.js';

export type PackageRuntime = 'python' | 'node';

export interface PackageSpec {
  readonly runtime: PackageRuntime;
  /** The name as written. */
  readonly name: string;
  /** Python: the PEP 503 normalized name (lowercase, runs of -_. as '-'); Node: the name. */
  readonly normalized: string;
  /** The whole validated text to hand to the installer, e.g. `rich==13.7.1` or `cheerio@^1.0.0`. */
  readonly specifier: string;
}

export interface PackagePolicy {
  /** Names that may be installed; empty means every name not denied. */
  readonly allow: readonly string[];
  /** Names that may never be installed; wins over allow. */
  readonly deny: readonly string[];
}

/** Packages one request may name. */
export const MAX_PACKAGES_PER_REQUEST = 32;
/** Characters of one requested package string (so npm's own limit of 214 on a name always holds). */
export const MAX_SPEC_CHARS = 200;

// PEP 508 names: letters, digits and ._- , starting and ending with a letter or digit.
const PY_NAME = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const PY_VERSION_CLAUSE = '(?:===|==|~=|!=|<=|>=|<|>)[A-Za-z0-9.*+!_-]+';
const PY_SPEC = new RegExp(`^(${PY_NAME})(?:\\[${PY_NAME}(?:,${PY_NAME})*\\])?(?:${PY_VERSION_CLAUSE}(?:,${PY_VERSION_CLAUSE})*)?$`);
// npm names: lowercase URL-safe characters, optionally under a scope; neither part may start with . or _.
const NPM_PART = '[a-z0-9-][a-z0-9._-]*';
const NPM_NAME = new RegExp(`^(?:@${NPM_PART}/)?${NPM_PART}$`);
// A version, range or dist-tag; never starting with '.', which npm would read as a path.
const NPM_RANGE = /^[0-9A-Za-z*^~<>=| +-][0-9A-Za-z.*^~<>=| +-]*$/;
// npm reads a name or version ending like a tarball as a file path.
const TARBALL_SUFFIX = /\.(?:tgz|tar|tar\.gz)$/i;
const NPM_RESERVED_NAMES = new Set(['node_modules', 'favicon.ico']);

// Validates the package list sandboxed code sent and returns one spec per entry; throws invalid_package naming
// the first offending entry and the rule it broke.
export function parsePackageSpecs(runtime: PackageRuntime, specs: unknown): PackageSpec[] {
  if (!Array.isArray(specs)) throw invalid(`expected a list of package names, received ${describeReceived(specs)}`);
  if (specs.length === 0) throw invalid('expected at least one package name, received an empty list');
  if (specs.length > MAX_PACKAGES_PER_REQUEST) {
    throw invalid(`expected at most ${MAX_PACKAGES_PER_REQUEST} packages in one request, received ${specs.length}`);
  }
  return specs.map((spec, index) => {
    if (typeof spec !== 'string') throw invalid(`package ${index + 1} must be a string, received ${describeReceived(spec)}`);
    if (spec.length > MAX_SPEC_CHARS) {
      throw invalid(`package ${quote(spec.slice(0, 40))}… is ${spec.length} characters long; the limit is ${MAX_SPEC_CHARS}`);
    }
    const text = spec.trim();
    return runtime === 'python' ? parsePythonSpec(text) : parseNodeSpec(text);
  });
}

// Refuses any spec whose name is denied, or missing from a non-empty allow list; names compare normalized.
export function checkPolicy(specs: readonly PackageSpec[], policy: PackagePolicy): void {
  for (const spec of specs) {
    const normalize = (name: string): string => normalizeName(spec.runtime, name.trim());
    if (policy.deny.some((name) => normalize(name) === spec.normalized)) {
      throw new InstallError('package_not_allowed', `package ${quote(spec.name)} is on the deny list of this daemon`);
    }
    if (policy.allow.length > 0 && !policy.allow.some((name) => normalize(name) === spec.normalized)) {
      throw new InstallError('package_not_allowed', `package ${quote(spec.name)} is not on the allow list of this daemon`);
    }
  }
}

// The name a runtime's package index files a package under: PEP 503 for Python, the name itself for npm.
export function normalizeName(runtime: PackageRuntime, name: string): string {
  return runtime === 'python' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
}

function parsePythonSpec(text: string): PackageSpec {
  const match = PY_SPEC.exec(text);
  if (!match) throw invalid(`${quote(text)} is not a Python package name with an optional version: ${pythonProblem(text)}`);
  return { runtime: 'python', name: match[1], normalized: normalizeName('python', match[1]), specifier: text };
}

// The most likely reason a Python spec was refused, for the message.
function pythonProblem(text: string): string {
  if (text === '') return 'it is empty';
  if (text.startsWith('-')) return 'options are not allowed';
  if (text.includes(';')) return 'environment markers (;) are not allowed';
  if (/:\/\/|@/.test(text)) return 'URLs and direct references (@) are not allowed';
  if (/[/\\]/.test(text) || text.startsWith('.')) return 'paths are not allowed';
  if (/\s/.test(text)) return 'spaces are not allowed inside it';
  return 'expected a name of letters, digits and ._- (starting and ending with a letter or digit), optional [extras] and optional version clauses such as ==1.2.3 or >=1,<2';
}

function parseNodeSpec(text: string): PackageSpec {
  const at = text.indexOf('@', text.startsWith('@') ? 1 : 0);
  const name = at === -1 ? text : text.slice(0, at);
  const range = at === -1 ? null : text.slice(at + 1);
  const problem = nodeNameProblem(name) ?? (range === null ? null : nodeRangeProblem(range));
  if (problem) throw invalid(`${quote(text)} is not an npm package name with an optional @version: ${problem}`);
  return { runtime: 'node', name, normalized: name, specifier: text };
}

function nodeNameProblem(name: string): string | null {
  if (name === '') return 'the name is empty';
  if (name.startsWith('-')) return 'options are not allowed';
  if (/^[a-z][a-z0-9+.-]*:/i.test(name)) return 'URLs and protocol specs (npm:, git+, file:) are not allowed';
  if (NPM_RESERVED_NAMES.has(name)) return `${name} is a reserved name`;
  if (TARBALL_SUFFIX.test(name)) return 'tarball paths are not allowed';
  if (NPM_NAME.test(name)) return null;
  if (/[/\\]/.test(name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name)) return 'paths are not allowed (a / only follows a @scope)';
  if (/(^@?|\/)[._]/.test(name)) return 'a name or scope may not start with . or _';
  return 'expected lowercase letters, digits and ._- (optionally under @scope/)';
}

function nodeRangeProblem(range: string): string | null {
  if (range === '') return 'the version after @ is empty';
  if (/:/.test(range)) return 'URLs and protocol specs (npm:, git+, file:) are not allowed';
  if (/[/\\]/.test(range) || range.startsWith('.') || TARBALL_SUFFIX.test(range)) return 'paths are not allowed';
  if (!NPM_RANGE.test(range)) return 'a version, range or dist-tag may only use letters, digits, spaces and .*^~<>=|+-';
  return null;
}

function invalid(message: string): InstallError {
  return new InstallError('invalid_package', message);
}

function quote(text: string): string {
  return JSON.stringify(text);
}

