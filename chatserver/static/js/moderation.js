// The moderator console for the whole community: the hold queue and reports of every room of
// the community, live (each names its room by its display name; a room filter; counts per
// room), never following the chat view. Holds: approve, edit and approve, reject with a
// reason chosen from presets that fit the hold's kind, or written freely. Room controls
// (slow mode, lock) for the room open in the chat view, named; member actions (mute for a chosen time, kick, ban, and lifting
// them) on a member picked by name, and the community's audit log. Message actions (delete,
// mute/kick/ban the author) are offered on each message in the chat view too.
//
// Members are picked by name from the people this console has seen recently (js/directory.js:
// who is online in the community's rooms, authors, holds, reports), never by a raw user id;
// mutes and bans show names the same way.
//
// Server side: RPC mod.* and chat.report, the feeds <community>:<room>/mod of every listed room
// (at most WATCH_ROOMS of them; hold.created,
// hold.resolved, report.created, crisis.alert), room events room.slow_mode / room.locked /
// room.unlocked (docs/moderation.md, docs/protocol.md).

import { h, $, announce, formatDateTime, timeEl, fill, keepFocus, roleLabel } from "./dom.js";
import { t } from "./i18n.js";
import { ask, muteDurations } from "./dialogs.js";
import { hiddenWords, withMarkers } from "./messages.js";
import { AuditLog } from "./audit.js";
import { Directory, MemberPicker } from "./directory.js";

const SLOW_MODE_CHOICES = ["0", "5", "10", "30", "60", "300"];
// Durations first, the shortest the default; "until lifted" last (issue 25).
const BAN_DURATIONS = ["86400", "604800", "2592000", ""];
// The rooms whose queues the console watches (one feed subscription each).
const WATCH_ROOMS = 60;

// Reasons a moderator may give for not posting something, by what held it (the hold's
// category, or its kind for questions): the first is the default. "Write my own" is always there.
export const REJECT_PRESETS = {
  crisis: ["crisis_care", "crisis_private"],
  link: ["link_unknown", "link_ads"],
  rule: ["guidelines", "kind"],
  mention_spam: ["spam", "guidelines"],
  new_member: ["new_member", "guidelines"],
  reported: ["reported", "guidelines"],
  hook_failure: ["guidelines", "identify"],
  question: ["question_offtopic", "question_medical", "identify"],
  "": ["identify", "guidelines", "kind"],
};

export function rejectPresets(hold) {
  const category = hold.category || "";
  const list = REJECT_PRESETS[category] || (hold.kind === "question" ? REJECT_PRESETS.question : REJECT_PRESETS[""]);
  return list;
}

/** Why a hold was made, in the reader's language (by its category); the server's sentence
 *  for a category the catalogue does not know. */
export function holdReason(hold) {
  if (hold.category) {
    const text = t(`hold_reason.${hold.category}`);
    if (!text.startsWith("⟦")) return text;
  }
  return hold.reason || t("hold_reason.other");
}

function slowLabel(v) {
  const n = Number(v);
  if (!n) return t("slow.off");
  return n < 60 ? t("duration.seconds", { n }) : n === 60 ? t("duration.minute") : t("duration.minutes", { n: n / 60 });
}

function banLabel(v) {
  if (!v) return t("duration.until_lifted");
  const days = Number(v) / 86400;
  return days === 1 ? t("duration.day") : t("duration.days", { n: days });
}

export class ModerationConsole {
  constructor(conn, session, chat) {
    this.conn = conn;
    this.session = session;
    this.chat = chat;
    this.channel = null; // the chat view's room: room controls and kicks only
    this.watched = new Map(); // channel -> {feed, reports: [...]}: the queues, every room
    this.room = ""; // the room filter: "" for every room
    this.holds = new Map(); // hold id -> hold (with its channel)
    this.alerts = [];
    this.reportTexts = new Map(); // "<channel> <offset>" -> {text, name, message_id, user}
    this.directory = new Directory(session.community, session.user);
    this.sanctions = { mutes: [], bans: [] };
    this.panel = $("#panel-mod");
    this.tab = $("#tab-mod");
    this._build();
    chat.addEventListener("room", (event) => this.enter(event.detail.channel));
    chat.addEventListener("rooms", () => this.watchRooms());
    chat.addEventListener("room-event", (event) => this._roomEvent(event.detail));
    chat.addEventListener("people", (event) => this._seen(event.detail));
    $("#tabs").addEventListener("tab", (event) => {
      if (event.detail === "tab-mod") {
        // Names first (the server's directory), then the log that shows them.
        this.directory.loadFromServer(this.conn, this.session.community).then(() => {
          this.loadAudit();
          this.renderSanctions();
        });
        this.refreshDirectory();
      }
    });
    conn.addEventListener("status", (event) => {
      // Each room's feed reloads its queues when it is subscribed again; sanctions here.
      if (event.detail.state === "connected") this.loadSanctions();
    });
    if (chat.channel) this.enter(chat.channel);
    this.watchRooms();
  }

