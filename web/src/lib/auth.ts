// Sign up, log in, log out, and keeping the signed-in user's account current.

import { get, post } from "./api";
import { endSession, session, startSession, updateUser } from "./session";
import type { AuthSession, User } from "./types";

export async function register(email: string, password: string, displayName: string): Promise<void> {
  startSession(await post<AuthSession>("/api/auth/register", { email, password, displayName }));
}

export async function login(email: string, password: string): Promise<void> {
  startSession(await post<AuthSession>("/api/auth/login", { email, password }));
}

export async function logout(): Promise<void> {
  const refreshToken = session()?.refreshToken;
  endSession();
  if (refreshToken) {
    // Revoking is best effort: the person is signed out here whatever the server says.
    await post("/api/auth/logout", { refreshToken }).catch(() => undefined);
  }
}

/** Reads the account again (a role may have changed since the tokens were issued). */
export async function refreshUser(): Promise<void> {
  if (!session()) return;
  try {
    updateUser(await get<User>("/api/auth/me"));
  } catch {
    // A failed refresh has already ended the session; anything else keeps the stored account.
  }
}
