'use strict';
// The bridge protocol's limits and constants, from runtimes/protocol.json (/runbox/protocol.json in a sandbox):
// the one file the daemon, the SDK and both preludes read, so that none of them can drift from the others.

const fs = require('node:fs');
const path = require('node:path');

const PROTOCOL = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'protocol.json'), 'utf8'));

module.exports = {
  PROTOCOL,
  /** Objects and arrays nested deeper are refused with a ResultError, as docs/protocol.md says. */
  MAX_JSON_DEPTH: PROTOCOL.maxJsonDepth,
  /** The most bytes of the daemon's handshake answer the prelude reads. */
  MAX_HANDSHAKE_BYTES: PROTOCOL.maxHandshakeBytes,
  /** The daemon's reserved tool that installs packages. */
  INSTALL_TOOL: PROTOCOL.installTool,
  /** Where a side connection (installPackage's worker) asks. */
  SIDE_CONNECTION_PATH: PROTOCOL.sideConnectionPath,
  /** EX_SOFTWARE: the bridge failed, so the code could not run or report. */
  BRIDGE_FAILURE_EXIT_CODE: PROTOCOL.bridgeFailureExitCode,
};
