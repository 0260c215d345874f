// Asking on the Q&A board: the question box (with "Ask anonymously") and what happened to my
// questions afterwards (screening, held, approved, rejected, dismissed, details hidden).

import { h, localTimes } from "./dom.js";
import { hiddenWords } from "./messages.js";
import { OwnMessages, QUESTION_LABELS } from "./notices.js";

const SAID = {
  screening: "Thank you. Your question is waiting to be screened before it appears.",
  published: "Your question is on the board.",
  held: "Your question is waiting for a moderator.",
};

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
    const notices = h("ul", { class: "own-notices", "aria-label": "Notices about what you asked" });
    this.own = new OwnMessages(notices, { labels: QUESTION_LABELS, returnTo: this.text });
    this.form = h(
      "form",
      { class: "card", "aria-labelledby": "ask-heading", onsubmit: (e) => { e.preventDefault(); this.ask(); } },
      h("h2", { id: "ask-heading" }, "Ask a question"),
      h("div", { class: "field" }, h("label", { for: "qa-question" }, "Your question"), this.text),
      h("div", { class: "field check" }, this.anonymous, h("label", { for: "qa-anonymous" }, "Ask anonymously")),
      h(
        "p",
        { class: "hint" },
        "Anonymous questions show no name to anyone, the host included. For everyone's safety, moderators can still find out who asked; that is recorded.",
      ),
      h("button", { type: "submit" }, "Ask"),
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
      const hidden = result.hidden?.length ? ` We hid your ${hiddenWords(result.hidden)}.` : "";
      this.say((SAID[result.status] || "Question sent.") + hidden);
    } catch (error) {
      this.say(`Your question was not sent: ${localTimes(error.message)}`, true);
    } finally {
      this.asking = false;
    }
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
      "moderation.held": ["held", data.message],
      "moderation.approved": ["approved", data.edited ? "a moderator edited it first." : ""],
      "moderation.rejected": ["rejected", data.reason],
      "moderation.expired": ["expired", data.message],
      "moderation.redacted": ["redacted", data.message],
      "qa.question.dismissed": ["removed", "it was not put on the board this time."],
    }[data.type];
    if (!shown) return false;
    this.own.set(ref, shown[0], { text: data.text, detail: shown[1] || "" });
    return true;
  }
}
