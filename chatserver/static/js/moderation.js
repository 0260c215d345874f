// The moderator console: the room's hold queue live (approve, edit and approve, reject with a
// reason), reports, room controls (slow mode, lock), member actions (mute for a chosen time,
// kick, ban, and lifting them), and the community's audit log. Message actions (delete,
// mute/kick/ban the author) are offered on each message in the chat view too.
//
// Server side: RPC mod.* and chat.report, the feed <community>:<room>/mod (hold.created,
// hold.resolved, report.created, crisis.alert), room events room.slow_mode / room.locked /
// room.unlocked (docs/moderation.md, docs/protocol.md).

import { h, $, announce, formatDateTime, timeEl, fill, keepFocus } from "./dom.js";
import { ask, MUTE_DURATIONS } from "./dialogs.js";
import { hiddenWords } from "./messages.js";
import { AuditLog } from "./audit.js";

const SLOW_MODE_CHOICES = [
  ["0", "Off"],
  ["5", "5 seconds"],
  ["10", "10 seconds"],
  ["30", "30 seconds"],
  ["60", "1 minute"],
  ["300", "5 minutes"],
];
const BAN_DURATIONS = [["", "Until lifted"], ["86400", "1 day"], ["604800", "7 days"], ["2592000", "30 days"]];
const REJECT_REASONS = [
  "This could identify you or someone else.",
  "This breaks the community guidelines.",
  "This is not a safe place for this; please look at the support resources.",
];

export class ModerationConsole {
  constructor(conn, session, chat) {
    this.conn = conn;
    this.session = session;
    this.chat = chat;
    this.channel = null;
    this.feed = null;
    this.holds = new Map(); // hold id -> hold
    this.alerts = [];
    this.reportTexts = new Map(); // offset -> {text, name, message_id, user}
    this.panel = $("#panel-mod");
    this.tab = $("#tab-mod");
    this._build();
    chat.addEventListener("room", (event) => this.enter(event.detail.channel));
    chat.addEventListener("room-event", (event) => this._roomEvent(event.detail));
    $("#tabs").addEventListener("tab", (event) => {
      if (event.detail === "tab-mod") this.loadAudit();
    });
    conn.addEventListener("status", (event) => {
      if (event.detail.state === "connected" && this.channel) this.loadQueues();
    });
    if (chat.channel) this.enter(chat.channel);
  }

  _build() {
    this.holdList = h("ul", { class: "item-list", "aria-live": "polite" });
    this.holdCount = h("span", { class: "count-pill" }, "0");
    this.reportList = h("ul", { class: "item-list" });
    this.reportCount = h("span", { class: "count-pill" }, "0");
    this.slowSelect = h("select", { id: "mod-slow", name: "slow" }, SLOW_MODE_CHOICES.map(([v, l]) => h("option", { value: v }, l)));
    this.lockButton = h("button", { type: "button", class: "secondary", onclick: () => this.toggleLock() }, "Lock room");
    this.roomState = h("p", { class: "hint", "aria-live": "polite" });
    this.userInput = h("input", { id: "mod-user", name: "user", list: "mod-user-options", autocomplete: "off", placeholder: "user id" });
    this.userOptions = h("datalist", { id: "mod-user-options" });
    this.muteSelect = h("select", { id: "mod-mute", name: "duration" }, MUTE_DURATIONS.map(([v, l]) => h("option", { value: v }, l)));
    this.sanctionList = h("div", { class: "sanctions" });
    this.audit = new AuditLog(this.conn, this.session.community);
    this.status = h("p", { class: "room-status", role: "status", hidden: true });
    const holdsCard = h(
      "section",
      { class: "card", "aria-labelledby": "holds-heading" },
      h("h2", { id: "holds-heading", tabindex: "-1" }, "Held for review ", this.holdCount),
      h("p", { class: "hint" }, "Messages the safety checks held back. Nobody else sees them until you approve."),
      this.holdList,
    );
    const reportsCard = h(
      "section",
      { class: "card", "aria-labelledby": "reports-heading" },
      h("h2", { id: "reports-heading", tabindex: "-1" }, "Reports ", this.reportCount),
      this.reportList,
    );
    const roomCard = h(
      "section",
      { class: "card", "aria-labelledby": "room-controls-heading" },
      h("h2", { id: "room-controls-heading" }, "Room controls"),
      this.roomState,
      h(
        "div",
        { class: "controls-row" },
        h("div", { class: "field" }, h("label", { for: "mod-slow" }, "Slow mode"), this.slowSelect),
        h("button", { type: "button", onclick: () => this.applySlowMode() }, "Apply slow mode"),
        this.lockButton,
      ),
    );
    const memberCard = h(
      "section",
      { class: "card", "aria-labelledby": "member-actions-heading" },
      h("h2", { id: "member-actions-heading" }, "Member actions"),
      h(
        "div",
        { class: "controls-row" },
        h("div", { class: "field" }, h("label", { for: "mod-user" }, "Member (user id)"), this.userInput, this.userOptions),
        h("div", { class: "field" }, h("label", { for: "mod-mute" }, "Mute for"), this.muteSelect),
      ),
      h(
        "div",
        { class: "controls-row item-actions" },
        h("button", { type: "button", onclick: () => this.memberAction("mute") }, "Mute"),
        h("button", { type: "button", class: "secondary", onclick: () => this.memberAction("unmute") }, "Lift mute"),
        h("button", { type: "button", class: "secondary", onclick: () => this.memberAction("kick") }, "Remove from room"),
        h("button", { type: "button", class: "danger", onclick: () => this.memberAction("ban") }, "Ban…"),
        h("button", { type: "button", class: "secondary", onclick: () => this.memberAction("unban") }, "Lift ban"),
      ),
      this.sanctionList,
    );
    fill(this.panel,
      h(
        "div",
        { class: "panel-body" },
        this.status,
        h("div", { class: "columns" }, h("div", {}, holdsCard, reportsCard), h("div", {}, roomCard, memberCard)),
        this.audit.card,
      ),
    );
  }

