// The Q&A view: members ask (optionally anonymously) and upvote; hosts run the session
// (start, stage mode, answering now, answer, mark answered, pin, dismiss, end) on a board
// sorted by popular or recent; hosts and moderators screen submitted questions.
//
// Server side (docs/qa.md): RPC qa.*, the board <c>:<r>/qa (followed from a qa.board
// snapshot with recovery from its offset and epoch, so no event is missed or applied twice),
// the screening feed <c>:<r>/screening, private notices qa.question.* on user#<id>.

import { h, $, announce, timeEl, isStaff, fill, keepFocus } from "./dom.js";
import { t } from "./i18n.js";
import { ask } from "./dialogs.js";
import { hiddenWords } from "./messages.js";
import { AskBox } from "./qa_ask.js";


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

  /** May run this session (start, stage, end, screening, answers): its hosts, and moderators. */
  get mayRun() {
    if (isStaff(this.session.role)) return true;
    const s = this.qaSession;
    if (this.session.role !== "host") return false;
    return !s || s.state === "ended" || (s.hosts || []).some((p) => p.user === this.session.user);
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
      { class: "sort", role: "radiogroup", "aria-label": t("qa.sort") },
      [["popular", t("qa.popular")], ["recent", t("qa.recent")]].map(([value, label]) =>
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
      h("h2", { id: "screening-heading", tabindex: "-1" }, t("qa.screening")),
      h("p", { class: "hint" }, t("qa.screening_hint")),
      this.screeningList,
    );
    const boardCard = h(
      "section",
      { class: "card", "aria-labelledby": "board-heading" },
      h("div", { class: "board-head" }, h("h2", { id: "board-heading", tabindex: "-1" }, t("qa.questions")), this.sortGroup),
      this.boardList,
    );
    const answeredCard = h(
      "section",
      { class: "card", "aria-labelledby": "answered-heading" },
      h("h2", { id: "answered-heading" }, t("qa.answered")),
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
      if (error.code !== 102 && !/no (q&a )?session/i.test(error.serverMessage || error.message)) this.say(t("qa.board_failed", { error: error.message }), true);
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
      if (type === "qa.session.started") announce(t("qa.started_announce", { title: fresh.title }));
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
        if (q.state !== "submitted") this.askBox.published(q);
      }
      if (type === "qa.question.answering") announce(t("qa.answering_announce", { text: data.question.text }));
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
        h("h1", { id: "qa-title", class: "view-heading", tabindex: "-1" }, t("qa.title")),
        h("p", { class: "hint" }, this.runner ? t("qa.no_session_runner") : t("qa.no_session")),
      );
    } else {
      fill(this.header,
        h("h1", { id: "qa-title", class: "view-heading", tabindex: "-1" }, s.title, " ", h("span", { class: `badge qa-state qa-${s.state}` }, t(`qa.state.${s.state}`))),
        h(
          "p",
          { class: "qa-hosts" },
          t("qa.hosted_by"),
          (s.hosts || []).map((host, i) => [
            i ? ", " : "",
            h("strong", {}, host.name),
            host.badge === "verified_professional" ? [" ", h("span", { class: "badge badge-host" }, t("qa.verified"))] : null,
          ]),
        ),
        s.stage ? h("p", { class: "hint" }, t("qa.stage_hint")) : null,
      );
    }
    const buttons = [];
    if (this.runner) {
      if (!s || s.state === "ended") buttons.push(h("button", { type: "button", onclick: () => this.create() }, t("qa.new_session")));
    }
    // Start, stage mode and end: only this session's hosts and the community's moderators
    // (the server refuses anyone else, so nobody else is offered them).
    if (this.mayRun) {
      if (s?.state === "scheduled") buttons.push(h("button", { type: "button", onclick: () => this.run("qa.start", {}, t("qa.done_started")) }, t("qa.start")));
      if (s?.state === "live") {
        buttons.push(
          h("button", { type: "button", class: "secondary", "aria-pressed": String(!!s.stage), onclick: () => this.run("qa.stage", { on: !s.stage }, s.stage ? t("qa.done_stage_off") : t("qa.done_stage_on")) }, t("qa.stage")),
          h("button", { type: "button", class: "secondary", onclick: () => this.run("qa.end", {}, t("qa.done_ended")) }, t("qa.end")),
        );
      }
    } else if (this.runner && s && s.state !== "ended") {
      buttons.push(h("p", { class: "hint" }, t("qa.not_your_session")));
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
      ...(answering ? [h("h2", { id: "answering-heading" }, t("qa.answering_now")), this._question(answering, true)] : []),
    );
    fill(this.boardList,
      ...(open.length ? open.map((q) => h("li", {}, this._question(q))) : [h("li", { class: "empty" }, this.qaSession ? t("qa.board_empty") : "")]),
    );
    fill(this.answeredList,
      ...(answered.length ? answered.map((q) => h("li", {}, this._question(q))) : [h("li", { class: "empty" }, t("qa.answered_empty"))]),
    );
  }

  _question(q, highlighted = false) {
    const live = this.qaSession && this.qaSession.state !== "ended";
    const voted = this.voted.has(q.id);
    const asker = q.anonymous ? t("qa.anonymous_asker") : q.asker?.name || t("qa.a_member");
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
            "aria-label": t("qa.upvote_label", { number: q.number, n: votes }),
            onclick: () => this.vote(q),
          },
          `▲ ${votes}`,
        ),
      );
    } else {
      actions.push(h("span", { class: "count-pill" }, t("qa.votes", { n: votes })));
    }
    if (this.mayRun && live) {
      if (q.state === "published") actions.push(h("button", { type: "button", class: "secondary", onclick: () => this.run("qa.answering", { question: q.id }, t("qa.done_answering")) }, t("qa.answering_now")));
      if (q.state !== "answered") {
        actions.push(
          h("button", { type: "button", class: "secondary", onclick: () => this.answer(q) }, t("qa.answer")),
          h("button", { type: "button", class: "secondary", onclick: () => this.run("qa.mark_answered", { question: q.id }, t("qa.done_marked")) }, t("qa.mark_answered")),
          h("button", { type: "button", class: "secondary", "aria-pressed": String(!!q.pinned), onclick: () => this.run("qa.pin", { question: q.id, pinned: !q.pinned }, q.pinned ? t("qa.done_unpinned") : t("qa.done_pinned")) }, t("qa.pin")),
          h("button", { type: "button", class: "secondary", onclick: () => this.run("qa.dismiss", { question: q.id }, t("qa.done_dismissed")) }, t("qa.dismiss")),
        );
      } else {
        actions.push(h("button", { type: "button", class: "secondary", onclick: () => this.run("qa.reopen", { question: q.id }, t("qa.done_reopened")) }, t("qa.reopen")));
      }
    }
    if (isStaff(this.session.role) && q.anonymous) {
      actions.push(h("button", { type: "button", class: "link", onclick: () => this.trace(q) }, t("qa.who_asked")));
    }
    return h(
      "article",
      {
        class: `item question${highlighted ? " highlighted" : ""}${q.pinned ? " pinned" : ""}`,
        "aria-label": t("qa.question_label", { number: q.number }),
        tabindex: "-1",
        dataset: { key: q.id },
      },
      h(
        "p",
        { class: "item-meta" },
        h("span", {}, `#${q.number}`),
        h("span", {}, asker),
        timeEl(q.asked_at),
        q.pinned ? h("strong", {}, t("qa.pinned")) : null,
      ),
      h("p", { class: "item-text" }, q.text),
      q.redacted?.length ? h("p", { class: "hint" }, t("messages.hidden_note", { what: hiddenWords(q.redacted) })) : null,
      q.answer
        ? h(
            "div",
            { class: "answer" },
            h("p", { class: "item-meta" }, h("strong", {}, q.answer.by?.name || t("role.host")), q.answer.by?.badge === "verified_professional" ? h("span", { class: "badge badge-host" }, t("qa.verified")) : null),
            h("p", { class: "item-text" }, q.answer.text),
            h("p", { class: "hint" }, t("qa.answer_notice")),
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
              h("p", { class: "item-meta" }, h("span", {}, `#${q.number}`), h("span", {}, q.anonymous ? t("qa.anonymous_asker") : q.asker?.name || t("qa.a_member")), timeEl(q.asked_at)),
              h("p", { class: "item-text" }, q.text),
              this.mayRun
                ? h(
                    "div",
                    { class: "item-actions" },
                    h("button", { type: "button", onclick: () => this.screen(q, "publish") }, t("qa.publish")),
                    h("button", { type: "button", class: "secondary", onclick: () => this.screen(q, "dismiss") }, t("qa.dismiss")),
                  )
                : null,
            ),
          )
        : [h("li", { class: "empty" }, t("qa.screening_empty"))]),
    ), $("#screening-heading", this.panel));
  }

  // ------------------------------------------------------------------ actions

  async run(method, data, done) {
    try {
      const result = await this.conn.rpc(method, { channel: this.board, session: this.qaSession?.id, ...data });
      this.say(done);
      return result;
    } catch (error) {
      this.say(t("mod.failed", { what: done, error: error.message }), true);
      return null;
    }
  }

  async create() {
    const values = await ask({
      title: t("qa.new_title"),
      submit: t("qa.create"),
      fields: [{ name: "title", label: t("qa.session_title"), type: "text", required: true, value: t("qa.default_title") }],
    });
    if (!values) return;
    try {
      const result = await this.conn.rpc("qa.create", { channel: this.board, title: values.title });
      this.applyEvent({ type: "qa.session.created", session: result.session });
      this.say(t("qa.created"));
    } catch (error) {
      this.say(t("qa.create_failed", { error: error.message }), true);
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
      announce(t(result.voted ? "qa.vote_added" : "qa.vote_withdrawn"));
    } catch (error) {
      this.say(t("qa.vote_failed", { error: error.message }), true);
    }
  }

  async answer(q) {
    const values = await ask({
      title: t("qa.answer_title", { number: q.number }),
      description: t("qa.answer_description"),
      submit: t("qa.answer_submit"),
      fields: [{ name: "text", label: t("qa.answer_field"), type: "textarea", required: true, maxlength: 4000 }],
    });
    if (values) await this.run("qa.answer", { question: q.id, text: values.text }, t("qa.done_answered"));
  }

  async screen(q, action) {
    const result = await this.run("qa.screen", { question: q.id, action }, action === "publish" ? t("qa.done_published") : t("qa.done_dismissed"));
    if (result) {
      this.screening.delete(q.id);
      this.renderScreening();
    }
  }

  async trace(q) {
    const values = await ask({
      title: t("qa.trace_title", { number: q.number }),
      description: t("qa.trace_description"),
      submit: t("qa.trace_submit"),
      fields: [{ name: "reason", label: t("qa.trace_reason"), type: "text", required: true }],
    });
    if (!values) return;
    const result = await this.run("qa.trace", { question: q.id, reason: values.reason }, t("qa.done_traced"));
    if (result) this.say(t("qa.traced", { number: q.number, name: result.name }));
  }
}
