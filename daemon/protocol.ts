// The bridge protocol's limits and constants, read from runtimes/protocol.json: the one file the daemon, the SDK
// and both preludes share, so that none of them can drift from the others (docs/protocol.md describes each).
import { createRequire } from 'node:module';

export interface ProtocolConstants {
  /** Objects and arrays nested deeper are refused, in either direction. */
  readonly maxJsonDepth: number;
  /** The most bytes of a bridge handshake answer a prelude reads. */
  readonly maxHandshakeBytes: number;
  /** Side connections (Node's blocking installPackage) open at once on one bridge, at most. */
  readonly maxSideConnections: number;
  /** The request path of a side connection. */
  readonly sideConnectionPath: string;
  /** The daemon's own tool that installs packages. */
  readonly installTool: string;
  /** Tool names the daemon keeps for itself; a client may declare none that starts with it. */
  readonly reservedToolPrefix: string;
  /** The longest tool name a request may declare (MCP's own limit; a server prefix comes on top of an MCP tool's name). */
  readonly maxToolNameChars: number;
  /** The most tools one execution request may declare (the SDK's code tool and MCP servers check it up front). */
  readonly maxTools: number;
  /** The exit code of a prelude whose bridge could not be opened or broke. */
  readonly bridgeFailureExitCode: number;
  /** The most UTF-8 bytes of a tool declaration's `stub` (what describe_tool returns in the sandbox). */
  readonly maxToolStubBytes: number;
}

// The compiled module is dist/daemon/protocol.js, two levels below runtimes/ (which the package ships). The SDK
// reads it through this module too.
export const PROTOCOL: ProtocolConstants = Object.freeze(createRequire(import.meta.url)('../../runtimes/protocol.json') as ProtocolConstants);

// What a declared tool's name must match: 1 to maxChars characters of [A-Za-z0-9_.-], starting with a letter or _.
export function toolNamePattern(maxChars: number): RegExp {
  return new RegExp(`^[A-Za-z_][A-Za-z0-9_.-]{0,${maxChars - 1}}$`);
}
