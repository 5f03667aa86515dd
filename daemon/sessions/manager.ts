// The daemon's sessions: made on request under <workDir>/sessions, found by strictly checked id, removed on
// DELETE, after ttlMs idle, or when the daemon stops. Sessions do not survive a restart: whatever an earlier
// daemon left under <workDir>/sessions is swept at start (sweepLeftovers), with its workspace mounts.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { describeReceived, WireError } from '../errors.js';
import { removeTree } from '../files/tree-removal.js';
import type { Mounter } from '../sandbox/mounter.js';
import { mountWorkspace, unmountWorkspace, workspaceUsage, type WorkspaceSize } from '../sandbox/mounts.js';
import { isRuntimeName, RUNTIMES, type RuntimeName } from '../sandbox/runtimes.js';
import { isSessionId, newSessionId, sessionDirName } from './ids.js';
import { Session } from './session.js';
import type { SessionInfo } from '../wire-types.js';

/** The directory, under the work directory, that holds every session. */
export const SESSIONS_DIR = 'sessions';

export interface SessionHost {
  /** Host uid/gid of sandboxed processes (when the daemon is root): the workspace belongs to them. */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** The workspace tmpfs size (the session's quota); null when workspaces cannot be mounted here. */
  readonly workspaceSize: WorkspaceSize | null;
  /** The mount helper (sandbox/mounter.ts) that mounts and unmounts workspaces; null or left out runs mount(8). */
  readonly mounter?: Mounter | null;
}

type SessionConfig = Pick<Config, 'workDir' | 'sessionTtlMs' | 'maxSessionTtlMs' | 'maxSessions'>;

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly removals = new Set<Promise<void>>();
  private readonly createdListeners: Array<(session: Session) => void> = [];
  private readonly removedListeners: Array<(session: Session) => Promise<void> | void> = [];
  private closed = false;

  constructor(
    private readonly config: SessionConfig,
    private readonly host: SessionHost,
    private readonly log: Logger,
  ) {}

  private get root(): string {
    return path.join(this.config.workDir, SESSIONS_DIR);
  }

  // Calls listener with each new session (once its directories exist).
  onCreated(listener: (session: Session) => void): void {
    this.createdListeners.push(listener);
  }

  // Calls listener with each session being removed (its executions are being cancelled); its files are
  // removed only once the promise the listener returns (e.g. disposing of a warm sandbox) has settled.
  onRemoved(listener: (session: Session) => Promise<void> | void): void {
    this.removedListeners.push(listener);
  }

  /** Sessions that exist now. */
  get count(): number {
    return this.sessions.size;
  }

  // Makes a session from a POST body ({ttlMs?, runtime?}): its directory, workspace mount and packages dirs.
  async create(body: unknown): Promise<Session> {
    if (this.closed) throw new WireError('shutting_down', 'the daemon is shutting down and makes no new sessions');
    const { ttlMs, runtime } = this.parseOptions(body);
    if (this.sessions.size >= this.config.maxSessions) {
      throw new WireError('session_limit', `${this.sessions.size} sessions exist, the most this daemon keeps (maxSessions ${this.config.maxSessions}); delete one or wait for one to expire`);
    }
    const id = newSessionId();
    const dir = path.join(this.root, sessionDirName(id));
    const session = new Session(id, dir, ttlMs, runtime, this.host.workspaceSize !== null, (s) => this.scheduleExpiry(s));
    this.sessions.set(id, session);
    try {
      await fs.mkdir(this.root, { recursive: true, mode: 0o711 });
      await fs.mkdir(dir, { mode: 0o711 });
      await fs.mkdir(session.workspaceDir, { mode: 0o700 });
      const { owner, workspaceSize, mounter } = this.host;
      if (owner) await fs.chown(session.workspaceDir, owner.uid, owner.gid);
      if (workspaceSize) await mountWorkspace(session.workspaceDir, workspaceSize, owner, mounter);
      for (const sub of ['python', 'node']) await fs.mkdir(path.join(session.packagesDir, sub), { recursive: true, mode: 0o755 });
    } catch (error) {
      this.sessions.delete(id);
      await this.removeFiles(session);
      throw error;
    }
    this.scheduleExpiry(session);
    this.log.info({ sessionId: id, ttlMs, runtime }, 'session created');
    for (const listener of this.createdListeners) listener(session);
    return session;
  }