  // ------------------------------------------------------------------ room and feed

  enter(channel) {
    if (channel === this.channel) return;
    if (this.feed) this.conn.removeSubscription(this.feed);
    this.channel = channel;
    this.holds.clear();
    this.alerts = [];
    this.reportTexts.clear();
    this.renderHolds();
    const flags = this.chat.flags || {};
    this.state = undefined;
    this._setRoomState({ slow: flags.slow || 0, locked: !!flags.locked });
    fill(this.reportList);
    const feed = this.conn.subscription(`${channel}/mod`);
    this.feed = feed;
    feed.on("publication", (ctx) => this._feedEvent(ctx.data || {}));
    feed.on("subscribed", () => this.loadQueues());
    feed.on("error", (ctx) => console.warn("moderator feed:", ctx.error));
    feed.subscribe();
  }

  async loadQueues() {
    const channel = this.channel;
    try {
      const { holds } = await this.conn.rpc("mod.holds", { channel });
      if (channel !== this.channel) return;
      this.holds.clear();
      for (const hold of holds) this.holds.set(hold.id, hold);
      this.renderHolds();
    } catch (error) {
      fill(this.holdList, h("li", { class: "empty" }, `Could not load the hold queue: ${error.message}`));
    }
    await this.loadReports();
    this.loadSanctions();
  }

  /** The pending holds as written (only mod.holds answers with a held item's original). */
  async _originals() {
    const channel = this.channel;
    try {
      const { holds } = await this.conn.rpc("mod.holds", { channel });
      if (channel !== this.channel) return;
      for (const hold of holds) if (this.holds.has(hold.id)) this.holds.set(hold.id, hold);
      this.renderHolds();
    } catch {
      // The redacted text stays shown; the next load brings the original.
    }
  }

  _feedEvent(data) {
    switch (data.type) {
      case "hold.created":
      case "hold.escalated":
        this.holds.set(data.hold.id, data.hold);
        this.renderHolds();
        announce(`${data.hold.priority === "high" ? "High priority: " : ""}a message from ${data.hold.name} is waiting for review`);
        this._originals(); // feed events carry the redacted text; the queue has the original
        break;
      case "hold.resolved":
        this.holds.delete(data.id);
        this.renderHolds();
        break;
      case "report.created":
        this.reportTexts.set(data.offset, data);
        this.loadReports();
        break;
      case "crisis.alert":
        this.alerts.unshift(data);
        this.renderHolds();
        announce(`High priority: crisis language from ${data.name}`);
        break;
      default:
        break;
    }
  }

