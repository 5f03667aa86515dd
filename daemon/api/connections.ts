// Caps on client connections, applied the moment one is accepted and before a byte of it is parsed: at most
// maxConnections open in total and maxConnectionsPerAddress from one remote address, and an unauthenticated
// connection (no request with the right token yet) lives at most headersTimeoutMs (plus the time Node takes to
// answer its own 408 first). When the total is reached, the oldest unauthenticated connection makes room: a flood
// of silent connections from many addresses then cannot lock out a client with the token. Only when every open
// connection has authenticated is a new one refused. Every cap keeps the daemon below its descriptor limit
// (daemon/descriptors.ts).
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config.js';

/** The caps, from the configuration (docs/configuration.md). */
export type ConnectionCaps = Pick<Config, 'maxConnections' | 'maxConnectionsPerAddress' | 'headersTimeoutMs'>;

/** Node checks its own header timeout this often at most, and answers it with a 408: that answer comes first. */
const HEADERS_TIMEOUT_GRACE_MS = 2000;
/** Refusals are logged at most this often (with how many there were), so a flood cannot flood the log too. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

type Refusal = 'per_address' | 'total' | 'evicted' | 'unauthenticated';

interface Tracked {
  readonly address: string;
  /** Cleared when the connection no longer counts against the caps (evicted, about to close). */
  counted: boolean;
  /** Its deadline, while it has not authenticated. */
  deadline: NodeJS.Timeout | null;
}

export class ConnectionGuard {
  private readonly tracked = new Map<Socket, Tracked>();
  /** Open connections that have not authenticated yet, oldest first. */
  private readonly untrusted = new Set<Socket>();
  private readonly perAddress = new Map<string, number>();
  private open = 0;
  private readonly refusals: Record<Refusal, number> = { per_address: 0, total: 0, evicted: 0, unauthenticated: 0 };
  private lastLogAt = 0;

  constructor(
    private readonly caps: ConnectionCaps,
    private readonly log: Logger,
  ) {}

  // Takes in a connection just accepted, or destroys it at once when it is over a cap.
  admit(socket: Socket): void {
    const address = socket.remoteAddress ?? 'unknown';
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (fromAddress >= this.caps.maxConnectionsPerAddress) return this.refuse(socket, 'per_address');
    if (this.open >= this.caps.maxConnections && !this.evictOldestUntrusted()) return this.refuse(socket, 'total');
    const entry: Tracked = { address, counted: true, deadline: null };
    entry.deadline = setTimeout(() => {
      this.count('unauthenticated');
      this.uncount(socket);
      socket.destroy();
    }, this.caps.headersTimeoutMs + HEADERS_TIMEOUT_GRACE_MS);
    entry.deadline.unref();
    this.tracked.set(socket, entry);
    this.untrusted.add(socket);
    this.open += 1;
    this.perAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      this.uncount(socket);
      this.tracked.delete(socket);
    });
  }

  // The connection sent a request with the right token (or no token is configured): it is no longer cut at its
  // deadline, nor evicted to make room.
  trust(socket: Socket): void {
    const entry = this.tracked.get(socket);
    if (!entry || entry.deadline === null) return;
    clearTimeout(entry.deadline);
    entry.deadline = null;
    this.untrusted.delete(socket);
  }

  // Stops counting a connection (closed, evicted or cut); safe to call twice.
  private uncount(socket: Socket): void {
    const entry = this.tracked.get(socket);
    if (!entry || !entry.counted) return;
    entry.counted = false;
    if (entry.deadline !== null) clearTimeout(entry.deadline);
    entry.deadline = null;
    this.untrusted.delete(socket);
    this.open -= 1;
    const left = (this.perAddress.get(entry.address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(entry.address, left);
    else this.perAddress.delete(entry.address);
  }

  private evictOldestUntrusted(): boolean {
    const oldest = this.untrusted.values().next();
    if (oldest.done) return false;
    this.count('evicted');
    this.uncount(oldest.value);
    oldest.value.destroy();
    return true;
  }

  private refuse(socket: Socket, why: Refusal): void {
    this.count(why);
    socket.on('error', () => undefined);
    socket.destroy();
  }

  private count(why: Refusal): void {
    this.refusals[why] += 1;
    const now = Date.now();
    if (now - this.lastLogAt < REFUSAL_LOG_INTERVAL_MS) return;
    this.lastLogAt = now;
    const { maxConnections, maxConnectionsPerAddress, headersTimeoutMs } = this.caps;
    this.log.warn({ refusals: this.refusals, open: this.open, maxConnections, maxConnectionsPerAddress, headersTimeoutMs }, 'client connections refused or cut (over maxConnections, maxConnectionsPerAddress, or not authenticated within headersTimeoutMs)');
  }
}
