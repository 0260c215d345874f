// The "waiting for a reply" list (docs/peer-support.md) for supporters, moderators and
// admins: posts in support rooms nobody has answered yet, oldest first, each with who is on
// it or an "I'm on it" button. It reloads (peer.waiting) when a waiting.* event arrives on
// the member's own channel (supporters) or the community's moderator feed (staff; cases.js
// follows it and passes its events on).

import { h, $, fill, announce, timeEl, keepFocus } from "./dom.js";
import { t } from "./i18n.js";

const ROLES = new Set(["supporter", "moderator", "admin"]);

export class WaitingPanel {
  constructor(conn, session, chat) {
    this.conn = conn;
    this.session = session;
    this.chat = chat;
    this.section = $("#waiting");
    this.list = $("#waiting-list");
    this.enabled = ROLES.has(session.role) && !!this.section;
    if (!this.enabled) return;
    this.section.hidden = false;
    chat.noticeFilters.push((data) => this.onEvent(data));
    document.addEventListener("community-feed", (event) => this.onEvent(event.detail));
    this.load();
  }

  onEvent(data) {
    if (!data || typeof data.type !== "string" || !data.type.startsWith("waiting.")) return false;
    if (data.type === "waiting.added") announce(t("waiting.announce", { name: data.post?.name || data.post?.user || "" }));
    this.load();
    return true;
  }

  async load() {
    try {
      const result = await this.conn.rpc("peer.waiting", { community: this.session.community });
      this.render(result.posts || []);
    } catch (error) {
      fill(this.list, h("li", { class: "waiting-empty" }, t("waiting.failed", { error: error.message })));
    }
  }

  render(posts) {
    keepFocus(this.list, () => {
      if (!posts.length) {
        fill(this.list, h("li", { class: "waiting-empty" }, t("waiting.empty")));
        return;
      }
      fill(this.list, ...posts.map((post) => this.item(post)));
    }, $("#waiting-heading"));
  }

  item(post) {
    const room = this.chat.rooms.find((r) => r.channel === post.channel);
    const where = room?.title || post.channel.split(":")[1] || post.channel;
    const who = post.name || post.user;
    const open = h("button", { type: "button", class: "small" }, t("waiting.open", { name: who, room: where }));
    open.addEventListener("click", () => this.chat.enter(post.channel));
    let status;
    if (post.taken) {
      const mine = post.taken.user === this.session.user;
      status = h("span", { class: "waiting-taken" }, mine ? t("waiting.taken_by_you") : t("waiting.taken_by", { name: post.taken.name || post.taken.user }));
    } else {
      status = h("button", { type: "button", class: "small" }, t("waiting.take"));
      status.addEventListener("click", () => this.take(post));
    }
    return h("li", { class: "waiting-item", tabindex: "-1", dataset: { key: `${post.channel} ${post.id}` } }, open, " ", timeEl(post.ts), " ", status);
  }

  async take(post) {
    try {
      const result = await this.conn.rpc("peer.take", { community: this.session.community, channel: post.channel, id: post.id });
      announce(result.mine ? t("waiting.took") : t("waiting.taken_by", { name: result.taken.name || result.taken.user }));
    } catch (error) {
      announce(t("waiting.failed", { error: error.message }));
    }
    this.load();
  }
}
