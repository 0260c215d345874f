// Crisis cases in the moderator console: a prominent list above the hold queue, live from
// the community feed <community>/mod (crisis.case), with the time since each case opened and
// its actions: acknowledge, talk privately (opens a private conversation and marks the case
// in contact), close with an outcome. Also "talk privately with a member", the member picked
// by name from the console's directory (js/directory.js), never by user id. People are shown
// by name: the case carries the member's name, `*_by` the moderator's. Server side: RPC
// crisis.* and support.open (docs/crisis.md, docs/protocol.md).

import { h, $, announce, fill, keepFocus, timeEl } from "./dom.js";
import { t } from "./i18n.js";
import { ask } from "./dialogs.js";
import { MemberPicker } from "./directory.js";
import { LookList } from "./looks.js";

export const OUTCOMES = ["resources_given", "referred", "emergency_services", "talked_it_through", "false_alarm", "no_response", "other"];
const ORDER = { open: 0, acknowledged: 1, in_contact: 2, closed: 3 };
const SHOW_CLOSED_MS = 10 * 60_000;

/** "opened just now", "opened 5 min ago", "opened 2 h 5 min ago", "opened 3 days ago" in the page's language. */
export function openedSince(ms, now = Date.now()) {
  const minutes = Math.floor(Math.max(0, now - ms) / 60_000);
  if (minutes < 1) return t("cases.opened_now");
  if (minutes < 60) return t("cases.opened_minutes", { n: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return t("cases.opened_hours", { h: hours, m: minutes % 60 });
  return t("cases.opened_days", { n: Math.floor(hours / 24) });
}

export class CasesPanel {
  constructor(conn, session, { directory, rooms, onConversation }) {
    this.conn = conn;
    this.session = session;
    this.community = session.community;
    this.directory = directory;
    this.rooms = rooms; // () => the chat view's rooms, for a room's title
    this.onConversation = onConversation; // (conversation) => show it in the chat view
    this.cases = new Map(); // id -> case
    this.room = ""; // the console's room filter ("" for every room)
    this.list = h("ul", { class: "item-list", id: "case-list" });
    this.count = h("span", { class: "count-pill" }, "0");
    this.looks = new LookList(conn, { roomTitle: (channel) => this.roomTitle(channel) });
    this.picker = new MemberPicker(directory, { id: "case-member", searchLabel: t("cases.talk_search"), label: t("cases.talk_member") });
    this.card = h(
      "section",
      { class: "card cases", id: "cases", "aria-labelledby": "cases-heading" },
      h("h2", { id: "cases-heading", tabindex: "-1" }, t("cases.heading"), " ", this.count),
      h("p", { class: "hint" }, t("cases.hint")),
      this.list,
      this.looks.element,
      h(
        "form",
        { class: "talk-to", "aria-labelledby": "talk-heading", onsubmit: (event) => { event.preventDefault(); this.talkTo(); } },
        h("h3", { id: "talk-heading" }, t("cases.talk_heading")),
        h("div", { class: "controls-row" }, ...this.picker.fields, h("button", { type: "submit", class: "secondary" }, t("cases.talk_submit"))),
      ),
    );
    const feed = conn.subscription(`${this.community}/mod`);
    feed.on("publication", (ctx) => this._feedEvent(ctx.data || {}));
    feed.on("subscribed", () => {
      this.load();
      this.looks.loadFrom(feed);
    });
    feed.on("error", (ctx) => console.warn("community moderator feed:", ctx.error));
    feed.subscribe();
    this._timer = setInterval(() => this.renderSinceTimes(), 30_000);
  }

  /** Put the list at the top of the moderation panel, above the hold queue. */
  mount(panel) {
    const body = $(".panel-body", panel) || panel;
    const columns = $(".columns", body);
    body.insertBefore(this.card, columns || body.firstChild);
  }

  async load() {
    try {
      const { cases } = await this.conn.rpc("crisis.list", { community: this.community });
      this.cases.clear();
      for (const c of cases) this._keep(c);
      this.render();
    } catch (error) {
      fill(this.list, h("li", { class: "empty" }, t("cases.load_failed", { error: error.message })));
    }
  }

  /** Remember a case; its member and moderators join the directory (by name). */
  _keep(c) {
    this.cases.set(c.id, c);
    this.directory.add([{ user: c.user, name: c.name }, c.ack_by, c.contact_by].filter(Boolean));
  }

  _feedEvent(data) {
    if (data.type === "crisis.look") return this.looks.add(data);
    if (data.type !== "crisis.case" && data.type !== "crisis.escalated") return;
    const c = data.case;
    if (!c) return;
    const known = this.cases.has(c.id);
    this._keep(c);
    this.render();
    if (data.type === "crisis.escalated" || data.change === "escalated") announce(t("cases.announce_escalated", { name: c.name }));
    else if (!known && c.state === "open") announce(t("cases.announce_opened", { name: c.name }));
  }

  render() {
    const now = Date.now();
    const shown = [...this.cases.values()]
      .filter((c) => c.state !== "closed" || now - (c.closed_at || 0) < SHOW_CLOSED_MS)
      .filter((c) => !this.room || c.channel === this.room)
      .sort((a, b) => ORDER[a.state] - ORDER[b.state] || b.opened_at - a.opened_at);
    this.count.textContent = String(shown.filter((c) => c.state !== "closed").length);
    const items = shown.map((c) => this._item(c));
    if (!items.length) items.push(h("li", { class: "empty" }, t("cases.empty")));
    keepFocus(this.list, () => fill(this.list, ...items), $("#cases-heading"));
  }

  /** The console's room filter. */
  setRoom(channel) {
    this.room = channel || "";
    this.render();
  }

  renderSinceTimes() {
    for (const node of this.list.querySelectorAll("[data-opened]")) node.textContent = openedSince(Number(node.dataset.opened));
  }

  roomTitle(channel) {
    const room = (this.rooms() || []).find((r) => r.channel === channel);
    return room?.title || room?.name || String(channel || "").split(":").slice(1).join(":");
  }

  _item(c) {
    const urgent = c.state === "open";
    const texts = (c.items || []).slice(-3).map((item) => h("p", { class: "item-text" }, item.text || ""));
    const actions = [];
    if (urgent) actions.push(h("button", { type: "button", onclick: () => this.act("crisis.ack", c, t("cases.done_ack", { name: c.name })) }, t("cases.ack")));
    if (c.state !== "closed") {
      actions.push(h("button", { type: "button", class: urgent ? "secondary" : "", onclick: () => this.contact(c) }, t("cases.talk")));
      actions.push(h("button", { type: "button", class: "secondary", onclick: () => this.close(c) }, t("cases.close")));
    }
    const taken = c.ack_by ? [t("cases.taken_by", { name: c.ack_by.name })] : [];
    if (c.contact_by) taken.push(t("cases.contact_by", { name: c.contact_by.name }));
    return h(
      "li",
      { class: `item case-${c.state}${urgent ? " case-urgent" : ""}`, tabindex: "-1", dataset: { key: c.id, case: c.id } },
      h(
        "p",
        { class: "item-meta" },
        h("strong", {}, c.escalated && urgent ? t("cases.escalated") : t(`cases.state.${c.state}`)),
        h("span", {}, c.name),
        c.channel ? h("span", {}, t("cases.in_room", { room: this.roomTitle(c.channel) })) : null,
        h("span", { dataset: { opened: String(c.opened_at) } }, openedSince(c.opened_at)),
        timeEl(c.opened_at),
        c.count > 1 ? h("span", {}, t("cases.messages", { n: c.count })) : null,
        c.kind === "third_party" ? h("span", {}, t("cases.kind_third_party")) : null,
        c.source === "concern" ? h("span", {}, t("cases.source_concern")) : null,
      ),
      ...texts,
      taken.length ? h("p", { class: "hint" }, taken.join(" · ")) : null,
      c.outcome ? h("p", { class: "hint" }, t("cases.outcome_was", { outcome: outcomeLabel(c.outcome) })) : null,
      actions.length ? h("div", { class: "item-actions" }, ...actions) : null,
    );
  }

  async act(method, c, done, extra = {}) {
    try {
      const updated = await this.conn.rpc(method, { community: this.community, id: c.id, ...extra });
      this._keep(updated);
      this.render();
      announce(done);
      return updated;
    } catch (error) {
      announce(t("cases.failed", { error: error.message }));
      await this.load();
      return null;
    }
  }

  async contact(c) {
    try {
      const conversation = await this.conn.rpc("support.open", { community: this.community, case: c.id });
      if (c.state !== "in_contact") await this.act("crisis.contact", c, t("cases.done_contact", { name: c.name }));
      this.onConversation(conversation);
    } catch (error) {
      announce(t("cases.talk_failed", { error: error.message }));
    }
  }

  /** Open a private conversation with the member chosen by name. */
  async talkTo() {
    const user = this.picker.value;
    if (!user) {
      this.picker.select.focus();
      announce(t("mod.choose_first"));
      return;
    }
    try {
      const name = this.directory.name(user);
      const conversation = await this.conn.rpc("support.open", { community: this.community, user, name });
      this.onConversation(conversation);
    } catch (error) {
      announce(t("cases.talk_failed", { error: error.message }));
    }
  }

  async close(c) {
    // Held messages of the case: the moderator says what becomes of them (nothing expires unseen).
    const held = (c.items || []).some((item) => item.hold_id);
    const holdFields = held
      ? [
        {
          name: "holds", label: t("cases.holds"), type: "select", value: "keep",
          options: [["keep", t("cases.holds_keep")], ["approve", t("cases.holds_approve")], ["reject", t("cases.holds_reject")]],
        },
        { name: "reject_reason", label: t("cases.holds_reason"), type: "textarea", maxlength: 500, hint: t("cases.holds_reason_hint") },
      ]
      : [];
    const values = await ask({
      title: t("cases.close_title", { name: c.name }),
      description: t("cases.close_description"),
      submit: t("cases.close_submit"),
      returnTo: () => $("#cases-heading"),
      fields: [
        { name: "outcome", label: t("cases.outcome"), type: "select", options: OUTCOMES.map((o) => [o, outcomeLabel(o)]), value: "resources_given" },
        { name: "note", label: t("cases.note"), type: "textarea", maxlength: 2000 },
        {
          name: "conversation", label: t("cases.conversation"), type: "select", value: "close",
          options: [["close", t("cases.conversation_close")], ["keep", t("cases.conversation_keep")]],
        },
        ...holdFields,
      ],
    });
    if (!values) return;
    await this.act("crisis.close", c, t("cases.done_closed", { name: c.name }), {
      outcome: values.outcome,
      note: values.note || undefined,
      close_conversation: values.conversation !== "keep",
      ...(held ? { holds: values.holds, reject_reason: values.reject_reason || undefined } : {}),
    });
  }
}

function outcomeLabel(outcome) {
  return OUTCOMES.includes(outcome) ? t(`cases.outcome.${outcome}`) : outcome;
}
