// Admission of executions: at most `maxConcurrent` hold a slot at once, up to `maxQueued` more wait for one in
// FIFO order, and anything past that is refused at once so the caller can answer 429 instead of piling up work.

export interface SlotTicket {
  /** Resolves true when the slot is granted, false when the ticket was withdrawn while it waited. */
  readonly granted: Promise<boolean>;
  /** Leaves the queue; no effect once the slot is granted (then call release). */
  withdraw(): void;
  /** Gives the slot back to the next waiter. Safe to call twice, and before the grant (then it withdraws). */
  release(): void;
}

interface Waiter {
  grant: (granted: boolean) => void;
  /** False until the ticket's gate opens (a session's earlier execution ended): only then may it get a slot. */
  eligible: boolean;
}

export class SlotQueue {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    /** Slots: executions running at once. */
    private readonly maxConcurrent: number,
    /** Tickets that may wait for a slot; 0 refuses whatever cannot run at once. */
    private readonly maxQueued: number,
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError(`maxConcurrent: expected an integer ≥ 1, received ${maxConcurrent}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError(`maxQueued: expected an integer ≥ 0, received ${maxQueued}`);
  }

  /** Slots in use. */
  get activeCount(): number {
    return this.active;
  }

  /** Tickets waiting for a slot. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  // A ticket that holds a slot now or waits for one, or null when the queue is full (refuse the work). With a
  // gate, the ticket waits in the queue (keeping its place among eligible tickets) until the gate opens, and
  // never holds a slot before: work that must follow other work does not sit on a slot doing nothing.
  tryEnter(gate?: Promise<void>): SlotTicket | null {
    if (!gate && this.active < this.maxConcurrent && !this.waiting.some((w) => w.eligible)) {
      this.active += 1;
      return this.ticket(Promise.resolve(true), null);
    }
    if (this.waiting.length >= this.maxQueued) return null;
    let waiter!: Waiter;
    const granted = new Promise<boolean>((resolve) => (waiter = { grant: resolve, eligible: !gate }));
    this.waiting.push(waiter);
    void gate?.then(() => {
      waiter.eligible = true;
      this.next();
    });
    return this.ticket(granted, waiter);
  }

  private ticket(granted: Promise<boolean>, waiter: Waiter | null): SlotTicket {
    let state: 'waiting' | 'holding' | 'done' = waiter ? 'waiting' : 'holding';
    if (waiter) {
      const grant = waiter.grant;
      waiter.grant = (ok) => {
        state = ok ? 'holding' : 'done';
        grant(ok);
      };
    }
    const withdraw = (): void => {
      if (state !== 'waiting' || !waiter) return;
      this.waiting.splice(this.waiting.indexOf(waiter), 1);
      waiter.grant(false);
    };
    return {
      granted,
      withdraw,
      release: () => {
        if (state === 'waiting') return withdraw();
        if (state !== 'holding') return;
        state = 'done';
        this.active -= 1;
        this.next();
      },
    };
  }

  // Hands free slots to the oldest eligible waiters.
  private next(): void {
    while (this.active < this.maxConcurrent) {
      const index = this.waiting.findIndex((w) => w.eligible);
      if (index === -1) return;
      this.active += 1;
      this.waiting.splice(index, 1)[0].grant(true);
    }
  }
}
