// The member view: rooms of the community, the live message list with history on entry,
// sending, notices about my own messages, crisis resources, who is here and typing,
// reporting, and the connection state with recovery after the network drops.

import { h, $, newId, announce, isStaff, fill, keepFocus } from "./dom.js";
import { MessageLog } from "./messages.js";
import { editOwn, deleteOwn } from "./own_actions.js";
import { OwnMessages, CrisisPanel, handleNotice } from "./notices.js";
import { MembersPanel, peopleFromPresence } from "./members.js";
import { ask } from "./dialogs.js";

const HISTORY_ON_ENTRY = 50;
const PRESENCE_REFRESH_MS = 15000;
// Errors worth retrying with the same client_msg_id (the server dedupes the retry).
const RETRYABLE = new Set([0, 1, 2, 3, 100, 111]);

// Unsubscribe push codes from moderators (docs/protocol.md).
const UNSUBSCRIBED = {
  2101: "A moderator removed you from this room for now. You can read other rooms.",
  2103: "You are banned from this community.",
};

export const REPORT_REASONS = [
  ["harassment", "Unkind or harassing"],
  ["spam", "Spam or advertising"],
  ["personal_info", "Shares someone's personal details"],
  ["self_harm", "Someone may be at risk"],
  ["misinformation", "Harmful health misinformation"],
  ["other", "Something else"],
];

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
      this.setRoomStatus(`Could not load the rooms: ${error.message}`);
      return;
    }
    this.renderRooms();
    if (!this.rooms.length) {
      this.setRoomStatus("This community has no rooms you can join yet.");
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
    $("#message-log").setAttribute("aria-label", `Messages in ${title}`);
    this.log.reset();
    this.members.clear();
    $("#composer button[type=submit]").disabled = false;
    this.flags = { slow: room?.slow_mode || 0, locked: !!room?.locked };
    this.renderFlags();
    this.setRoomStatus("Joining…");
    this.renderRooms();
    const sub = this.conn.subscription(channel);
    this.sub = sub;
    sub.on("subscribed", (ctx) => this.onSubscribed(sub, ctx));
    sub.on("subscribing", (ctx) => {
      if (sub === this.sub && ctx.code !== 0) this.setRoomStatus("Connection lost. Reconnecting… messages sent meanwhile will appear when you are back.", "warn");
    });
    sub.on("unsubscribed", (ctx) => {
      if (sub !== this.sub || ctx.code === 0) return; // 0: we left
      const why = UNSUBSCRIBED[ctx.code] || `You are no longer in this room: ${ctx.reason}`;
      this.setRoomStatus(why, "warn");
      $("#composer button[type=submit]").disabled = true;
    });
    sub.on("error", (ctx) => {
      if (sub === this.sub) this.setRoomStatus(`Could not join: ${ctx.error?.message || "error"}`, "warn");
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
    if (this.flags.locked) parts.push("Locked: only moderators can post right now.");
    if (this.flags.slow) parts.push(`Slow mode: one message every ${this.flags.slow} s.`);
    $("#room-flags").textContent = parts.join(" ");
  }

  async onSubscribed(sub, ctx) {
    if (sub !== this.sub) return;
    if (ctx.wasRecovering && ctx.recovered) {
      this.setRoomStatus("Back online. You have everything you missed.", "ok", 4000);
    } else {
      if (ctx.wasRecovering) {
        this.log.reset();
        this.setRoomStatus("You were away for a while; showing the latest messages.", "warn", 8000);
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
      this.setRoomStatus(`Could not load earlier messages: ${error.message}`, "warn");
    }
  }

  onPublication(ctx) {
    this.log.apply(ctx);
    const data = ctx.data || {};
    if (data.type === "message") {
      this.members.stopTyping(data.user);
      if (data.user === this.session.user) this.own.published(data);
    }
  }

  onNotice(data) {
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
    });
    if (!understood) console.info("notice not shown", data);
    this.dispatchEvent(new CustomEvent("notice", { detail: data }));
  }

  onStatus(status) {
    const pill = $("#conn-status");
    pill.dataset.state = status.state;
    $("#conn-text").textContent = status.text;
    $("#composer-hint").textContent =
      status.state === "connected" ? "" : status.state === "connecting" ? "You can write now; it is sent when the connection is back." : "";
    if (status.state === "disconnected") this.setRoomStatus(status.text, "warn");
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
    const input = $("#composer-text");
    input.value = "";
    const ref = { client_msg_id: newId("m") };
    this.reportTyping(false);
    this._typingQuietUntil = 0;
    await this._post(ref, text, this.channel);
    // Keep the writer in the box, unless something (crisis resources) deliberately took focus.
    if (document.activeElement === document.body) input.focus();
  }

  retry(key, item) {
    this._post({ client_msg_id: key }, item.text, item.channel || this.channel);
  }

  async _post(ref, text, channel) {
    this.own.set(ref, "sending", { text, channel });
    try {
      const result = await this.conn.rpc("chat.send", { channel, text, client_msg_id: ref.client_msg_id });
      this.own.result({ ...ref, id: result.id }, result, text);
      if (result.status === "published" && this.log.find(result.id)) this.own.drop(ref.client_msg_id);
    } catch (error) {
      const rejected = error.code === 1001;
      // Stage mode (1006): the room is for the hosts now; questions go to the board.
      const toBoard = error.code === 1006 ? { label: "Ask on the Q&A board", run: () => $("#tab-qa").click() } : null;
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
    if (action === "edit" || action === "delete-own") {
      const said = await (action === "edit" ? editOwn : deleteOwn)(this.conn, this.channel, message);
      if (said) this.own.set({ id: newId("e") }, "info", { detail: said });
      return;
    }
    if (this.moderation) return this.moderation.messageAction(action, message, this.channel);
  }

  async report(message) {
    const values = await ask({
      title: "Report this message",
      description: "The room's moderators will see your report. The author is not told who reported it.",
      submit: "Send report",
      fields: [
        { name: "reason", label: "What is wrong?", type: "select", options: REPORT_REASONS },
        { name: "details", label: "Anything else moderators should know (optional)", type: "textarea", maxlength: 500 },
      ],
    });
    if (!values) return;
    const label = REPORT_REASONS.find(([value]) => value === values.reason)?.[1] || values.reason;
    const reason = values.details ? `${label}: ${values.details}` : label;
    try {
      const result = await this.conn.rpc("chat.report", { channel: this.channel, id: message.id, reason: reason.slice(0, 500) });
      const hidden = result.hidden ? " It is hidden until a moderator has looked at it." : "";
      this.own.set({ id: newId("r") }, "info", { detail: `Thank you. Your report reached the moderators.${hidden}` });
    } catch (error) {
      this.own.set({ id: newId("r") }, "info", { detail: `The report was not sent: ${error.message}` });
    }
    announce("Report sent");
  }
}
