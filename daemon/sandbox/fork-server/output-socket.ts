// The standard output or error of a forked child: a Unix socket in the execution's private directory that the
// child connects once and puts on descriptor 1 or 2. The stream reads what it writes, in order, as a pipe would.
import { chmodSync, chownSync } from 'node:fs';
import net from 'node:net';
import { PassThrough, type Readable } from 'node:stream';

/** How long an output socket still accepts the child's connection once the child has exited (it may be queued). */
const LATE_CONNECTION_MS = 100;

export class OutputSocket {
  /** What the child writes; ends when it closes its end, or when it exited without ever connecting. */
  readonly stream: Readable;
  private readonly passThrough = new PassThrough();
  private connected = false;
  private socket: net.Socket | null = null;
  private queued: string | null = null;

  private constructor(private readonly server: net.Server) {
    this.stream = this.passThrough;
    server.on('connection', (socket) => {
      // Only the child's first connection counts; nothing else can reach the path, but nothing else is read either.
      if (this.connected) return socket.destroy();
      this.connected = true;
      this.socket = socket;
      server.close();
      if (this.queued !== null) socket.write(this.queued);
      this.queued = null;
      socket.on('error', () => this.passThrough.end());
      socket.pipe(this.passThrough);
    });
    server.on('error', () => this.passThrough.end());
  }

  // Listens at socketPath, owned by the sandbox user (who must connect to it) and by no one else.
  static async listen(socketPath: string, owner?: { uid: number; gid: number }): Promise<OutputSocket> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(socketPath, 0o600);
    if (owner) chownSync(socketPath, owner.uid, owner.gid);
    return new OutputSocket(server);
  }

  // Writes text to the child once it is connected (at once when it is); nothing when the socket is closed.
  write(text: string): void {
    if (this.socket) this.socket.write(text);
    else this.queued = (this.queued ?? '') + text;
  }

  // The child has exited: a connection it made is still read to its end; without one the stream ends shortly.
  childExited(): void {
    if (this.connected) return;
    setTimeout(() => {
      if (this.connected) return;
      this.server.close();
      this.passThrough.end(); // a second end() is a no-op
    }, LATE_CONNECTION_MS).unref();
  }

  // Stops listening and ends the stream (the fork never happened).
  close(): void {
    this.server.close();
    this.passThrough.end();
  }
}
