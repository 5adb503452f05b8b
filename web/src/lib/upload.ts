// Sends a file straight to the object store: one presigned PUT, or presigned parts for large files.
//
// Parts go a few at a time; a part that fails is retried with backoff, and when the connection is gone the
// upload pauses with every finished part kept, so resuming sends only what is missing.

import { post } from "./api";
import type { UploadGrant } from "./types";

export type UploadPhase = "preparing" | "sending" | "retrying" | "paused" | "completing" | "done";

export interface UploadState {
  phase: UploadPhase;
  sent: number;
  total: number;
  piecesDone: number;
  piecesTotal: number;
  message: string;
}

interface Piece {
  number: number;
  start: number;
  end: number;
  url: string;
  headers: Record<string, string>;
  etag: string;
  done: boolean;
}

const PARALLEL_PARTS = 3;
const ATTEMPTS_BEFORE_PAUSE = 4;
const FIRST_RETRY_MS = 1000;
// Browsers set these themselves and refuse to let scripts set them.
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection"]);
const TYPES_BY_EXTENSION: Record<string, string> = {
  mp4: "video/mp4",
  m4v: "video/x-m4v",
  mov: "video/quicktime",
  mkv: "video/x-matroska",
  webm: "video/webm",
  avi: "video/x-msvideo",
  ts: "video/mp2t",
};

export class UploadCancelled extends Error {
  constructor() {
    super("The upload was cancelled.");
    this.name = "UploadCancelled";
  }
}

class TransferError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = "TransferError";
  }
}

/** The type to declare: the browser's, else one from the extension; the platform probes the bytes anyway. */
export function contentTypeOf(file: File): string {
  if (file.type.startsWith("video/")) return file.type;
  const extension = file.name.split(".").pop()?.toLowerCase() ?? "";
  return TYPES_BY_EXTENSION[extension] ?? (file.type || "video/mp4");
}

export class Uploader {
  readonly state: UploadState;
  private grant: UploadGrant | null = null;
  private pieces: Piece[] = [];
  private readonly inFlight = new Map<number, number>();
  private readonly requests = new Set<XMLHttpRequest>();
  private wakeUp: (() => void) | null = null;
  private cancelled = false;
  private readonly onOnline = (): void => this.resume();

  constructor(
    private readonly file: File,
    private readonly onChange: (state: UploadState) => void,
  ) {
    this.state = { phase: "preparing", sent: 0, total: file.size, piecesDone: 0, piecesTotal: 1, message: "" };
  }

  get isMultipart(): boolean {
    return Boolean(this.grant?.multipart);
  }

  /** Sends every byte and completes a multipart upload; resolves with the object key to confirm. */
  async run(): Promise<string> {
    window.addEventListener("online", this.onOnline);
    try {
      this.update({ phase: "preparing", message: "Asking for an upload address…" });
      const grant = await post<UploadGrant>("/api/upload/url", {
        filename: this.file.name,
        contentType: contentTypeOf(this.file),
        size: String(this.file.size),
      });
      this.grant = grant;
      this.pieces = piecesOf(this.file, grant);
      this.update({ phase: "sending", piecesTotal: this.pieces.length, message: "" });
      while (this.pieces.some((piece) => !piece.done)) {
        const finished = await this.sendMissingPieces();
        this.throwIfCancelled();
        if (!finished) await this.pause();
        this.throwIfCancelled();
      }
      if (grant.multipart) {
        this.update({ phase: "completing", message: "Joining the parts…" });
        await post("/api/upload/complete", {
          s3Key: grant.s3Key,
          uploadId: grant.multipart.uploadId,
          parts: this.pieces.map((piece) => ({ partNumber: piece.number, etag: piece.etag })),
        });
      }
      this.update({ phase: "done", message: "" });
      return grant.s3Key;
    } finally {
      window.removeEventListener("online", this.onOnline);
    }
  }

  /** Continues a paused upload with the parts not yet sent. */
  resume(): void {
    this.wakeUp?.();
  }

