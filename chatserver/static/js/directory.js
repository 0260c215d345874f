// The members a moderator's console has seen recently in this community, by name: who is
// online in its rooms (presence.members), who wrote in the conversation, who is in a hold, a
// report or the audit log. Kept in this browser (localStorage, per community, the newest
// 300 for 30 days), so mutes and bans still show names after a reload. The server's own
// lists (mod.sanctions, audit targets) name user ids only; this turns them into names.

import { t } from "./i18n.js";

const KEEP = 300;
const KEEP_MS = 30 * 86400 * 1000;

export class Directory {
  constructor(community, me) {
    this.key = `chatserver.seen.${community}`;
    this.me = me;
    this.people = new Map(); // user -> {user, name, role, seen}
    try {
      for (const p of JSON.parse(localStorage.getItem(this.key) || "[]")) {
        if (p.user && p.name && Date.now() - (p.seen || 0) < KEEP_MS) this.people.set(p.user, p);
      }
    } catch {
      // a damaged entry is forgotten
    }
  }

  /** Add people ({user, name, role?}); true when the list changed. */
  add(people) {
    let changed = false;
    const now = Date.now();
    for (const p of people || []) {
      if (!p || !p.user || !p.name || p.user === this.me || p.user === "system") continue;
      const known = this.people.get(p.user);
      if (!known || known.name !== p.name) changed = true;
      this.people.set(p.user, { user: p.user, name: p.name, role: p.role || known?.role || "member", seen: now });
    }
    if (changed) this._save();
    return changed;
  }

  _save() {
    const newest = [...this.people.values()].sort((a, b) => b.seen - a.seen).slice(0, KEEP);
    try {
      localStorage.setItem(this.key, JSON.stringify(newest));
    } catch {
      // storage full or off: the list lives for this page only
    }
  }

  /** People whose name contains the query (all when empty), by name. */
  search(query = "") {
    const q = query.toLowerCase();
    return [...this.people.values()]
      .filter((p) => !q || p.name.toLowerCase().includes(q))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** How a person is offered in the list: the name, and a distinguishing word when two share it. */
  label(person) {
    const same = [...this.people.values()].filter((p) => p.name === person.name);
    if (same.length < 2) return person.name;
    return `${person.name} (${same.sort((a, b) => a.user.localeCompare(b.user)).indexOf(person) + 1})`;
  }

  name(user) {
    return this.people.get(user)?.name || t("mod.unknown_member", { user });
  }
}