  _roomEvent(data) {
    if (data.type === "room.slow_mode") this._setRoomState({ slow: data.seconds });
    else if (data.type === "room.locked") this._setRoomState({ locked: true });
    else if (data.type === "room.unlocked") this._setRoomState({ locked: false });
  }

  _setRoomState(change) {
    this.state = { slow: 0, locked: false, ...this.state, ...change };
    this.slowSelect.value = String(this.state.slow || 0);
    if (!this.slowSelect.value) this.slowSelect.value = "0";
    this.lockButton.textContent = this.state.locked ? "Unlock room" : "Lock room";
    const parts = [this.state.locked ? "Locked: only moderators can post." : "Open to members."];
    if (this.state.slow) parts.push(`Slow mode: one message per ${this.state.slow} s per member.`);
    this.roomState.textContent = parts.join(" ");
  }

  // ------------------------------------------------------------------ holds

  renderHolds() {
    const pending = [...this.holds.values()].sort(
      (a, b) => (a.priority === "high" ? 0 : 1) - (b.priority === "high" ? 0 : 1) || a.created - b.created,
    );
    this.holdCount.textContent = String(pending.length);
    this.tab.textContent = pending.length ? `Moderation (${pending.length})` : "Moderation";
    const items = [
      ...this.alerts.map((alert) =>
        h(
          "li",
          { class: "item priority-high", tabindex: "-1", dataset: { key: `alert-${alert.ts}-${alert.name}` } },
          h("p", { class: "item-meta" }, h("strong", {}, "Crisis alert"), h("span", {}, alert.name), timeEl(alert.ts)),
          h("p", { class: "item-text" }, alert.text),
          h("p", { class: "hint" }, `${alert.reason}. The member was shown support resources privately.`),
        ),
      ),
      ...pending.map((hold) => this._holdItem(hold)),
    ];
    if (!items.length) items.push(h("li", { class: "empty" }, "Nothing is waiting. Well done."));
    // After Approve or Reject (here or by another moderator) focus moves to the next item,
    // or to the queue's heading when it is empty.
    keepFocus(this.holdList, () => fill(this.holdList, ...items), $("#holds-heading", this.panel));
  }

  _holdItem(hold) {
    const high = hold.priority === "high";
    return h(
      "li",
      { class: `item${high ? " priority-high" : ""}`, tabindex: "-1", dataset: { hold: hold.id, key: hold.id } },
      h(
        "p",
        { class: "item-meta" },
        high ? h("strong", {}, "High priority") : null,
        h("span", {}, `${hold.name} (${hold.user})`),
        h("span", {}, hold.kind === "message" ? "message" : hold.kind),
        timeEl(hold.created),
        hold.expires_at ? h("span", {}, `expires ${formatDateTime(hold.expires_at)}`) : null,
      ),
      h("p", { class: "item-text" }, hold.text),
      hold.redacted_text
        ? h("p", { class: "hint" }, `Approving posts it with ${hiddenWords(hold.hidden || [])} hidden: “${hold.redacted_text}”`)
        : null,
      h("p", { class: "hint" }, `Why: ${hold.reason}`),
      h(
        "div",
        { class: "item-actions" },
        h("button", { type: "button", onclick: () => this.approve(hold) }, "Approve"),
        h("button", { type: "button", class: "secondary", onclick: () => this.approve(hold, true) }, "Edit and approve"),
        h("button", { type: "button", class: "secondary", onclick: () => this.reject(hold) }, "Reject…"),
      ),
    );
  }

  async approve(hold, edit = false) {
    const data = { channel: hold.channel || this.channel, id: hold.id };
    if (edit) {
      const values = await ask({
        title: `Edit ${hold.name}'s message, then approve`,
        description: "The member is told a moderator edited it.",
        submit: "Approve edited message",
        returnTo: () => $("#holds-heading", this.panel), // if the hold was resolved meanwhile
        fields: [{ name: "text", label: "Message", type: "textarea", value: hold.redacted_text || hold.text, required: true }],
      });
      if (!values) return;
      data.text = values.text;
    }
    await this._act("mod.approve", data, "Approved");
    this.holds.delete(hold.id);
    this.renderHolds();
  }

