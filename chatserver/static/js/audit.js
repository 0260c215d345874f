// The community's audit log in the moderator console: who did what, to whom, why, when,
// with the original text (rpc mod.audit, newest first, optionally one action).

import { h, fill, formatDateTime } from "./dom.js";

export class AuditLog {
  constructor(conn, community) {
    this.conn = conn;
    this.community = community;
    this.body = h("tbody");
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
          {},
          h("caption", { class: "visually-hidden" }, "Audit log, newest first"),
          h("thead", {}, h("tr", {}, ["When", "Action", "By", "About", "Reason", "Text"].map((t) => h("th", { scope: "col" }, t)))),
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
      fill(this.body, entries.length ? entries.map((e) => row(e)) : h("tr", {}, h("td", { colspan: 6, class: "empty" }, "Nothing recorded yet.")));
    } catch (error) {
      fill(this.body, h("tr", {}, h("td", { colspan: 6 }, `Could not load the audit log: ${error.message}`)));
    }
  }
}

function row(entry) {
  return h(
    "tr",
    {},
    h("td", {}, formatDateTime(entry.ts || entry.time)),
    h("td", {}, entry.action),
    h("td", {}, entry.actor?.name || entry.actor?.user || ""),
    h("td", {}, [entry.target?.user, entry.target?.channel].filter(Boolean).join(" in ")),
    h("td", {}, entry.reason || ""),
    h("td", {}, entry.text || ""),
  );
}