  _build() {
    this.holdList = h("ul", { class: "item-list", "aria-live": "polite" });
    this.holdCount = h("span", { class: "count-pill" }, "0");
    this.reportList = h("ul", { class: "item-list" });
    this.reportCount = h("span", { class: "count-pill" }, "0");
    this.slowSelect = h("select", { id: "mod-slow", name: "slow" }, SLOW_MODE_CHOICES.map((v) => h("option", { value: v }, slowLabel(v))));
    this.lockButton = h("button", { type: "button", class: "secondary", onclick: () => this.toggleLock() }, t("mod.lock"));
    this.roomState = h("p", { class: "hint", "aria-live": "polite" });
    this.controlsRoom = h("span", {});
    this.roomSelect = h("select", { id: "mod-room", name: "room", onchange: () => this.setRoom(this.roomSelect.value) });
    this.roomCounts = h("p", { class: "hint room-counts", id: "mod-room-counts" });
    this.roomFilter = h(
      "div",
      { class: "controls-row room-filter" },
      h("div", { class: "field" }, h("label", { for: "mod-room" }, t("mod.room_filter")), this.roomSelect),
      this.roomCounts,
    );
    this.picker = new MemberPicker(this.directory, {
      id: "mod-member", searchLabel: t("mod.member_search"), label: t("mod.member"), describedBy: "mod-member-hint",
    });
    this.memberHint = h("p", { class: "hint", id: "mod-member-hint" }, t("mod.member_hint"));
    this.muteSelect = h("select", { id: "mod-mute", name: "duration" }, muteDurations().map(([v, l]) => h("option", { value: v }, l)));
    this.sanctionList = h("div", { class: "sanctions" });
    this.audit = new AuditLog(this.conn, this.session.community, this.directory, (channel) => this.roomTitle(channel));
    this.status = h("p", { class: "room-status", role: "status", hidden: true });
    const holdsCard = h(
      "section",
      { class: "card", "aria-labelledby": "holds-heading" },
      h("h2", { id: "holds-heading", tabindex: "-1" }, t("mod.holds"), " ", this.holdCount),
      h("p", { class: "hint" }, t("mod.holds_hint")),
      this.holdList,
    );
    const reportsCard = h(
      "section",
      { class: "card", "aria-labelledby": "reports-heading" },
      h("h2", { id: "reports-heading", tabindex: "-1" }, t("mod.reports"), " ", this.reportCount),
      this.reportList,
    );
    const roomCard = h(
      "section",
      { class: "card", "aria-labelledby": "room-controls-heading" },
      h("h2", { id: "room-controls-heading" }, t("mod.room_controls"), ": ", this.controlsRoom),
      this.roomState,
      h(
        "div",
        { class: "controls-row" },
        h("div", { class: "field" }, h("label", { for: "mod-slow" }, t("mod.slow_mode")), this.slowSelect),
        h("button", { type: "button", onclick: () => this.applySlowMode() }, t("mod.apply_slow")),
        this.lockButton,
      ),
    );
    const memberCard = h(
      "section",
      { class: "card", "aria-labelledby": "member-actions-heading" },
      h("h2", { id: "member-actions-heading" }, t("mod.member_actions")),
      h(
        "div",
        { class: "controls-row" },
        ...this.picker.fields,
        h("div", { class: "field" }, h("label", { for: "mod-mute" }, t("mod.mute_for")), this.muteSelect),
      ),
      this.memberHint,
      h(
        "div",
        { class: "controls-row item-actions" },
        h("button", { type: "button", onclick: () => this.memberAction("mute") }, t("mod.mute")),
        h("button", { type: "button", class: "secondary", onclick: () => this.memberAction("unmute") }, t("mod.unmute")),
        h("button", { type: "button", class: "secondary", onclick: () => this.memberAction("kick") }, t("mod.kick")),
        h("button", { type: "button", class: "danger", onclick: () => this.memberAction("ban") }, t("mod.ban_button")),
        h("button", { type: "button", class: "secondary", onclick: () => this.memberAction("unban") }, t("mod.unban")),
      ),
      this.sanctionList,
    );
    fill(this.panel,
      h(
        "div",
        { class: "panel-body" },
        h("h1", { id: "mod-heading", class: "view-heading", tabindex: "-1" }, t("mod.heading")),
        this.status,
        this.roomFilter,
        h("div", { class: "columns" }, h("div", {}, holdsCard, reportsCard), h("div", {}, roomCard, memberCard)),
        this.audit.card,
      ),
    );
  }

