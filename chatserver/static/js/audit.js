// The community's audit log in the moderator console: who did what, to whom, why, when,
// with the original text (rpc mod.audit, newest first, optionally one action).
//
// At phone width the table stacks (css: .stacked-table): each entry is a block and each cell
// shows its column's name, so nothing scrolls sideways. CSS display changes can drop a table's
// semantics in browsers, so the table, rows and cells carry their roles explicitly.

import { h, fill, formatDateTime } from "./dom.js";

const COLUMNS = ["When", "Action", "By", "About", "Reason", "Text"];

export class AuditLog {
  constructor(conn, community) {
    this.conn = conn;
    this.community = community;
    this.body = h("tbody", { role: "rowgroup" });
    this.filter = h("input", { id: "audit-filter", type: "search", placeholder: "action, e.g. delete" });
    this.card = h(
      "section",
      { class: "card", "aria-labelledby": "audit-heading" },
      h("h2", { id: "audit-heading" }, "Audit log"),
      h(
        "form",
        { class: "controls-row", onsubmit: (e) => { e.preventDefault(); this.load(); } },
        h("div", { class: "field" }, h("label", { for: "audit-filter" }, "Only this action"), this.filter),
        h("button", { type: "submit", class: "secondary" }, "Refresh"),
      ),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "stacked-table", role: "table" },
          h("caption", { class: "visually-hidden" }, "Audit log, newest first"),
          h("thead", { role: "rowgroup" }, h("tr", { role: "row" }, COLUMNS.map((t) => h("th", { scope: "col", role: "columnheader" }, t)))),
          this.body,
        ),
      ),
    );
  }

  async load() {
    const data = { community: this.community, limit: 50 };
    if (this.filter.value.trim()) data.action = this.filter.value.trim();
    try {
      const { entries } = await this.conn.rpc("mod.audit", data);
      fill(this.body, entries.length ? entries.map((e) => row(e)) : note("Nothing recorded yet.", "empty"));
    } catch (error) {
      fill(this.body, note(`Could not load the audit log: ${error.message}`));
    }
  }
}

function note(text, className = "") {
  return h("tr", { role: "row" }, h("td", { colspan: COLUMNS.length, role: "cell", class: className }, text));
}

function row(entry) {
  const values = [
    formatDateTime(entry.ts || entry.time),
    entry.action,
    entry.actor?.name || entry.actor?.user || "",
    [entry.target?.user, entry.target?.channel].filter(Boolean).join(" in "),
    entry.reason || "",
    entry.text || "",
  ];
  // The column's name before each value shows only when the table stacks; screen readers
  // have the column headers already.
  return h(
    "tr",
    { role: "row" },
    values.map((value, i) =>
      h("td", { role: "cell" }, value ? [h("span", { class: "cell-label", "aria-hidden": "true" }, `${COLUMNS[i]}: `), value] : null),
    ),
  );
}
