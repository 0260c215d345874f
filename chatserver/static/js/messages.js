// The live message list of one room: publications in offset order, no duplicates, with
// removals applied in place, replies quoting what they answer, support reactions with their
// counts, links opened safely, and an unread marker with a "new messages" jump while the
// reader is scrolled up. Rendering only; what to do on an action is the caller's.

import { h, timeEl, roleLabel, fill, focusFirst } from "./dom.js";
import { t } from "./i18n.js";

/** The support reactions (docs/protocol.md, "Reactions"), in the order they are offered. */
export const REACTIONS = ["heart", "hug", "same", "thanks"];

export function hiddenWords(labels = []) {
  return labels
    .map((label) => {
      const key = `hidden.${label.replace(/ /g, "_")}`;
      const word = t(key);
      return word.startsWith("⟦") ? label.replace(/_/g, " ") : word;
    })
    .join(", ");
}

export function excerpt(text, max = 140) {
  if (!text) return "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const LINK = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]]/g;

/** Message text as nodes: words stay text; http(s) addresses become links that open in a
 *  new tab without handing this page to the site they lead to. Nothing is parsed as HTML. */
export function linkified(text) {
  const nodes = [];
  let last = 0;
  text = String(text);
  for (const match of text.matchAll(LINK)) {
    if (match.index > last) nodes.push(...withMarkers(text.slice(last, match.index)));
    nodes.push(h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]));
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(...withMarkers(text.slice(last)));
  return nodes;
}

// What the server put in place of hidden details: "[phone hidden]", "[email hidden]".
const MARKER = /\[([a-z][a-z _]{0,30}) hidden\]/g;

/** Text with the server's redaction markers said in the reader's language ("[oculto:
 *  número de teléfono]"); a marker for a detail the catalogue does not know stays as it is. */
