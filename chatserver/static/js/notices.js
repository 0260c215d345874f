// What happened to my own messages (sending, posted with details hidden, held, approved,
// rejected, expired), and crisis resources: private, shown only to this person.
// Notices are listed newest first, so the newest one is always in view.

import { h, announce, formatDateTime, localTimes, fill, keepFocus, focusFirst } from "./dom.js";
import { t } from "./i18n.js";
import { hiddenWords, excerpt, withMarkers } from "./messages.js";
import { mainContent } from "./skiplink.js";

const FINAL = new Set(["rejected", "expired", "approved", "failed", "redacted", "removed", "info", "published"]);
const STATES = ["sending", "held", "approved", "rejected", "expired", "failed", "redacted", "removed", "info", "screening", "published"];

export const MESSAGE_LABELS = Object.fromEntries(STATES.map((s) => [s, `own.${s}`]));
export const QUESTION_LABELS = { ...MESSAGE_LABELS, ...Object.fromEntries(STATES.map((s) => [s, `own.q.${s}`])) };

export function heldWords() {
  return t("own.held_words");
}

export class OwnMessages {
  /**
   * @param {HTMLUListElement} list
   * labels: state -> catalogue key; returnTo: where focus goes when the last notice is dismissed
   */
  constructor(list, { onRetry = () => {}, labels = MESSAGE_LABELS, returnTo = null } = {}) {
    this.list = list;
    this.onRetry = onRetry;
    this.labels = labels;
    this.returnTo = returnTo;
    this.items = new Map(); // key (client_msg_id or message id) -> {element, state}
    window.addEventListener("resize", () => this._fit());
  }

  // The list scrolls and gives way to the conversation, but never so far that the newest
  // notice (on top) is cut off: it keeps at least that notice's height (up to 30% of the window).
  _fit() {
    const first = this.list.firstElementChild;
    this.list.style.minHeight = first ? `${Math.min(first.offsetHeight, Math.round(window.innerHeight * 0.3))}px` : "";
  }

  _key(ref) {
    for (const [key, item] of this.items) {
      if (key === ref.client_msg_id || key === ref.id || (ref.id && item.id === ref.id)) return key;
    }
    return null;
  }

  label(status) {
    return t(this.labels[status] || `own.${status}`);
  }

  has(ref) {
    return this._key(ref) !== null;
  }

  /** Show or update the notice about one of my messages (a new one goes on top). */
  set(ref, status, { text, detail, retry, channel, action } = {}) {
    let key = this._key(ref);
    let item = key ? this.items.get(key) : null;
    if (!item) {
      key = ref.client_msg_id || ref.id;
      item = { element: h("li", { class: "own", tabindex: "-1", dataset: { key } }), text: text || "", id: ref.id, channel };
      this.items.set(key, item);
      this.list.prepend(item.element);
      this.list.scrollTop = 0;
    }
    if (ref.id) item.id = ref.id;
    if (text) item.text = text;
    // Said once per change of state: the answer to a send and the private notice about the same
    // message (e.g. both say "redacted") update the notice, but announce it only the first time.
    const changed = item.status !== status;
    item.status = status;
    item.retry = retry;
    const buttons = [];
    if (action) buttons.push(h("button", { type: "button", class: "link", onclick: action.run }, action.label));
    if (retry) {
      buttons.push(h("button", { type: "button", class: "link", onclick: () => this.onRetry(key, item) }, t("own.retry")));
    }
    if (FINAL.has(status) || status === "held") {
      buttons.push(
        h("button", { type: "button", class: "link", "aria-label": t("own.dismiss_label"), onclick: () => this.drop(key) }, t("own.dismiss")),
      );
    }
    item.element.className = `own own-${status}`;
    keepFocus(this.list, () => fill(item.element,
      h("p", { class: "own-status" }, h("strong", {}, this.label(status)), detail ? ` — ${localTimes(detail)}` : ""),
      item.text ? h("p", { class: "own-text" }, "“", ...withMarkers(excerpt(item.text)), "”") : null,
      buttons.length ? h("p", { class: "own-actions" }, buttons) : null,
    ), this.returnTo);
    this._fit();
    if (changed && status !== "sending") announce(`${this.label(status)}${detail ? `: ${localTimes(detail)}` : ""}`);
  }

