// What happened to my own messages (sending, posted with details hidden, held, approved,
// rejected, expired), and crisis resources: private, shown only to this person.

import { h, announce, formatDateTime, localTimes, fill, keepFocus, focusFirst } from "./dom.js";
import { hiddenWords } from "./messages.js";
import { mainContent } from "./skiplink.js";

const HELD_WORDS = "only you can see it until a moderator has read it.";
const FINAL = new Set(["rejected", "expired", "approved", "failed", "redacted", "removed", "info"]);

function excerpt(text, max = 140) {
  if (!text) return "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const LABELS = {
  sending: "Sending…",
  held: "Held for review",
  approved: "Approved and posted",
  rejected: "Not posted",
  expired: "Not posted: nobody reviewed it in time",
  failed: "Not sent",
  redacted: "Posted, with some details hidden",
  removed: "Removed by a moderator",
  info: "Notice",
};

export const QUESTION_LABELS = {
  ...LABELS,
  held: "Question held for review",
  approved: "Question approved: it is on the board",
  rejected: "Question not posted",
  expired: "Question not posted: nobody reviewed it in time",
  redacted: "Question sent, with some details hidden",
  removed: "Question dismissed",
};

export class OwnMessages {
  /**
   * @param {HTMLUListElement} list
   * returnTo: where focus goes when the last notice is dismissed (the writing box)
   */
  constructor(list, { onRetry = () => {}, labels = LABELS, returnTo = null } = {}) {
    this.list = list;
    this.onRetry = onRetry;
    this.labels = labels;
    this.returnTo = returnTo;
    this.items = new Map(); // key (client_msg_id or message id) -> {element, state}
  }

  _key(ref) {
    for (const [key, item] of this.items) {
      if (key === ref.client_msg_id || key === ref.id || (ref.id && item.id === ref.id)) return key;
    }
    return null;
  }

  /** Show or update the notice about one of my messages. */
  set(ref, status, { text, detail, retry, channel, action } = {}) {
    let key = this._key(ref);
    let item = key ? this.items.get(key) : null;
    if (!item) {
      key = ref.client_msg_id || ref.id;
      item = { element: h("li", { class: "own", tabindex: "-1", dataset: { key } }), text: text || "", id: ref.id, channel };
      this.items.set(key, item);
      this.list.append(item.element);
    }
    if (ref.id) item.id = ref.id;
    if (text) item.text = text;
    // Said once per change of state: the answer to a send and the private notice about the same
    // message (e.g. both say "redacted") update the notice, but announce it only the first time.
    const changed = item.status !== status;
    item.status = status;
    item.retry = retry;
    const labels = this.labels;
    const buttons = [];
    if (action) buttons.push(h("button", { type: "button", class: "link", onclick: action.run }, action.label));
    if (retry) {
      buttons.push(h("button", { type: "button", class: "link", onclick: () => this.onRetry(key, item) }, "Try again"));
    }
    if (FINAL.has(status) || status === "held") {
      buttons.push(
        h("button", { type: "button", class: "link", "aria-label": "Dismiss this notice", onclick: () => this.drop(key) }, "Dismiss"),
      );
    }
    item.element.className = `own own-${status}`;
    keepFocus(this.list, () => fill(item.element,
      h("p", { class: "own-status" }, h("strong", {}, labels[status] || status), detail ? ` — ${localTimes(detail)}` : ""),
      item.text ? h("p", { class: "own-text" }, `“${excerpt(item.text)}”`) : null,
      buttons.length ? h("p", { class: "own-actions" }, buttons) : null,
    ), this.returnTo);
    if (changed && status !== "sending") announce(`${labels[status] || status}${detail ? `: ${localTimes(detail)}` : ""}`);
  }

  drop(key) {
    const item = this.items.get(key);
    if (!item) return;
    this.items.delete(key);
    keepFocus(this.list, () => item.element.remove(), this.returnTo);
  }

  /** My message appeared in the room: its "Sending…" notice has done its job. */
  published(message) {
    const key = this._key({ client_msg_id: message.client_msg_id, id: message.id });
    if (key && this.items.get(key).status === "sending") this.drop(key);
  }

