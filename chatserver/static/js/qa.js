// The Q&A view: members ask (optionally anonymously) and upvote; hosts run the session
// (start, stage mode, answering now, answer, mark answered, pin, dismiss, end) on a board
// sorted by popular or recent; hosts and moderators screen submitted questions.
//
// Server side (docs/qa.md): RPC qa.*, the board <c>:<r>/qa (followed from a qa.board
// snapshot with recovery from its offset and epoch, so no event is missed or applied twice),
// the screening feed <c>:<r>/screening, private notices qa.question.* on user#<id>.

import { h, $, announce, timeEl, isStaff, fill, keepFocus } from "./dom.js";
import { ask } from "./dialogs.js";
import { hiddenWords } from "./messages.js";
import { AskBox } from "./qa_ask.js";

const STATE_LABELS = { scheduled: "Scheduled", live: "Live now", ended: "Ended" };
const ANSWER_NOTICE = "General information, not medical advice.";

export class QAView {
  constructor(conn, session, chat) {
    this.conn = conn;
    this.session = session;
    this.chat = chat;
    this.runner = session.role === "host" || isStaff(session.role);
    this.panel = $("#panel-qa");
    this.sort = "popular";
    this.reset();
    this._build();
    chat.addEventListener("room", (event) => this.enter(event.detail.channel));
    chat.noticeFilters.push((data) => this.askBox.notice(data));
    conn.addEventListener("status", (event) => {
      if (event.detail.state === "connected" && this.room) this.refreshScreening();
    });
    if (chat.channel) this.enter(chat.channel);
  }

  reset() {
    this.qaSession = null;
    this.questions = new Map(); // id -> question (with votes)
    this.voted = new Set();
    this.screening = new Map();
  }

  get board() {
    return `${this.room}/qa`;
  }

  // ------------------------------------------------------------------ layout

  _build() {
    this.header = h("div", { class: "qa-header" });
    this.controls = h("div", { class: "item-actions qa-controls", dataset: { key: "controls" } });
    this.status = h("p", { class: "room-status", role: "status", hidden: true });
    this.answering = h("section", { class: "card answering", "aria-labelledby": "answering-heading", hidden: true });
    this.askBox = new AskBox({
      conn: this.conn,
      say: (text, problem) => this.say(text, problem),
      target: () => ({ channel: this.board, session: this.qaSession?.id }),
    });
    this.boardList = h("ol", { class: "item-list qa-board", "aria-live": "polite" });
    this.answeredList = h("ol", { class: "item-list" });
    this.screeningList = h("ul", { class: "item-list" });
    this.sortGroup = h(
      "div",
      { class: "sort", role: "radiogroup", "aria-label": "Sort questions" },
      [["popular", "Popular"], ["recent", "Recent"]].map(([value, label]) =>
        h(
          "label",
          { class: "sort-option" },
          h("input", { type: "radio", name: "qa-sort", value, checked: value === this.sort, onchange: () => this.setSort(value) }),
          ` ${label}`,
        ),
      ),
    );
    this.screeningCard = h(
      "section",
      { class: "card", "aria-labelledby": "screening-heading", hidden: !this.runner },
      h("h2", { id: "screening-heading", tabindex: "-1" }, "Waiting for screening"),
      h("p", { class: "hint" }, "Questions appear on the board only after a host or moderator publishes them."),
      this.screeningList,
    );
    const boardCard = h(
      "section",
      { class: "card", "aria-labelledby": "board-heading" },
      h("div", { class: "board-head" }, h("h2", { id: "board-heading", tabindex: "-1" }, "Questions"), this.sortGroup),
      this.boardList,
    );
    const answeredCard = h(
      "section",
      { class: "card", "aria-labelledby": "answered-heading" },
      h("h2", { id: "answered-heading" }, "Answered"),
      this.answeredList,
    );
    // Re-rendering never drops focus: it stays on the same question's control, or moves to the
    // question now in its place, or to the heading (keepFocus).
    this.headerCard = h("section", { class: "card", "aria-labelledby": "qa-title" }, this.header, this.controls);
    this.boardArea = h("div", {}, this.answering, boardCard, answeredCard);
    fill(this.panel,
      h(
        "div",
        { class: "panel-body qa-body" },
        this.headerCard,
        this.status,
        h(
          "div",
          { class: "columns" },
          this.boardArea,
          h("div", {}, this.askBox.form, this.screeningCard),
        ),
      ),
    );
  }

