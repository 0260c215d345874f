// Peer support in the member view (docs/peer-support.md): blocking another member and
// putting a content note on a post, through peer.block and peer.note. Content notes are
// shown by the message list (messages.js); the crisis panel is not a message and is never
// hidden behind a note.

import { ask } from "./dialogs.js";
import { $, announce } from "./dom.js";
import { t } from "./i18n.js";

/** Confirm, then block the message's author; returns {said, blocked} (or null: cancelled). */
export async function blockAuthor(conn, message) {
  const name = message.name || message.user;
  const values = await ask({
    title: t("block.title", { name }),
    description: t("block.description", { name }),
    submit: t("block.confirm"),
    danger: true,
  });
  if (!values) return null;
  try {
    await conn.rpc("peer.block", { user: message.user });
    return { said: t("block.done", { name }), blocked: true };
  } catch (error) {
    return { said: t("block.failed", { error: error.message }), blocked: false };
  }
}

/** Choose a note from the community's list and put it on the message (or take it off). */
export async function noteMessage(conn, session, channel, message) {
  let notes = [];
  try {
    notes = (await conn.rpc("peer.notes", { community: session.community })).notes || [];
  } catch (error) {
    return t("notes.failed", { error: error.message });
  }
  const values = await ask({
    title: t("notes.title"),
    description: t("notes.description"),
    submit: t("notes.save"),
    fields: [
      {
        name: "note",
        label: t("notes.label_field"),
        type: "select",
        options: [["", t("notes.none")], ...notes.map((n) => [n, n])],
        value: message.note || "",
      },
    ],
  });
  if (!values) return null;
  try {
    await conn.rpc("peer.note", { channel, id: message.id, offset: message.offset, note: values.note || null });
    return values.note ? t("notes.done", { note: values.note }) : t("notes.removed");
  } catch (error) {
    return t("notes.failed", { error: error.message });
  }
}

/** The words for a notify notice on the member's own channel (a reply to them, a mention). */
export function notifyText(data, roomTitle) {
  if (!data || data.type !== "notify") return null;
  const name = data.by?.name || data.by?.user || "";
  const room = roomTitle(data.channel) || data.channel;
  return data.kind === "reply" ? t("notify.reply", { name, room }) : t("notify.mention", { name, room });
}

/** The room header's "Mute notifications" toggle (peer.mute): no reply or mention notices
 *  (nor pushes) from this room while pressed. */
export class RoomMute {
  constructor(conn, chat) {
    this.conn = conn;
    this.chat = chat;
    this.button = $("#room-mute");
    this.muted = new Set();
    if (!this.button) return;
    this.button.addEventListener("click", () => this.toggle());
    chat.addEventListener("entered", () => this.render());
    this.load();
  }

  async load() {
    try {
      this.muted = new Set((await this.conn.rpc("peer.settings", {})).muted || []);
    } catch {
      this.muted = new Set();
    }
    this.render();
  }

  render() {
    const channel = this.chat.channel;
    const isPrivate = !!this.chat.room?.private;
    this.button.hidden = !channel || isPrivate;
    this.button.setAttribute("aria-pressed", String(this.muted.has(channel)));
  }

  async toggle() {
    const channel = this.chat.channel;
    if (!channel) return;
    const muted = !this.muted.has(channel);
    try {
      await this.conn.rpc("peer.mute", { channel, muted });
      if (muted) this.muted.add(channel);
      else this.muted.delete(channel);
      announce(muted ? t("mute_room.on") : t("mute_room.off"));
    } catch (error) {
      announce(t("mute_room.failed", { error: error.message }));
    }
    this.render();
  }
}
