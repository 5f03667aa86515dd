// A package index and an npm registry served by the test itself on loopback, holding tiny packages built in
// memory, so install tests never need the internet and can see every request the installers made.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildTarGz, buildZip, type ArchiveEntry } from './archives.js';

export interface PackageIndex {
  /** PEP 503 simple index, e.g. http://127.0.0.1:1234/simple */
  readonly pypiUrl: string;
  /** npm registry, e.g. http://127.0.0.1:1234/npm/ */
  readonly npmUrl: string;
  /** An index and a registry that accept connections and never answer them. */
  readonly stallingPypiUrl: string;
  readonly stallingNpmUrl: string;
  /** The file runbox-scripted's install scripts would create if they ran. */
  readonly postinstallMarker: string;
  /** Request paths received, in order. */
  readonly requests: string[];
  /** Another loopback server (a host other than the index) that some packages' dependencies point to. */
  readonly foreignUrl: string;
  /** Every request the foreign server received ('METHOD url'): installers must never send it any. */
  readonly foreignRequests: string[];
  close(): Promise<void>;
}

export interface PackageIndexOptions {
  /** Every answer (pages, packuments, files) waits this long before it is sent. @default 0 */
  readonly delayMs?: number;
  /** When set, serves runbox-big==N.0.0 (Python) and runbox-big-js@N.0.0 (npm), N = 1..bigVersions, each
   * holding a file of this many random bytes. @default 0 (not served) */
  readonly bigFileBytes?: number;
  /** How many versions of runbox-big and runbox-big-js are served (each costs its random file, its hashes and,
   * for npm, a gzip pass over it). @default 8 */
  readonly bigVersions?: number;
}

/** The big packages to serve: each version holds a file of `bytes` random bytes (none when 0). */
interface BigPackages {
  readonly bytes: number;
  readonly versions: readonly string[];
}

interface ServedFile {
  readonly body: Buffer;
  readonly contentType: string;
  /** As the real services send it: PyPI keeps simple pages 10 minutes, npm packuments 5, files forever. */
  readonly cacheControl: string;
}

const PAGE_CACHE = 'max-age=600, public';
const PACKUMENT_CACHE = 'public, max-age=300';
const FILE_CACHE = 'max-age=365000000, immutable, public';

// '1.0.0' … 'N.0.0'.
const bigVersions = (count: number): string[] => Array.from({ length: count }, (_, i) => `${i + 1}.0.0`);

