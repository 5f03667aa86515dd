// One warm sandbox per recently used session: after a session's execution ends, a sandbox bound to that session's
// workspace and packages is started for its next execution (and, idle, preloads modules like the warm pool), so
// a conversation's second chart is as fast as a first one without a session. It runs no code until an execution
// of that session takes it; the session's removal, or room for a more recent session, disposes of it.
import type { Logger } from 'pino';
import type { RuntimeName } from '../sandbox/runtimes.js';
import type { SandboxInstance, SessionBinding } from './sandbox-instance.js';

/** Starts one sandbox bound to a session's directories. */
export type SessionSandboxStarter = (runtime: RuntimeName, binding: SessionBinding) => Promise<SandboxInstance>;

/** How many sessions keep a warm sandbox, how one is started, and what is done with idle ones. */
export interface SessionSandboxesOptions {
  /** Most sessions that keep a warm sandbox at once. */
  readonly capacity: number;
  readonly start: SessionSandboxStarter;
  readonly log: Logger;
  /** Called once for a sandbox still unused idleDelayMs after it is ready (e.g. to preload modules). @default nothing */
  readonly onIdle?: (instance: SandboxInstance) => void;
  /** @default 0 */
  readonly idleDelayMs?: number;
}

interface Entry {
  readonly runtime: RuntimeName;
  readonly ready: Promise<SandboxInstance | null>;
  idleTimer?: NodeJS.Timeout;
}

// The warm sandboxes of recently used sessions, one each.
export class SessionSandboxes {
  /** Insertion order is recency: the first entry is the least recently used session. */
  private readonly entries = new Map<string, Entry>();
  /** Disposals under way (a discarded sandbox): close() waits for them, so nothing outlives the daemon. */
  private readonly disposals = new Set<Promise<void>>();
  private closed = false;
  private readonly capacity: number;
  private readonly start: SessionSandboxStarter;
  private readonly log: Logger;
  private readonly onIdle: (instance: SandboxInstance) => void;
  private readonly idleDelayMs: number;

  constructor(options: SessionSandboxesOptions) {
    this.capacity = options.capacity;
    this.start = options.start;
    this.log = options.log;
    this.onIdle = options.onIdle ?? (() => undefined);
    this.idleDelayMs = options.idleDelayMs ?? 0;
  }

  // Starts a sandbox for the session's next execution (replacing one of another runtime), evicting the least
  // recently used session's sandbox when all places are taken.
  prepare(sessionId: string, runtime: RuntimeName, binding: SessionBinding): void {
    if (this.closed || this.capacity === 0) return;
    const current = this.entries.get(sessionId);
    if (current?.runtime === runtime) return;
    if (current) this.discard(sessionId);
    while (this.entries.size >= this.capacity) this.discard(this.entries.keys().next().value as string);
    const ready = this.start(runtime, binding).then(
      async (instance) => ((await instance.ready) ? instance : (await instance.dispose(), null)),
      (error: unknown) => {
        this.log.warn({ err: error, sessionId }, 'could not start a warm sandbox for a session');
        return null;
      },
    );
    const entry: Entry = { runtime, ready };
    this.entries.set(sessionId, entry);
    void ready.then((instance) => {
      if (!instance || this.entries.get(sessionId) !== entry) return;
      entry.idleTimer = setTimeout(() => this.entries.get(sessionId) === entry && this.onIdle(instance), this.idleDelayMs);
      entry.idleTimer.unref();
      // One that dies while it waits (it should not) is simply forgotten; the next execution starts its own.
      void instance.exited.then(() => {
        if (this.entries.get(sessionId) === entry) void this.discard(sessionId);
      });
    });
  }

  // The session's warm sandbox for that runtime, if one is ready (or about to be); null otherwise.
  async take(sessionId: string, runtime: RuntimeName): Promise<SandboxInstance | null> {
    const entry = this.entries.get(sessionId);
    if (!entry || entry.runtime !== runtime) return null;
    this.entries.delete(sessionId);
    clearTimeout(entry.idleTimer);
    const instance = await entry.ready;
    if (!instance || !instance.hasExited) return instance;
    await instance.dispose();
    return null;
  }

  // Disposes of a session's warm sandbox, if it has one (the session is going away); resolves once its
  // processes are gone.
  discard(sessionId: string): Promise<void> {
    const entry = this.entries.get(sessionId);
    if (!entry) return Promise.resolve();
    this.entries.delete(sessionId);
    clearTimeout(entry.idleTimer);
    const disposal = entry.ready.then((instance) => instance?.dispose());
    this.disposals.add(disposal);
    void disposal.finally(() => this.disposals.delete(disposal));
    return disposal;
  }

  // Disposes of every warm session sandbox and takes no more.
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const entry of all) clearTimeout(entry.idleTimer);
    await Promise.all([...all.map(async (entry) => (await entry.ready)?.dispose()), ...this.disposals]);
  }
}