  async reject(hold) {
    const values = await ask({
      title: `Reject ${hold.name}'s message`,
      description: "The member sees the reason you give, privately.",
      submit: "Reject",
      danger: true,
      returnTo: () => $("#holds-heading", this.panel),
      fields: [
        { name: "reason", label: "Reason shown to the member", type: "textarea", value: REJECT_REASONS[0], required: true, maxlength: 500 },
      ],
    });
    if (!values) return;
    await this._act("mod.reject", { channel: hold.channel || this.channel, id: hold.id, reason: values.reason }, "Rejected");
    this.holds.delete(hold.id);
    this.renderHolds();
  }

  // ------------------------------------------------------------------ reports

  async loadReports() {
    const channel = this.channel;
    let reports = [];
    try {
      reports = (await this.conn.rpc("mod.reports", { channel })).reports || [];
    } catch (error) {
      this._fillReports(h("li", { class: "empty" }, `Could not load reports: ${error.message}`));
      return;
    }
    if (channel !== this.channel) return;
    this.reportCount.textContent = String(reports.length);
    this._fillReports(...(reports.length ? reports.map((report) => this._reportItem(report)) : [h("li", { class: "empty" }, "No open reports.")]));
  }

  _fillReports(...items) {
    keepFocus(this.reportList, () => fill(this.reportList, ...items), $("#reports-heading", this.panel));
  }

  _reportItem(report) {
    const known = this.reportTexts.get(report.offset) || this._messageAt(report.offset) || {};
    const reasons = (report.reports || []).map((r) => `${r.name || r.user}: ${r.reason}`);
    return h(
      "li",
      { class: "item", tabindex: "-1", dataset: { key: `report-${report.offset}` } },
      h(
        "p",
        { class: "item-meta" },
        h("strong", {}, `${report.count} report${report.count === 1 ? "" : "s"}`),
        known.name ? h("span", {}, `message by ${known.name}`) : h("span", {}, `message #${report.offset}`),
      ),
      known.text ? h("p", { class: "item-text" }, known.text) : null,
      h("ul", { class: "hint" }, reasons.map((r) => h("li", {}, r))),
      h(
        "div",
        { class: "item-actions" },
        h("button", { type: "button", class: "danger", onclick: () => this.deleteMessage({ offset: report.offset, name: known.name }) }, "Delete message"),
        h("button", { type: "button", class: "secondary", onclick: () => this.dismissReport(report) }, "Dismiss report"),
      ),
    );
  }

  _messageAt(offset) {
    const element = this.chat.log.byOffset.get(offset);
    return element?.message || null;
  }

  async dismissReport(report) {
    await this._act("mod.dismiss_report", { channel: this.channel, offset: report.offset }, "Report dismissed");
    this.loadReports();
  }

  // ------------------------------------------------------------------ actions

  /** Actions offered on a message in the chat view. */
  async messageAction(action, message, channel) {
    if (action === "delete") return this.deleteMessage({ id: message.id, name: message.name }, channel);
    this.userInput.value = message.user;
    if (action === "mute") {
      const values = await ask({
        title: `Mute ${message.name}`,
        description: "They can read but not post until the time is up.",
        submit: "Mute",
        fields: [
          { name: "duration", label: "For how long", type: "select", options: MUTE_DURATIONS, value: "600" },
          { name: "reason", label: "Reason (they see it)", type: "text" },
        ],
      });
      if (values) await this._act("mod.mute", { community: this.session.community, user: message.user, duration: Number(values.duration), reason: values.reason || undefined }, `${message.name} muted`);
    } else if (action === "kick") {
      const values = await ask({
        title: `Remove ${message.name} from this room`,
        submit: "Remove",
        danger: true,
        fields: [{ name: "reason", label: "Reason (they see it)", type: "text" }],
      });
      if (values) await this._act("mod.kick", { channel: channel || this.channel, user: message.user, reason: values.reason || undefined }, `${message.name} removed from the room`);
    } else if (action === "ban") {
      await this.ban(message.user, message.name);
    }
    this.loadSanctions();
  }

