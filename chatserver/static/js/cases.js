// Crisis cases in the moderator console: a prominent list above the hold queue, live from
// the community feed <community>/mod (crisis.case), with the time since each
// case opened and its actions: acknowledge, talk privately (opens a private conversation and
// marks the case in contact), close with an outcome. Also "talk privately with a member" by
// user id. Server side: RPC crisis.* and support.open (docs/crisis.md, docs/protocol.md).

import { h, $, announce, fill, keepFocus, timeEl } from "./dom.js";
import { ask } from "./dialogs.js";

export const OUTCOMES = [
  ["resources_given", "Resources given"],
  ["referred", "Referred to a professional service"],
  ["emergency_services", "Emergency services contacted"],
  ["talked_it_through", "Talked it through"],
  ["false_alarm", "False alarm"],
  ["no_response", "No response from the member"],
  ["other", "Other"],
];
const STATE_LABELS = { open: "Waiting for a moderator", acknowledged: "Acknowledged", in_contact: "In contact", closed: "Closed" };

export function since(ms, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return "just now";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min ago` : `${Math.floor(hours / 24)} days ago`;
}

export class CasesPanel {
  constructor(conn, session, { onConversation }) {
    this.conn = conn;
    this.session = session;
    this.community = session.community;
    this.onConversation = onConversation; // (conversation) => show it in the chat view
    this.cases = new Map(); // id -> case
    this.list = h("ul", { class: "item-list", id: "case-list" });
    this.count = h("span", { class: "count-pill" }, "0");
    this.userInput = h("input", { id: "case-user", name: "user", autocomplete: "off", placeholder: "user id" });
    this.card = h(
      "section",
      { class: "card cases", id: "cases", "aria-labelledby": "cases-heading" },
      h("h2", { id: "cases-heading", tabindex: "-1" }, "Crisis cases ", this.count),
      h("p", { class: "hint" }, "Members whose words suggest they may be in danger. Take a case, reach out privately, close it with what happened."),
      this.list,
      h(
        "form",
        { class: "controls-row", onsubmit: (event) => { event.preventDefault(); this.talkTo(this.userInput.value.trim()); } },
        h("div", { class: "field" }, h("label", { for: "case-user" }, "Open a private conversation with (user id)"), this.userInput),
        h("button", { type: "submit", class: "secondary" }, "Open private conversation"),
      ),
    );
    const feed = conn.subscription(`${this.community}/mod`);
    feed.on("publication", (ctx) => this._feedEvent(ctx.data || {}));
    feed.on("subscribed", () => this.load());
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
      for (const c of cases) this.cases.set(c.id, c);
      this.render();
    } catch (error) {
      fill(this.list, h("li", { class: "empty" }, `Could not load the crisis cases: ${error.message}`));
    }
  }

  _feedEvent(data) {
    if (data.type !== "crisis.case" && data.type !== "crisis.escalated") return;
    const c = data.case;
    if (!c) return;
    const known = this.cases.has(c.id);
    this.cases.set(c.id, c);
    this.render();
    if (data.type === "crisis.escalated" || data.change === "escalated") announce(`Urgent: ${c.name}'s crisis case has waited ${since(c.opened_at)} without a moderator`);
    else if (!known && c.state === "open") announce(`High priority: a crisis case opened for ${c.name}`);
  }

  render() {
    const order = { open: 0, acknowledged: 1, in_contact: 2, closed: 3 };
    const shown = [...this.cases.values()]
      .filter((c) => c.state !== "closed" || Date.now() - (c.closed_at || 0) < 10 * 60_000)
      .sort((a, b) => order[a.state] - order[b.state] || b.opened_at - a.opened_at);
    const active = shown.filter((c) => c.state !== "closed").length;
    this.count.textContent = String(active);
    const items = shown.map((c) => this._item(c));
    if (!items.length) items.push(h("li", { class: "empty" }, "No open crisis cases."));
    keepFocus(this.list, () => fill(this.list, ...items), $("#cases-heading"));
  }

  renderSinceTimes() {
    for (const node of this.list.querySelectorAll("[data-opened]")) node.textContent = `opened ${since(Number(node.dataset.opened))}`;
  }

  _item(c) {
    const urgent = c.state === "open";
    const texts = (c.items || []).slice(-3).map((item) => h("p", { class: "item-text" }, item.text || ""));
    const actions = [];
    if (c.state === "open") actions.push(h("button", { type: "button", onclick: () => this.act("crisis.ack", c, "Acknowledged") }, "Acknowledge"));
    if (c.state !== "closed") {
      actions.push(h("button", { type: "button", class: urgent ? "secondary" : "", onclick: () => this.contact(c) }, "Talk privately"));
      actions.push(h("button", { type: "button", class: "secondary", onclick: () => this.close(c) }, "Close…"));
    }
    return h(
      "li",
      { class: `item case-${c.state}${urgent ? " case-urgent" : ""}`, tabindex: "-1", dataset: { key: c.id, case: c.id } },
      h(
        "p",
        { class: "item-meta" },
        h("strong", {}, c.escalated && urgent ? "Escalated: nobody has taken it" : STATE_LABELS[c.state] || c.state),
        h("span", {}, `${c.name} (${c.user})`),
        h("span", {}, c.channel || ""),
        h("span", { dataset: { opened: String(c.opened_at) } }, `opened ${since(c.opened_at)}`),
        timeEl(c.opened_at),
        c.count > 1 ? h("span", {}, `${c.count} messages`) : null,
      ),
      ...texts,
      c.ack_by ? h("p", { class: "hint" }, `Taken by ${c.ack_by.name}${c.contact_by ? `; in contact: ${c.contact_by.name}` : ""}`) : null,
      c.outcome ? h("p", { class: "hint" }, `Outcome: ${(OUTCOMES.find(([v]) => v === c.outcome) || [c.outcome, c.outcome])[1]}`) : null,
      actions.length ? h("div", { class: "item-actions" }, ...actions) : null,
    );
  }

  async act(method, c, done, extra = {}) {
    try {
      const updated = await this.conn.rpc(method, { community: this.community, id: c.id, ...extra });
      this.cases.set(updated.id, updated);
      this.render();
      announce(`${done}: ${c.name}`);
      return updated;
    } catch (error) {
      announce(`Could not do that: ${error.message}`);
      await this.load();
      return null;
    }
  }

  async contact(c) {
    try {
      const conversation = await this.conn.rpc("support.open", { community: this.community, case: c.id });
      if (c.state !== "in_contact") await this.act("crisis.contact", c, "In contact");
      this.onConversation(conversation);
    } catch (error) {
      announce(`Could not open a private conversation: ${error.message}`);
    }
  }

  async talkTo(user) {
    if (!user) return;
    try {
      const conversation = await this.conn.rpc("support.open", { community: this.community, user });
      this.userInput.value = "";
      this.onConversation(conversation);
    } catch (error) {
      announce(`Could not open a private conversation: ${error.message}`);
    }
  }

  async close(c) {
    const values = await ask({
      title: `Close ${c.name}'s crisis case`,
      description: "What happened? This goes into the audit log.",
      submit: "Close case",
      returnTo: () => $("#cases-heading"),
      fields: [
        { name: "outcome", label: "Outcome", type: "select", options: OUTCOMES, value: "resources_given" },
        { name: "note", label: "Note (optional)", type: "textarea", maxlength: 2000 },
        {
          name: "conversation", label: "Private conversation", type: "select", value: "close",
          options: [["close", "Close it (the member can still read it)"], ["keep", "Keep it open"]],
        },
      ],
    });
    if (!values) return;
    await this.act("crisis.close", c, "Closed", {
      outcome: values.outcome,
      note: values.note || undefined,
      close_conversation: values.conversation !== "keep",
    });
  }
}
