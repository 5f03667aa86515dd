// The shared download cache, in partitions: one directory per installer, index and set of requested packages,
// which an install uses alone and which is kept (its size and last use recorded) only when the install
// succeeded. A refused or failed install takes its partition with it, so it leaves nothing. When the partitions
// together pass the cap, the least recently used ones not in use are removed. Last use is the directory's
// modification time, so the order survives a restart.
//
//   <cacheDir>/uv-3f9a0c1d2b4e5f60/    one partition (uv's own cache layout inside)
//   <cacheDir>/npm-0b1c2d3e4f5a6b7c/
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../files/tree-removal.js';
import { InstallError } from './errors.js';
import { chownTree, treeBytes } from './staging.js';
import type { PackageSpec } from './specs.js';

const PARTITION = /^(uv|pip|npm)-[0-9a-f]{16}$/;
/** The single shared directories of earlier versions, which had no cap: removed when the cache is first used. */
const LEGACY_DIRS = ['uv', 'pip', 'npm'];

interface Partition {
  bytes: number;
  lastUsedMs: number;
}

/** One install's use of a partition; exactly one of keep() and discard() must be called. */
export interface CacheLease {
  /** The partition directory, given to the installer as its cache. */
  readonly dir: string;
  /** Its size when the lease began (0 for a new one). */
  readonly bytesBefore: number;
  /** Records the partition's size and last use, then evicts what passes the cap. */
  keep(): Promise<void>;
  /** Removes the partition: whatever the install added goes with it. */
  discard(): Promise<void>;
}

// Pure: the partition name for an installer, the index or registry it reads, and the requested packages (their
// order and the spelling of Python names do not matter).
export function partitionName(installer: 'uv' | 'pip' | 'npm', sourceUrl: string, specs: readonly PackageSpec[]): string {
  const wanted = [...new Set(specs.map((spec) => `${spec.normalized}${spec.specifier.trim().slice(spec.name.length)}`))].sort();
  const digest = crypto.createHash('sha256').update(JSON.stringify([installer, sourceUrl, wanted])).digest('hex');
  return `${installer}-${digest.slice(0, 16)}`;
}

export class PackageCache {
  private partitions: Map<string, Partition> | null = null;
  private loading: Promise<Map<string, Partition>> | null = null;
  /** Partitions leased now, each with the promise the next lease of it waits for. */
  private readonly inUse = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    /** The cache directory; made on first use. */
    readonly rootDir: string,
    /** Most bytes the kept partitions may hold together; 0 keeps nothing. */
    readonly maxBytes: number,
  ) {}

  /** Bytes the kept partitions hold (as last measured). */
  get totalBytes(): number {
    let total = 0;
    for (const partition of this.partitions?.values() ?? []) total += partition.bytes;
    return total;
  }

  // Waits until no other install uses the partition, then hands it out, made and given to runAs (or to the
  // daemon's own user).
  async lease(name: string, options: { runAs?: { uid: number; gid: number }; signal?: AbortSignal } = {}): Promise<CacheLease> {
    if (!PARTITION.test(name)) throw new TypeError(`not a cache partition name: ${name}`);
    const partitions = await this.load();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    for (let earlier = this.inUse.get(name); earlier; earlier = this.inUse.get(name)) await abortable(earlier, options.signal);
    this.checkOpen(options.signal);
    this.inUse.set(name, released);
    const dir = path.join(this.rootDir, name);
    let settled = false;
    const finish = async (keep: boolean): Promise<void> => {
      if (settled) return;
      settled = true;
      try {
        const bytes = keep && !this.closed ? await treeBytes(dir) : Infinity;
        // A partition larger than the whole cap is not kept: it would only push every other one out.
        if (bytes <= this.maxBytes) {
          // Re-inserted, so that the map's order is recency too: uses within one millisecond keep their order.
          partitions.delete(name);
          partitions.set(name, { bytes, lastUsedMs: Date.now() });
          const now = new Date();
          await fs.utimes(dir, now, now);
        } else {
          partitions.delete(name);
          await removeTree(dir);
        }
      } finally {
        this.inUse.delete(name);
        release();
      }
      await this.evict();
    };
    try {
      await fs.mkdir(dir, { mode: 0o755 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      // The partition belongs to whoever installs with it now (it may have been filled as another user).
      const owner = options.runAs ?? { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
      if (owner.uid >= 0 && (await fs.stat(dir)).uid !== owner.uid) await chownTree(dir, owner.uid, owner.gid);
    } catch (error) {
      await finish(false);
      throw error;
    }
    return { dir, bytesBefore: partitions.get(name)?.bytes ?? 0, keep: () => finish(true), discard: () => finish(false) };
  }

  // Refuses new leases (an install then fails) and never re-creates the cache directory; kept partitions stay.
  close(): void {
    this.closed = true;
  }

  // Removes least recently used partitions not in use until the kept ones fit under the cap.
  private async evict(): Promise<void> {
    const partitions = this.partitions;
    if (!partitions) return;
    const candidates = [...partitions].filter(([name]) => !this.inUse.has(name)).sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs);
    for (const [name] of candidates) {
      if (this.totalBytes <= this.maxBytes) return;
      partitions.delete(name);
      await removeTree(path.join(this.rootDir, name));
    }
  }

  // The kept partitions, read once from the directory (sizes measured, last use from modification times);
  // the uncapped shared directories of earlier versions are removed.
  private load(): Promise<Map<string, Partition>> {
    this.checkOpen();
    this.loading ??= (async () => {
      await fs.mkdir(this.rootDir, { recursive: true, mode: 0o755 });
      const partitions = new Map<string, Partition>();
      for (const entry of await fs.readdir(this.rootDir, { withFileTypes: true })) {
        const entryPath = path.join(this.rootDir, entry.name);
        if (entry.isDirectory() && LEGACY_DIRS.includes(entry.name)) await removeTree(entryPath);
        if (!entry.isDirectory() || !PARTITION.test(entry.name)) continue;
        const stat = await fs.stat(entryPath);
        partitions.set(entry.name, { bytes: await treeBytes(entryPath), lastUsedMs: stat.mtimeMs });
      }
      this.partitions = partitions;
      await this.evict();
      return partitions;
    })();
    this.loading.catch(() => (this.loading = null));
    return this.loading;
  }

  private checkOpen(signal?: AbortSignal): void {
    signal?.throwIfAborted();
    if (this.closed) throw new InstallError('install_failed', 'the daemon is shutting down and installs no more packages');
  }
}

// Settles with promise, or rejects with the signal's reason as soon as it is aborted.
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
