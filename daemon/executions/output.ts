// Captures one output stream of an execution up to a byte cap, decoding UTF-8 across chunk boundaries.
// Past the cap the stream is still drained (so the code never blocks on a full pipe) but nothing is kept.
import { StringDecoder } from 'node:string_decoder';

export class OutputCapture {
  private readonly decoder = new StringDecoder('utf8');
  private readonly parts: string[] = [];
  private keptBytes = 0;
  private droppedBytes = 0;

  constructor(
    private readonly streamName: 'stdout' | 'stderr',
    private readonly maxBytes: number,
  ) {}

  // Takes a chunk; returns the text to stream to the client now ('' when nothing new is kept).
  push(chunk: Buffer): string {
    const room = this.maxBytes - this.keptBytes;
    if (room <= 0) {
      this.droppedBytes += chunk.length;
      return '';
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.droppedBytes += chunk.length - kept.length;
    this.keptBytes += kept.length;
    const text = this.decoder.write(kept);
    if (text) this.parts.push(text);
    return text;
  }

  get truncated(): boolean {
    return this.droppedBytes > 0;
  }

  // The marker line that replaces what was cut, or '' when nothing was.
  marker(): string {
    return this.truncated ? `\n[runbox: ${this.streamName} truncated after ${this.maxBytes} bytes; ${this.droppedBytes} more bytes dropped]\n` : '';
  }

  // Everything kept, with the marker at the end when output was cut.
  text(): string {
    return this.parts.join('') + this.decoder.end() + this.marker();
  }
}
