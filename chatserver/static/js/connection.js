// The connection to the server: the official centrifuge SDK (vendor/centrifuge.js defines
// globalThis.Centrifuge), its state as words people understand, RPC calls with readable
// errors, and the private notices that arrive on the server-side channel user#<id>.

import { t, lang } from "./i18n.js";
import { formatDateTime } from "./dom.js";

const { Centrifuge } = globalThis;

export class RpcError extends Error {
  /** `message`: what to show people (the reader's language); `serverMessage`: the server's
   *  own words (for the console, and for values such as a mute's end). */
  constructor(code, message, serverMessage = message) {
    super(message || t("error.other"));
    this.code = code;
    this.serverMessage = serverMessage || "";
  }
}

// Error codes (docs/protocol.md) in words; never a method name or the server's raw text.
const ERROR_KEYS = {
  100: "error.internal", 101: "error.unauthorized", 102: "error.unknown_room", 103: "error.permission",
  104: "conn.no_method", 106: "error.limit", 107: "error.bad_request", 108: "error.not_available",
  109: "error.token_expired", 110: "error.expired", 111: "error.too_many", 1003: "error.banned", 1004: "error.locked",
  1006: "error.stage", 1102: "error.conflict",
};

/** An error's words in the reader's language, from its code and the values in the server's
 *  message (a mute's end, seconds to wait). */
export function readableError(code, serverMessage = "") {
  const message = String(serverMessage || "");
  const when = /\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)/.exec(message);
  const seconds = /in (\d+) s\b/.exec(message);
  const allows = /allows (\d+)/.exec(message);
  if (code === 107 && allows) return t("error.too_long", { max: Number(allows[1]) });
  if (code === 1001) return t("error.rejected_detail", { reason: message.replace(/^[a-z ]*not posted: /, "") });
  if (code === 1002) return when ? t("error.muted_until", { when: formatDateTime(when[0]) }) : t("error.muted");
  if (code === 1005 || code === 1101) return seconds ? t(code === 1005 ? "error.slow" : "error.too_soon", { s: Number(seconds[1]) }) : t("error.too_many");
  if (ERROR_KEYS[code]) return t(ERROR_KEYS[code]);
  return t("error.other");
}

// Close codes and what to tell the person (docs/protocol.md, "Close codes").
const DISCONNECT_REASONS = { 3500: "conn.invalid", 3507: "conn.forbidden", 3509: "conn.too_many_errors", 1: "conn.invalid" };

/** The page's language with the browser's region when it has one for it ("es-MX"): the server
 * picks crisis resources by it (a token's own "locale" claim comes first). */
export function clientLocale() {
  const chosen = lang();
  for (const tag of navigator.languages || [navigator.language || ""]) {
    if (tag && tag.toLowerCase().split("-")[0] === chosen) return tag;
  }
  return chosen;
}

export function websocketUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/connection/websocket`;
}

export class ChatConnection extends EventTarget {
  constructor(session, getToken) {
    super();
    if (!Centrifuge) throw new Error("vendor/centrifuge.js did not load");
    this.session = session;
    this.personalChannel = `user#${session.user}`;
    this.everConnected = false;
    this.status = { state: "connecting", text: t("conn.connecting") };
    const options = {
      token: session.token,
      minReconnectDelay: 300,
      maxReconnectDelay: 8000,
      timeout: 8000,
      data: { locale: clientLocale() }, // connect data: the client's language (docs/protocol.md)
    };
    if (getToken) options.getToken = getToken;
    this.client = new Centrifuge(websocketUrl(), options);
    this.client.on("connecting", (ctx) => {
      const again = this.everConnected;
      this._setStatus({
        state: "connecting",
        reconnecting: again,
        text: t(!navigator.onLine ? "conn.offline" : again ? "conn.reconnecting" : "conn.connecting"),
        code: ctx.code,
      });
    });
    this.client.on("connected", (ctx) => {
      this.everConnected = true;
      this.clientId = ctx.client;
      this._setStatus({ state: "connected", text: t("conn.connected") });
    });
    this.client.on("disconnected", (ctx) => {
      const text = DISCONNECT_REASONS[ctx.code]
        ? t(DISCONNECT_REASONS[ctx.code])
        : ctx.reason ? t("conn.disconnected_because", { reason: ctx.reason }) : t("conn.disconnected");
      this._setStatus({ state: "disconnected", text, code: ctx.code });
    });
    this.client.on("error", (ctx) => {
      console.warn("chat connection:", ctx.type, ctx.error);
    });
    // Publications on server-side subscriptions: the private notice channel.
    this.client.on("publication", (ctx) => {
      if (ctx.channel === this.personalChannel) {
        this.dispatchEvent(new CustomEvent("notice", { detail: ctx.data }));
      }
    });
  }

  _setStatus(status) {
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }

  connect() {
    this.client.connect();
  }

  disconnect() {
    this.client.disconnect();
  }

  get connected() {
    return this.status.state === "connected";
  }

  /** Call an RPC method; resolves with its result, rejects with RpcError. */
  async rpc(method, data = {}) {
    try {
      const reply = await this.client.rpc(method, data);
      return reply.data;
    } catch (error) {
      if (error instanceof RpcError) throw error;
      const code = error?.code ?? 0;
      const raw = error?.message || String(error);
      const message = raw === "timeout" ? t("conn.timeout") : readableError(code, raw);
      if (code !== 1001) console.info(`rpc ${method}: error ${code}: ${raw}`);
      throw new RpcError(code, message, raw);
    }
  }

  /** The SDK subscription for a channel (created once, reused). */
  subscription(channel, options = {}) {
    return this.client.getSubscription(channel) || this.client.newSubscription(channel, options);
  }

  removeSubscription(sub) {
    if (sub) this.client.removeSubscription(sub);
  }
}
