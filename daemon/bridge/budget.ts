// What one execution's code may send over its bridge: budgets of bytes, messages and refused connections (past
// any of them the execution is cut off with BridgeLimit), and a share of the daemon's main thread (past it, its
// bridge is not read for a while, so a flood slows only its own sandbox, never the other clients).
import { performance } from 'node:perf_hooks';

export interface BridgeBudgetLimits {
  /** Bytes of all messages together. */
  readonly maxInboundBytes: number;
  /** Messages. */
  readonly maxMessages: number;
  /** Connections refused (over the open ones allowed, a wrong token, a broken handshake). */
  readonly maxRefusedConnections: number;
}

// Counts what the code sent; each charge returns null while within the budgets, else the problem, naming the
// budget and its value (once: later charges return null, the execution is being cut off already).
export class BridgeBudget {
  private bytes = 0;
  private messages = 0;
  private refused = 0;
  private spent = false;

  constructor(private readonly limits: BridgeBudgetLimits) {}

  // One message of `bytes` bytes arrived.
  chargeMessage(bytes: number): string | null {
    this.bytes += bytes;
    this.messages += 1;
    if (this.bytes > this.limits.maxInboundBytes) return this.exceed(`more than maxBridgeInboundBytes (${this.limits.maxInboundBytes} bytes)`);
    if (this.messages > this.limits.maxMessages) return this.exceed(`more than maxBridgeMessages (${this.limits.maxMessages} messages)`);
    return null;
  }

  // A connection to the bridge was refused.
  chargeRefusal(): string | null {
    this.refused += 1;
    if (this.refused > this.limits.maxRefusedConnections) {
      return this.exceed(`more than maxBridgeRefusedConnections (${this.limits.maxRefusedConnections}) connections that were refused`);
    }
    return null;
  }

  private exceed(what: string): string | null {
    if (this.spent) return null;
    this.spent = true;
    return `the code sent its bridge ${what}; the execution was cut off`;
  }
}

/** The share of the daemon's main thread one bridge may use over time, and the burst it may use at once. */
export const BRIDGE_CPU_SHARE = 0.1;
export const BRIDGE_CPU_BURST_MS = 250;
/** Charged per MiB received on top of the time measured: what the measurement does not see (the kernel's copy,
 * collecting the frame's garbage, the flooding sandbox's own CPU). With the share above, a bridge that only
 * sends large frames gets about 25 MiB/s after its burst; small messages are charged mostly by their time. */
export const BRIDGE_CHARGED_MS_PER_MIB = 4;

// A token bucket of main-thread time: charge() takes the milliseconds a bridge's messages just cost and returns
// how long the bridge must now rest (not be read) to stay within its share; 0 while within its burst.
export class CpuShare {
  private debtMs = 0;
  private at: number;

  constructor(
    private readonly share = BRIDGE_CPU_SHARE,
    private readonly burstMs = BRIDGE_CPU_BURST_MS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.at = now();
  }

  charge(ms: number): number {
    const now = this.now();
    this.debtMs = Math.max(0, this.debtMs - (now - this.at) * this.share) + ms;
    this.at = now;
    return this.debtMs > this.burstMs ? (this.debtMs - this.burstMs) / this.share : 0;
  }
}