  /** Stops sending and frees the parts already stored. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    for (const request of this.requests) request.abort();
    this.wakeUp?.();
    const multipart = this.grant?.multipart;
    if (multipart && this.grant) {
      await post("/api/upload/abort", { s3Key: this.grant.s3Key, uploadId: multipart.uploadId }).catch(() => undefined);
    }
  }

  private throwIfCancelled(): void {
    if (this.cancelled) throw new UploadCancelled();
  }

  private update(changes: Partial<UploadState>): void {
    Object.assign(this.state, changes);
    const done = this.pieces.filter((piece) => piece.done);
    let sent = done.reduce((sum, piece) => sum + piece.end - piece.start, 0);
    for (const bytes of this.inFlight.values()) sent += bytes;
    this.state.sent = Math.min(sent, this.state.total);
    this.state.piecesDone = done.length;
    this.onChange({ ...this.state });
  }

  private pause(): Promise<void> {
    const left = this.pieces.length - this.pieces.filter((piece) => piece.done).length;
    const what = this.pieces.length > 1 ? `${left} of ${this.pieces.length} parts still to send` : "nothing was kept";
    this.update({
      phase: "paused",
      message: `The connection was lost (${what}). The upload resumes when you are back online, or press Resume.`,
    });
    return new Promise((resolve) => {
      this.wakeUp = () => {
        this.wakeUp = null;
        this.update({ phase: "sending", message: "" });
        resolve();
      };
    });
  }

  /** Sends the missing pieces a few at a time; false when the connection gave out before all were sent. */
  private async sendMissingPieces(): Promise<boolean> {
    const queue = this.pieces.filter((piece) => !piece.done);
    let connectionLost = false;
    const worker = async (): Promise<void> => {
      for (let piece = queue.shift(); piece && !connectionLost && !this.cancelled; piece = queue.shift()) {
        if (!(await this.sendWithRetries(piece))) connectionLost = true;
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, queue.length) }, worker));
    return !connectionLost && this.pieces.every((piece) => piece.done);
  }

  private async sendWithRetries(piece: Piece): Promise<boolean> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        piece.etag = await this.send(piece);
        piece.done = true;
        this.inFlight.delete(piece.number);
        this.update({ phase: "sending", message: "" });
        return true;
      } catch (error) {
        this.inFlight.delete(piece.number);
        if (this.cancelled) return false;
        if (!(error instanceof TransferError) || !error.retryable) throw error;
        if (attempt >= ATTEMPTS_BEFORE_PAUSE || !navigator.onLine) return false;
        const delay = FIRST_RETRY_MS * 2 ** (attempt - 1);
        const which = this.pieces.length > 1 ? `part ${piece.number}` : "the file";
        this.update({
          phase: "retrying",
          message: `Sending ${which} failed (${error.message}); trying again in ${Math.round(delay / 1000)} s.`,
        });
        await sleep(delay);
        if (this.cancelled) return false;
      }
    }
  }

  private send(piece: Piece): Promise<string> {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      this.requests.add(request);
      request.open("PUT", piece.url);
      for (const [name, value] of Object.entries(piece.headers)) {
        if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) request.setRequestHeader(name, value);
      }
      request.upload.onprogress = (event) => {
        this.inFlight.set(piece.number, event.loaded);
        this.update({});
      };
      request.onload = () => {
        this.requests.delete(request);
        if (request.status >= 200 && request.status < 300) {
          const etag = (request.getResponseHeader("ETag") ?? "").replaceAll('"', "");
          if (this.isMultipart && !etag) {
            reject(new TransferError("the object store did not show the part's ETag (check its CORS rules)", false));
          } else {
            resolve(etag);
          }
          return;
        }
        const retryable = request.status >= 500 || request.status === 408 || request.status === 429;
        reject(new TransferError(storeMessage(request), retryable));
      };
      request.onerror = () => {
        this.requests.delete(request);
        reject(new TransferError("the connection dropped", true));
      };
      request.ontimeout = request.onerror;
      request.onabort = () => {
        this.requests.delete(request);
        reject(new UploadCancelled());
      };
      request.send(this.file.slice(piece.start, piece.end));
    });
  }
}

function piecesOf(file: File, grant: UploadGrant): Piece[] {
  const multipart = grant.multipart;
  if (!multipart) {
    return [
      {
        number: 1,
        start: 0,
        end: file.size,
        url: grant.uploadUrl,
        headers: grant.headers ?? {},
        etag: "",
        done: false,
      },
    ];
  }
  const size = Number(multipart.partSize);
  return multipart.parts.map((part) => {
    const start = (part.partNumber - 1) * size;
    return {
      number: part.partNumber,
      start,
      end: Math.min(start + size, file.size),
      url: part.uploadUrl,
      headers: {},
      etag: "",
      done: false,
    };
  });
}

/** The object store's reason, from its XML error body when it sent one. */
function storeMessage(request: XMLHttpRequest): string {
  const message = /<Message>([^<]*)<\/Message>/.exec(request.responseText ?? "")?.[1];
  return `the object store answered ${request.status}${message ? `: ${message}` : ""}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => window.setTimeout(resolve, ms));
}
