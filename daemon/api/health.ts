// GET /healthz and GET /v1/runtimes: whether the daemon can run code, and with which runtimes.
import type http from 'node:http';
import { closingProblem, type DaemonState } from './availability.js';
import { sendJson } from './respond.js';

// 200 when every runtime started in a real sandbox at boot and the daemon is not shutting down; 503 otherwise.
export function handleHealth(res: http.ServerResponse, state: DaemonState): void {
  const problems = state.runtimes.filter((r) => !r.available).map((r) => `${r.name}: ${r.problem}`);
  const closing = closingProblem(state);
  if (closing) problems.push(closing);
  const runtimes = state.runtimes.filter((r) => r.available).map((r) => r.name);
  if (problems.length > 0) sendJson(res, 503, { ok: false, sandboxed: state.sandboxed, runtimes, problems });
  else sendJson(res, 200, { ok: true, sandboxed: state.sandboxed, runtimes });
}

// The runtimes and their versions.
export function handleRuntimes(res: http.ServerResponse, state: DaemonState): void {
  sendJson(res, 200, {
    runtimes: state.runtimes.map((r) => ({ name: r.name, version: r.version, available: r.available, ...(r.problem ? { problem: r.problem } : {}) })),
  });
}