  // ------------------------------------------------------------------ members by name

  _seen(people) {
    this.directory.add(people); // the pickers follow the directory
  }

  /** Who is online in the community's rooms now (presence.members), added to the directory. */
  async refreshDirectory() {
    for (const room of (this.chat.rooms || []).slice(0, 20)) {
      try {
        const answer = await this.conn.rpc("presence.members", { channel: room.channel, limit: 200 });
        this.directory.add(answer.members);
      } catch {
        // a room without presence: its members are seen when they post
      }
    }
    this.renderSanctions();
  }

  /** Pick a member (from a message's actions): added to the directory and selected. */
  pick(user, name) {
    this.picker.pick(user, name);
  }

  nameOf(user) {
    return this.directory.name(user);
  }

  // ------------------------------------------------------------------ room and feed

  /** The chat view's room: the room controls act on it (the queues never follow it). */
  enter(channel) {
    if (channel === this.channel) return;
    this.channel = channel;
    const flags = this.chat.flags || {};
    this.state = undefined;
    this._setRoomState({ slow: flags.slow || 0, locked: !!flags.locked });
    this.controlsRoom.textContent = this.roomTitle(channel);
    this.watchRooms();
  }

  /** A room's display name (never its channel id). */
  roomTitle(channel) {
    const room = (this.chat.rooms || []).find((r) => r.channel === channel);
    if (room) return room.title || room.name;
    return t("mod.other_room");
  }

  /** Watch the queues of every listed room (the community's rooms and private conversations). */
  watchRooms() {
    const rooms = (this.chat.rooms || []).slice(0, WATCH_ROOMS);
    for (const room of rooms) {
      if (this.watched.has(room.channel)) continue;
      const channel = room.channel;
      const feed = this.conn.subscription(`${channel}/mod`);
      const entry = { feed, reports: [] };
      this.watched.set(channel, entry);
      feed.on("publication", (ctx) => this._feedEvent(ctx.data || {}, channel));
      feed.on("subscribed", () => this.loadRoom(channel));
      feed.on("error", (ctx) => console.warn("moderator feed:", channel, ctx.error));
      feed.subscribe();
    }
    if (this.channel) this.controlsRoom.textContent = this.roomTitle(this.channel);
    if (!this._sanctionsLoaded) {
      this._sanctionsLoaded = true;
      this.loadSanctions(); // once: they are the community's, not a room's
    }
    this.renderAll();
  }

  setRoom(channel) {
    this.room = channel || "";
    this.cases?.setRoom(this.room);
    this.renderAll();
  }

  /** The crisis cases list (js/cases.js): filtered with the queues. */
  setCases(cases) {
    this.cases = cases;
    cases.setRoom(this.room);
    this._renderRoomFilter();
  }

  renderAll() {
    this.renderHolds();
    this.renderReports();
  }

  /** What waits per room (pending holds, crisis alerts, open reports): channel -> number. */
  counts() {
    const counts = new Map();
    const add = (channel) => counts.set(channel, (counts.get(channel) || 0) + 1);
    for (const hold of this.holds.values()) add(hold.channel);
    for (const alert of this.alerts) add(alert.channel);
    for (const [channel, entry] of this.watched) for (let i = 0; i < entry.reports.length; i += 1) add(channel);
    return counts;
  }

