"""A minimal RFC 6455 WebSocket client over a Unix socket, enough for the bridge to the daemon.

Built on `_socket` rather than `socket`, which imports `selectors` and `enum` and would cost every execution a
few milliseconds. The Node prelude's prelude/websocket.cjs follows the same rules, checked by
test/vectors/frames.json:
  - client frames are masked with the all-zero key (docs/protocol.md allows it), with the shortest length;
  - a frame from the daemon fails the connection when it is masked, has reserved bits set (no extension is
    negotiated), has an unknown opcode, is a fragmented or longer than 125 bytes control frame, declares more
    than 2^53 - 1 bytes, continues no message or starts one inside a fragmented message, or when a message is
    not UTF-8 (RFC 6455 5.1, 5.2, 5.4, 5.5, 8.1). The daemon's `ws` never fragments what it sends, but
    fragmented messages are reassembled as the RFC requires, control frames between their fragments included;
  - a ping is answered with a pong of the same payload, a close with a close echoing its status code.
"""

import _socket
import _thread

from .protocol import MAX_HANDSHAKE_BYTES

# The handshake key is fixed, in both preludes: RFC 6455's sample key and its accept value. A random key lets a
# client tell a WebSocket server from something that replays or caches HTTP; here the peer is the daemon's own
# socket, bound read-only into the sandbox before any code runs, on a channel that never crosses a proxy, and
# the prelude proves itself with the per-execution token. Randomness would defend against nothing (and costs
# Node loading node:crypto, about 5 ms of every execution).
WS_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY = 0x0, 0x1, 0x2
OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 0x8, 0x9, 0xA
KNOWN_OPCODES = (OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG)
MAX_CONTROL_PAYLOAD_BYTES = 125
MAX_FRAME_BYTES = 2**53 - 1  # as the daemon's own `ws` receiver allows, and the most a JavaScript number holds


class BridgeError(Exception):
    """The bridge to the daemon could not be opened, broke the protocol, or was closed; .kind says which
    (closed, masked_frame, handshake_refused...), the same word the Node prelude's client reports."""

    def __init__(self, message, kind="failed"):
        super().__init__(message)
        self.kind = kind


class WebSocket:
    """One client connection: sends text frames (thread-safe), reads whole messages (one reader at a time)."""

    def __init__(self, sock, buffered):
        self._sock = sock
        self._buffer = bytearray(buffered)
        self._parts = None  # the payloads of a fragmented message so far
        self._send_lock = _thread.allocate_lock()
        self.close_message = None  # set when the daemon sent a close frame: what it said

    # Sends text messages, one frame each, in a single write; with close=True a close frame follows.
    def send_texts(self, texts, close=False):
        frames = []
        for text in texts:
            payload = text.encode("utf-8", "backslashreplace")  # a lone surrogate becomes a JSON \u escape
            frames.append(_frame_header(OPCODE_TEXT, len(payload)))
            frames.append(payload)
        if close:
            frames.append(_frame_header(OPCODE_CLOSE, 2) + (1000).to_bytes(2, "big"))
        self._send(b"".join(frames))

    # Returns the next text message, reassembling fragments and answering pings; None once the daemon closed.
    # A frame is refused on its header, before its payload is read. Bytes leave the buffer only as a whole frame,
    # and fragments wait in self._parts, so an exception that interrupts a wait for more bytes loses nothing.
    def receive_text(self):
        while True:
            frame = self._take_frame()
            if frame is None:
                self._fill()
                continue
            fin, opcode, payload = frame
            if opcode == OPCODE_PING:
                self._send(_frame_header(OPCODE_PONG, len(payload)) + payload)
            elif opcode == OPCODE_CLOSE:
                return self._closed_by_daemon(payload)
            elif opcode != OPCODE_PONG:
                if opcode != OPCODE_CONTINUATION:
                    self._parts = []
                self._parts.append(payload)
                if fin:
                    parts, self._parts = self._parts, None
                    try:
                        return b"".join(parts).decode("utf-8")
                    except UnicodeDecodeError:
                        raise BridgeError("bridge protocol error: a message that is not valid UTF-8", "invalid_utf8") from None

    # Removes and returns the buffer's first frame as (fin, opcode, payload), or None while it is incomplete;
    # raises on a header that breaks the protocol as soon as the header is there.
    def _take_frame(self):
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        problem = _frame_header_problem(first, second, self._parts is not None)
        if problem is not None:
            raise BridgeError(problem[1], problem[0])
        length, start = second & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length, start = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length, start = int.from_bytes(buffer[2:10], "big"), 10
            if length > MAX_FRAME_BYTES:
                raise BridgeError("bridge protocol error: a frame longer than 2^53 - 1 bytes", "frame_too_long")
        end = start + length
        if len(buffer) < end:
            return None
        payload = bytes(buffer[start:end])
        del buffer[:end]
        return first & 0x80, first & 0x0F, payload

    # Appends what the socket has to the buffer (blocking until something comes).
    def _fill(self):
        try:
            chunk = self._sock.recv(262144)
        except OSError as exc:
            if exc.errno is None:  # raised by a signal handler of the code, not by the socket
                raise
            raise BridgeError(f"the bridge failed: {exc.strerror}", "closed") from None
        if not chunk:
            raise BridgeError("the daemon closed the bridge", "closed")
        self._buffer += chunk

    # Answers the daemon's close frame, echoing its status code, and records what it said; returns None.
    def _closed_by_daemon(self, payload):
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
        echo = payload[:2] if code is not None else b""
        try:
            self._send(_frame_header(OPCODE_CLOSE, len(echo)) + echo)
        except OSError:
            pass
        why = f": {payload[2:].decode('utf-8', 'replace')}" if len(payload) > 2 else ""
        self.close_message = "the daemon closed the bridge" + ("" if code is None else f" ({code}{why})")
        return None

    # Writes bytes under the lock, so frames from several threads never interleave.
    def _send(self, data):
        with self._send_lock:
            self._sock.sendall(data)


