"""A minimal RFC 6455 WebSocket client over a Unix socket, enough for the bridge to the daemon.

Client frames are masked with the all-zero key (docs/protocol.md allows it: the channel never crosses a
proxy), so payloads go out unchanged. Built on `_socket` rather than `socket`, which imports `selectors`
and `enum` and would cost every execution a few milliseconds.
"""

import os

import _socket
import _thread
import binascii

from .protocol import MAX_HANDSHAKE_BYTES

WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY = 0x0, 0x1, 0x2
OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 0x8, 0x9, 0xA


class BridgeError(Exception):
    """The bridge to the daemon could not be opened, broke the protocol, or was closed."""


class WebSocket:
    """One client connection: sends text frames (thread-safe), reads whole messages (one reader at a time)."""

    def __init__(self, sock, buffered):
        self._sock = sock
        self._buffer = bytearray(buffered)
        self._send_lock = _thread.allocate_lock()

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
    def receive_text(self):
        parts = []
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == OPCODE_CLOSE:
                try:
                    self._send(_frame_header(OPCODE_CLOSE, len(payload[:2])) + payload[:2])
                except OSError:
                    pass
                return None
            if opcode == OPCODE_PING:
                self._send(_frame_header(OPCODE_PONG, len(payload)) + payload)
                continue
            if opcode == OPCODE_PONG:
                continue
            continues = opcode == OPCODE_CONTINUATION
            if opcode not in (OPCODE_CONTINUATION, OPCODE_TEXT, OPCODE_BINARY) or continues != bool(parts):
                raise BridgeError(f"unexpected WebSocket frame (opcode {opcode})")
            parts.append(payload)
            if fin:
                return b"".join(parts).decode("utf-8")

    # Writes bytes under the lock, so frames from several threads never interleave.
    def _send(self, data):
        with self._send_lock:
            self._sock.sendall(data)

    # Reads one frame: (fin, opcode, payload).
    def _read_frame(self):
        first, second = self._read(2)
        if second & 0x80:
            raise BridgeError("the daemon sent a masked frame")
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self._read(2), "big")
        elif length == 127:
            length = int.from_bytes(self._read(8), "big")
        return first & 0x80, first & 0x0F, self._read(length)

    # Reads exactly n bytes.
    def _read(self, n):
        buffer = self._buffer
        while len(buffer) < n:
            chunk = self._sock.recv(262144)
            if not chunk:
                raise BridgeError("the daemon closed the bridge")
            buffer += chunk
        data = bytes(buffer[:n])
        del buffer[:n]
        return data


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
    key = binascii.b2a_base64(os.urandom(16), newline=False)
    sock.sendall(
        b"GET /bridge HTTP/1.1\r\nHost: runbox\r\nAuthorization: Bearer " + token.encode("utf-8")
        + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    response = b""
    while b"\r\n\r\n" not in response and len(response) < MAX_HANDSHAKE_BYTES:
        chunk = sock.recv(MAX_HANDSHAKE_BYTES)
        if not chunk:
            break
        response += chunk
    head, end_of_head, rest = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if not end_of_head or len(status) < 2 or status[1] != "101":
        raise BridgeError(f"the daemon refused the WebSocket upgrade ({lines[0] or 'no answer'})")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket" or headers.get("sec-websocket-accept") != _accept(key):
        raise BridgeError("the daemon's answer is not a valid WebSocket upgrade")
    return WebSocket(sock, rest)


# The Sec-WebSocket-Accept value the server must answer for a key.
def _accept(key):
    try:
        from _sha1 import sha1  # built in, unlike hashlib's OpenSSL module
    except ImportError:
        from hashlib import sha1
    return binascii.b2a_base64(sha1(key + WEBSOCKET_GUID).digest(), newline=False).decode("ascii")
