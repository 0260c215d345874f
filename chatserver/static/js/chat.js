// The member view: rooms of the community, the live message list with history on entry,
// sending (and replying), support reactions, notices about my own messages, crisis
// resources, being muted, who is here and typing, reporting, and the connection state with
// recovery after the network drops.

import { h, $, newId, announce, isStaff, fill, keepFocus, formatDateTime, formatTime, focusFirst } from "./dom.js";
import { t } from "./i18n.js";
import { MessageLog, excerpt } from "./messages.js";
import { editOwn, deleteOwn } from "./own_actions.js";
import { OwnMessages, CrisisPanel, handleNotice } from "./notices.js";
import { MembersPanel, peopleFromPresence } from "./members.js";
import { ask } from "./dialogs.js";

// Publications, not only messages: reaction and deletion events take places in history too.
const HISTORY_ON_ENTRY = 100;
const PRESENCE_REFRESH_MS = 15000;
// Errors worth retrying with the same client_msg_id (the server dedupes the retry).
const RETRYABLE = new Set([0, 1, 2, 3, 100, 111]);

// Unsubscribe push codes from moderators (docs/protocol.md).
const UNSUBSCRIBED = { 2101: "chat.unsub_kicked", 2103: "chat.unsub_banned" };

export const REPORT_REASONS = ["harassment", "spam", "personal_info", "self_harm", "concern", "misinformation", "other"];

export class ChatView extends EventTarget {
  constructor(conn, session, moderation) {
    super();
    this.conn = conn;
    this.session = session;
    this.moderation = moderation; // moderator actions, or null for members
    this.staff = isStaff(session.role);
    this.channel = null;
    this.sub = null;
    this.rooms = [];
    this.log = new MessageLog($("#messages"), {
      scroller: $("#message-log"),
      jump: $("#jump-new"),
      me: session.user,
      staff: this.staff,
      onAction: (action, message) => this.onMessageAction(action, message),
      onEvent: (data) => {
        this._roomEvent(data);
        this.dispatchEvent(new CustomEvent("room-event", { detail: data }));
      },
    });
    this.own = new OwnMessages($("#own-notices"), { onRetry: (key, item) => this.retry(key, item), returnTo: $("#composer-text") });
    this.crisis = new CrisisPanel($("#crisis"));
    this.noticeFilters = []; // (data) => true when another view showed the notice
    this.members = new MembersPanel({ list: $("#member-list"), count: $("#online-count"), typing: $("#typing") });
    this.roomStatus = $("#room-status");
    this.replyTo = null;
    this.muted = null; // {until: ms | null} while muted
    this._wire();
  }

