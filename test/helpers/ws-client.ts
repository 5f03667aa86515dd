// A raw WebSocket client for protocol tests: sends messages, answers tool calls with handlers, and collects
// each execution's messages. Deliberately not the SDK, so the wire contract itself is what is tested.
import { WebSocket } from 'ws';

export type ToolHandler = (args: any) => unknown | Promise<unknown>;

export interface Collected {
  messages: any[];
  stdout: string;
  stderr: string;
  toolCalls: any[];
}

export class RawClient {
  readonly errors: any[] = [];
  private readonly collected = new Map<string, Collected>();
  private readonly waiting = new Map<string, (result: any) => void>();
  private readonly errorWaiters: Array<(error: any) => void> = [];
  handlers: Record<string, ToolHandler> = {};

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.receive(JSON.parse(data.toString())));
  }

  // Opens a connection (with an optional bearer token).
  static async connect(url: string, token?: string): Promise<RawClient> {
    const ws = new WebSocket(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new RawClient(ws);
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  // Sends an execute and resolves with its final result message.
  execute(message: Record<string, unknown>): Promise<any> {
    const id = String(message.id);
    const done = new Promise<any>((resolve) => this.waiting.set(id, resolve));
    this.send({ type: 'execute', ...message });
    return done;
  }

  // Resolves with the next `error` message.
  nextError(): Promise<any> {
    return new Promise((resolve) => this.errorWaiters.push(resolve));
  }

  of(id: string): Collected {
    let entry = this.collected.get(id);
    if (!entry) {
      entry = { messages: [], stdout: '', stderr: '', toolCalls: [] };
      this.collected.set(id, entry);
    }
    return entry;
  }

  close(): void {
    this.ws.close();
  }

  private receive(message: any): void {
    if (message.type === 'error') {
      this.errors.push(message);
      this.errorWaiters.shift()?.(message);
    }
    if (typeof message.id !== 'string') return;
    const entry = this.of(message.id);
    entry.messages.push(message);
    if (message.type === 'stdout') entry.stdout += message.data;
    if (message.type === 'stderr') entry.stderr += message.data;
    if (message.type === 'tool_call') {
      entry.toolCalls.push(message);
      void this.answer(message);
    }
    if (message.type === 'result') this.waiting.get(message.id)?.(message);
  }

  private async answer(call: any): Promise<void> {
    const handler = this.handlers[call.name];
    if (!handler) return; // left unanswered on purpose: tests use this for calls that never return
    try {
      const result = await handler(call.args);
      this.send({ type: 'tool_result', callId: call.callId, result: result ?? null });
    } catch (error) {
      this.send({ type: 'tool_result', callId: call.callId, error: { message: (error as Error).message } });
    }
  }
}
