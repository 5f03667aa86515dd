// A session's file API: upload, download, list and delete files of its workspace over
// /v1/sessions/:id/files. The daemon does each operation in the session's turn, never beside its running code.

import { createRunboxError } from './errors.js';
import type { DaemonRequest, HttpResponse } from './http.js';
import { validateFileContent, validateFilePath, validateRequestOptions } from './options.js';
import type { DownloadedFile, FileContent, SessionFile, SessionFileList, UploadedFile } from './session-types.js';
import type { RequestOptions } from './types.js';
import { encodeEscapedPath, encodeFilePath } from './wire.js';

/** How a session reaches the daemon: the client's HTTP settings (URL, token, time limit) and its WebSocket. */
export interface SessionHost {
  /** Sends one HTTP request and reads the whole answer. */
  send(request: DaemonRequest): Promise<HttpResponse>;
  /** Sends one HTTP request and parses its JSON answer. */
  sendJson(request: DaemonRequest): Promise<unknown>;
}

/**
 * The files of one session's workspace. Paths are relative to the workspace with `/` between directories;
 * the daemon refuses a path that leaves it (absolute, `..`, through a link) with a RunboxAPIError of code
 * `invalid_path` (a `..` path is refused by the SDK itself, with that code and no status: a URL cannot carry it).
 */
export class SessionFiles {
  /** `v1/sessions/<id>/files`, percent-encoded. */
  readonly #basePath: string;
  readonly #host: SessionHost;

  /** Made by RunboxSession: use `session.files`. */
  constructor(sessionPath: string, host: SessionHost) {
    this.#basePath = `${sessionPath}/files`;
    this.#host = host;
  }

  // Writes a file (parent directories made, an existing file replaced); over the daemon's maxFileBytes it
  // rejects with payload_too_large (413), past the workspace quota with quota_exceeded (507).
  async upload(path: string, content: FileContent, options: RequestOptions = {}): Promise<UploadedFile> {
    validateFilePath('files.upload', path);
    validateFileContent(content);
    validateRequestOptions('files.upload', options);
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content instanceof ArrayBuffer ? new Uint8Array(content) : content;
    const answer = (await this.#host.sendJson({ method: 'PUT', path: this.#filePath(path), body: { bytes }, signal: options.signal })) as UploadedFile;
    return { path: answer.path, size: answer.size };
  }

  // Reads a file's bytes and MIME type; a missing file rejects with file_not_found (404). Takes a path, or an
  // entry of list() (which also reaches a file whose name is not UTF-8).
  async download(file: string | SessionFile, options: RequestOptions = {}): Promise<DownloadedFile> {
    const path = pathOf(file);
    validateFilePath('files.download', path);
    validateRequestOptions('files.download', options);
    const response = await this.#host.send({ method: 'GET', path: this.#filePath(file), signal: options.signal });
    return { path, content: response.body, mimeType: response.contentType ?? 'application/octet-stream', size: response.body.byteLength };
  }

  // Lists every file of the workspace (not directories, not what links point to), sorted by path.
  async list(options: RequestOptions = {}): Promise<SessionFileList> {
    validateRequestOptions('files.list', options);
    const answer = (await this.#host.sendJson({ method: 'GET', path: this.#basePath, signal: options.signal })) as Partial<SessionFileList>;
    return { files: Array.isArray(answer.files) ? answer.files : [], truncated: answer.truncated === true };
  }

  // Deletes a file, or a directory with everything in it (a path, or an entry of list()); a missing path
  // rejects with file_not_found (404).
  async delete(file: string | SessionFile, options: RequestOptions = {}): Promise<void> {
    validateFilePath('files.delete', pathOf(file));
    validateRequestOptions('files.delete', options);
    await this.#host.sendJson({ method: 'DELETE', path: this.#filePath(file), signal: options.signal });
  }

  // The URL path of a file: a text path percent-encoded, or an escaped listing entry's path as it is.
  #filePath(file: string | SessionFile): string {
    const escaped = typeof file !== 'string' && file.pathEncoding === 'percent';
    const encoded = escaped ? encodeEscapedPath(file.path) : encodeFilePath(typeof file === 'string' ? file : file.path);
    if (!encoded.ok) throw createRunboxError({ kind: 'api', code: 'invalid_path', message: encoded.message });
    return `${this.#basePath}/${encoded.urlPath}`;
  }
}

// The path of a path or a listing entry (anything else as it is, for the boundary check to name).
function pathOf(file: unknown): unknown {
  return typeof file === 'object' && file !== null ? (file as { path?: unknown }).path : file;
}