  say(text, problem = false) {
    this.status.textContent = text;
    this.status.dataset.tone = problem ? "warn" : "ok";
    this.status.hidden = false;
    clearTimeout(this._sayTimer);
    this._sayTimer = setTimeout(() => { this.status.hidden = true; }, 6000);
  }

  // ------------------------------------------------------------------ following the board

  async enter(room) {
    if (room === this.room) return;
    this.room = room;
    this.reset();
    for (const sub of [this.boardSub, this.screeningSub]) this.conn.removeSubscription(sub);
    this.boardSub = this.screeningSub = null;
    this.render();
    await this.follow();
    if (this.runner) this.followScreening();
  }

  /** Snapshot with qa.board, then subscribe from its position: every later event exactly once. */
  async follow() {
    const room = this.room;
    let snapshot;
    try {
      snapshot = await this.conn.rpc("qa.board", { channel: this.board, sort: this.sort });
    } catch (error) {
      if (room !== this.room) return;
      // No session yet is an empty board; the subscription still brings the first one.
      snapshot = { offset: undefined, epoch: undefined, questions: [], voted: [] };
      if (error.code !== 102 && !/no (q&a )?session/i.test(error.message)) this.say(`Could not load the board: ${error.message}`, true);
    }
    if (room !== this.room) return;
    this.applySnapshot(snapshot);
    if (this.boardSub) this.conn.removeSubscription(this.boardSub);
    const options = snapshot.epoch ? { since: { offset: snapshot.offset, epoch: snapshot.epoch } } : {};
    const sub = this.conn.client.newSubscription(this.board, options);
    this.boardSub = sub;
    sub.on("publication", (ctx) => { if (sub === this.boardSub) this.applyEvent(ctx.data || {}); });
    sub.on("subscribed", (ctx) => {
      if (sub === this.boardSub && ctx.wasRecovering && !ctx.recovered) this.follow(); // too far behind: start over
    });
    sub.subscribe();
  }

  applySnapshot(snapshot) {
    this.questions.clear();
    this.qaSession = snapshot.session || null;
    for (const q of snapshot.questions || []) this.questions.set(q.id, q);
    this.voted = new Set(snapshot.voted || []);
    for (const q of snapshot.screening || []) this.screening.set(q.id, q);
    this.render();
  }

  applyEvent(data) {
    const type = data.type || "";
    if (type.startsWith("qa.session.")) {
      const fresh = data.session;
      if (!this.qaSession || this.qaSession.id === fresh.id || fresh.state !== "ended") {
        if (this.qaSession?.id !== fresh.id) {
          this.questions.clear();
          this.voted.clear();
        }
        this.qaSession = fresh;
      }
      if (type === "qa.session.started") announce(`The Q&A session "${fresh.title}" has started`);
    } else if (type.startsWith("qa.question.")) {
      if (this.qaSession && data.session !== this.qaSession.id) return;
      for (const q of [data.previous, data.question]) {
        if (!q) continue;
        if (q.state === "dismissed") {
          this.questions.delete(q.id);
          continue;
        }
        const known = this.questions.get(q.id);
        this.questions.set(q.id, { ...q, votes: q.votes ?? known?.votes ?? 0 });
      }
      if (type === "qa.question.answering") announce(`Now answering: ${data.question.text}`);
    } else if (type === "qa.votes") {
      if (this.qaSession && data.session !== this.qaSession.id) return;
      for (const [id, count] of Object.entries(data.counts || {})) {
        const q = this.questions.get(id);
        if (q) q.votes = count;
      }
    } else {
      return;
    }
    this.render();
  }

