// Private support conversations in the chat view, for both sides. The member is told on
// their private channel (support.conversation) and the conversation opens at once, with a
// note saying who can read it; moderators and hosts get theirs from the cases list (or
// support.invited). They are rooms like any other (<community>:dm-<id>), listed under the
// rooms only for the people in them (support.conversations). Server side: docs/crisis.md.

import { h, $, announce } from "./dom.js";

export class PrivateConversations {
  constructor(conn, session, chat) {
    this.conn = conn;
    this.session = session;
    this.chat = chat;
    this.note = h("p", { id: "private-note", class: "room-status private-note", role: "status", hidden: true });
    $("#room-status").after(this.note);
    // Take the notices about conversations before the chat view's generic handling.
    chat.noticeFilters.push((data) => this.onNotice(data));
    chat.addEventListener("room", (event) => this.showNote(event.detail.channel));
  }

  title(conversation) {
    if (conversation.member === this.session.user) return "Private support conversation";
    return conversation.title || `Support: ${conversation.member_name || conversation.member}`;
  }

  /** After the chat view loaded its rooms: add the conversations this person is in. */
  async load() {
    try {
      const { conversations } = await this.conn.rpc("support.conversations", { community: this.session.community });
      for (const conversation of conversations) this.add(conversation);
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
    if (this.chat.channel === entry.channel) this.showNote(entry.channel);
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
        announce("The private support conversation was closed. You can still read it.");
      } else {
        this.open(data);
        announce("A moderator opened a private conversation with you. Only you and the community's moderators can read it.");
      }
      return true;
    }
    if (data.type === "support.invited") {
      this.add(data);
      announce(`You were invited to a private support conversation with ${data.member_name || data.member}.`);
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
    let text = mine
      ? "Private: only you and this community's moderators (and hosts they invite) can read this conversation."
      : `Private conversation with ${conversation.member_name || conversation.member}: nobody else in the community can see it.`;
    if (conversation.closed) text += " It is closed now; the history stays readable.";
    this.note.textContent = text;
    this.note.hidden = false;
  }
}
