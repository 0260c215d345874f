// The community's audit log in the moderator console: who did what, to whom, why, when,
// with the original text (rpc mod.audit, newest first, optionally one action).
//
// At phone width the table stacks (css: .stacked-table): each entry is a block and each cell
// shows its column's name, so nothing scrolls sideways. CSS display changes can drop a table's
// semantics in browsers, so the table, rows and cells carry their roles explicitly.

import { h, fill, formatDateTime } from "./dom.js";
import { t } from "./i18n.js";
import { withMarkers } from "./messages.js";

const COLUMNS = ["when", "action", "by", "about", "reason", "text"];
// The actions the filter offers (by their words; the server filters by code).
const ACTIONS = [
  "verdict.hold", "verdict.redact", "verdict.reject", "verdict.support", "hold.approve", "hold.reject", "hold.expire",
  "crisis.open", "crisis.ack", "crisis.contact", "crisis.close", "crisis.escalate", "support.open", "support.close",
  "report", "report.hide", "report.dismiss", "delete", "remove_recent", "mute", "unmute", "kick", "ban", "unban", "lock", "unlock", "slow_mode", "denied",
];

export class AuditLog {
  constructor(conn, community, directory = null, roomTitle = null) {
    this.conn = conn;
    this.roomTitle = roomTitle || ((channel) => channel); // a room's display name
    this.community = community;
    this.directory = directory;
    this.body = h("tbody", { role: "rowgroup" });
    this.filter = h(
      "select",
      { id: "audit-filter", onchange: () => this.load() },
      h("option", { value: "" }, t("audit.all_actions")),
      ACTIONS.map((a) => h("option", { value: a }, actionLabel(a))),
    );
    this.card = h(
      "section",
      { class: "card", "aria-labelledby": "audit-heading" },
      h("h2", { id: "audit-heading" }, t("audit.title")),
      h(
        "form",
        { class: "controls-row", onsubmit: (e) => { e.preventDefault(); this.load(); } },
        h("div", { class: "field" }, h("label", { for: "audit-filter" }, t("audit.filter")), this.filter),
        h("button", { type: "submit", class: "secondary" }, t("audit.refresh")),
      ),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "stacked-table", role: "table" },
          h("caption", { class: "visually-hidden" }, t("audit.caption")),
          h("thead", { role: "rowgroup" }, h("tr", { role: "row" }, COLUMNS.map((c) => h("th", { scope: "col", role: "columnheader" }, t(`audit.col.${c}`))))),
          this.body,
        ),
      ),
    );
  }

  async load() {
    const data = { community: this.community, limit: 50 };
    if (this.filter.value) data.action = this.filter.value;
    try {
      const { entries } = await this.conn.rpc("mod.audit", data);
      this.directory?.add(entries.map((e) => e.actor).filter((a) => a && a.via !== "system"));
      fill(this.body, entries.length ? entries.map((e) => row(e, this.directory, this.roomTitle)) : note(t("audit.empty"), "empty"));
    } catch (error) {
      fill(this.body, note(t("audit.failed", { error: error.message })));
    }
  }
}

function note(text, className = "") {
  return h("tr", { role: "row" }, h("td", { colspan: COLUMNS.length, role: "cell", class: className }, text));
}

/** An action's words in the reader's language; an unknown action is never shown as its code. */
export function actionLabel(action) {
  const key = `audit.action.${String(action || "").replace(/\./g, "_")}`;
  const text = t(key);
  return text.startsWith("⟦") ? t("audit.action_other") : text;
}

function row(entry, directory, roomTitle) {
  const who = entry.target?.user ? (directory ? directory.name(entry.target.user) : entry.target.user) : "";
  const where = entry.target?.channel ? roomTitle(entry.target.channel) : "";
  const actor = entry.actor?.via === "system" || entry.actor?.user === "system" ? t("audit.by_system") : entry.actor?.name || (directory ? directory.name(entry.actor?.user) : "");
  const values = [
    formatDateTime(entry.ts || entry.time),
    actionLabel(entry.action),
    actor || "",
    who && where ? t("audit.in", { who, where }) : who || where,
    entry.reason || "",
    entry.text ? withMarkers(entry.text) : "",
  ];
  // The column's name before each value shows only when the table stacks; screen readers
  // have the column headers already.
  return h(
    "tr",
    { role: "row" },
    values.map((value, i) =>
      h("td", { role: "cell" }, value ? [h("span", { class: "cell-label", "aria-hidden": "true" }, `${t(`audit.col.${COLUMNS[i]}`)}: `), value] : null),
    ),
  );
}