  async followScreening() {
    const sub = this.conn.subscription(`${this.room}/screening`);
    this.screeningSub = sub;
    sub.on("publication", (ctx) => {
      const data = ctx.data || {};
      if (data.type === "qa.question.submitted") this.screening.set(data.question.id, data.question);
      else if (data.type === "qa.question.screened") this.screening.delete(data.question.id);
      this.renderScreening();
    });
    sub.on("subscribed", () => this.refreshScreening());
    sub.on("error", (ctx) => console.info("screening feed:", ctx.error?.message));
    sub.subscribe();
  }

  async refreshScreening() {
    if (!this.runner) return;
    try {
      const snapshot = await this.conn.rpc("qa.board", { channel: this.board });
      for (const q of snapshot.screening || []) this.screening.set(q.id, q);
      this.renderScreening();
    } catch {
      // no session yet
    }
  }

  // ------------------------------------------------------------------ rendering

  setSort(sort) {
    this.sort = sort;
    this.renderBoard();
  }

  render() {
    this.renderHeader();
    this.renderBoard();
    this.renderScreening();
  }

  renderHeader() {
    keepFocus(this.headerCard, () => this._renderHeader(), () => $("#qa-title", this.panel));
  }

  _renderHeader() {
    const s = this.qaSession;
    if (!s) {
      fill(this.header,
        h("h2", { id: "qa-title", tabindex: "-1" }, "Live Q&A"),
        h("p", { class: "hint" }, this.runner ? "No session in this room yet. Create one to invite questions." : "No Q&A session in this room yet."),
      );
    } else {
      fill(this.header,
        h("h2", { id: "qa-title", tabindex: "-1" }, s.title, " ", h("span", { class: `badge qa-state qa-${s.state}` }, STATE_LABELS[s.state] || s.state)),
        h(
          "p",
          { class: "qa-hosts" },
          "Hosted by ",
          (s.hosts || []).map((host, i) => [
            i ? ", " : "",
            h("strong", {}, host.name),
            host.badge === "verified_professional" ? [" ", h("span", { class: "badge badge-host" }, "Verified professional")] : null,
          ]),
        ),
        s.stage ? h("p", { class: "hint" }, "Stage mode: only hosts and moderators post in the room; please ask here.") : null,
      );
    }
    const buttons = [];
    if (this.runner) {
      if (!s || s.state === "ended") buttons.push(h("button", { type: "button", onclick: () => this.create() }, "New session…"));
      if (s?.state === "scheduled") buttons.push(h("button", { type: "button", onclick: () => this.run("qa.start", {}, "Session started") }, "Start session"));
      if (s?.state === "live") {
        buttons.push(
          h("button", { type: "button", class: "secondary", "aria-pressed": String(!!s.stage), onclick: () => this.run("qa.stage", { on: !s.stage }, s.stage ? "Stage mode off" : "Stage mode on") }, "Stage mode"),
          h("button", { type: "button", class: "secondary", onclick: () => this.run("qa.end", {}, "Session ended") }, "End session"),
        );
      }
    }
    fill(this.controls, ...buttons);
    this.askBox.form.hidden = !s || s.state === "ended";
  }

  renderBoard() {
    keepFocus(this.boardArea, () => this._renderBoard(), $("#board-heading", this.panel));
  }