  _wire() {
    const form = $("#composer");
    const text = $("#composer-text");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send(text.value);
    });
    text.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.replyTo) {
        event.preventDefault();
        this.setReply(null);
        return;
      }
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send(text.value);
      }
    });
    text.addEventListener("input", () => this.reportTyping(text.value.trim() !== ""));
    this.conn.addEventListener("notice", (event) => this.onNotice(event.detail));
    this.conn.addEventListener("status", (event) => this.onStatus(event.detail));
    this._presenceTimer = setInterval(() => this.refreshMembers(), PRESENCE_REFRESH_MS);
  }

  async start() {
    try {
      const result = await this.conn.rpc("chat.rooms", { community: this.session.community });
      this.rooms = result.rooms || [];
    } catch (error) {
      this.setRoomStatus(t("chat.rooms_failed", { error: error.message }));
      return;
    }
    this.renderRooms();
    this.checkMuted();
    if (!this.rooms.length) {
      this.setRoomStatus(t("chat.no_rooms"));
      return;
    }
    const wanted = new URLSearchParams(location.search).get("room") || sessionStorage.getItem("chatserver.room");
    const room = this.rooms.find((r) => r.channel === wanted) || this.rooms[0];
    this.enter(room.channel);
  }

  renderRooms() {
    const list = $("#room-list");
    keepFocus(list, () => fill(list,
      ...this.rooms.map((room) =>
        h(
          "li",
          { dataset: { key: room.channel } },
          h(
            "button",
            {
              type: "button",
              class: "room-button",
              "aria-current": room.channel === this.channel ? "true" : false,
              onclick: () => this.enter(room.channel),
            },
            room.title || room.name,
          ),
        ),
      ),
    ));
    this.dispatchEvent(new CustomEvent("rooms", { detail: this.rooms })); // the console watches them all
  }

  get room() {
    return this.rooms.find((r) => r.channel === this.channel) || null;
  }

  enter(channel) {
    if (channel === this.channel && this.sub) return;
    if (this.sub) this.conn.removeSubscription(this.sub);
    this.channel = channel;
    sessionStorage.setItem("chatserver.room", channel);
    const room = this.room;
    const title = room?.title || room?.name || channel;
    $("#room-title").textContent = title;
    $("#message-log").setAttribute("aria-label", t("chat.messages_in", { room: title }));
    this.log.reset();
    this.members.clear();
    this.setReply(null);
    this.removedFromRoom = false;
    this.renderComposer();
    this.flags = { slow: room?.slow_mode || 0, locked: !!room?.locked };
    this.renderFlags();
    this.setRoomStatus(t("chat.joining"));
    this.renderRooms();
    const sub = this.conn.subscription(channel);
    this.sub = sub;
    sub.on("subscribed", (ctx) => this.onSubscribed(sub, ctx));
    sub.on("subscribing", (ctx) => {
      if (sub === this.sub && ctx.code !== 0) this.setRoomStatus(t("chat.reconnecting"), "warn");
    });
    sub.on("unsubscribed", (ctx) => {
      if (sub !== this.sub || ctx.code === 0) return; // 0: we left
      const why = UNSUBSCRIBED[ctx.code] ? t(UNSUBSCRIBED[ctx.code]) : t("chat.unsub_other", { reason: ctx.reason });
      this.setRoomStatus(why, "warn");
      this.removedFromRoom = true;
      this.renderComposer();
    });
    sub.on("error", (ctx) => {
      if (sub === this.sub) this.setRoomStatus(t("chat.join_failed", { error: ctx.error?.message || "error" }), "warn");
    });
    sub.on("publication", (ctx) => this.onPublication(ctx));
    sub.on("join", () => this.refreshMembersSoon());
    sub.on("leave", () => this.refreshMembersSoon());
    sub.subscribe();
    this.dispatchEvent(new CustomEvent("room", { detail: { channel, room } }));
  }

  // Room events that change how the room works (from moderators).
  _roomEvent(data) {
    if (data.type === "typing") {
      if (data.user === this.session.user) return;
      if (data.typing) this.members.setTyping(data.user, data.name, (data.expires_in_ms || 6000) / 1000);
      else this.members.stopTyping(data.user);
      return;
    }
    if (data.type === "presence.counts") {
      this.members.renderCounts(data);
      this.refreshMembersSoon();
      return;
    }
    if (data.type === "room.slow_mode") this.flags.slow = data.seconds || 0;
    else if (data.type === "room.locked") this.flags.locked = true;
    else if (data.type === "room.unlocked") this.flags.locked = false;
    else return;
    this.renderFlags();
  }

  renderFlags() {
    const parts = [];
    if (this.flags.locked) parts.push(t("chat.locked"));
    if (this.flags.slow) parts.push(t("chat.slow", { s: this.flags.slow }));
    $("#room-flags").textContent = parts.join(" ");
    this.renderComposer(); // a lock closes the message box for members
  }

  /** A locked room: members cannot post (moderators can), and the box says so. */
  get lockedForMe() {
    return !this.staff && !!this.flags?.locked;
  }

  async onSubscribed(sub, ctx) {
    if (sub !== this.sub) return;
    if (ctx.wasRecovering && ctx.recovered) {
      this.setRoomStatus(t("chat.recovered"), "ok", 4000);
    } else {
      if (ctx.wasRecovering) {
        this.log.reset();
        this.setRoomStatus(t("chat.not_recovered"), "warn", 8000);
      } else {
        this.setRoomStatus("");
      }
      await this.loadHistory(sub);
    }
    this.refreshMembers();
  }

  async loadHistory(sub) {
    try {
      const history = await sub.history({ limit: HISTORY_ON_ENTRY, reverse: true });
      if (sub !== this.sub) return;
      for (const pub of [...history.publications].reverse()) this.log.apply(pub);
      this.log.scrollToEnd();
    } catch (error) {
      this.setRoomStatus(t("chat.history_failed", { error: error.message }), "warn");
    }
  }

  onPublication(ctx) {
    this.log.apply(ctx, { live: true });
    const data = ctx.data || {};
    if (data.type === "message") {
      this.members.stopTyping(data.user);
      if (data.user === this.session.user) this.own.published(data);
    }
  }

  onNotice(data) {
    this.crisis.follow(data); // the crisis panel follows its hold, whichever view shows the notice
    if (data.type === "moderation.support") {
      this.crisis.show(data); // wherever it came from (a message or a question)
      return;
    }
    // Other views take the notices about their own things (the Q&A view: questions).
    if (this.noticeFilters.some((take) => take(data))) return;
    const understood = handleNotice(data, {
      own: this.own,
      crisis: this.crisis,
      onNotice: (text) => this.own.set({ id: newId("n") }, "info", { detail: text }),
      onMute: (until) => this.setMuted(until),
      roomTitle: (channel) => {
        const room = this.rooms.find((r) => r.channel === channel);
        return room ? room.title || room.name : "";
      },
    });
    if (!understood) console.info("notice not shown", data);
    this.dispatchEvent(new CustomEvent("notice", { detail: data }));
  }

  onStatus(status) {
    const pill = $("#conn-status");
    pill.dataset.state = status.state;
    $("#conn-text").textContent = status.text;
    $("#composer-hint").textContent = status.state === "connecting" ? t("composer.offline_hint") : "";
    if (status.state === "disconnected") this.setRoomStatus(status.text, "warn");
    // While the connection is down the list of who is here is not live, and I am not in it.
    this.members.setOffline(status.state !== "connected");
    if (status.state === "connected" && this.rooms.length) this.checkMuted(); // back after a drop
  }

  setRoomStatus(text, tone = "info", clearAfter = 0) {
    const el = this.roomStatus;
    el.textContent = text;
    el.dataset.tone = tone;
    el.hidden = !text;
    clearTimeout(this._statusTimer);
    if (clearAfter) this._statusTimer = setTimeout(() => { if (el.textContent === text) el.hidden = true; }, clearAfter);
  }

  /** Who is here: presence.members (one entry per person), else the protocol's presence. */
  async refreshMembers() {
    const sub = this.sub;
    if (!sub || sub.state !== "subscribed" || !this.conn.connected) return;
    try {
      const answer = await this.conn.rpc("presence.members", { channel: this.channel });
      if (sub !== this.sub) return;
      const people = answer.members.map((m) => ({ ...m, me: m.user === this.session.user }));
      this.members.render(people, answer);
      this.dispatchEvent(new CustomEvent("people", { detail: people }));
    } catch (error) {
      if (error.code !== 104) {
        console.info("members online unavailable:", error.message);
        return;
      }
      const answer = await sub.presence().catch(() => null);
      if (answer && sub === this.sub) {
        this.members.render(peopleFromPresence(answer.clients, this.session.community, this.session.user));
      }
    }
  }

  // Count events come in bursts when many people arrive: one list refresh per second at most.
  refreshMembersSoon() {
    if (this._membersTimer) return;
    this._membersTimer = setTimeout(() => {
      this._membersTimer = null;
      this.refreshMembers();
    }, 1000);
  }

  /** Tell the room I am typing (the server limits how often it passes this on). */
  async reportTyping(typing) {
    if (!this.channel || !this.conn.connected) return;
    const now = Date.now();
    if (typing && now < (this._typingQuietUntil || 0)) return;
    if (!typing && !this._typingShown) return;
    this._typingQuietUntil = now + 2000;
    this._typingShown = typing;
    try {
      const answer = await this.conn.rpc("chat.typing", { channel: this.channel, typing });
      if (answer.retry_in_ms) {
        // Too soon for the server: say it again then if the person is still writing.
        this._typingShown = false;
        this._typingQuietUntil = Date.now() + answer.retry_in_ms;
        clearTimeout(this._typingRetry);
        this._typingRetry = setTimeout(() => {
          if ($("#composer-text").value.trim()) this.reportTyping(true);
        }, answer.retry_in_ms + 50);
      }
    } catch {
      this._typingQuietUntil = now + 30000; // not offered here: stop asking for a while
    }
  }

  // ------------------------------------------------------------------ sending

  async send(raw) {
    const text = raw.trim();
    if (!text || !this.channel) return;
    if (this.muted || this.lockedForMe || $("#composer-text").readOnly) {
      // The words stay in the box; the banner above it says until when (or that it is locked
      // or the conversation ended).
      announce($("#mute-banner").textContent);
      return;
    }
    const input = $("#composer-text");
    input.value = "";
    const ref = { client_msg_id: newId("m") };
    const replyTo = this.replyTo?.id;
    this.setReply(null);
    this.reportTyping(false);
    this._typingQuietUntil = 0;
    await this._post(ref, text, this.channel, replyTo);
    // Keep the writer in the box, unless something (crisis resources) deliberately took focus.
    if (document.activeElement === document.body) input.focus();
  }

  retry(key, item) {
    this._post({ client_msg_id: key }, item.text, item.channel || this.channel, item.replyTo);
  }

  async _post(ref, text, channel, replyTo) {
    this.own.set(ref, "sending", { text, channel });
    const item = this.own.items.get(ref.client_msg_id);
    if (item) item.replyTo = replyTo;
    try {
      const data = { channel, text, client_msg_id: ref.client_msg_id };
      if (replyTo) data.reply_to = replyTo;
      const result = await this.conn.rpc("chat.send", data);
      this.own.result({ ...ref, id: result.id }, result, text);
      if (result.status === "published" && this.log.find(result.id)) this.own.drop(ref.client_msg_id);
    } catch (error) {
      const rejected = error.code === 1001;
      if (error.code === 1002) this.setMuted(mutedUntil(error.serverMessage || error.message));
      // Stage mode (1006): the room is for the hosts now; questions go to the board.
      const toBoard = error.code === 1006 ? { label: t("chat.ask_on_board"), run: () => $("#tab-qa").click() } : null;
      this.own.set(ref, rejected ? "rejected" : "failed", {
        text,
        detail: error.message,
        retry: RETRYABLE.has(error.code),
        action: toBoard,
      });
    }
  }

  // ------------------------------------------------------------------ message actions

  async onMessageAction(action, message) {
    if (action === "report") return this.report(message);
    if (action === "reply") return this.setReply(message);
    if (action.startsWith("react:")) return this.react(message, action.slice(6));
    if (action === "edit" || action === "delete-own") {
      const said = await (action === "edit" ? editOwn : deleteOwn)(this.conn, this.channel, message);
      if (said) this.own.set({ id: newId("e") }, "info", { detail: said });
      return;
    }
    if (this.moderation) return this.moderation.messageAction(action, message, this.channel);
  }

  async report(message) {
    const values = await ask({
      title: t("report.title"),
      description: t("report.description"),
      submit: t("report.submit"),
      fields: [
        { name: "reason", label: t("report.reason"), type: "select", options: REPORT_REASONS.map((r) => [r, t(`report.reasons.${r}`)]) },
        { name: "details", label: t("report.details"), type: "textarea", maxlength: 500 },
      ],
    });
    if (!values) return;
    const label = t(`report.reasons.${values.reason}`);
    // "I'm worried about this person" is not a report: the server opens a crisis case for the
    // author (nothing is hidden, the author is not told).
    const reason = values.reason === "concern" ? "concern" : values.details ? `${label}: ${values.details}` : label;
    try {
      const result = await this.conn.rpc("chat.report", { channel: this.channel, id: message.id, reason: reason.slice(0, 500) });
      const said = result.status === "concern" ? "report.concern_sent" : result.hidden ? "report.sent_hidden" : "report.sent";
      this.own.set({ id: newId("r") }, "info", { detail: t(said) });
    } catch (error) {
      this.own.set({ id: newId("r") }, "info", { detail: t("report.failed", { error: error.message }) });
    }
    announce(t("report.announced"));
  }

  // ------------------------------------------------------------------ replies and reactions

  /** Reply to a message: its quote shows above the box until sent or cancelled. */
  setReply(message) {
    this.replyTo = message || null;
    const preview = $("#reply-preview");
    if (!message) {
      const hadFocus = preview.contains(document.activeElement);
      fill(preview);
      preview.hidden = true;
      if (hadFocus) $("#composer-text").focus();
      return;
    }
    const who = message.user === this.session.user ? t("messages.you") : message.name || message.user;
    fill(preview,
      h("p", {}, h("strong", {}, t("reply.to", { name: who })), " ", h("span", { class: "reply-text" }, `“${excerpt(message.text, 100)}”`)),
      h("button", { type: "button", class: "link", onclick: () => this.setReply(null) }, t("reply.cancel")),
    );
    preview.hidden = false;
    $("#composer-text").focus();
  }

  /** Add or take back a support reaction (one of each per member per message). */
  async react(message, reaction) {
    const on = !this.log.mine(message.id, reaction);
    try {
      const offset = this.log.offsetOf(message.id);
      const result = await this.conn.rpc("chat.react", { channel: this.channel, id: message.id, offset, reaction, on });
      this.log.setMine(message.id, reaction, result.on, result.counts);
      announce(t(result.on ? "reactions.added" : "reactions.removed", { what: t(`reactions.name.${reaction}`) }));
    } catch (error) {
      this.setRoomStatus(t("reactions.failed", { error: error.message }), "warn", 5000);
    }
  }

  // ------------------------------------------------------------------ muted

  /** Am I muted now (a page opened, or reconnected, after the notice)? chat.sanctions says. */
  async checkMuted() {
    try {
      const { muted } = await this.conn.rpc("chat.sanctions", { community: this.session.community });
      this.setMuted(muted ? muted.until : false);
    } catch {
      // a server without the moderation extension: a send says so (1002) if it comes to that
    }
  }

  /** Muted until `until` (ISO time or ms), until lifted (null), or not muted (false). */
  setMuted(until) {
    clearTimeout(this._muteTimer);
    if (until === false) {
      this.muted = null;
    } else {
      const ms = until ? new Date(until).getTime() : null;
      this.muted = { until: Number.isNaN(ms) ? null : ms };
      if (this.muted.until) {
        const wait = Math.max(0, this.muted.until - Date.now()) + 250;
        // It ends by itself: the box opens again without a reload or a notice.
        this._muteTimer = setTimeout(() => this.setMuted(false), Math.min(wait, 2 ** 31 - 1));
        if (wait <= 250) this.muted = null;
      }
    }
    this.renderComposer();
  }

  renderComposer() {
    const banner = $("#mute-banner");
    const box = $("#composer-text");
    const button = $("#composer button[type=submit]");
    const muted = !!this.muted;
    if (muted) {
      const until = this.muted.until;
      // Today: the time ("until 10:42"); later: the date too.
      const soon = until && until - Date.now() < 20 * 3600 * 1000;
      banner.textContent = !until
        ? t("mute.banner_lifted")
        : t(soon ? "mute.banner_until" : "mute.banner_until_date", { when: soon ? formatTime(until) : formatDateTime(until) });
    }
    // A closed private support conversation: only moderators may write in it. Said in words,
    // with her support resources one click away.
    const ended = !!this.room?.private?.closed && !isStaff(this.session.role);
    if (ended) {
      fill(banner, t("private.composer_closed"), " ",
        h("button", { type: "button", class: "link", onclick: () => this.crisis.reopen(this.crisis.resources) }, t("crisis.header_button")));
    }
    const blocked = muted || ended;
    banner.hidden = !blocked;
    // aria-disabled and readonly, not disabled: a focused control that becomes disabled
    // would drop keyboard focus to <body>.
    box.readOnly = blocked;
    if (blocked) box.setAttribute("aria-disabled", "true");
    else box.removeAttribute("aria-disabled");
    if (blocked) box.setAttribute("aria-describedby", "mute-banner composer-keys");
    else box.setAttribute("aria-describedby", "composer-hint composer-keys");
    button.disabled = !!this.removedFromRoom;
    if (blocked) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
    if (this.lockedForMe && !muted) {
      banner.textContent = t("chat.locked_banner");
      banner.hidden = false;
      box.readOnly = true;
      box.setAttribute("aria-disabled", "true");
      box.setAttribute("aria-describedby", "mute-banner composer-keys");
      button.setAttribute("aria-disabled", "true");
    }
  }
}

/** The end of a mute named in error 1002 ("muted until 2025-03-01T12:00:00Z"), or null. */
export function mutedUntil(message) {
  const match = /\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)/.exec(String(message));
  return match ? match[0] : null;
}