  // The live session with that id; session_not_found for anything else (malformed, unknown, expired, deleted).
  get(id: unknown): Session {
    const session = isSessionId(id) ? this.sessions.get(id) : undefined;
    if (!session || session.closing) {
      const shown = typeof id === 'string' ? JSON.stringify(id.slice(0, 80)) : describeReceived(id);
      const why = isSessionId(id) ? 'it never existed, expired, or was deleted' : 'session ids look like ses_ followed by 26 characters a-z, 2-7';
      throw new WireError('session_not_found', `no session ${shown}: ${why}`);
    }
    return session;
  }

  // Deletes a session: its executions are cancelled, then everything it owns is removed.
  async delete(id: unknown): Promise<void> {
    const session = this.get(id);
    await this.remove(session, 'deleted');
  }

  // What a client may know about a session, including how full its workspace is.
  async info(session: Session): Promise<SessionInfo> {
    const usage = session.workspaceMounted ? await workspaceUsage(session.workspaceDir) : null;
    const size = this.host.workspaceSize;
    return {
      id: session.id,
      createdAt: new Date(session.createdAt).toISOString(),
      expiresAt: new Date(session.busy ? Date.now() + session.ttlMs : session.expiresAt).toISOString(),
      ttlMs: session.ttlMs,
      runtime: session.runtime,
      workspace: {
        usedBytes: usage?.usedBytes ?? null,
        maxBytes: size?.bytes ?? null,
        usedFiles: usage ? Math.max(0, usage.usedFiles - 1) : null,
        maxFiles: size?.files ?? null,
      },
    };
  }

  // Removes every session (the daemon is stopping; sessions do not outlive it).
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions.values()].map((session) => this.remove(session, 'daemon stopping')));
    await Promise.all([...this.removals]);
  }

  private parseOptions(body: unknown): { ttlMs: number; runtime: RuntimeName | null } {
    const fields = body === undefined || body === null ? {} : body;
    if (typeof fields !== 'object' || Array.isArray(fields)) throw new WireError('invalid_request', `expected a JSON object, received ${describeReceived(body)}`);
    const { ttlMs, runtime, ...rest } = fields as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw new WireError('invalid_request', `unknown field ${JSON.stringify(unknown[0])}; a session takes ttlMs and runtime`);
    if (runtime !== undefined && runtime !== null && !isRuntimeName(runtime)) {
      throw new WireError('invalid_request', `runtime: expected ${RUNTIMES.map((r) => `"${r}"`).join(' or ')}, received ${describeReceived(runtime)}`);
    }
    if (ttlMs !== undefined && ttlMs !== null && (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1)) {
      throw new WireError('invalid_request', `ttlMs: expected an integer ≥ 1, received ${describeReceived(ttlMs)}`);
    }
    if (typeof ttlMs === 'number' && ttlMs > this.config.maxSessionTtlMs) {
      throw new WireError('limit_exceeded', `ttlMs: ${ttlMs} exceeds maxSessionTtlMs ${this.config.maxSessionTtlMs}`);
    }
    return { ttlMs: typeof ttlMs === 'number' ? ttlMs : this.config.sessionTtlMs, runtime: runtime ?? null };
  }

  // Checks again when the session's idle time is up; busy or touched since, it waits for the next idle moment.
  private scheduleExpiry(session: Session): void {
    clearTimeout(this.timers.get(session.id));
    if (this.closed || session.closing) return;
    const timer = setTimeout(() => {
      this.timers.delete(session.id);
      if (session.busy || session.closing || this.sessions.get(session.id) !== session) return;
      if (Date.now() < session.expiresAt) return this.scheduleExpiry(session);
      void this.remove(session, 'expired');
    }, Math.max(0, session.expiresAt - Date.now()));
    timer.unref();
    this.timers.set(session.id, timer);
  }

  private remove(session: Session, reason: string): Promise<void> {
    if (this.sessions.get(session.id) !== session) return Promise.resolve();
    this.sessions.delete(session.id);
    clearTimeout(this.timers.get(session.id));
    this.timers.delete(session.id);
    const released = Promise.allSettled(this.removedListeners.map(async (listener) => listener(session)));
    const removal = (async () => {
      // No process of the session may run while its files are removed: its executions are over and their
      // sandboxes gone (drain), and so is the warm sandbox waiting for its next execution (released).
      await session.drain();
      await released;
      await this.removeFiles(session);
      this.log.info({ sessionId: session.id, reason }, 'session removed');
    })();
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
    return removal;
  }

  private async removeFiles(session: Session): Promise<void> {
    if (session.workspaceMounted) {
      await unmountWorkspace(session.workspaceDir, this.host.mounter).catch((error) => this.log.error({ err: error, sessionId: session.id }, 'could not unmount a session workspace'));
    }
    await removeTree(session.dir).catch((error) => this.log.error({ err: error, sessionId: session.id }, 'could not remove a session directory'));
  }
}
