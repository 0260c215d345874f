// "May need a look": quiet, low-priority items in the moderator console (crisis.look on the
// community feed <community>/mod). The message was posted unchanged and its author was told
// nothing; the detector was unsure. A moderator may read it, mark it as crisis (crisis.mark:
// the author's case opens) or set it aside. Not a case and not a hold: folded by default,
// below the crisis cases. Server side: docs/crisis.md ("May need a look").

import { h, announce, fill, keepFocus, timeEl } from "./dom.js";
import { t } from "./i18n.js";

const KEEP = 50;

export class LookList {
  constructor(conn, { roomTitle }) {
    this.conn = conn;
    this.roomTitle = roomTitle; // (channel) => the room's title
    this.items = [];
    this.list = h("ul", { class: "item-list look-list", id: "look-list" });
    this.count = h("span", { class: "count-pill" }, "0");
    this.element = h(
      "details",
      { class: "looks", id: "looks" },
      h("summary", { id: "looks-heading" }, t("looks.heading"), " ", this.count),
      h("p", { class: "hint" }, t("looks.hint")),
      this.list,
    );
    this.render();
  }

  /** The feed's history (after a reload: what came while the console was closed). */
  async loadFrom(sub) {
    try {
      const history = await sub.history({ limit: 100, reverse: true });
      for (const pub of [...history.publications].reverse()) {
        if (pub.data?.type === "crisis.look") this.add(pub.data, { quiet: true });
      }
    } catch (error) {
      console.warn("looks:", error.message);
    }
  }

  add(data, { quiet = false } = {}) {
    if (this.items.some((x) => x.message_id === data.message_id && x.channel === data.channel)) return;
    this.items.unshift(data);
    this.items.length = Math.min(this.items.length, KEEP);
    this.render();
    if (!quiet) announce(t("looks.announce"));
  }

  drop(item) {
    this.items = this.items.filter((x) => x !== item);
    this.render();
  }

  render() {
    this.count.textContent = String(this.items.length);
    const rows = this.items.map((x) => this._item(x));
    if (!rows.length) rows.push(h("li", { class: "empty" }, t("looks.empty")));
    keepFocus(this.list, () => fill(this.list, ...rows), this.element.querySelector("summary"));
  }

  _item(x) {
    const evidence = (x.evidence || []).filter(Boolean);
    return h(
      "li",
      { class: "item look", tabindex: "-1" },
      h(
        "p",
        { class: "item-meta" },
        h("strong", {}, t("looks.item")),
        h("span", {}, x.name || t("looks.a_member")),
        x.channel ? h("span", {}, t("cases.in_room", { room: this.roomTitle(x.channel) })) : null,
        x.ts ? timeEl(x.ts) : null,
      ),
      h("p", { class: "item-text" }, x.text || ""),
      evidence.length ? h("p", { class: "hint" }, t("looks.evidence", { evidence: evidence.join("; ") })) : null,
      h(
        "div",
        { class: "item-actions" },
        h("button", { type: "button", class: "secondary", onclick: () => this.mark(x) }, t("looks.mark")),
        h("button", { type: "button", class: "link", onclick: () => this.drop(x) }, t("looks.dismiss")),
      ),
    );
  }

  async mark(x) {
    try {
      await this.conn.rpc("crisis.mark", { channel: x.channel, offset: x.offset, reason: t("looks.mark_reason") });
      this.drop(x);
      announce(t("looks.marked", { name: x.name || t("looks.a_member") }));
    } catch (error) {
      announce(t("cases.failed", { error: error.message }));
    }
  }
}
