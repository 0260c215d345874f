// The live message list of one room: publications in offset order, no duplicates, with
// removals applied in place. Rendering only; what to do on an action is the caller's.

import { h, timeEl, ROLE_LABELS, fill, focusFirst } from "./dom.js";

export const HIDDEN_LABELS = {
  phone: "phone number",
  email: "e-mail address",
  address: "street address",
  id: "ID number",
  id_number: "ID number",
  url: "link",
  link: "link",
};

export function hiddenWords(labels = []) {
  return labels.map((label) => HIDDEN_LABELS[label] || label.replace(/_/g, " ")).join(", ");
}

export class MessageLog {
  /**
   * @param {HTMLOListElement} list
   * @param {{me: string, staff: boolean, onAction: (action: string, message: object) => void,
   *          onEvent: (data: object) => void, scroller?: HTMLElement}} options
   *   scroller: the element that scrolls (the role=log region around the list)
   */
  constructor(list, options) {
    this.list = list;
    this.scroller = options.scroller || list;
    this.me = options.me;
    this.staff = options.staff;
    this.onAction = options.onAction;
    this.onEvent = options.onEvent || (() => {});
    this.byOffset = new Map(); // offset -> element
    this.byId = new Map(); // message id -> element
    this.removed = new Set(); // ids removed by moderators
    this.gone = new Map(); // id -> the "removed" placeholder shown in its place
    this.empty = h("li", { class: "msg-empty" }, "No messages yet. Say hello when you are ready.");
    this.reset();
  }

  reset() {
    this.byOffset.clear();
    this.byId.clear();
    this.gone.clear();
    fill(this.list, this.empty);
  }

  get topOffset() {
    let top = 0;
    for (const offset of this.byOffset.keys()) top = Math.max(top, offset);
    return top;
  }

  /** Apply one room publication ({data, offset, info}); history and live alike. */
  apply(pub) {
    const data = pub.data || {};
    if (pub.offset && this.byOffset.has(pub.offset)) return; // already shown
    switch (data.type) {
      case "message":
        this._add(pub.offset || 0, data);
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

  _insert(offset, element) {
    const atBottom = this._nearBottom();
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
    if (atBottom || element.classList.contains("mine")) this.scrollToEnd();
  }

  _nearBottom() {
    const scroller = this.scroller;
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  _add(offset, message) {
    if (message.restored) {
      // A reported message a moderator looked at and put back: it returns at its new offset.
      this.removed.delete(message.id);
      this.gone.get(message.id)?.remove();
      this.gone.delete(message.id);
    }
    if (this.removed.has(message.id) || this.byId.has(message.id)) return;
    message.offset = offset;
    const mine = message.user === this.me;
    const author = mine ? "You" : message.name || message.user;
    const role = message.role && message.role !== "member" ? message.role : "";
    const actions = this._actions(message, mine);
    const element = h(
      "li",
      { class: `msg${mine ? " mine" : ""}${role ? ` role-${role}` : ""}`, id: `msg-${message.id}` },
      h(
        "div",
        { class: "msg-meta" },
        h("span", { class: "msg-author" }, author),
        role ? h("span", { class: `badge badge-${role}` }, role === "host" ? "Host (professional)" : ROLE_LABELS[role]) : null,
        timeEl(message.ts),
      ),
      h("p", { class: "msg-text" }, message.text),
      message.edited ? h("p", { class: "msg-edited" }, "(edited)") : null,
      message.redacted?.length
        ? h("p", { class: "msg-note" }, `Hidden to protect privacy: ${hiddenWords(message.redacted)}`)
        : null,
      actions,
    );
    element.message = message;
    this.byId.set(message.id, element);
    this._insert(offset, element);
  }

  _system(offset, text, ts) {
    this._insert(offset, h("li", { class: "msg-system" }, timeEl(ts), " ", text));
  }

  _actions(message, mine) {
    const items = [];
    const who = mine ? "your" : `${message.name || message.user}'s`;
    const add = (action, label) =>
      items.push(h("button", { type: "button", class: "menu-item", dataset: { action } }, label));
    if (!mine) add("report", "Report to moderators");
    if (mine) {
      add("edit", "Edit message");
      add("delete-own", "Delete message");
    }
    if (this.staff && !mine) {
      add("delete", "Delete message");
      if (!mine) {
        add("mute", "Mute author…");
        add("kick", "Remove author from room");
        add("ban", "Ban author…");
      }
    }
    if (!items.length) return null;
    const menu = h(
      "details",
      { class: "msg-menu" },
      h("summary", { "aria-label": `Actions for ${who} message`, title: "Actions" }, "⋯"),
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
    this._add(offset, message);
    if (hadFocus) focusFirst(this.scroller);
  }

  /** A message was removed (moderator, its author, an erasure, or reports hid it): its text leaves every screen. */
  remove(id, pendingReview = false, by = "moderator") {
    this.removed.add(id);
    const element = this.byId.get(id);
    if (!element) return;
    const byWhom = by === "author" ? "Message deleted by its author." : by === "erasure" ? "Message removed." : "Message removed by a moderator.";
    const words = pendingReview ? "Message hidden while moderators review it." : byWhom;
    const hadFocus = element.contains(document.activeElement);
    fill(element, h("p", { class: "msg-removed" }, words));
    if (hadFocus) focusFirst(this.scroller); // its menu is gone: focus stays in the conversation
    element.className = "msg msg-gone";
    this.byId.delete(id);
    this.gone.set(id, element);
  }

  /** The newest message from someone else (for keyboard shortcuts and tests). */
  find(id) {
    return this.byId.get(id)?.message || null;
  }
}
