// The SDK's public types for sessions and their files, mirroring /v1/sessions in docs/protocol.md.

import type { ExecuteOptions, RequestOptions, Runtime } from './types.js';

/** What createSession() asks the daemon for. */
export interface CreateSessionOptions extends RequestOptions {
  /**
   * How long the session may stay idle (no execution, no file operation) before the daemon removes it with
   * its files. The daemon refuses more than its `maxSessionTtlMs`.
   * @default the daemon's configured `sessionTtlMs` (30 minutes unless configured)
   */
  ttlMs?: number;
  /**
   * The runtime the session's code will mostly use: the daemon may keep a sandbox of it warm for the session.
   * Executions of either runtime still run in the session.
   * @default undefined (no preference)
   */
  runtime?: Runtime;
}

/** What session.execute() takes: client.execute()'s options, without `sessionId` (the session fills it in). */
export type SessionExecuteOptions = Omit<ExecuteOptions, 'sessionId'>;

/** How full a session's workspace is. Each number is `null` when the daemon cannot tell (no workspace quota here). */
export interface SessionWorkspaceUsage {
  usedBytes: number | null;
  /** The workspace's size limit (the daemon's `workspaceBytes`). */
  maxBytes: number | null;
  usedFiles: number | null;
  /** The most files and directories the workspace may hold (the daemon's `workspaceFiles`). */
  maxFiles: number | null;
}

/** A session as the daemon describes it (POST /v1/sessions, GET /v1/sessions/:id). */
export interface SessionInfo {
  /** `ses_` followed by 26 characters. */
  id: string;
  /** ISO 8601 time of creation. */
  createdAt: string;
  /** ISO 8601 time at which the session expires if it stays idle (pushed back by every execution and file operation). */
  expiresAt: string;
  ttlMs: number;
  /** The runtime given at creation, if any. */
  runtime: Runtime | null;
  workspace: SessionWorkspaceUsage;
}

/** One file of a session's workspace, as files.list() reports it. */
export interface SessionFile {
  /**
   * Path relative to the workspace, `/` between directories. When `pathEncoding` is `percent` (a name is not
   * UTF-8), every name is percent-encoded byte by byte: pass the entry itself to download() or delete().
   */
  path: string;
  /** Set when a name on the path is not valid UTF-8 and `path` is its percent-encoded form. */
  pathEncoding?: 'percent';
  /** A regular file, or a link, FIFO, socket or device listed as itself (never followed). */
  type: 'file' | 'symlink' | 'fifo' | 'socket' | 'device';
  /** Size in bytes. */
  size: number;
  /** MIME type the daemon detected, e.g. `text/csv`. */
  mimeType: string;
  /** ISO 8601 time of the last modification. */
  modified: string;
}

/** The files of a session's workspace (directories are implied by the paths). */
export interface SessionFileList {
  files: SessionFile[];
  /** True when the workspace holds more files than the daemon lists at once. */
  truncated: boolean;
}

/** A file written by files.upload(). */
export interface UploadedFile {
  /** The path as the daemon stored it (normalized: `./a//b` becomes `a/b`). */
  path: string;
  /** Bytes written. */
  size: number;
}

/** A file read by files.download(). */
export interface DownloadedFile {
  /** The path as given to download(). */
  path: string;
  /** The file's bytes (a Buffer, so `content.toString('utf8')` works for text). */
  content: Buffer;
  /** MIME type the daemon detected, e.g. `image/png`. */
  mimeType: string;
  /** Size in bytes. */
  size: number;
}

/** What files.upload() accepts: a string is written as UTF-8. */
export type FileContent = string | Uint8Array | ArrayBuffer;
