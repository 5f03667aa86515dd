'use strict';
// A minimal RFC 6455 WebSocket client over the bridge's Unix socket, by hand over node:net: Node 20 has no
// WebSocket client for Unix sockets. It sends and receives text messages; what they mean is bridge.cjs's.
// The Python prelude's runbox_prelude/websocket.py follows the same rules, checked by test/vectors/frames.json:
//   - client frames are masked with the all-zero key (docs/protocol.md allows it), with the shortest length;
//   - a frame from the daemon fails the connection when it is masked, has reserved bits set (no extension is
//     negotiated), has an unknown opcode, is a fragmented or longer than 125 bytes control frame, declares more
//     than 2^53 - 1 bytes, continues no message or starts one inside a fragmented message, or when a message is
//     not UTF-8 (RFC 6455 §5.1, §5.2, §5.4, §5.5, §8.1). The daemon's `ws` never fragments what it sends, but
//     fragmented messages are reassembled as the RFC requires, control frames between their fragments included;
//   - a ping is answered with a pong of the same payload, a close with a close echoing its status code.

const net = require('node:net');
const fs = require('node:fs');
const { isUtf8 } = require('node:buffer');
const { MAX_HANDSHAKE_BYTES } = require('./protocol.cjs');

// The handshake key is fixed, in both preludes: RFC 6455's sample key and its accept value. A random key lets a
// client tell a WebSocket server from something that replays or caches HTTP; here the peer is the daemon's own
// socket, bound read-only into the sandbox before any code runs, on a channel that never crosses a proxy, and
// the prelude proves itself with the per-execution token. Randomness would defend against nothing and would
// cost every execution loading node:crypto (about 5 ms here).
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const WS_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };
const KNOWN_OPCODES = new Set(Object.values(OPCODE));
const MAX_CONTROL_PAYLOAD_BYTES = 125;
/** A 64-bit length's upper 32 bits may not exceed this: 2^53 - 1 bytes at most, as ws's own receiver allows. */
const MAX_LENGTH_HIGH_BITS = 2 ** 21 - 1;

// Builds one masked client frame; the all-zero mask key leaves the payload as it is (allowed by protocol.md).
function encodeFrame(opcode, payload) {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const headerLength = 2 + lengthBytes + 4;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) {
    frame[1] = 0x80 | length;
  } else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.fill(0, headerLength - 4, headerLength);
  payload.copy(frame, headerLength);
  return frame;
}

// Why a frame's first two bytes break the protocol, as [kind, message], or null; isInMessage: fragments are pending.
function frameHeaderProblem(first, second, isInMessage) {
  const opcode = first & 0x0f;
  if (first & 0x70) return ['reserved_bits', 'bridge protocol error: a frame with reserved bits set'];
  if (!KNOWN_OPCODES.has(opcode)) return ['unknown_opcode', `bridge protocol error: unknown opcode ${opcode}`];
  if (second & 0x80) return ['masked_frame', 'bridge protocol error: the daemon sent a masked frame'];
  if (opcode >= OPCODE.close) {
    if (!(first & 0x80)) return ['invalid_control_frame', 'bridge protocol error: a fragmented control frame'];
    if ((second & 0x7f) > MAX_CONTROL_PAYLOAD_BYTES) {
      return ['invalid_control_frame', `bridge protocol error: a control frame longer than ${MAX_CONTROL_PAYLOAD_BYTES} bytes`];
    }
  } else if (opcode === OPCODE.continuation && !isInMessage) {
    return ['unexpected_continuation', 'bridge protocol error: a continuation frame with no message to continue'];
  } else if (opcode !== OPCODE.continuation && isInMessage) {
    return ['unfinished_message', 'bridge protocol error: a new message began inside a fragmented one'];
  }
  return null;
}

