// Who is here: members online in the current room (one entry per person, however many tabs),
// and who is typing. While this page's connection is down the list is not live: I show as
// offline and the line above the list says so.

import { h, roleLabel, fill } from "./dom.js";
import { t } from "./i18n.js";

const ROLE_ORDER = { host: 0, moderator: 1, admin: 2, member: 3 };

export class MembersPanel {
  constructor({ list, count, typing }) {
    this.list = list;
    this.count = count;
    this.typingLine = typing;
    this.typing = new Map(); // user -> {name, until}
    this.offline = false;
    this.people = [];
    this.totals = {};
    this._typingTimer = setInterval(() => this._renderTyping(), 1000);
  }

  /** The connection is down (true) or back (false). */
  setOffline(offline) {
    if (offline === this.offline) return;
    this.offline = offline;
    if (offline) {
      this.typing.clear();
      this._renderTyping();
    }
    this.render(this.people, this.totals);
  }

  /** people: [{user, name, role, me?}] */
  render(people, totals = {}) {
    this.people = people;
    this.totals = totals;
    const offline = this.offline;
    const sorted = [...people].sort(
      (a, b) => (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9) || a.name.localeCompare(b.name),
    );
    fill(this.list,
      ...sorted.map((p) =>
        h(
          "li",
          { class: `person${p.me && offline ? " offline" : ""}` },
          h("span", { class: "dot", "aria-hidden": "true" }),
          h("span", { class: "person-name" }, p.me ? t(offline ? "members.you_offline" : "members.you", { name: p.name }) : p.name),
          p.role && p.role !== "member" ? h("span", { class: `badge badge-${p.role}` }, roleLabel(p.role)) : null,
        ),
      ),
    );
    if (offline) {
      this.count.textContent = t("members.offline");
      return;
    }
    this.renderCounts({
      users: totals.users ?? people.length,
      moderators: totals.moderators ?? people.filter((p) => p.role === "moderator" || p.role === "admin").length,
      host_online: totals.host_online ?? people.some((p) => p.role === "host"),
    });
  }

  /** "42 here, 2 moderators, host online" (from a list or a presence.counts event). */
  renderCounts({ users = 0, moderators = 0, host_online = false }) {
    if (this.offline) return;
    const parts = [t("members.here", { n: users })];
    if (moderators) parts.push(t("members.moderators", { n: moderators }));
    if (host_online) parts.push(t("members.host_online"));
    this.count.textContent = parts.join(", ");
  }

  clear() {
    fill(this.list);
    this.people = [];
    this.totals = {};
    this.count.textContent = "";
    this.typing.clear();
    this._renderTyping();
  }

  /** Someone is typing (seconds: how long to show it without a refresh). */
  setTyping(user, name, seconds = 5) {
    this.typing.set(user, { name, until: Date.now() + seconds * 1000 });
    this._renderTyping();
  }

  stopTyping(user) {
    this.typing.delete(user);
    this._renderTyping();
  }

  _renderTyping() {
    const now = Date.now();
    for (const [user, entry] of this.typing) if (entry.until < now) this.typing.delete(user);
    const names = [...this.typing.values()].map((e) => e.name);
    let text = "";
    if (names.length === 1) text = t("typing.one", { name: names[0] });
    else if (names.length === 2) text = t("typing.two", { a: names[0], b: names[1] });
    else if (names.length > 2) text = t("typing.several");
    if (this.typingLine.textContent !== text) this.typingLine.textContent = text;
  }
}

/** People from a presence answer ({clients: {id: {user, connInfo}}}), one per user. */
export function peopleFromPresence(clients, community, me) {
  const byUser = new Map();
  for (const info of Object.values(clients || {})) {
    const conn = info.connInfo || {};
    byUser.set(info.user, {
      user: info.user,
      name: conn.name || info.user,
      role: conn.roles?.[community] || "member",
      me: info.user === me,
    });
  }
  return [...byUser.values()];
}
