// One session: a workspace (a size-limited tmpfs when the daemon may mount) and a packages directory that
// outlive executions, and a FIFO turn so its executions and file operations happen one at a time. Between
// turns no process of the session runs, so the daemon can touch its files without racing hostile code.
import path from 'node:path';
import type { RuntimeName } from '../sandbox/runtimes.js';

export interface SessionTurn {
  /** Resolves when everything queued before this turn is finished. */
  readonly ready: Promise<void>;
  /** Ends the turn (call it exactly when this work and its cleanup are done, even if it never ran). */
  done(): void;
}

export class Session {
  readonly createdAt = Date.now();
  /** When the session last finished a turn (or was created); it expires ttlMs after, while idle. */
  lastActiveAt = Date.now();
  /** Set once the session is being removed: it takes no new work. */
  closing = false;
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly cancellers = new Set<() => void>();

  constructor(
    readonly id: string,
    /** The session's directory under <workDir>/sessions. */
    readonly dir: string,
    readonly ttlMs: number,
    /** The runtime the client said it will use, if it said. */
    readonly runtime: RuntimeName | null,
    /** True when the workspace is a tmpfs mounted for this session. */
    readonly workspaceMounted: boolean,
    private readonly onIdle: (session: Session) => void,
  ) {}

  get workspaceDir(): string {
    return path.join(this.dir, 'workspace');
  }

  get packagesDir(): string {
    return path.join(this.dir, 'packages');
  }

  /** Turns queued or running. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /** When the session expires if nothing else happens. */
  get expiresAt(): number {
    return this.lastActiveAt + this.ttlMs;
  }

  // Queues a turn behind every earlier one.
  enqueue(): SessionTurn {
    this.pending += 1;
    const before = this.tail;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    this.tail = before.then(() => finished);
    let ended = false;
    return {
      ready: before,
      done: () => {
        if (ended) return;
        ended = true;
        finish();
        this.pending -= 1;
        this.lastActiveAt = Date.now();
        if (this.pending === 0) this.onIdle(this);
      },
    };
  }

  // Runs fn in its own turn (file operations): after earlier work, before later work.
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const turn = this.enqueue();
    try {
      await turn.ready;
      return await fn();
    } finally {
      turn.done();
    }
  }

  // Registers how to cancel a queued or running execution of this session; returns the unregistration.
  onCancel(cancel: () => void): () => void {
    this.cancellers.add(cancel);
    return () => this.cancellers.delete(cancel);
  }

  // Cancels every execution of the session and resolves when all queued turns are over.
  async drain(): Promise<void> {
    this.closing = true;
    for (const cancel of [...this.cancellers]) cancel();
    await this.tail;
  }
}