  /** The answer of chat.send. */
  result(ref, result, text) {
    if (result.status === "published") {
      // Shown in the room; drop "Sending…" only once it arrives there (or now if it already did).
      if (result.duplicate) this.drop(this._key(ref));
      return;
    }
    if (result.status === "redacted") {
      this.set(ref, "redacted", { text, detail: `we hid your ${hiddenWords(result.hidden)} to protect your privacy.` });
    } else if (result.status === "held") {
      // The private notice (moderation.held) may have come first, with the server's words.
      const key = this._key({ ...ref, id: result.id });
      if (key && this.items.get(key).status === "held") return;
      this.set({ ...ref, id: result.id }, "held", { text, detail: HELD_WORDS });
    }
  }
}

// "116 123" becomes a tap-to-call link; "call or text 988" stays words.
function contactEl(contact) {
  return /^\+?[\d ()-]{3,}$/.test(contact) ? h("a", { href: `tel:${contact.replace(/[^+\d]/g, "")}` }, contact) : h("span", {}, contact);
}

/** The crisis resources panel: private, prominent, calm. */
export class CrisisPanel {
  constructor(section) {
    this.section = section;
  }

  /** Shown in the last minute (a held notice that follows it stays short). */
  recent() {
    return Date.now() - (this.shownAt || 0) < 60000;
  }

  show(data) {
    this.shownAt = Date.now();
    const resources = data.resources || [];
    const heading = h("h2", { tabindex: "-1" }, data.title || "You are not alone. Support is here now.");
    const close = h("button", { type: "button", class: "secondary", onclick: () => this.hide() }, "Close");
    fill(this.section,
      heading,
      h(
        "p",
        {},
        data.message ||
          "Your message has not been shared with the room. A moderator has been told and will look at it. If you are in danger, please contact one of these now:",
      ),
      h(
        "ul",
        { class: "resources" },
        resources.map((r) =>
          h(
            "li",
            {},
            h("strong", {}, r.name || "Support"),
            r.contact ? [": ", contactEl(r.contact)] : null,
            /^https?:\/\//.test(r.url || "") ? [" ", h("a", { href: r.url, target: "_blank", rel: "noopener noreferrer" }, r.url.replace(/^https?:\/\//, ""))] : null,
          ),
        ),
      ),
      h("p", { class: "crisis-note" }, "Only you can see this."),
      close,
    );
    this.section.hidden = false;
    heading.focus();
  }

  hide() {
    this.section.hidden = true;
    focusFirst(document.getElementById("composer-text"), mainContent);
  }
}

/**
 * Route one private notice (data published on user#<me>, docs/moderation.md) to the right
 * place. Returns true when it was understood.
 */
export function handleNotice(data, { own, crisis, onNotice }) {
  const ref = { id: data.id, client_msg_id: data.client_msg_id };
  const until = data.until ? ` until ${formatDateTime(data.until)}` : "";
  const why = data.reason ? ` Reason: ${data.reason}` : "";
  switch (data.type) {
    case "moderation.support":
      crisis.show(data);
      return true;
    case "moderation.held":
      // After crisis resources the panel says it all; keep this notice short and calm.
      own.set(ref, "held", { text: data.text, detail: crisis.recent() ? HELD_WORDS : data.message || HELD_WORDS });
      return true;
    case "moderation.approved":
      own.set(ref, "approved", { text: data.text, detail: data.edited ? "a moderator edited it first." : "" });
      return true;
    case "moderation.rejected":
      own.set(ref, "rejected", { detail: data.reason || "" });
      return true;
    case "moderation.expired":
      own.set(ref, "expired", { detail: data.message || "" });
      return true;
    case "moderation.redacted":
      own.set(ref, "redacted", { detail: data.message || `we hid your ${hiddenWords(data.hidden || [])} to protect your privacy.` });
      return true;
    case "moderation.deleted":
      if (data.count) {
        onNotice(`A moderator removed ${data.count} of your recent messages.${why}`);
        return true;
      }
      own.set({ id: data.message_id || data.id }, "removed", { text: data.text, detail: data.reason || "" });
      return true;
    case "moderation.muted":
      onNotice(`A moderator muted you${until || " until they lift it"}. You can still read the room.${why}`);
      return true;
    case "moderation.unmuted":
      onNotice("You can post again.");
      return true;
    case "moderation.kicked":
      onNotice(`A moderator removed you from ${data.channel || "the room"}${data.until ? `; you can come back after ${formatDateTime(data.until)}` : ""}.${why}`);
      return true;
    case "moderation.banned":
      onNotice(`You are banned from this community${until}.${why}`);
      return true;
    case "moderation.unbanned":
      onNotice("Your ban was lifted.");
      return true;
    default:
      if (data.message) {
        onNotice(data.message);
        return true;
      }
      return false;
  }
}