  drop(key) {
    const item = this.items.get(key);
    if (!item) return;
    this.items.delete(key);
    keepFocus(this.list, () => item.element.remove(), this.returnTo);
    this._fit();
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
      this.set(ref, "redacted", { text, detail: t("own.we_hid", { what: hiddenWords(result.hidden) }) });
    } else if (result.status === "held") {
      // The private notice (moderation.held) may have come first, with the server's words.
      const key = this._key({ ...ref, id: result.id });
      if (key && this.items.get(key).status === "held") return;
      this.set({ ...ref, id: result.id }, "held", { text, detail: heldWords() });
    }
  }
}

const PHONE = /^\+?[\d ()-]{3,}$/;

// "116 123" becomes a tap-to-call link; "call or text 988" stays words.
function contactEl(contact) {
  return PHONE.test(contact) ? h("a", { href: `tel:${contact.replace(/[^+\d]/g, "")}` }, contact) : h("span", {}, contact);
}

function resourceLink(r) {
  if (r.contact && PHONE.test(r.contact)) return contactEl(r.contact);
  if (/^https?:\/\//.test(r.url || "")) return h("a", { href: r.url, target: "_blank", rel: "noopener noreferrer" }, r.url.replace(/^https?:\/\//, ""));
  return r.contact ? h("span", {}, r.contact) : null;
}

/**
 * The crisis resources panel: private, prominent, calm. It follows the member's held message
 * (waiting, then approved, not posted, or not reviewed in time) and her crisis case (open,
 * acknowledged, a moderator talking with her, closed: support.case), and folds to a one-line
 * banner that keeps the first helpline one tap away. After a reload or a language switch the
 * server gives it back (support.resources, in her language) while her case is open and for a
 * while after; the header's "Support resources" opens it at any time.
 */
export class CrisisPanel {
  constructor(section) {
    this.section = section;
    this.data = null;
    this.state = "waiting";
    this.collapsed = false;
    this.caseState = null; // open | acknowledged | in_contact | closed (her own case)
    this.talking = false; // a private conversation with a moderator is open
    this.control = null; // the header's "Support resources" (shown while the panel is not)
  }

  /** The header control is there whenever the panel is not (a phone keeps its rows). */
  _syncControl() {
    if (this.control) this.control.hidden = !this.section.hidden;
  }

  /** The server's view on load (support.resources): back, folded, while her case needs it. */
  restore(view) {
    this.resources = view.resources || [];
    if (!view.case) return;
    this.caseState = view.case.state;
    this.talking = !!view.case.conversation && !view.case.conversation.closed && view.case.state !== "closed";
    this.data = { resources: this.resources, subject: view.case.kind === "third_party" ? "third_party" : undefined };
    this.state = "case";
    this.collapsed = true;
    this.render();
    this.section.hidden = false; // no focus taken on a page load
    this._syncControl();
  }

  /** "Support resources" in the header: the panel, open, with her resources. */
  reopen(resources) {
    if (resources?.length) this.resources = resources;
    if (!this.data) {
      this.data = { resources: this.resources || [] };
      this.state = this.caseState ? "case" : "resources";
    } else if (!this.data.resources?.length) {
      this.data.resources = this.resources || [];
    }
    this.collapsed = false;
    this.render();
    this.section.hidden = false;
    this._syncControl();
    this.section.querySelector("h2").focus();
  }

  /** Her case changed (support.case) or a private conversation opened or closed. */
  caseUpdate(data) {
    const before = this._caseKey();
    if (data.type === "support.case") {
      this.caseState = data.state;
      if (data.state === "closed") this.talking = false;
    } else if (data.type === "support.conversation") {
      this.talking = data.state !== "closed" && !data.closed;
    }
    if (!this.section.hidden && this._caseKey() !== before) this.render();
  }

  _caseKey() {
    if (!this.caseState) return null;
    if (this.caseState === "closed") return "crisis.case_closed";
    if (this.talking || this.caseState === "in_contact") return "crisis.case_talking";
    if (this.caseState === "acknowledged") return "crisis.case_acknowledged";
    return this.state === "case" ? "crisis.case_open" : null; // otherwise the server's words say it
  }

  /** Shown in the last minute (a held notice that follows it stays short). */
  recent() {
    return Date.now() - (this.shownAt || 0) < 60000;
  }

  show(data) {
    this.shownAt = Date.now();
    this.data = data;
    this.holdId = data.id || null;
    this.state = data.id ? "waiting" : data.message_id ? "posted" : "refused";
    this.collapsed = false;
    this.render();
    this.section.hidden = false;
    this._syncControl();
    this.section.querySelector("h2").focus();
  }

  /** A private notice about a held item: the panel follows the hold it was shown for. */
  follow(data) {
    if (data.type === "support.case" || data.type === "support.conversation") {
      this.caseUpdate(data);
      return false;
    }
    if (this.section.hidden || !this.holdId || data.id !== this.holdId) return false;
    const next = { "moderation.approved": "approved", "moderation.rejected": "rejected", "moderation.expired": "expired" }[data.type];
    if (!next) return false;
    this.state = next;
    this.reason = data.reason || "";
    this.render();
    return true;
  }

  _stateLine() {
    const words = {
      approved: t("crisis.approved"),
      rejected: t("crisis.rejected"),
      expired: t("crisis.expired"),
    }[this.state];
    return h("p", { class: `crisis-state crisis-${this.state}`, tabindex: "-1" }, words, this.state === "rejected" && this.reason ? ` ${t("crisis.reason", { reason: this.reason })}` : "");
  }

  render() {
    const data = this.data || {};
    const resources = data.resources || [];
    const focused = this.section.contains(document.activeElement) ? document.activeElement : null;
    const keep = focused ? focused.dataset.role || (focused.tagName === "H2" ? "heading" : null) : null;
    if (this.collapsed) {
      // The first helpline one tap away (a phone number, else a web address).
      const first = resources.find((r) => PHONE.test(r.contact || "")) || resources.find((r) => resourceLink(r)?.tagName === "A") || resources[0];
      fill(this.section,
        h(
          "div",
          { class: "crisis-banner" },
          h("h2", { tabindex: "-1" }, t("crisis.banner")),
          first ? h("p", { class: "crisis-first" }, h("strong", {}, first.name || t("crisis.support")), " ", resourceLink(first)) : null,
          h("button", { type: "button", class: "secondary small", dataset: { role: "expand" }, "aria-expanded": "false", onclick: () => this.expand() }, t("crisis.show_all")),
          h("button", { type: "button", class: "link", dataset: { role: "close" }, onclick: () => this.hide() }, t("crisis.close")),
        ),
      );
      this.section.classList.add("collapsed");
    } else {
      const heading = h("h2", { tabindex: "-1" }, data.title || t(data.subject === "third_party" ? "crisis.title_other" : "crisis.title"));
      const caseKey = this._caseKey();
      const decided = ["approved", "rejected", "expired"].includes(this.state);
      const lines = [];
      if (decided) lines.push(this._stateLine());
      if (caseKey) lines.push(h("p", { class: `crisis-case crisis-case-${this.caseState}` }, t(caseKey)));
      else if (["waiting", "refused", "posted"].includes(this.state)) lines.push(h("p", {}, data.message || t("crisis.default_message")));
      else if (!decided) lines.push(h("p", {}, t("crisis.resources_intro")));
      if (decided || caseKey) lines.push(h("p", {}, t("crisis.still_there")));
      fill(this.section,
        h(
          "div",
          { class: "crisis-head" },
          heading,
          h(
            "div",
            { class: "crisis-buttons" },
            h("button", { type: "button", class: "secondary small", dataset: { role: "collapse" }, "aria-expanded": "true", onclick: () => this.collapse() }, t("crisis.collapse")),
            h("button", { type: "button", class: "secondary small", dataset: { role: "close" }, onclick: () => this.hide() }, t("crisis.close")),
          ),
        ),
        // Waiting: the server's words say so. Once a moderator decided (or time ran out), a
        // line says what happened instead; where her case stands, in words; the resources stay.
        ...lines,
        h(
          "ul",
          { class: "resources" },
          resources.map((r) =>
            h(
              "li",
              {},
              h("strong", {}, r.name || t("crisis.support")),
              r.contact ? [": ", contactEl(r.contact)] : null,
              /^https?:\/\//.test(r.url || "") ? [" ", h("a", { href: r.url, target: "_blank", rel: "noopener noreferrer" }, r.url.replace(/^https?:\/\//, ""))] : null,
            ),
          ),
        ),
        h("p", { class: "crisis-note" }, t("crisis.only_you")),
      );
      this.section.classList.remove("collapsed");
    }
    if (keep === "heading") this.section.querySelector("h2").focus();
    else if (keep) focusFirst(this.section.querySelector(`[data-role="${keep === "collapse" ? "expand" : keep === "expand" ? "collapse" : keep}"]`), this.section.querySelector("h2"));
  }

  collapse() {
    this.collapsed = true;
    this.render();
  }

  expand() {
    this.collapsed = false;
    this.render();
  }

  hide() {
    this.section.hidden = true;
    this._syncControl();
    focusFirst(document.getElementById("composer-text"), mainContent);
  }
}

/**
 * Route one private notice (data published on user#<me>, docs/moderation.md) to the right
 * place. Returns true when it was understood.
 */
/** A notice's words in the reader's language from its code (issue 25: server text is data);
 *  an unknown code: the server's sentence, else `fallback` (never the code itself). */
export function said(data, fallback = "") {
  if (data.code) {
    const text = t(`notice_code.${data.code.replace(/\./g, "_")}`, data.params || {});
    if (!text.startsWith("⟦")) return text;
  }
  return data.message || fallback;
}

/** A moderator's reason for not posting: the preset's words in the member's language when
 *  the moderator chose one (reason_code), else the words the moderator wrote. */
export function rejectReason(data) {
  if (data.reason_code) {
    const text = t(`reject.${data.reason_code}`);
    if (!text.startsWith("⟦")) return text;
  }
  return data.reason || "";
}

export function handleNotice(data, { own, crisis, onNotice, onMute, roomTitle }) {
  const ref = { id: data.id, client_msg_id: data.client_msg_id };
  const when = data.until ? formatDateTime(data.until) : "";
  const why = data.reason ? ` ${t("notice.reason", { reason: data.reason })}` : "";
  switch (data.type) {
    case "moderation.support":
      crisis.show(data);
      return true;
    case "support.case":
      return true; // the crisis panel follows it (CrisisPanel.follow)
    case "moderation.held":
      // After crisis resources the panel says it all; keep this notice short and calm.
      own.set(ref, "held", { text: data.text, detail: crisis.recent() ? heldWords() : said(data, heldWords()) });
      return true;
    case "moderation.approved":
      own.set(ref, "approved", { text: data.text, detail: data.edited ? t("own.edited") : "" });
      return true;
    case "moderation.rejected":
      own.set(ref, "rejected", { detail: rejectReason(data) });
      return true;
    case "moderation.expired":
      own.set(ref, "expired", { detail: said(data, "") });
      return true;
    case "moderation.redacted":
      own.set(ref, "redacted", { detail: t("own.we_hid", { what: hiddenWords(data.hidden || data.params?.hidden || []) }) });
      return true;
    case "moderation.deleted":
      if (data.count) {
        onNotice(t("notice.removed_recent", { n: data.count }) + why);
        return true;
      }
      own.set({ id: data.message_id || data.id }, "removed", { text: data.text, detail: data.reason || "" });
      return true;
    case "moderation.muted":
      onMute?.(data.until || null, data.reason || "");
      onNotice(t(data.until ? "notice.muted_until" : "notice.muted_lifted", { when }) + why);
      return true;
    case "moderation.unmuted":
      onMute?.(false);
      onNotice(t("notice.unmuted"));
      return true;
    case "moderation.kicked":
      onNotice(
        t(data.until ? "notice.kicked_until" : "notice.kicked", { room: (data.channel && roomTitle?.(data.channel)) || t("notice.the_room"), when }) + why,
      );
      return true;
    case "moderation.banned":
      onNotice(t(data.until ? "notice.banned_until" : "notice.banned", { when }) + why);
      return true;
    case "moderation.unbanned":
      onNotice(t("notice.unbanned"));
      return true;
    default:
      if (data.message) {
        onNotice(data.message);
        return true;
      }
      return false;
  }
}

/**
 * Her support, from the server (never the browser's storage): resources in her language and,
 * while her crisis case is open or lately closed, the panel back (folded). The header's
 * "Support resources" button opens it at any time.
 */
export async function loadSupport(conn, session, crisis, locale) {
  const button = document.getElementById("support-open");
  const fetchView = () => conn.rpc("support.resources", { community: session.community, locale });
  if (button) {
    crisis.control = button;
    button.hidden = !crisis.section.hidden;
    button.onclick = async () => {
      let resources = crisis.resources;
      try {
        resources = (await fetchView()).resources;
      } catch (error) {
        console.warn("support resources:", error.message);
      }
      crisis.reopen(resources || []);
    };
  }
  try {
    crisis.restore(await fetchView());
  } catch (error) {
    console.warn("support resources:", error.message);
  }
}
