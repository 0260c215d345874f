// Who is signed in, and where the connection token comes from.
//
// Development: the server mints tokens at POST /dev/token (only in development mode).
// Production: the platform that embeds this client signs the token and passes it in the
// page address (#token=...) or the user pastes it; such a token is not refreshed here.

import { t } from "./i18n.js";

const STORAGE_KEY = "chatserver.session";

export class SignInError extends Error {}

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data?.error?.message || t("signin.server_answered", { status: response.status });
    const error = new SignInError(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

/** Communities offered by development sign-in, or null when the server is not in dev mode. */
export async function devCommunities() {
  try {
    const response = await fetch("/dev/communities");
    if (!response.ok) return null;
    return (await response.json()).communities;
  } catch {
    return null;
  }
}

/** Ask the development endpoint for a token. */
export async function devSignIn({ name, community, role, invisible }) {
  const data = await postJSON("/dev/token", { name, community, role, invisible: !!invisible });
  return {
    source: "dev",
    token: data.token,
    user: data.user,
    name: data.name,
    community: data.community,
    role: data.role,
    invisible: !!invisible,
  };
}

/** Read the claims of a token the platform signed (for display; the server verifies it). */
export function sessionFromToken(token) {
  const parts = token.trim().split(".");
  if (parts.length !== 3) throw new SignInError(t("signin.not_a_token"));
  let claims;
  try {
    const binary = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  } catch {
    throw new SignInError(t("signin.claims_unreadable"));
  }
  const communities = claims.communities || {};
  const [community, role] = Object.entries(communities)[0] || ["", "member"];
  if (!community) throw new SignInError(t("signin.no_community"));
  return {
    source: "token",
    token: token.trim(),
    user: claims.sub,
    name: claims.name || claims.sub,
    community,
    role,
    invisible: !!claims.invisible,
  };
}

/** A function for the SDK's getToken: a fresh token before the old one expires. */
export function tokenRefresher(session) {
  if (session.source !== "dev") return null;
  return async () => {
    const fresh = await devSignIn(session);
    session.token = fresh.token;
    save(session);
    return fresh.token;
  };
}

export function save(session) {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function load() {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

export function forget() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** A token handed over in the address (#token=...), removed from the address bar at once. */
export function tokenFromLocation() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token;
}