// Starts the index on 127.0.0.1 and a free port, and the foreign server on another.
export async function startPackageIndex(options: PackageIndexOptions = {}): Promise<PackageIndex> {
  const server = http.createServer();
  const foreign = http.createServer();
  const foreignRequests: string[] = [];
  // It records and refuses everything, CONNECT tunnels included: nothing should ever arrive.
  foreign.on('request', (request, response) => {
    foreignRequests.push(`${request.method} ${request.url}`);
    response.writeHead(404).end();
  });
  foreign.on('connect', (request, socket) => {
    foreignRequests.push(`CONNECT ${request.url}`);
    socket.destroy();
  });
  await Promise.all([server, foreign].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const foreignUrl = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
  const postinstallMarker = path.join(os.tmpdir(), `runbox-postinstall-ran-${crypto.randomBytes(6).toString('hex')}`);
  const files = new Map<string, ServedFile>();
  const big = { bytes: options.bigFileBytes ?? 0, versions: bigVersions(options.bigVersions ?? 8) };
  const simplePages = buildPythonPackages(files, foreignUrl, big);
  const packuments = buildNpmPackages(files, `${base}/npm/`, postinstallMarker, foreignUrl, big);
  const requests: string[] = [];
  server.on('request', (request, response) => {
    const url = request.url ?? '/';
    requests.push(url);
    if (url.startsWith('/stall/')) return; // never answered; close() ends the connection
    const file = files.get(url) ?? simplePages.get(url) ?? packuments.get(url.replace(/%2f/i, '/'));
    const answer = (): void => {
      if (!file) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      response.writeHead(200, { 'content-type': file.contentType, 'content-length': file.body.length, 'cache-control': file.cacheControl });
      response.end(file.body);
    };
    if (options.delayMs) setTimeout(answer, options.delayMs);
    else answer();
  });
  const closeServer = (s: http.Server) =>
    new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  return {
    pypiUrl: `${base}/simple`,
    npmUrl: `${base}/npm/`,
    stallingPypiUrl: `${base}/stall/simple`,
    stallingNpmUrl: `${base}/stall/npm/`,
    postinstallMarker,
    requests,
    foreignUrl,
    foreignRequests,
    close: async () => {
      await Promise.all([closeServer(server), closeServer(foreign)]);
    },
  };
}

// Wheels, an sdist, and the simple pages that list them (keyed by request path).
function buildPythonPackages(files: Map<string, ServedFile>, foreignUrl: string, big: BigPackages): Map<string, ServedFile> {
  const releases: Record<string, Array<{ file: string; body: Buffer }>> = {
    'runbox-demo': ['1.0.0', '2.0.0'].map((version) =>
      wheel('runbox_demo', version, [], {
        'runbox_demo/__init__.py': `VERSION = ${JSON.stringify(version)}\n\ndef greet(name):\n    return f"hello {name} from runbox-demo {VERSION}"\n`,
      }),
    ),
    'runbox-dep-user': [
      wheel('runbox_dep_user', '1.0.0', ['runbox-demo>=1'], {
        'runbox_dep_user/__init__.py': 'import runbox_demo\n\ndef hello():\n    return runbox_demo.greet("dep-user")\n',
      }),
    ],
    'runbox-sdist-only': [
      {
        file: 'runbox_sdist_only-1.0.0.tar.gz',
        body: buildTarGz([
          { path: 'runbox_sdist_only-1.0.0/PKG-INFO', content: 'Metadata-Version: 2.1\nName: runbox-sdist-only\nVersion: 1.0.0\n' },
          { path: 'runbox_sdist_only-1.0.0/setup.py', content: 'from setuptools import setup\nsetup(name="runbox-sdist-only", version="1.0.0", py_modules=[])\n' },
        ]),
      },
    ],
    // Distributions whose import name differs (import_names.py maps yaml, attr and bs4 to them): fakes, so an
    // import of the mapped name can be seen installing the right distribution.
    ...Object.fromEntries(
      [['pyyaml', 'yaml'], ['attrs', 'attr'], ['beautifulsoup4', 'bs4']].map(([project, module]) => [
        project,
        [wheel(project, '1.0.0', [], { [`${module}/__init__.py`]: `DISTRIBUTION = ${JSON.stringify(project)}\n` })],
      ]),
    ),
    // Depends on a wheel by direct URL on the foreign server: installers must not fetch it.
    'runbox-url-dep': [
      wheel('runbox_url_dep', '1.0.0', [`runbox-demo @ ${foreignUrl}/files/runbox_demo-1.0.0-py3-none-any.whl`], { 'runbox_url_dep/__init__.py': 'import runbox_demo\n' }),
    ],
  };
  if (big.bytes > 0) {
    releases['runbox-big'] = big.versions.map((version) => wheel('runbox_big', version, [], { 'runbox_big/__init__.py': '', 'runbox_big/blob.bin': crypto.randomBytes(big.bytes) }));
  }
  const pages = new Map<string, ServedFile>();
  const html = (body: string): ServedFile => ({ body: Buffer.from(`<!DOCTYPE html>\n<html><body>\n${body}</body></html>\n`), contentType: 'text/html', cacheControl: PAGE_CACHE });
  pages.set('/simple/', html(Object.keys(releases).map((name) => `<a href="/simple/${name}/">${name}</a>\n`).join('')));
  for (const [project, list] of Object.entries(releases)) {
    const anchors = list.map(({ file, body }) => {
      files.set(`/files/${file}`, { body, contentType: 'application/octet-stream', cacheControl: FILE_CACHE });
      return `<a href="/files/${file}#sha256=${crypto.createHash('sha256').update(body).digest('hex')}">${file}</a>\n`;
    });
    pages.set(`/simple/${project}/`, html(anchors.join('')));
  }
  // A page whose only file is on the foreign server (the index sending installers to another host).
  pages.set('/simple/runbox-foreign-file/', html(`<a href="${foreignUrl}/files/runbox_foreign_file-1.0.0-py3-none-any.whl">runbox_foreign_file-1.0.0-py3-none-any.whl</a>\n`));
  return pages;
}

// A py3-none-any wheel: the modules given plus a dist-info with METADATA, WHEEL and RECORD.
function wheel(distribution: string, version: string, requires: string[], modules: Record<string, string | Buffer>): { file: string; body: Buffer } {
  const distInfo = `${distribution}-${version}.dist-info`;
  const metadata = [
    'Metadata-Version: 2.1',
    `Name: ${distribution.replace(/_/g, '-')}`,
    `Version: ${version}`,
    ...requires.map((requirement) => `Requires-Dist: ${requirement}`),
    '',
  ].join('\n');
  const entries: ArchiveEntry[] = [
    ...Object.entries(modules).map(([file, content]) => ({ path: file, content })),
    { path: `${distInfo}/METADATA`, content: metadata },
    { path: `${distInfo}/WHEEL`, content: 'Wheel-Version: 1.0\nGenerator: runbox-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n' },
  ];
  const record = entries.map(({ path: file, content }) => {
    const digest = crypto.createHash('sha256').update(content).digest('base64url');
    return `${file},sha256=${digest},${Buffer.from(content).length}\n`;
  });
  entries.push({ path: `${distInfo}/RECORD`, content: `${record.join('')}${distInfo}/RECORD,,\n` });
  return { file: `${distribution}-${version}-py3-none-any.whl`, body: buildZip(entries) };
}

// npm tarballs and the packuments that list them (keyed by request path, scoped names with a plain '/').
function buildNpmPackages(files: Map<string, ServedFile>, registry: string, postinstallMarker: string, foreignUrl: string, big: BigPackages): Map<string, ServedFile> {
  const script = `touch ${postinstallMarker}`;
  const foreignPort = new URL(foreignUrl).port;
  const packages: Array<{ name: string; version: string; manifest?: Record<string, unknown>; index: string; extra?: ArchiveEntry[]; tarballUrl?: string }> = [
    ...['1.0.0', '2.0.0'].map((version) => ({
      name: 'runbox-demo-js',
      version,
      index: `exports.VERSION = ${JSON.stringify(version)};\nexports.greet = (name) => \`hello \${name} from runbox-demo-js \${exports.VERSION}\`;\n`,
    })),
    { name: '@runbox/scoped-js', version: '1.0.0', index: 'exports.scoped = true;\n' },
    {
      // Its postinstall writes built.txt into its own directory, and tries the host marker (a sandbox's /tmp is its own).
      name: 'runbox-builds',
      version: '1.0.0',
      manifest: { scripts: { postinstall: `node -e "const fs = require('fs'); fs.writeFileSync('built.txt', 'built by uid ' + process.getuid()); try { fs.writeFileSync('${postinstallMarker}', 'x'); } catch {}"` } },
      index: "exports.built = require('fs').readFileSync(require('path').join(__dirname, 'built.txt'), 'utf8');\n",
    },
    {
      name: 'runbox-scripted',
      version: '1.0.0',
      manifest: { scripts: { preinstall: script, install: script, postinstall: script } },
      index: 'exports.scripted = true;\n',
    },
    // Registry packages whose dependencies point elsewhere: a tarball URL and a git URL on the foreign server.
    {
      name: 'runbox-url-deps',
      version: '1.0.0',
      manifest: { dependencies: { 'runbox-tarball-dep': `${foreignUrl}/runbox-tarball-dep-1.0.0.tgz`, 'runbox-git-dep': `git+http://127.0.0.1:${foreignPort}/runbox-git-dep.git` } },
      index: 'exports.urlDeps = true;\n',
    },
    {
      name: 'runbox-tarball-dep-user',
      version: '1.0.0',
      manifest: { dependencies: { 'runbox-tarball-dep': `${foreignUrl}/runbox-tarball-dep-1.0.0.tgz` } },
      index: 'exports.tarballDep = true;\n',
    },
    {
      name: 'runbox-git-dep-user',
      version: '1.0.0',
      manifest: { dependencies: { 'runbox-git-dep': `git+http://127.0.0.1:${foreignPort}/runbox-git-dep.git` } },
      index: 'exports.gitDep = true;\n',
    },
    // Its packument says its tarball lives on the foreign server (the registry's data, not a dependency spec).
    { name: 'runbox-foreign-tarball', version: '1.0.0', index: 'exports.foreign = true;\n', tarballUrl: `${foreignUrl}/runbox-foreign-tarball-1.0.0.tgz` },
    ...(big.bytes > 0
      ? big.versions.map((version) => ({ name: 'runbox-big-js', version, index: 'exports.big = true;\n', extra: [{ path: 'package/blob.bin', content: crypto.randomBytes(big.bytes) }] }))
      : []),
  ];
  const packuments = new Map<string, { name: string; 'dist-tags': Record<string, string>; versions: Record<string, unknown> }>();
  for (const { name, version, manifest, index, extra, tarballUrl } of packages) {
    const packageJson = { name, version, main: 'index.js', ...manifest };
    // Random content does not compress: stored blocks give the same size without a costly gzip pass.
    const tarball = buildTarGz(
      [{ path: 'package/package.json', content: `${JSON.stringify(packageJson, null, 2)}\n` }, { path: 'package/index.js', content: index }, ...(extra ?? [])],
      extra ? { level: 0 } : {},
    );
    const tarballPath = `${name}/-/${name.replace(/^@[^/]+\//, '')}-${version}.tgz`;
    files.set(`/npm/${tarballPath}`, { body: tarball, contentType: 'application/octet-stream', cacheControl: FILE_CACHE });
    const packument = packuments.get(name) ?? { name, 'dist-tags': {}, versions: {} };
    packument['dist-tags'].latest = version;
    packument.versions[version] = {
      ...packageJson,
      dist: {
        tarball: tarballUrl ?? `${registry}${tarballPath}`,
        shasum: crypto.createHash('sha1').update(tarball).digest('hex'),
        integrity: `sha512-${crypto.createHash('sha512').update(tarball).digest('base64')}`,
      },
    };
    packuments.set(name, packument);
  }
  return new Map(
    [...packuments].map(([name, packument]) => [`/npm/${name}`, { body: Buffer.from(JSON.stringify(packument)), contentType: 'application/json', cacheControl: PACKUMENT_CACHE }]),
  );
}
