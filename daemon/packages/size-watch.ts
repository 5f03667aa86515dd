// Measures directory trees while an installer writes them, so an install is stopped as soon as it grows past its
// cap rather than after it finished (when the bytes would already be on disk).
import { treeBytes } from './staging.js';

/** The shortest pause between two measurements; longer when a measurement itself takes long. */
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 1000;

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
      for (const dir of limit.dirs) bytes += await treeBytes(dir).catch(() => 0);
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
