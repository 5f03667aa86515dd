// Measures directory trees while an installer writes them, so an install is stopped as soon as it grows past its
// cap rather than after it finished (when the bytes would already be on disk).
import fs from 'node:fs/promises';
import path from 'node:path';

/** The shortest pause between two measurements; longer when a measurement itself takes long. */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 1000;

// Total bytes of the files and links in a tree (sizes, not blocks); entries that vanish while it is walked
// (an installer renaming its temporary files) count as nothing, and a missing tree is 0.
export async function countTreeBytes(dir: string): Promise<number> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return 0;
    throw error;
  }
  let total = 0;
  for (const entry of entries) {
    const entryPath = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await countTreeBytes(entryPath);
    else total += (await fs.lstat(entryPath).catch(() => null))?.size ?? 0;
  }
  return total;
}

export interface WatchedLimit {
  /** What is measured, for the message. */
  readonly what: string;
  readonly dirs: readonly string[];
  /** Bytes already in those trees when the watch began, not counted. */
  readonly baseBytes: number;
  readonly maxBytes: number;
}

export interface SizeWatch {
  /** Aborted when a limit is passed; its reason says which and by how much. */
  readonly signal: AbortSignal;
  /** Stops measuring; settles once no measurement runs. */
  stop(): Promise<void>;
}

// Measures the trees of each limit over and over until stop(); aborts the signal when one passes its maxBytes.
export function watchSizes(limits: readonly WatchedLimit[]): SizeWatch {
  const controller = new AbortController();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const measure = async (): Promise<void> => {
    const started = performance.now();
    for (const limit of limits) {
      let bytes = -limit.baseBytes;
      for (const dir of limit.dirs) bytes += await countTreeBytes(dir).catch(() => 0);
      if (bytes > limit.maxBytes && !stopped) {
        controller.abort(new SizeLimitError(limit.what, bytes, limit.maxBytes));
        return;
      }
    }
    if (stopped) return;
    const interval = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, 2 * (performance.now() - started)));
    timer = setTimeout(() => (running = measure()), interval);
  };
  timer = setTimeout(() => (running = measure()), MIN_INTERVAL_MS);
  return {
    signal: controller.signal,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

// A watched tree passed its cap while the installer ran.
export class SizeLimitError extends Error {
  constructor(readonly what: string, readonly bytes: number, readonly maxBytes: number) {
    super(`${what} reached ${bytes} bytes, over the cap of ${maxBytes} bytes`);
    this.name = 'SizeLimitError';
  }
}
