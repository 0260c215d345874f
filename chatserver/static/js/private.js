// Private support conversations in the chat view, for both sides. The member is told on
// their private channel (support.conversation) and the conversation opens at once, with a
// note saying who can read it; moderators and hosts get theirs from the cases list (or
// support.invited). They are rooms like any other (<community>:dm-<id>), listed under the
// rooms only for the people in them (support.conversations). Server side: docs/crisis.md.

import { h, $, announce, fill } from "./dom.js";
import { t } from "./i18n.js";

export class PrivateConversations {
  constructor(conn, session, chat) {
    this.conn = conn;
    this.session = session;
    this.chat = chat;
    // The room this tab was in before a reload: a private one is listed only after load().
    this.wanted = new URLSearchParams(location.search).get("room") || sessionStorage.getItem("chatserver.room");
    this.note = h("p", { id: "private-note", class: "room-status private-note", role: "status", hidden: true });
    $("#room-flags").after(this.note); // in the conversation's header, under its name
    // Take the notices about conversations before the chat view's generic handling.
    chat.noticeFilters.push((data) => this.onNotice(data));
    chat.addEventListener("room", (event) => this.showNote(event.detail.channel));
  }

  /** Its name in the room list and heading, in the reader's language (not the server's title). */
  title(conversation) {
    if (conversation.member === this.session.user) return t("private.title_mine");
    return t("private.title", { name: memberName(conversation) });
  }

  /** After the chat view loaded its rooms: add the conversations this person is in (and go
   * back into the one this tab was in, after a reload or a language switch). */
  async load() {
    try {
      const { conversations } = await this.conn.rpc("support.conversations", { community: this.session.community });
      for (const conversation of conversations) this.add(conversation);
      if (conversations.some((c) => c.channel === this.wanted)) this.chat.enter(this.wanted);
    } catch (error) {
      console.warn("private conversations:", error.message);
    }
  }

  /** List the conversation with the rooms (private ones first); returns its room entry. */
  add(conversation) {
    const entry = {
      channel: conversation.channel,
      community: conversation.community,
      name: conversation.channel.split(":")[1],
      title: this.title(conversation),
      slow_mode: 0,
      locked: !!conversation.closed,
      private: conversation,
    };
    const rooms = this.chat.rooms.filter((r) => r.channel !== entry.channel);
    this.chat.rooms = [entry, ...rooms];
    this.chat.renderRooms();
    if (this.chat.channel === entry.channel) {
      this.showNote(entry.channel);
      this.chat.renderComposer(); // a closed conversation closes the message box too
    }
    return entry;
  }

  /** Show a conversation now (the member's side on the notice; staff after opening one). */
  open(conversation) {
    const entry = this.add(conversation);
    if ($("#panel-chat").hidden) $("#tab-chat").click(); // from the console: to the conversation
    this.chat.enter(entry.channel);
    $("#composer-text").focus();
  }

  onNotice(data) {
    if (data.type === "support.conversation") {
      if (data.state === "closed") {
        this.add(data);
        announce(t("private.announce_closed"));
      } else {
        this.open(data);
        announce(t("private.announce_opened"));
      }
      return true;
    }
    if (data.type === "support.invited") {
      this.add(data);
      announce(t("private.announce_invited", { name: memberName(data) }));
      return true;
    }
    return false;
  }

  showNote(channel) {
    const entry = this.chat.rooms.find((r) => r.channel === channel);
    const conversation = entry?.private;
    if (!conversation) {
      this.note.hidden = true;
      return;
    }
    const mine = conversation.member === this.session.user;
    const name = memberName(conversation);
    let text = mine ? t("private.note_mine") : t("private.note", { name });
    if (conversation.closed) text += ` ${t("private.note_closed")}`;
    // The short line is what a phone shows (the long one is still read out): the message box
    // and the newest notice stay in the window with the crisis panel open.
    const short = conversation.closed ? t("private.short_closed") : mine ? t("private.short_mine") : t("private.short", { name });
    fill(this.note, h("strong", { class: "private-short" }, short), " ", h("span", { class: "private-more" }, text));
    this.note.hidden = false;
  }
}

/** The member's name as the conversation carries it; never their user id. */
function memberName(conversation) {
  const name = conversation.member_name;
  return name && name !== conversation.member ? name : t("private.a_member");
}
