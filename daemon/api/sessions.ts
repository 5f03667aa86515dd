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
const SESSIONS_PREFIX = '/v1/sessions';

export interface SessionsDeps {
  readonly config: Config;
  readonly sessions: SessionManager;
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/** A request under /v1/sessions, taken apart (from the raw target: `..` is judged by the path rules, not resolved). */
export type SessionRoute =
  | { kind: 'collection' }
  | { kind: 'session'; id: string }
  | { kind: 'files'; id: string }
  | { kind: 'file'; id: string; rawPath: string };

const ALLOWED: Record<SessionRoute['kind'], string> = { collection: 'POST', session: 'GET, DELETE', files: 'GET', file: 'GET, PUT, DELETE' };

// Pure: the session route of a raw request target, or null when it is not under /v1/sessions.
export function parseSessionRoute(target: string): SessionRoute | null {
  const pathname = target.split('?')[0];
  if (pathname === SESSIONS_PREFIX || pathname === `${SESSIONS_PREFIX}/`) return { kind: 'collection' };
  if (!pathname.startsWith(`${SESSIONS_PREFIX}/`)) return null;
  const rest = pathname.slice(SESSIONS_PREFIX.length + 1);
  const slash = rest.indexOf('/');
  if (slash === -1) return { kind: 'session', id: rest };
  const id = rest.slice(0, slash);
  const tail = rest.slice(slash);
  if (tail === '/files' || tail === '/files/') return { kind: 'files', id };
  if (tail.startsWith('/files/')) return { kind: 'file', id, rawPath: tail.slice('/files/'.length) };
  return null;
}

// The methods a session route answers, for 405s and the Allow header.
export function allowedMethods(route: SessionRoute): string {
  return ALLOWED[route.kind];
}

// Serves one request under /v1/sessions (the route and its method already checked).
export async function handleSessionRequest(req: http.IncomingMessage, res: http.ServerResponse, route: SessionRoute, deps: SessionsDeps): Promise<void> {
  const { sessions, config } = deps;
  if (route.kind === 'collection') {
    const session = await sessions.create(await readJsonBody(req, config.maxRequestBytes, {}));
    return sendJson(res, 201, await sessions.info(session));
  }
  const session = sessions.get(route.id);
  if (route.kind === 'session') {
    if (req.method === 'DELETE') {
      await sessions.delete(route.id);
      return sendJson(res, 200, { id: route.id, deleted: true });
    }
    return sendJson(res, 200, await sessions.info(session));
  }
  if (route.kind === 'files') {
    const listing = await session.exclusive(() => listWorkspaceFiles(session.workspaceDir, MAX_LISTED_FILES));
    return sendJson(res, 200, listing);
  }
  const filePath = decodeFilePath(route.rawPath);
  const named = { path: filePath.path, ...(filePath.escaped ? { pathEncoding: 'percent' } : {}) };
  if (req.method === 'PUT') {
    const content = await readRawBody(req, config.maxFileBytes, 'maxFileBytes');
    await session.exclusive(() => writeWorkspaceFile(session.workspaceDir, filePath, content, deps.owner));
    return sendJson(res, 201, { ...named, size: content.length });
  }
  if (req.method === 'DELETE') {
    await session.exclusive(() => deleteWorkspacePath(session.workspaceDir, filePath));
    return sendJson(res, 200, { ...named, deleted: true });
  }
  // Streamed within the session's turn: no code of the session runs until the download is over.
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