export function withMarkers(text) {
  const nodes = [];
  let last = 0;
  text = String(text);
  for (const match of text.matchAll(MARKER)) {
    const key = `hidden.${match[1].replace(/ /g, "_")}`;
    const word = t(key);
    if (word.startsWith("⟦")) continue;
    if (match.index > last) nodes.push(text.slice(last, match.index));
    nodes.push(h("span", { class: "redaction" }, t("messages.marker", { what: word })));
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

export class MessageLog {
  /**
   * @param {HTMLOListElement} list
   * @param {{me: string, staff: boolean, onAction: (action: string, message: object) => void,
   *          onEvent: (data: object) => void, scroller?: HTMLElement, jump?: HTMLButtonElement}} options
   *   scroller: the element that scrolls (the role=log region around the list)
   *   jump: the "new messages" button shown while the reader is scrolled up
   */
  constructor(list, options) {
    this.list = list;
    this.scroller = options.scroller || list;
    this.jump = options.jump || null;
    this.me = options.me;
    this.staff = options.staff;
    this.onAction = options.onAction;
    this.onEvent = options.onEvent || (() => {});
    this.byOffset = new Map(); // offset -> element
    this.byId = new Map(); // message id -> element
    this.removed = new Set(); // ids removed by moderators
    this.gone = new Map(); // id -> the "removed" placeholder shown in its place
    this.reactions = new Map(); // message id -> {counts: {kind: n}, mine: Set(kind)}
    this.unread = []; // elements that arrived while the reader was scrolled up
    this.empty = h("li", { class: "msg-empty" }, t("messages.empty"));
    this.atBottom = true;
    this.scroller.addEventListener("scroll", () => {
      this.atBottom = this._nearBottom();
      if (this.atBottom) this._clearUnread(false);
    });
    // When the layout changes (a panel opens beside or above, the window turns), a reader who
    // was at the newest message stays there.
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(() => {
        if (this.atBottom) this.scrollToEnd();
      }).observe(this.scroller);
    }
    this.jump?.addEventListener("click", () => this.jumpToNew());
    this.reset();
  }

  reset() {
    this.byOffset.clear();
    this.byId.clear();
    this.gone.clear();
    this.reactions.clear();
    this._clearUnread(true);
    fill(this.list, this.empty);
  }

  get topOffset() {
    let top = 0;
    for (const offset of this.byOffset.keys()) top = Math.max(top, offset);
    return top;
  }

  /** Apply one room publication ({data, offset, info}); history and live alike. */
  apply(pub, { live = false } = {}) {
    const data = pub.data || {};
    if (pub.offset && this.byOffset.has(pub.offset)) return; // already shown
    switch (data.type) {
      case "message":
        this._add(pub.offset || 0, data, live);
        break;
      case "message.deleted":
        this.remove(data.id, data.pending_review, data.by);
        this._mark(pub.offset);
        break;
      case "message.edited":
        this.edited(data);
        this._mark(pub.offset);
        break;
      case "messages.removed":
        for (const id of data.ids || []) this.remove(id);
        this._mark(pub.offset);
        break;
      case "message.reactions":
        this._reacted(data);
        this._mark(pub.offset);
        break;
      default:
        this._mark(pub.offset);
        if (data.notice) this._system(pub.offset || 0, data.notice, data.ts);
    }
    this.onEvent(data, pub);
  }

  // Events that are not shown as items still take up their offset, so a replay skips them.
  _mark(offset) {
    if (offset && !this.byOffset.has(offset)) this.byOffset.set(offset, null);
  }

  _insert(offset, element, live = false) {
    const atBottom = this.atBottom || this._nearBottom();
    this.empty.remove();
    if (offset) this.byOffset.set(offset, element);
    element.dataset.offset = String(offset);
    let before = null;
    if (offset) {
      for (const child of this.list.children) {
        const other = Number(child.dataset.offset || 0);
        if (other > offset) {
          before = child;
          break;
        }
      }
    }
    this.list.insertBefore(element, before);
    const mine = element.classList.contains("mine");
    if (atBottom || mine) {
      if (mine) this._clearUnread(true);
      this.scrollToEnd();
    } else if (live && element.classList.contains("msg")) {
      this._markUnread(element);
    }
  }

  _nearBottom() {
    const scroller = this.scroller;
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.atBottom = true;
  }

  // ------------------------------------------------------------------ unread

  _markUnread(element) {
    if (!this.unread.length) {
      for (const el of this.list.querySelectorAll(".first-unread")) el.classList.remove("first-unread");
      element.classList.add("first-unread");
      element.dataset.unreadLabel = t("messages.unread_marker");
    }
    this.unread.push(element);
    if (this.jump) {
      this.jump.textContent = t("messages.jump", { n: this.unread.length });
      this.jump.hidden = false;
    }
  }

  /** Read (scrolled to the bottom): the jump goes; the marker stays until the next message
   *  of mine or the next batch, so the reader still sees where the new ones began. */
  _clearUnread(dropMarker) {
    this.unread = [];
    if (this.jump) this.jump.hidden = true;
    if (dropMarker) {
      for (const el of this.list.querySelectorAll(".first-unread")) el.classList.remove("first-unread");
    }
  }

  jumpToNew() {
    const first = this.unread[0];
    const hadFocus = this.jump && document.activeElement === this.jump;
    if (first) first.scrollIntoView({ block: "start" });
    else this.scrollToEnd();
    this.unread = [];
    if (this.jump) this.jump.hidden = true;
    if (hadFocus) focusFirst(first, this.scroller);
  }

  // ------------------------------------------------------------------ messages

  _add(offset, message, live) {
    if (message.restored) {
      // A reported message a moderator looked at and put back: it returns at its new offset.
      this.removed.delete(message.id);
      this.gone.get(message.id)?.remove();
      this.gone.delete(message.id);
    }
    if (this.removed.has(message.id) || this.byId.has(message.id)) return;
    message.offset = offset;
    const mine = message.user === this.me;
    const author = mine ? t("messages.you") : message.name || message.user;
    const role = message.role && message.role !== "member" ? message.role : "";
    const actions = this._actions(message, mine);
    const element = h(
      "li",
      { class: `msg${mine ? " mine" : ""}${role ? ` role-${role}` : ""}`, id: `msg-${message.id}`, tabindex: "-1" },
      message.reply_to ? this._quote(message.reply_to) : null,
      h(
        "div",
        { class: "msg-meta" },
        h("span", { class: "msg-author" }, author),
        role ? h("span", { class: `badge badge-${role}` }, role === "host" ? t("role.host_professional") : roleLabel(role)) : null,
        timeEl(message.ts),
      ),
      h("p", { class: "msg-text" }, linkified(message.text || "")),
      message.edited ? h("p", { class: "msg-edited" }, t("messages.edited")) : null,
      message.redacted?.length ? h("p", { class: "msg-note" }, t("messages.hidden_note", { what: hiddenWords(message.redacted) })) : null,
      h("div", { class: "reactions", role: "group", "aria-label": t("reactions.group"), hidden: true }),
      actions,
    );
    element.message = message;
    this.byId.set(message.id, element);
    this._insert(offset, element, live);
    this._renderReactions(message.id);
  }

  /** The message a reply answers, quoted above it (or a note when it is not on screen). */
  _quote(id) {
    const original = this.byId.get(id)?.message;
    if (!original) {
      const words = this.gone.has(id) || this.removed.has(id) ? t("messages.quote_removed") : t("messages.quote_unknown");
      return h("blockquote", { class: "msg-quote" }, words);
    }
    const who = original.user === this.me ? t("messages.you") : original.name || original.user;
    return h(
      "blockquote",
      { class: "msg-quote" },
      h("span", { class: "visually-hidden" }, t("messages.in_reply_to")),
      h("strong", {}, who),
      ": ",
      excerpt(original.text, 120),
    );
  }

  _system(offset, text, ts) {
    this._insert(offset, h("li", { class: "msg-system" }, timeEl(ts), " ", text));
  }

  _actions(message, mine) {
    const items = [];
    const who = mine ? t("messages.your_message") : t("messages.someones_message", { name: message.name || message.user });
    const add = (action, label, extra = {}) =>
      items.push(h("button", { type: "button", class: "menu-item", dataset: { action }, ...extra }, label));
    add("reply", t("messages.reply"));
    for (const kind of REACTIONS) add(`react:${kind}`, t(`reactions.add.${kind}`));
    if (!mine) add("report", t("messages.report"));
    if (mine) {
      add("edit", t("messages.edit"));
      add("delete-own", t("messages.delete"));
    }
    if (this.staff && !mine) {
      add("delete", t("messages.delete"));
      if (!mine) {
        add("mute", t("messages.mute_author"));
        add("kick", t("messages.kick_author"));
        add("ban", t("messages.ban_author"));
      }
    }
    const menu = h(
      "details",
      { class: "msg-menu" },
      h("summary", { "aria-label": t("messages.actions_for", { who }), title: t("messages.actions") }, "⋯"),
      h("div", { class: "menu" }, items),
    );
    menu.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      // Focus back on the menu's button before the menu folds (hiding the focused item would
      // drop focus to <body>); a dialog the action opens returns focus there when it closes.
      menu.querySelector("summary").focus();
      menu.open = false;
      this.onAction(button.dataset.action, message);
    });
    menu.addEventListener("toggle", () => {
      if (!menu.open) return;
      for (const other of this.list.querySelectorAll("details.msg-menu[open]")) if (other !== menu) other.open = false;
      menu.querySelector(".menu").scrollIntoView({ block: "nearest" });
    });
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menu.open) {
        event.stopPropagation();
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
    return menu;
  }

  // ------------------------------------------------------------------ reactions

  /** A message.reactions event: the new counts for one message (live or from history). */
  _reacted(data) {
    const id = data.message_id;
    const entry = this.reactions.get(id) || { counts: {}, mine: new Set() };
    entry.counts = { ...(data.counts || {}) };
    if (data.user === this.me && data.reaction) {
      if (data.on) entry.mine.add(data.reaction);
      else entry.mine.delete(data.reaction);
    }
    this.reactions.set(id, entry);
    this._renderReactions(id);
  }

  /** My own reaction, as the server answered it (before or after its event arrives). */
  setMine(id, reaction, on, counts) {
    const entry = this.reactions.get(id) || { counts: {}, mine: new Set() };
    if (on) entry.mine.add(reaction);
    else entry.mine.delete(reaction);
    if (counts) entry.counts = { ...counts };
    this.reactions.set(id, entry);
    this._renderReactions(id);
  }

  mine(id, reaction) {
    return !!this.reactions.get(id)?.mine.has(reaction);
  }

  _renderReactions(id) {
    const element = this.byId.get(id);
    const box = element?.querySelector(".reactions");
    if (!box) return;
    const entry = this.reactions.get(id) || { counts: {}, mine: new Set() };
    const shown = REACTIONS.filter((kind) => (entry.counts[kind] || 0) > 0);
    const hadFocus = box.contains(document.activeElement) ? document.activeElement.dataset.reaction : null;
    fill(box,
      ...shown.map((kind) => {
        const n = entry.counts[kind];
        const pressed = entry.mine.has(kind);
        return h(
          "button",
          {
            type: "button",
            class: "reaction",
            "aria-pressed": String(pressed),
            "aria-label": t("reactions.button", { what: t(`reactions.name.${kind}`), n }),
            dataset: { reaction: kind },
            onclick: () => this.onAction(`react:${kind}`, element.message),
          },
          h("span", { "aria-hidden": "true" }, `${t(`reactions.short.${kind}`)} ${n}`),
        );
      }),
    );
    box.hidden = !shown.length;
    if (this.atBottom) this.scrollToEnd();
    if (hadFocus) focusFirst(box.querySelector(`[data-reaction="${hadFocus}"]`), element.querySelector("summary"), element);
  }

  /** A moderator removed a message (or reports hid it for review): its text leaves every screen. */
  /** Its author edited a message: the new text replaces the old one on every screen. */
  edited(data) {
    const element = this.byId.get(data.id);
    if (!element) return;
    const message = { ...element.message, text: data.text, redacted: data.redacted, edited: true };
    const offset = element.message.offset;
    this.byId.delete(data.id);
    this.byOffset.delete(offset);
    const hadFocus = element.contains(document.activeElement);
    element.remove();
    this._add(offset, message, false);
    if (hadFocus) focusFirst(this.scroller);
  }

  /** A message was removed (by a moderator, its author or an erasure; or reports hid it). */
  remove(id, pendingReview = false, by = "moderator") {
    this.removed.add(id);
    const element = this.byId.get(id);
    if (!element) return;
    const removed = by === "author" ? t("messages.deleted_by_author") : by === "erasure" ? t("messages.removed_erased") : t("messages.removed");
    const words = pendingReview ? t("messages.hidden_review") : removed;
    const hadFocus = element.contains(document.activeElement);
    fill(element, h("p", { class: "msg-removed" }, words));
    if (hadFocus) focusFirst(this.scroller); // its menu is gone: focus stays in the conversation
    element.className = "msg msg-gone";
    this.byId.delete(id);
    this.gone.set(id, element);
  }

  /** The offset a message on screen was published at (0 when unknown). */
  offsetOf(id) {
    return Number(this.byId.get(id)?.dataset.offset || 0);
  }

  /** A message on screen by id (for replies, actions and tests). */
  find(id) {
    return this.byId.get(id)?.message || null;
  }
}