  _renderBoard() {
    const all = [...this.questions.values()];
    const answering = all.find((q) => q.state === "answering");
    const open = all.filter((q) => q.state === "published");
    const answered = all.filter((q) => q.state === "answered").sort((a, b) => (b.answered_at || 0) - (a.answered_at || 0));
    open.sort((a, b) => {
      if (!!b.pinned !== !!a.pinned) return b.pinned ? 1 : -1;
      if (this.sort === "popular" && (b.votes || 0) !== (a.votes || 0)) return (b.votes || 0) - (a.votes || 0);
      return (b.asked_at || 0) - (a.asked_at || 0);
    });
    this.answering.hidden = !answering;
    fill(this.answering,
      ...(answering ? [h("h2", { id: "answering-heading" }, "Answering now"), this._question(answering, true)] : []),
    );
    fill(this.boardList,
      ...(open.length ? open.map((q) => h("li", {}, this._question(q))) : [h("li", { class: "empty" }, this.qaSession ? "No questions on the board yet." : "")]),
    );
    fill(this.answeredList,
      ...(answered.length ? answered.map((q) => h("li", {}, this._question(q))) : [h("li", { class: "empty" }, "Nothing answered yet.")]),
    );
  }

  _question(q, highlighted = false) {
    const live = this.qaSession && this.qaSession.state !== "ended";
    const voted = this.voted.has(q.id);
    const asker = q.anonymous ? "Anonymous" : q.asker?.name || "A member";
    const votes = q.votes || 0;
    const actions = [];
    if (live && q.state !== "answered") {
      actions.push(
        h(
          "button",
          {
            type: "button",
            class: `vote${voted ? "" : " secondary"}`,
            "aria-pressed": String(voted),
            "aria-label": `Upvote question ${q.number}: ${votes} vote${votes === 1 ? "" : "s"}`,
            onclick: () => this.vote(q),
          },
          `▲ ${votes}`,
        ),
      );
    } else {
      actions.push(h("span", { class: "count-pill" }, `${votes} vote${votes === 1 ? "" : "s"}`));
    }
    if (this.runner && live) {
      if (q.state === "published") actions.push(h("button", { type: "button", class: "secondary", onclick: () => this.run("qa.answering", { question: q.id }, "Marked as answering now") }, "Answering now"));
      if (q.state !== "answered") {
        actions.push(
          h("button", { type: "button", class: "secondary", onclick: () => this.answer(q) }, "Answer…"),
          h("button", { type: "button", class: "secondary", onclick: () => this.run("qa.mark_answered", { question: q.id }, "Marked answered") }, "Mark answered"),
          h("button", { type: "button", class: "secondary", "aria-pressed": String(!!q.pinned), onclick: () => this.run("qa.pin", { question: q.id, pinned: !q.pinned }, q.pinned ? "Unpinned" : "Pinned") }, "Pin"),
          h("button", { type: "button", class: "secondary", onclick: () => this.run("qa.dismiss", { question: q.id }, "Dismissed") }, "Dismiss"),
        );
      } else {
        actions.push(h("button", { type: "button", class: "secondary", onclick: () => this.run("qa.reopen", { question: q.id }, "Reopened") }, "Reopen"));
      }
    }
    if (isStaff(this.session.role) && q.anonymous) {
      actions.push(h("button", { type: "button", class: "link", onclick: () => this.trace(q) }, "Who asked?"));
    }
    return h(
      "article",
      {
        class: `item question${highlighted ? " highlighted" : ""}${q.pinned ? " pinned" : ""}`,
        "aria-label": `Question ${q.number}`,
        tabindex: "-1",
        dataset: { key: q.id },
      },
      h(
        "p",
        { class: "item-meta" },
        h("span", {}, `#${q.number}`),
        h("span", {}, asker),
        timeEl(q.asked_at),
        q.pinned ? h("strong", {}, "Pinned") : null,
      ),
      h("p", { class: "item-text" }, q.text),
      q.redacted?.length ? h("p", { class: "hint" }, `Hidden to protect privacy: ${hiddenWords(q.redacted)}`) : null,
      q.answer
        ? h(
            "div",
            { class: "answer" },
            h("p", { class: "item-meta" }, h("strong", {}, q.answer.by?.name || "Host"), q.answer.by?.badge === "verified_professional" ? h("span", { class: "badge badge-host" }, "Verified professional") : null),
            h("p", { class: "item-text" }, q.answer.text),
            h("p", { class: "hint" }, q.answer.notice || ANSWER_NOTICE),
          )
        : null,
      h("div", { class: "item-actions" }, actions),
    );
  }