  _renderRoomFilter() {
    const counts = this.counts();
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const channels = [...this.watched.keys()];
    for (const channel of counts.keys()) if (!this.watched.has(channel)) channels.push(channel);
    const option = (value, label, n) => h("option", { value, selected: value === this.room }, t("mod.room_option", { room: label, n }));
    fill(this.roomSelect,
      option("", t("mod.all_rooms"), total),
      ...channels.map((c) => option(c, this.roomTitle(c), counts.get(c) || 0)),
    );
    this.roomSelect.value = this.room;
    // The busiest room first, then by name.
    const busy = channels.filter((c) => counts.get(c))
      .sort((a, b) => counts.get(b) - counts.get(a) || this.roomTitle(a).localeCompare(this.roomTitle(b)))
      .map((c) => t("mod.room_count", { room: this.roomTitle(c), n: counts.get(c) }));
    this.roomCounts.textContent = busy.length ? t("mod.waiting_in", { rooms: busy.join(", ") }) : t("mod.waiting_none");
    this.tab.title = this.roomCounts.textContent;
  }

  _shown(channel) {
    return !this.room || channel === this.room;
  }

  /** One room's holds, then its reports. */
  async loadRoom(channel) {
    try {
      const { holds } = await this.conn.rpc("mod.holds", { channel });
      for (const [id, hold] of this.holds) if (hold.channel === channel) this.holds.delete(id);
      for (const hold of holds) this.holds.set(hold.id, { ...hold, channel: hold.channel || channel });
      this._seen(holds);
      this.renderHolds();
    } catch (error) {
      this._say(t("mod.holds_failed", { error: this.roomTitle(channel) + ": " + error.message }), true);
    }
    await this.loadReports(channel);
  }

  /** The pending holds as written (only mod.holds answers with a held item's original). */
  async _originals(channel) {
    try {
      const { holds } = await this.conn.rpc("mod.holds", { channel });
      for (const hold of holds) if (this.holds.has(hold.id)) this.holds.set(hold.id, { ...hold, channel: hold.channel || channel });
      this.renderHolds();
    } catch {
      // The redacted text stays shown; the next load brings the original.
    }
  }

  _feedEvent(data, channel) {
    switch (data.type) {
      case "hold.created":
      case "hold.escalated":
        this.holds.set(data.hold.id, { ...data.hold, channel: data.hold.channel || channel });
        this._seen([data.hold]);
        this.renderHolds();
        announce(t(data.hold.priority === "high" ? "mod.hold_announce_high" : "mod.hold_announce", { name: data.hold.name }));
        this._originals(channel); // feed events carry the redacted text; the queue has the original
        break;
      case "hold.resolved":
        this.holds.delete(data.id);
        this.renderHolds();
        break;
      case "report.created":
        this.reportTexts.set(`${channel} ${data.offset}`, data);
        this._seen([data, data.reporter].filter(Boolean));
        this.loadReports(channel);
        break;
      case "crisis.alert":
        this.alerts.unshift({ ...data, channel });
        this._seen([data]);
        this.renderHolds();
        announce(t("mod.crisis_announce", { name: data.name }));
        break;
      default:
        break;
    }
  }

  _roomEvent(data) {
    if (data.type === "room.slow_mode") this._setRoomState({ slow: data.seconds });
    else if (data.type === "room.locked") this._setRoomState({ locked: true });
    else if (data.type === "room.unlocked") this._setRoomState({ locked: false });
    else if (data.type === "message") this._seen([data]);
  }

  _setRoomState(change) {
    this.state = { slow: 0, locked: false, ...this.state, ...change };
    this.slowSelect.value = String(this.state.slow || 0);
    if (!this.slowSelect.value) this.slowSelect.value = "0";
    this.lockButton.textContent = this.state.locked ? t("mod.unlock") : t("mod.lock");
    const parts = [this.state.locked ? t("mod.state_locked") : t("mod.state_open")];
    if (this.state.slow) parts.push(t("mod.state_slow", { s: this.state.slow }));
    this.roomState.textContent = parts.join(" ");
  }

  // ------------------------------------------------------------------ holds

