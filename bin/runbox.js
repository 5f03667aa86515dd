#!/usr/bin/env node
// The `runbox` command: a thin shim over the compiled daemon entry point.
import '../dist/daemon/main.js';
