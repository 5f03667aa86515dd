// /v1/sessions: create, inspect and delete sessions, and their file API (list, upload, download, delete) under
// /v1/sessions/:id/files. File paths follow the rules of execution files; each file operation takes the
// session's turn, so it never runs beside the session's code.
import type http from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config.js';
import { WireError } from '../errors.js';
import { listWorkspaceFiles } from '../files/listing.js';
import { checkWorkspacePathBytes, decodePercentPath, type WorkspacePath } from '../files/paths.js';
import { deleteWorkspacePath, openWorkspaceFile, writeWorkspaceFile } from '../files/workspace.js';
import type { SessionManager } from '../sessions/manager.js';
import { readJsonBody, readRawBody } from './body.js';
import { sendJson } from './respond.js';

/** Most entries a file listing returns. */
const MAX_LISTED_FILES = 10_000;

export interface SessionsDeps {
  readonly config: Config;
  readonly sessions: SessionManager;
  readonly owner?: { readonly uid: number; readonly gid: number };
}

// POST /v1/sessions: makes a session (its body's fields are all optional).
export async function handleCreateSession(req: http.IncomingMessage, res: http.ServerResponse, deps: SessionsDeps): Promise<void> {
  const session = await deps.sessions.create(await readJsonBody(req, deps.config.maxRequestBytes, {}));
  sendJson(res, 201, await deps.sessions.info(session));
}

// GET /v1/sessions/:id: the session.
export async function handleGetSession(res: http.ServerResponse, id: string, deps: SessionsDeps): Promise<void> {
  sendJson(res, 200, await deps.sessions.info(deps.sessions.get(id)));
}

// DELETE /v1/sessions/:id: cancels its executions and removes everything it owns.
export async function handleDeleteSession(res: http.ServerResponse, id: string, deps: SessionsDeps): Promise<void> {
  await deps.sessions.delete(id);
  sendJson(res, 200, { id, deleted: true });
}

// GET /v1/sessions/:id/files: the workspace's entries, within the session's turn.
export async function handleListFiles(res: http.ServerResponse, id: string, deps: SessionsDeps): Promise<void> {
  const session = deps.sessions.get(id);
  const listing = await session.exclusive(() => listWorkspaceFiles(session.workspaceDir, MAX_LISTED_FILES));
  sendJson(res, 200, listing);
}

// PUT /v1/sessions/:id/files/<path>: writes the raw body (at most maxFileBytes) to the file.
export async function handlePutFile(req: http.IncomingMessage, res: http.ServerResponse, id: string, rawPath: string, deps: SessionsDeps): Promise<void> {
  const session = deps.sessions.get(id);
  const filePath = decodeFilePath(rawPath);
  const content = await readRawBody(req, deps.config.maxFileBytes, 'maxFileBytes');
  await session.exclusive(() => writeWorkspaceFile(session.workspaceDir, filePath, content, deps.owner));
  sendJson(res, 201, { ...namedPath(filePath), size: content.length });
}

// DELETE /v1/sessions/:id/files/<path>: removes the entry (a directory with what it holds, a link as itself).
export async function handleDeleteFile(res: http.ServerResponse, id: string, rawPath: string, deps: SessionsDeps): Promise<void> {
  const session = deps.sessions.get(id);
  const filePath = decodeFilePath(rawPath);
  await session.exclusive(() => deleteWorkspacePath(session.workspaceDir, filePath));
  sendJson(res, 200, { ...namedPath(filePath), deleted: true });
}

// GET /v1/sessions/:id/files/<path>: streams the file within the session's turn, so no code of the session runs
// until the download is over.
export async function handleGetFile(res: http.ServerResponse, id: string, rawPath: string, deps: SessionsDeps): Promise<void> {
  const session = deps.sessions.get(id);
  const filePath = decodeFilePath(rawPath);
  await session.exclusive(async () => {
    const file = await openWorkspaceFile(session.workspaceDir, filePath);
    try {
      res.writeHead(200, { 'content-type': file.mimeType, 'content-length': file.size, 'content-disposition': contentDisposition(filePath) });
      await pipeline(file.handle.createReadStream({ start: 0, end: Math.max(0, file.size - 1), autoClose: false }), res);
    } finally {
      await file.handle.close();
    }
  });
}

// How an answer names a file: its path, marked percent-encoded when a name on it is not UTF-8.
function namedPath(filePath: WorkspacePath): { path: string; pathEncoding?: 'percent' } {
  return { path: filePath.path, ...(filePath.escaped ? { pathEncoding: 'percent' as const } : {}) };
}

// Decodes the percent-encoded file path of a request into bytes (a name need not be UTF-8: `%FF` is the byte
// a listing escaped) and checks it like an execution file path.
function decodeFilePath(raw: string): WorkspacePath {
  const decoded = decodePercentPath(raw);
  if (!decoded) throw new WireError('invalid_path', `file path ${JSON.stringify(raw.slice(0, 200))} is not valid percent-encoding`);
  const checked = checkWorkspacePathBytes(decoded);
  if (!checked.ok) throw new WireError('invalid_path', `file path ${JSON.stringify(decoded.toString('utf8').slice(0, 200))} ${checked.message}`);
  return checked;
}

// A download's file name, ASCII-safe (RFC 6266 with an RFC 5987 UTF-8 form; bytes that are not UTF-8 become U+FFFD).
function contentDisposition(filePath: WorkspacePath): string {
  const name = filePath.segments[filePath.segments.length - 1].toString('utf8');
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
