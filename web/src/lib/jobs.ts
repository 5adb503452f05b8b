// Following a transcode live: the edge streams the job as newline-delimited JSON each time it changes.

import { ApiError, authorizedFetch, errorFrom, post } from "./api";
import { FINAL_JOB_STATUSES, type Job } from "./types";

const RECONNECT_FIRST_MS = 1000;
const RECONNECT_MAX_MS = 15000;

export interface WatchHandlers {
  onJob: (job: Job) => void;
  /** Called while the stream is down and being reopened; `null` once it is back. */
  onConnection?: (problem: string | null) => void;
}

/** Streams `jobId` until it ends (the final job is returned) or `signal` aborts; reconnects when dropped. */
export async function watchJob(jobId: string, handlers: WatchHandlers, signal: AbortSignal): Promise<Job | null> {
  let delay = RECONNECT_FIRST_MS;
  let last: Job | null = null;
  while (!signal.aborted) {
    let delivered = false;
    try {
      const response = await authorizedFetch(`/api/jobs/${encodeURIComponent(jobId)}/watch`, { signal });
      if (!response.ok) throw await errorFrom(response);
      if (!response.body) throw new Error("This browser cannot read streamed responses.");
      handlers.onConnection?.(null);
      for await (const job of jobsIn(response.body, signal)) {
        last = job;
        delivered = true;
        delay = RECONNECT_FIRST_MS;
        handlers.onJob(job);
        if (FINAL_JOB_STATUSES.includes(job.status)) return job;
      }
    } catch (error) {
      if (signal.aborted) return last;
      // A refused watch (no such job, not yours, signed out) will not get better by asking again; too many
      // watches open at once (429) will, once another tab closes one.
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) throw error;
      delivered = false;
      handlers.onConnection?.("The live connection dropped; reconnecting…");
    }
    // The stream ended without a final state. The server ends every stream after a while: resume at once. Else
    // (a restart on the way, an idle proxy, too many watches) back off before opening it again.
    if (delivered) continue;
    await sleep(delay, signal);
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  }
  return last;
}

async function* jobsIn(body: ReadableStream<Uint8Array>, signal: AbortSignal): AsyncGenerator<Job> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const cancel = (): void => void reader.cancel().catch(() => undefined);
  signal.addEventListener("abort", cancel, { once: true });
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) yield parseLine(line);
        newline = buffer.indexOf("\n");
      }
    }
    if (buffer.trim()) yield parseLine(buffer.trim());
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}

function parseLine(line: string): Job {
  const message = JSON.parse(line) as { result?: Job; error?: { code: number; message: string } } & Partial<Job>;
  if (message.result) return message.result;
  if (message.error && !message.id) throw new ApiError(500, message.error.message);
  return message as Job;
}

/** Starts a new job for the same video, with the same formats; the request id makes a resend start no second one. */
export function retryJob(job: Pick<Job, "videoId" | "outputFormats">): Promise<Job> {
  const body = { videoId: job.videoId, outputFormats: job.outputFormats ?? [], requestId: requestId() };
  return post<Job>("/v1/jobs", body);
}

/** 128 random bits in hex: getRandomValues works on plain-HTTP pages too, where randomUUID does not exist. */
function requestId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function cancelJob(jobId: string): Promise<Job> {
  return post<Job>(`/api/jobs/${encodeURIComponent(jobId)}/cancel`, {});
}

const STATUS_WORDS: Record<string, string> = {
  PENDING: "Waiting for a transcoder",
  DOWNLOADING: "Fetching the upload",
  PROCESSING: "Encoding",
  UPLOADING: "Publishing",
  COMPLETED: "Ready to watch",
  FAILED: "It did not finish",
  CANCELLED: "It was stopped",
};

export function describeStatus(status: string): string {
  return STATUS_WORDS[status] ?? status;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      window.clearTimeout(timer);
      resolve();
    });
  });
}
