// Who is signed in: tokens in memory, mirrored to localStorage so a reload or a new tab stays signed in.

import type { AuthSession, User } from "./types";

const STORAGE_KEY = "videoforge.session";

export interface Session {
  accessToken: string;
  refreshToken: string;
  user: User;
}

let current: Session | null = load();
const listeners = new Set<() => void>();

function load(): Session | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    const parsed = raw ? (JSON.parse(raw) as Partial<Session>) : null;
    return parsed?.accessToken && parsed.refreshToken && parsed.user ? (parsed as Session) : null;
  } catch {
    // Storage may be disabled (private modes) or hold something else: start signed out.
    return null;
  }
}

function store(session: Session | null): void {
  try {
    if (session) localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Without storage the session lives in memory only, which still works for this page.
  }
}

function notify(): void {
  for (const listener of listeners) listener();
}

export function session(): Session | null {
  return current;
}

export function isSignedIn(): boolean {
  return current !== null;
}

export function isAdmin(): boolean {
  return current?.user.role === "ROLE_ADMIN";
}

export function startSession(auth: AuthSession): void {
  current = { accessToken: auth.accessToken, refreshToken: auth.refreshToken, user: auth.user };
  store(current);
  notify();
}

export function updateUser(user: User): void {
  if (!current) return;
  current = { ...current, user };
  store(current);
  notify();
}

export function endSession(): void {
  current = null;
  store(null);
  notify();
}

export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// Another tab signed in, refreshed or signed out: follow it, or this tab would use a rotated refresh token.
window.addEventListener("storage", (event) => {
  if (event.key !== STORAGE_KEY) return;
  current = load();
  notify();
});