# Why a frame's first two bytes break the protocol, as (kind, message), or None; in_message: fragments are pending.
def _frame_header_problem(first, second, in_message):
    opcode = first & 0x0F
    if first & 0x70:
        return "reserved_bits", "bridge protocol error: a frame with reserved bits set"
    if opcode not in KNOWN_OPCODES:
        return "unknown_opcode", f"bridge protocol error: unknown opcode {opcode}"
    if second & 0x80:
        return "masked_frame", "bridge protocol error: the daemon sent a masked frame"
    if opcode >= OPCODE_CLOSE:
        if not first & 0x80:
            return "invalid_control_frame", "bridge protocol error: a fragmented control frame"
        if second & 0x7F > MAX_CONTROL_PAYLOAD_BYTES:
            return "invalid_control_frame", f"bridge protocol error: a control frame longer than {MAX_CONTROL_PAYLOAD_BYTES} bytes"
    elif opcode == OPCODE_CONTINUATION and not in_message:
        return "unexpected_continuation", "bridge protocol error: a continuation frame with no message to continue"
    elif opcode != OPCODE_CONTINUATION and in_message:
        return "unfinished_message", "bridge protocol error: a new message began inside a fragmented one"
    return None


# Builds a client frame header: FIN set, masked with the all-zero key.
def _frame_header(opcode, length):
    first = 0x80 | opcode
    if length < 126:
        return bytes((first, 0x80 | length, 0, 0, 0, 0))
    if length < 0x10000:
        return bytes((first, 0x80 | 126)) + length.to_bytes(2, "big") + b"\0\0\0\0"
    return bytes((first, 0x80 | 127)) + length.to_bytes(8, "big") + b"\0\0\0\0"


# Connects to the Unix socket and upgrades the connection (GET /bridge with the bearer token).
def connect_websocket(socket_path, token):
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.connect(socket_path)
    sock.sendall(
        b"GET /bridge HTTP/1.1\r\nHost: runbox\r\nAuthorization: Bearer " + token.encode("utf-8")
        + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + WS_KEY
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    # The answer must fit in maxHandshakeBytes up to the blank line that ends it.
    response = b""
    while True:
        end = response.find(b"\r\n\r\n")
        if end + 4 > MAX_HANDSHAKE_BYTES if end >= 0 else len(response) >= MAX_HANDSHAKE_BYTES:
            raise BridgeError(f"the bridge handshake answer is longer than {MAX_HANDSHAKE_BYTES} bytes", "handshake_too_long")
        if end >= 0:
            break
        chunk = sock.recv(MAX_HANDSHAKE_BYTES)
        if not chunk:
            raise BridgeError("the daemon closed the bridge", "closed")
        response += chunk
    problem = _handshake_problem(response[:end].decode("latin-1"))
    if problem is not None:
        raise BridgeError(problem[1], problem[0])
    return WebSocket(sock, response[end + 4:])


# Checks the daemon's answer to the upgrade (everything before the blank line); returns (kind, message) or None.
def _handshake_problem(head):
    status_line, *header_lines = head.split("\r\n")
    parts = status_line.split(" ", 2)
    status = parts[1] if len(parts) >= 2 and parts[0] in ("HTTP/1.1", "HTTP/1.0") and len(parts[1]) == 3 and parts[1].isdigit() else None
    if status == "401":
        return "handshake_refused", f"the daemon refused the bridge token ({status_line})"
    if status != "101":
        return "handshake_refused", f"the daemon refused the WebSocket upgrade ({status_line or 'no answer'})"
    headers = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        missing = "no Upgrade: websocket"
    elif "upgrade" not in [token.strip() for token in headers.get("connection", "").lower().split(",")]:
        missing = "no Connection: Upgrade"
    elif headers.get("sec-websocket-accept") != WS_ACCEPT:
        missing = "wrong Sec-WebSocket-Accept"
    else:
        return None
    return "handshake_invalid", f"the daemon's answer is not a valid WebSocket upgrade ({missing})"