  renderScreening() {
    if (!this.runner) return;
    const items = [...this.screening.values()].sort((a, b) => (a.asked_at || 0) - (b.asked_at || 0));
    keepFocus(this.screeningList, () => fill(this.screeningList,
      ...(items.length
        ? items.map((q) =>
            h(
              "li",
              { class: "item", tabindex: "-1", dataset: { key: `screen-${q.id}` } },
              h("p", { class: "item-meta" }, h("span", {}, `#${q.number}`), h("span", {}, q.anonymous ? "Anonymous" : q.asker?.name || "A member"), timeEl(q.asked_at)),
              h("p", { class: "item-text" }, q.text),
              h(
                "div",
                { class: "item-actions" },
                h("button", { type: "button", onclick: () => this.screen(q, "publish") }, "Publish"),
                h("button", { type: "button", class: "secondary", onclick: () => this.screen(q, "dismiss") }, "Dismiss"),
              ),
            ),
          )
        : [h("li", { class: "empty" }, "Nothing to screen.")]),
    ), $("#screening-heading", this.panel));
  }

  // ------------------------------------------------------------------ actions

  async run(method, data, done) {
    try {
      const result = await this.conn.rpc(method, { channel: this.board, session: this.qaSession?.id, ...data });
      this.say(done);
      return result;
    } catch (error) {
      this.say(`${done} failed: ${error.message}`, true);
      return null;
    }
  }

  async create() {
    const values = await ask({
      title: "New Q&A session",
      submit: "Create",
      fields: [{ name: "title", label: "Title", type: "text", required: true, value: "Ask the expert" }],
    });
    if (!values) return;
    try {
      const result = await this.conn.rpc("qa.create", { channel: this.board, title: values.title });
      this.applyEvent({ type: "qa.session.created", session: result.session });
      this.say("Session created. Start it when you are ready.");
    } catch (error) {
      this.say(`Could not create the session: ${error.message}`, true);
    }
  }

  async vote(q) {
    const voted = this.voted.has(q.id);
    try {
      const result = await this.conn.rpc(voted ? "qa.unvote" : "qa.vote", { channel: this.board, session: this.qaSession?.id, question: q.id });
      if (result.voted) this.voted.add(q.id);
      else this.voted.delete(q.id);
      const known = this.questions.get(q.id);
      if (known && typeof result.votes === "number") known.votes = result.votes;
      this.renderBoard();
      announce(result.voted ? "Vote added" : "Vote withdrawn");
    } catch (error) {
      this.say(`Your vote did not count: ${error.message}`, true);
    }
  }

  async answer(q) {
    const values = await ask({
      title: `Answer question ${q.number}`,
      description: `Shown with: "${ANSWER_NOTICE}"`,
      submit: "Publish answer",
      fields: [{ name: "text", label: "Answer", type: "textarea", required: true, maxlength: 4000 }],
    });
    if (values) await this.run("qa.answer", { question: q.id, text: values.text }, "Answer published");
  }

  async screen(q, action) {
    const result = await this.run("qa.screen", { question: q.id, action }, action === "publish" ? "Published to the board" : "Dismissed");
    if (result) {
      this.screening.delete(q.id);
      this.renderScreening();
    }
  }

  async trace(q) {
    const values = await ask({
      title: `Who asked question ${q.number}?`,
      description: "Only for safety. Your lookup is recorded in the audit log.",
      submit: "Look up",
      fields: [{ name: "reason", label: "Why do you need to know?", type: "text", required: true }],
    });
    if (!values) return;
    const result = await this.run("qa.trace", { question: q.id, reason: values.reason }, "Looked up");
    if (result) this.say(`Question ${q.number} was asked by ${result.name} (${result.user}).`);
  }
}
