// Like startDaemon, but with the daemon's deps too (searchPath), and a log that tests can read.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../daemon/config.js';
import { createDaemon, type DaemonDeps } from '../../daemon/server.js';
import { findProcesses, type TestDaemon } from './daemon.js';

export interface LoggedDaemon extends TestDaemon {
  /** Every log line the daemon wrote, parsed. */
  readonly logs: Array<{ level: number; msg: string; [key: string]: unknown }>;
}

// A real daemon on 127.0.0.1 port 0 with config overrides and deps overrides; its log (level info and up) is kept.
export async function startDaemonWith(overrides: Partial<Config> = {}, deps: Partial<Omit<DaemonDeps, 'logger'>> = {}): Promise<LoggedDaemon> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-test-'));
  const config = loadConfig({}, [], { port: 0, logLevel: 'info', workDir, ...overrides });
  const logs: LoggedDaemon['logs'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      callback();
    },
  });
  const daemon = await createDaemon(config, { ...deps, logger: pino({ level: config.logLevel }, sink) });
  const { port } = await daemon.listen();
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    workDir,
    config,
    daemon,
    logs,
    close: async () => {
      await daemon.close();
      const left = (await fs.readdir(workDir)).filter((name) => name.startsWith('exec-'));
      const processes = await findProcesses(workDir);
      await fs.rm(workDir, { recursive: true, force: true });
      if (left.length > 0) throw new Error(`execution directories left behind: ${left.join(', ')}`);
      if (processes.length > 0) throw new Error(`sandbox processes left behind: ${processes.join(', ')}`);
    },
  };
}
