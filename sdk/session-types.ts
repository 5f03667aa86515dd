// The SDK's public types for sessions and their files, mirroring /v1/sessions in docs/protocol.md.

import type { SessionInfo as WireSessionInfo, SessionWorkspaceUsage as WireSessionWorkspaceUsage, WorkspaceEntry, WorkspaceListing } from '../daemon/wire-types.js';
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
export type SessionWorkspaceUsage = WireSessionWorkspaceUsage;

/** A session as the daemon describes it (POST /v1/sessions, GET /v1/sessions/:id). */
export type SessionInfo = WireSessionInfo;

/**
 * One file of a session's workspace, as files.list() reports it. When `pathEncoding` is `percent` (a name is not
 * UTF-8), pass the entry itself to download() or delete().
 */
export type SessionFile = WorkspaceEntry;

/** The files of a session's workspace (directories are implied by the paths). */
export type SessionFileList = WorkspaceListing;

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
