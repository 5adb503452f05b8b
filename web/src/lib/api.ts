// Calls to the edge's JSON API: relative URLs (same origin), bearer token, one refresh on 401.

import { endSession, session, startSession } from "./session";
import type { AuthSession } from "./types";

/** An error answer, with the server's own words in `message`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason = "",
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface ErrorBody {
  message?: string;
  details?: { reason?: string }[];
}

export async function errorFrom(response: Response): Promise<ApiError> {
  let body: ErrorBody = {};
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    // Not JSON (a proxy page, say): fall back to the status text below.
  }
  const reason = body.details?.find((detail) => detail.reason)?.reason ?? "";
  const message = body.message || response.statusText || `The server answered ${response.status}.`;
  return new ApiError(response.status, message, reason);
}

/** Words for any error a call can throw: the server's message, or what went wrong on the way. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return "The server could not be reached. Check your connection and try again.";
  if (error instanceof Error) return error.message;
  return String(error);
}

let refreshing: Promise<boolean> | null = null;

/** Exchanges the refresh token once, however many calls saw a 401 at the same moment. */
function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    const refreshToken = session()?.refreshToken;
    if (!refreshToken) return false;
    try {
      const response = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refreshToken }),
      });
      if (!response.ok) {
        endSession();
        return false;
      }
      startSession((await response.json()) as AuthSession);
      return true;
    } catch {
      return false;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function withAuth(init: RequestInit): RequestInit {
  const token = session()?.accessToken;
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return { ...init, headers };
}

/** `fetch` with the bearer token; a 401 refreshes the session once and tries again. */
export async function authorizedFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const hadSession = session() !== null;
  const response = await fetch(path, withAuth(init));
  if (response.status !== 401 || !hadSession) return response;
  if (!(await refreshSession())) {
    throw new ApiError(401, "Your session has ended. Please log in again.", "SESSION_ENDED");
  }
  return fetch(path, withAuth(init));
}

export type Query = Record<string, string | number | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, signal: signal ?? null };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const response = await authorizedFetch(path, init);
  if (!response.ok) throw await errorFrom(response);
  const text = await response.text();
  return (text ? JSON.parse(text) : {}) as T;
}

export const get = <T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> =>
  request<T>("GET", withQuery(path, query), undefined, signal);
export const post = <T>(path: string, body: unknown = {}): Promise<T> => request<T>("POST", path, body);
export const patch = <T>(path: string, body: unknown): Promise<T> => request<T>("PATCH", path, body);
export const del = <T>(path: string, query?: Query): Promise<T> => request<T>("DELETE", withQuery(path, query));
