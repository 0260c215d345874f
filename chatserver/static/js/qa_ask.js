// Asking on the Q&A board: the question box (with "Ask anonymously") and what happened to my
// questions afterwards (screening, held, approved, rejected, dismissed, details hidden).

import { h, localTimes } from "./dom.js";
import { t } from "./i18n.js";
import { hiddenWords } from "./messages.js";
import { OwnMessages, QUESTION_LABELS, said, rejectReason } from "./notices.js";

const SAID = { screening: "qa.said_screening", published: "qa.said_published", held: "qa.said_held" };

export class AskBox {
  /**
   * @param {{conn, say: (text: string, problem?: boolean) => void,
   *          target: () => {channel: string, session?: string}}} options
   */
  constructor({ conn, say, target }) {
    this.conn = conn;
    this.say = say;
    this.target = target;
    this.mine = new Set(); // ids of questions asked from this page (for their notices)
    this.asking = false;
    this.text = h("textarea", { id: "qa-question", rows: 3, maxlength: 1000, required: true });
    this.anonymous = h("input", { id: "qa-anonymous", type: "checkbox" });
    const notices = h("ul", { class: "own-notices", "aria-label": t("qa.notices_label") });
    this.own = new OwnMessages(notices, { labels: QUESTION_LABELS, returnTo: this.text });
    this.form = h(
      "form",
      { class: "card", "aria-labelledby": "ask-heading", onsubmit: (e) => { e.preventDefault(); this.ask(); } },
      h("h2", { id: "ask-heading" }, t("qa.ask_heading")),
      h("div", { class: "field" }, h("label", { for: "qa-question" }, t("qa.your_question")), this.text),
      h("div", { class: "field check" }, this.anonymous, h("label", { for: "qa-anonymous" }, t("qa.anonymous"))),
      h("p", { class: "hint" }, t("qa.anonymous_hint")),
      h("button", { type: "submit" }, t("qa.ask")),
      notices,
    );
  }

  async ask() {
    const text = this.text.value.trim();
    if (!text) return;
    this.asking = true; // a redaction notice may come before the answer
    try {
      const result = await this.conn.rpc("qa.ask", { ...this.target(), text, anonymous: this.anonymous.checked });
      this.text.value = "";
      for (const id of [result.question?.id, result.hold?.id]) if (id) this.mine.add(id);
      const hidden = result.hidden?.length ? ` ${t("qa.we_hid", { what: hiddenWords(result.hidden) })}` : "";
      this.say(t(SAID[result.status] || "qa.said_sent") + hidden);
      // Waiting to be screened: a notice that stays until the question is published or dismissed.
      if (result.status === "screening" && result.question?.id) {
        this.own.set({ id: result.question.id }, "screening", { text, detail: t("qa.screening_detail") });
      }
    } catch (error) {
      this.say(t("qa.not_sent", { error: localTimes(error.message) }), true);
    } finally {
      this.asking = false;
    }
  }

  /** A question of mine reached the board (a board event): "waiting to be screened" goes. */
  published(question) {
    if (!this.mine.has(question.id) || !this.own.has({ id: question.id })) return;
    const item = this.own.items.get(this._keyOf(question.id));
    if (item && item.status === "published") return;
    this.own.set({ id: question.id }, "published", { detail: "" });
  }

  _keyOf(id) {
    for (const [key, item] of this.own.items) if (key === id || item.id === id) return key;
    return null;
  }

  /** Private notices about my questions (moderation.* with kind "question", and dismissals). */
  notice(data) {
    const mine =
      data.kind === "question" ||
      data.type === "qa.question.dismissed" ||
      (data.type === "moderation.redacted" && (this.asking || this.mine.has(data.id)));
    if (!mine) return false;
    const ref = { id: data.type === "qa.question.dismissed" ? data.question : data.id };
    const shown = {
      "moderation.held": ["held", said(data)],
      "moderation.approved": ["approved", data.edited ? t("own.edited") : ""],
      "moderation.rejected": ["rejected", rejectReason(data)],
      "moderation.expired": ["expired", said(data)],
      "moderation.redacted": ["redacted", data.hidden ? t("own.we_hid", { what: hiddenWords(data.hidden) }) : data.message],
      "qa.question.dismissed": ["removed", t("qa.dismissed_detail")],
    }[data.type];
    if (!shown) return false;
    this.own.set(ref, shown[0], { text: data.text, detail: shown[1] || "" });
    return true;
  }
}