// Checks the daemon's answer to the upgrade (everything before the blank line); returns [kind, message] or null.
function handshakeProblem(head) {
  const [statusLine, ...headerLines] = head.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine)?.[1];
  if (status === '401') return ['handshake_refused', `the daemon refused the bridge token (${statusLine})`];
  if (status !== '101') return ['handshake_refused', `the daemon refused the WebSocket upgrade (${statusLine || 'no answer'})`];
  const headers = new Map();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon >= 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  let missing = null;
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') missing = 'no Upgrade: websocket';
  else if (!(headers.get('connection') ?? '').toLowerCase().split(',').some((token) => token.trim() === 'upgrade')) missing = 'no Connection: Upgrade';
  else if (headers.get('sec-websocket-accept') !== WS_ACCEPT) missing = 'wrong Sec-WebSocket-Accept';
  return missing === null ? null : ['handshake_invalid', `the daemon's answer is not a valid WebSocket upgrade (${missing})`];
}

// Writes a whole buffer to a file descriptor synchronously, for the one moment nothing asynchronous may run.
function writeAllSync(fd, data) {
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += fs.writeSync(fd, data, offset);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

// One client connection: text messages in (onText) and out; onLost(kind, message) once, when it ends or fails.
class WebSocketClient {
  constructor(socketPath, token, { route, onOpen, onText, onLost }) {
    this.onText = onText;
    this.onLost = onLost;
    this.isOpen = false;
    this.isLost = false;
    this.chunks = [];
    this.bufferedBytes = 0;
    this.neededBytes = 1;
    this.fragments = null;
    this.outgoing = [];
    this.socket = net.connect({ path: socketPath }, () => {
      this.socket.write(
        `GET ${route} HTTP/1.1\r\nHost: runbox\r\n` +
          `Authorization: Bearer ${token}\r\n` +
          'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      onOpen();
    });
    this.socket.on('data', (chunk) => this.receive(chunk));
    this.socket.on('error', (err) => this.lose('failed', `the bridge failed: ${err.message}`));
    this.socket.on('close', () => this.lose('closed', 'the daemon closed the bridge'));
  }

  // Collects bytes until the handshake or the next whole frame is in, so big messages are joined only once.
  receive(chunk) {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    if (this.bufferedBytes < this.neededBytes || this.isLost) return;
    const buffer = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.bufferedBytes);
    let offset = this.isOpen ? 0 : this.readHandshake(buffer);
    if (offset < 0) {
      this.chunks = [buffer];
      return;
    }
    offset = this.readFrames(buffer, offset);
    const rest = buffer.subarray(offset);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
  }

  // Checks the HTTP answer to the upgrade, which must fit in maxHandshakeBytes up to its blank line; returns
  // where the frames start, or -1 while it is incomplete (or refused).
  readHandshake(buffer) {
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0 ? buffer.length >= MAX_HANDSHAKE_BYTES : end + 4 > MAX_HANDSHAKE_BYTES) {
      this.lose('handshake_too_long', `the bridge handshake answer is longer than ${MAX_HANDSHAKE_BYTES} bytes`);
      return -1;
    }
    if (end < 0) {
      this.neededBytes = buffer.length + 1;
      return -1;
    }
    const problem = handshakeProblem(buffer.toString('latin1', 0, end));
    if (problem !== null) {
      this.lose(...problem);
      return -1;
    }
    this.isOpen = true;
    this.neededBytes = 2;
    return end + 4;
  }

  // Reads every complete frame from offset on; returns the offset of the first incomplete one. A frame is
  // refused on its header, before its payload is waited for.
  readFrames(buffer, offset) {
    while (!this.isLost) {
      const available = buffer.length - offset;
      if (available < 2) break;
      const first = buffer[offset];
      const second = buffer[offset + 1];
      const problem = frameHeaderProblem(first, second, this.fragments !== null);
      if (problem !== null) {
        this.lose(...problem);
        break;
      }
      let length = second & 0x7f;
      const headerLength = length === 126 ? 4 : length === 127 ? 10 : 2;
      if (available < headerLength) {
        this.neededBytes = headerLength;
        return offset;
      }
      if (length === 126) {
        length = buffer.readUInt16BE(offset + 2);
      } else if (length === 127) {
        const high = buffer.readUInt32BE(offset + 2);
        if (high > MAX_LENGTH_HIGH_BITS) {
          this.lose('frame_too_long', 'bridge protocol error: a frame longer than 2^53 - 1 bytes');
          break;
        }
        length = high * 2 ** 32 + buffer.readUInt32BE(offset + 6);
      }
      if (available < headerLength + length) {
        this.neededBytes = headerLength + length;
        return offset;
      }
      const payload = buffer.subarray(offset + headerLength, offset + headerLength + length);
      offset += headerLength + length;
      this.handleFrame((first & 0x80) !== 0, first & 0x0f, payload);
    }
    this.neededBytes = 2;
    return offset;
  }

  // Acts on one checked frame: data frames (possibly fragmented) become messages; ping gets pong; close ends it.
  handleFrame(isFinal, opcode, payload) {
    if (opcode === OPCODE.ping) {
      this.queueFrame(encodeFrame(OPCODE.pong, payload));
    } else if (opcode === OPCODE.close) {
      const closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      this.socket.end(encodeFrame(OPCODE.close, payload.subarray(0, closeCode === null ? 0 : 2)));
      const why = payload.length > 2 ? `: ${payload.toString('utf8', 2)}` : '';
      this.lose('closed', `the daemon closed the bridge${closeCode === null ? '' : ` (${closeCode}${why})`}`);
    } else if (opcode !== OPCODE.pong) {
      if (opcode !== OPCODE.continuation) this.fragments = [];
      this.fragments.push(payload);
      if (!isFinal) return;
      const message = this.fragments.length === 1 ? payload : Buffer.concat(this.fragments);
      this.fragments = null;
      if (!isUtf8(message)) return this.lose('invalid_utf8', 'bridge protocol error: a message that is not valid UTF-8');
      this.onText(message.toString('utf8'));
    }
  }

  // Sends a text message; frames sent in the same tick go out in one write (1,000 parallel tool calls, one syscall).
  sendText(text) {
    this.queueFrame(encodeFrame(OPCODE.text, Buffer.from(text)));
  }

  // Queues a frame and schedules the flush of this tick's frames.
  queueFrame(frame) {
    this.outgoing.push(frame);
    if (this.outgoing.length === 1) process.nextTick(() => this.flush());
  }

  // Writes the queued frames; onWritten runs once they are handed to the kernel (or the socket failed).
  flush(onWritten) {
    if (this.outgoing.length === 0) {
      if (onWritten) onWritten();
      return;
    }
    const data = this.outgoing.length === 1 ? this.outgoing[0] : Buffer.concat(this.outgoing);
    this.outgoing = [];
    this.socket.write(data, onWritten);
  }

  // Sends a last message and calls back once it is written: at once when the kernel took every byte.
  sendLastText(text, onWritten) {
    this.sendText(text);
    let isCalled = false;
    const callOnce = () => {
      if (isCalled) return;
      isCalled = true;
      onWritten();
    };
    this.flush(callOnce);
    if (this.socket._handle?.writeQueueSize === 0) callOnce();
  }

  // Sends a last message synchronously (from process 'exit'), behind anything libuv has not written yet.
  sendLastTextSync(text) {
    this.sendText(text);
    const data = Buffer.concat(this.outgoing);
    this.outgoing = [];
    const handle = this.socket._handle;
    if (handle && handle.writeQueueSize === 0 && handle.fd >= 0) {
      handle.setBlocking?.(true);
      writeAllSync(handle.fd, data);
    } else {
      this.socket.write(data); // libuv still holds earlier bytes: best effort, they must go first
    }
  }

  // Lets the socket keep the process alive only while the prelude waits for the daemon.
  keepAlive(isNeeded) {
    if (isNeeded) this.socket.ref();
    else this.socket.unref();
  }

  // Reports the end of the connection once: kind says which (closed, failed, masked_frame...), message says it all.
  lose(kind, message) {
    if (this.isLost) return;
    this.isLost = true;
    this.onLost(kind, message);
  }
}

module.exports = { WebSocketClient, writeAllSync, WS_KEY, encodeFrame, OPCODE };
