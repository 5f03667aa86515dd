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
  /** The exit code of a prelude whose bridge could not be opened or broke. */
  readonly bridgeFailureExitCode: number;
  /** The most UTF-8 bytes of a tool declaration's `stub` (what describe_tool returns in the sandbox). */
  readonly maxToolStubBytes: number;
}

// The compiled module is dist/daemon/protocol.js, two levels below runtimes/ (which the package ships). The SDK
// reads it through this module too.
export const PROTOCOL: ProtocolConstants = Object.freeze(createRequire(import.meta.url)('../../runtimes/protocol.json') as ProtocolConstants);
