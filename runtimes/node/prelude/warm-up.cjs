'use strict';
// Runs, while a sandbox waits for its code, what every execution runs first, so that V8 has compiled it by then:
// V8 compiles a function when it first runs, and in a fresh process the first console.log, vm.Script, result
// conversion and bridge frame cost about 1.4 ms more than the next ones (a warm `console.log(1)` went from 2.9 to
// 1.5 ms between `run` and the flushed `done`). For a warm sandbox that time is off the clock; for a freshly
// started one it overlaps with the daemon moving the sandbox into its cgroup. Nothing of it shows: the console
// writes to a sink, the script is an empty function that is never called, the frame is never sent, and no
// global or module of the code's is touched.

const { Writable } = require('node:stream');
const { Console } = require('node:console');
const { encodeFrame, OPCODE } = require('./websocket.cjs');

// Formats, compiles, converts and frames once, with throwaway values; compile and convertResult are the code's own.
function warmUp(compile, convertResult) {
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const console = new Console({ stdout: sink, stderr: sink });
  console.log('%s %d', 'text', 1, { key: [1, 'two', null] });
  compile();
  const { result } = convertResult({ key: [1, 'two', null, 1.5, true] });
  encodeFrame(OPCODE.text, Buffer.from(JSON.stringify({ type: 'done', result, files: [], error: null })));
}

module.exports = { warmUp };
