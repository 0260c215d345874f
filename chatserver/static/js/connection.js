// The connection to the server: the official centrifuge SDK (vendor/centrifuge.js defines
// globalThis.Centrifuge), its state as words people understand, RPC calls with readable
// errors, and the private notices that arrive on the server-side channel user#<id>.

import { t, lang } from "./i18n.js";

const { Centrifuge } = globalThis;

export class RpcError extends Error {
  constructor(code, message) {
    super(message || `error ${code}`);
    this.code = code;
  }
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
      let message = error?.message || String(error);
      if (code === 104) message = t("conn.no_method", { method });
      if (message === "timeout") message = t("conn.timeout");
      throw new RpcError(code, message);
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