  async deleteMessage(target, channel) {
    const values = await ask({
      title: "Delete this message for everyone?",
      description: "It disappears from every screen and from history. The audit log keeps the original.",
      submit: "Delete",
      danger: true,
      fields: [{ name: "reason", label: "Reason (optional; the author sees it)", type: "text" }],
    });
    if (!values) return;
    const data = { channel: channel || this.channel, reason: values.reason || undefined };
    if (target.id) data.id = target.id;
    else data.offset = target.offset;
    await this._act("mod.delete", data, "Message deleted");
    this.loadReports();
  }

  async ban(user, name = user) {
    const values = await ask({
      title: `Ban ${name} from the community`,
      submit: "Ban",
      danger: true,
      fields: [
        { name: "duration", label: "For how long", type: "select", options: BAN_DURATIONS },
        { name: "reason", label: "Reason (they see it)", type: "text" },
      ],
    });
    if (!values) return;
    const data = { community: this.session.community, user, reason: values.reason || undefined };
    if (values.duration) data.duration = Number(values.duration);
    await this._act("mod.ban", data, `${name} banned`);
  }

  async memberAction(action) {
    const user = this.userInput.value.trim();
    if (!user) {
      this.userInput.focus();
      return this._say("Choose a member first (their user id).", true);
    }
    const community = this.session.community;
    if (action === "mute") {
      await this._act("mod.mute", { community, user, duration: Number(this.muteSelect.value) }, `${user} muted`);
    } else if (action === "unmute") {
      await this._act("mod.unmute", { community, user }, `Mute lifted for ${user}`);
    } else if (action === "kick") {
      await this._act("mod.kick", { channel: this.channel, user }, `${user} removed from the room`);
    } else if (action === "ban") {
      await this.ban(user);
    } else if (action === "unban") {
      await this._act("mod.unban", { community, user }, `Ban lifted for ${user}`);
    }
    this.loadSanctions();
  }

  async applySlowMode() {
    const seconds = Number(this.slowSelect.value);
    await this._act("mod.slow_mode", { channel: this.channel, seconds }, seconds ? `Slow mode: ${seconds} s` : "Slow mode off");
  }

  async toggleLock() {
    const locked = !(this.state?.locked);
    await this._act(locked ? "mod.lock" : "mod.unlock", { channel: this.channel }, locked ? "Room locked" : "Room unlocked");
  }

  async loadSanctions() {
    try {
      const result = await this.conn.rpc("mod.sanctions", { community: this.session.community });
      const rows = [
        ...(result.mutes || []).map((s) => ["Muted", s]),
        ...(result.bans || []).map((s) => ["Banned", s]),
      ];
      fill(this.sanctionList,
        rows.length
          ? h("ul", { class: "hint" }, rows.map(([kind, s]) => h("li", {}, `${kind}: ${s.user} ${s.until ? `until ${formatDateTime(s.until)}` : "until lifted"}${s.reason ? ` (${s.reason})` : ""}`)))
          : h("p", { class: "hint" }, "Nobody is muted or banned."),
      );
      fill(this.userOptions, ...this._knownUsers().map((u) => h("option", { value: u.user }, u.name)));
    } catch (error) {
      fill(this.sanctionList, h("p", { class: "hint" }, `Could not load mutes and bans: ${error.message}`));
    }
  }

  _knownUsers() {
    const users = new Map();
    for (const element of this.chat.log.byId.values()) {
      const m = element.message;
      if (m && m.user !== this.session.user) users.set(m.user, { user: m.user, name: m.name });
    }
    return [...users.values()];
  }

  loadAudit() {
    return this.audit.load();
  }

  async _act(method, data, done) {
    try {
      const result = await this.conn.rpc(method, data);
      this._say(done);
      if ($("#panel-mod").hidden === false) this.loadAudit();
      return result;
    } catch (error) {
      this._say(`${done.split(":")[0]} failed: ${error.message}`, true);
      return null;
    }
  }

  _say(text, problem = false) {
    this.chat.setRoomStatus(text, problem ? "warn" : "ok", 5000);
    this.status.textContent = text;
    this.status.dataset.tone = problem ? "warn" : "ok";
    this.status.hidden = false;
    clearTimeout(this._sayTimer);
    this._sayTimer = setTimeout(() => { this.status.hidden = true; }, 5000);
  }
}