  /** Highest priority first, then newest first; only the filtered room's. */
  renderHolds() {
    const all = [...this.holds.values()];
    const pending = all.filter((hold) => this._shown(hold.channel)).sort(
      (a, b) => (a.priority === "high" ? 0 : 1) - (b.priority === "high" ? 0 : 1) || b.created - a.created,
    );
    this.holdCount.textContent = String(pending.length);
    this.tab.textContent = all.length ? t("tabs.mod_count", { n: all.length }) : t("tabs.mod");
    this._renderRoomFilter();
    const items = [
      ...this.alerts.filter((alert) => this._shown(alert.channel)).map((alert) =>
        h(
          "li",
          { class: "item priority-high", tabindex: "-1", dataset: { key: `alert-${alert.ts}-${alert.name}` } },
          h("p", { class: "item-meta" }, h("strong", {}, t("mod.crisis_alert")), h("span", {}, alert.name), this._roomTag(alert.channel), timeEl(alert.ts)),
          h("p", { class: "item-text" }, alert.text),
          h("p", { class: "hint" }, t("mod.crisis_alert_hint", { reason: alert.reason })),
        ),
      ),
      ...pending.map((hold) => this._holdItem(hold)),
    ];
    if (!items.length) items.push(h("li", { class: "empty" }, t(this.room ? "mod.holds_empty_room" : "mod.holds_empty")));
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
        high ? h("strong", {}, t("mod.high_priority")) : null,
        h("span", {}, hold.role && hold.role !== "member" ? `${hold.name} (${roleLabel(hold.role)})` : hold.name),
        h("span", {}, t(hold.kind === "question" ? "mod.kind_question" : hold.kind === "reported" ? "mod.kind_reported" : "mod.kind_message")),
        this._roomTag(hold.channel),
        timeEl(hold.created),
        hold.expires_at ? h("span", {}, t("mod.expires", { when: formatDateTime(hold.expires_at) })) : null,
      ),
      h("p", { class: "item-text" }, ...withMarkers(hold.text || "")),
      hold.redacted_text
        ? h("p", { class: "hint" }, t("mod.approve_redacted", { what: hiddenWords(hold.hidden || []), text: hold.redacted_text }))
        : null,
      h("p", { class: "hint" }, t("mod.why", { reason: holdReason(hold) })),
      hold.reason && holdReason(hold) !== hold.reason ? h("p", { class: "hint" }, t("mod.why_details", { details: hold.reason })) : null,
      h(
        "div",
        { class: "item-actions" },
        h("button", { type: "button", onclick: () => this.approve(hold) }, t("mod.approve")),
        h("button", { type: "button", class: "secondary", onclick: () => this.approve(hold, true) }, t("mod.edit_approve")),
        h("button", { type: "button", class: "secondary", onclick: () => this.reject(hold) }, t("mod.reject")),
      ),
    );
  }

  _roomTag(channel) {
    return h("span", { class: "room-tag" }, t("mod.in_room", { room: this.roomTitle(channel) }));
  }

  async approve(hold, edit = false) {
    const data = { channel: hold.channel || this.channel, id: hold.id };
    if (edit) {
      const values = await ask({
        title: t("mod.edit_title", { name: hold.name }),
        description: t("mod.edit_description"),
        submit: t("mod.edit_submit"),
        returnTo: () => $("#holds-heading", this.panel), // if the hold was resolved meanwhile
        fields: [{ name: "text", label: t("mod.edit_field"), type: "textarea", value: hold.redacted_text || hold.text, required: true }],
      });
      if (!values) return;
      data.text = values.text;
    }
    await this._act("mod.approve", data, t("mod.done_approved"));
    this.holds.delete(hold.id);
    this.renderHolds();
  }

  async reject(hold) {
    const presets = rejectPresets(hold);
    const options = [...presets.map((key) => [key, t(`reject.${key}`)]), ["own", t("reject.own")]];
    const values = await ask({
      title: t("mod.reject_title", { name: hold.name }),
      description: t("mod.reject_description"),
      submit: t("mod.reject_submit"),
      danger: true,
      returnTo: () => $("#holds-heading", this.panel),
      fields: [
        {
          name: "preset",
          label: t("mod.reject_preset"),
          type: "select",
          options,
          value: presets[0],
          onchange: (value, inputs) => {
            inputs.reason.value = value === "own" ? "" : t(`reject.${value}`);
            if (value === "own") inputs.reason.focus();
          },
        },
        { name: "reason", label: t("mod.reject_reason"), type: "textarea", value: t(`reject.${presets[0]}`), required: true, maxlength: 500 },
      ],
    });
    if (!values) return;
    const data = { channel: hold.channel || this.channel, id: hold.id, reason: values.reason };
    // A preset's words, unchanged: the member reads them in her own language (reason_code).
    if (values.preset !== "own" && values.reason.trim() === t(`reject.${values.preset}`)) data.reason_code = values.preset;
    await this._act("mod.reject", data, t("mod.done_rejected"));
    this.holds.delete(hold.id);
    this.renderHolds();
  }

  // ------------------------------------------------------------------ reports

  /** One room's open reports (kept per room; every watched room's are listed together). */
  async loadReports(channel) {
    const entry = this.watched.get(channel);
    if (!entry) return;
    try {
      entry.reports = ((await this.conn.rpc("mod.reports", { channel })).reports || []).map((r) => ({ ...r, channel }));
    } catch (error) {
      this._say(t("mod.reports_failed", { error: this.roomTitle(channel) + ": " + error.message }), true);
      return;
    }
    for (const report of entry.reports) this._seen(report.reports || []);
    this.renderReports();
  }

  renderReports() {
    const reports = [...this.watched.values()].flatMap((entry) => entry.reports).filter((r) => this._shown(r.channel));
    // Most reported first, then the newest message first.
    reports.sort((a, b) => b.count - a.count || b.offset - a.offset);
    this.reportCount.textContent = String(reports.length);
    this._renderRoomFilter();
    this._fillReports(...(reports.length ? reports.map((report) => this._reportItem(report)) : [h("li", { class: "empty" }, t("mod.reports_empty"))]));
  }

  _fillReports(...items) {
    keepFocus(this.reportList, () => fill(this.reportList, ...items), $("#reports-heading", this.panel));
  }

  _reportItem(report) {
    const known = this.reportTexts.get(`${report.channel} ${report.offset}`) || this._messageAt(report.offset, report.channel) || {};
    const reasons = (report.reports || []).map((r) => `${r.name || this.nameOf(r.user)}: ${r.reason}`);
    return h(
      "li",
      { class: "item", tabindex: "-1", dataset: { key: `report-${report.channel}-${report.offset}` } },
      h(
        "p",
        { class: "item-meta" },
        h("strong", {}, t("mod.report_count", { n: report.count })),
        known.name ? h("span", {}, t("mod.message_by", { name: known.name })) : h("span", {}, t("mod.message_at", { offset: report.offset })),
        this._roomTag(report.channel),
      ),
      known.text ? h("p", { class: "item-text" }, known.text) : null,
      h("ul", { class: "hint" }, reasons.map((r) => h("li", {}, r))),
      h(
        "div",
        { class: "item-actions" },
        h("button", { type: "button", class: "danger", onclick: () => this.deleteMessage({ offset: report.offset, name: known.name }, report.channel) }, t("messages.delete")),
        h("button", { type: "button", class: "secondary", onclick: () => this.dismissReport(report) }, t("mod.dismiss_report")),
      ),
    );
  }

  _messageAt(offset, channel) {
    if (channel !== this.chat.channel) return null;
    const element = this.chat.log.byOffset.get(offset);
    return element?.message || null;
  }

  async dismissReport(report) {
    await this._act("mod.dismiss_report", { channel: report.channel, offset: report.offset }, t("mod.done_dismissed"));
    this.loadReports(report.channel);
  }

  // ------------------------------------------------------------------ actions

  /** Actions offered on a message in the chat view. */
  async messageAction(action, message, channel) {
    if (action === "delete") return this.deleteMessage({ id: message.id, name: message.name }, channel);
    this.pick(message.user, message.name);
    if (action === "mute") {
      const values = await ask({
        title: t("mod.mute_title", { name: message.name }),
        description: t("mod.mute_description"),
        submit: t("mod.mute"),
        fields: [
          { name: "duration", label: t("mod.how_long"), type: "select", options: muteDurations(), value: "600" },
          { name: "reason", label: t("mod.reason_they_see"), type: "text" },
        ],
      });
      if (values) await this._act("mod.mute", { community: this.session.community, user: message.user, duration: Number(values.duration), reason: values.reason || undefined }, t("mod.done_muted", { name: message.name }));
    } else if (action === "kick") {
      const values = await ask({
        title: t("mod.kick_title", { name: message.name }),
        submit: t("mod.kick_submit"),
        danger: true,
        fields: [{ name: "reason", label: t("mod.reason_they_see"), type: "text" }],
      });
      if (values) await this._act("mod.kick", { channel: channel || this.channel, user: message.user, reason: values.reason || undefined }, t("mod.done_kicked", { name: message.name }));
    } else if (action === "ban") {
      await this.ban(message.user, message.name);
    }
    this.loadSanctions();
  }

  async deleteMessage(target, channel) {
    const values = await ask({
      title: t("mod.delete_title"),
      description: t("mod.delete_description"),
      submit: t("mod.delete_submit"),
      danger: true,
      fields: [{ name: "reason", label: t("mod.delete_reason"), type: "text" }],
    });
    if (!values) return;
    const data = { channel: channel || this.channel, reason: values.reason || undefined };
    if (target.id) data.id = target.id;
    else data.offset = target.offset;
    await this._act("mod.delete", data, t("mod.done_deleted"));
    this.loadReports(data.channel);
  }

  async ban(user, name = this.nameOf(user)) {
    const values = await ask({
      title: t("mod.ban_title", { name }),
      submit: t("mod.ban_submit"),
      danger: true,
      fields: [
        { name: "duration", label: t("mod.how_long"), type: "select", options: BAN_DURATIONS.map((v) => [v, banLabel(v)]), value: BAN_DURATIONS[0] },
        { name: "reason", label: t("mod.reason_they_see"), type: "text" },
      ],
    });
    if (!values) return;
    const data = { community: this.session.community, user, reason: values.reason || undefined };
    if (values.duration) data.duration = Number(values.duration);
    await this._act("mod.ban", data, t("mod.done_banned", { name }));
  }

  async memberAction(action) {
    const user = this.picker.value;
    if (!user) {
      this.picker.select.focus();
      return this._say(t("mod.choose_first"), true);
    }
    const name = this.nameOf(user);
    const community = this.session.community;
    if (action === "mute") {
      await this._act("mod.mute", { community, user, duration: Number(this.muteSelect.value) }, t("mod.done_muted", { name }));
    } else if (action === "unmute") {
      await this._act("mod.unmute", { community, user }, t("mod.done_unmuted", { name }));
    } else if (action === "kick") {
      await this._act("mod.kick", { channel: this.channel, user }, t("mod.done_kicked", { name }));
    } else if (action === "ban") {
      await this.ban(user, name);
    } else if (action === "unban") {
      await this._act("mod.unban", { community, user }, t("mod.done_unbanned", { name }));
    }
    this.loadSanctions();
  }

  async applySlowMode() {
    const seconds = Number(this.slowSelect.value);
    await this._act("mod.slow_mode", { channel: this.channel, seconds }, seconds ? t("mod.done_slow", { s: seconds }) : t("mod.done_slow_off"));
  }

  async toggleLock() {
    const locked = !(this.state?.locked);
    await this._act(locked ? "mod.lock" : "mod.unlock", { channel: this.channel }, locked ? t("mod.done_locked") : t("mod.done_unlocked"));
  }

  async loadSanctions() {
    try {
      const result = await this.conn.rpc("mod.sanctions", { community: this.session.community });
      this.sanctions = { mutes: result.mutes || [], bans: result.bans || [] };
      this.renderSanctions();
    } catch (error) {
      fill(this.sanctionList, h("p", { class: "hint" }, t("mod.sanctions_failed", { error: error.message })));
    }
  }

  /** Who is muted or banned, by name (the server's list names user ids only). */
  renderSanctions() {
    const rows = [
      ...this.sanctions.mutes.map((s) => ["muted", s]),
      ...this.sanctions.bans.map((s) => ["banned", s]),
    ];
    fill(this.sanctionList,
      rows.length
        ? h("ul", { class: "hint" }, rows.map(([kind, s]) => h("li", {}, t(s.until ? `mod.sanction_${kind}_until` : `mod.sanction_${kind}`, {
            name: this.nameOf(s.user),
            when: s.until ? formatDateTime(s.until) : "",
          }), s.reason ? ` (${s.reason})` : "")))
        : h("p", { class: "hint" }, t("mod.sanctions_none")),
    );
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
      this._say(t("mod.failed", { what: done, error: error.message }), true);
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
