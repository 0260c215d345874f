// The members a moderator's console has seen recently in this community, by name: who is
// online in its rooms (presence.members), who wrote in the conversation, who is in a hold, a
// report or the audit log. Kept in this browser (localStorage, per community, the newest
// 300 for 30 days), so mutes and bans still show names after a reload, and filled from the
// server's directory of the community's recent members (rpc mod.members) when the console
// opens. The server's own lists (mod.sanctions, audit targets) name user ids only; this
// turns them into names (and never shows an id).
//
// MemberPicker is how the console asks for a member: a search field and a list of names
// (never a raw user id), kept current as the directory grows.

import { t } from "./i18n.js";
import { h, fill, keepFocus } from "./dom.js";

const KEEP = 300;
const KEEP_MS = 30 * 86400 * 1000;

export class Directory extends EventTarget {
  constructor(community, me) {
    super();
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
    if (changed) {
      this._save();
      this.dispatchEvent(new Event("change"));
    }
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

  /** The community's recent members by name from the server (rpc mod.members), so a fresh
   *  browser names people the moment the console opens. */
  async loadFromServer(conn, community) {
    try {
      const { members } = await conn.rpc("mod.members", { community, limit: 500 });
      this.add(members);
    } catch (error) {
      console.info("recent members unavailable:", error.message);
    }
  }

  name(user) {
    return this.people.get(user)?.name || t("mod.unknown_member", { user });
  }
}

/**
 * Choose a member by name: `new MemberPicker(directory, {id, searchLabel, label})`; its
 * `fields` go into a form, `value` is the chosen user id ("" when none).
 */
export class MemberPicker {
  constructor(directory, { id, searchLabel, label, describedBy = null }) {
    this.directory = directory;
    this.search = h("input", { id: `${id}-search`, type: "search", autocomplete: "off", oninput: () => this.render() });
    this.select = h("select", { id, name: "member", "aria-describedby": describedBy });
    this.fields = [
      h("div", { class: "field" }, h("label", { for: this.search.id }, searchLabel), this.search),
      h("div", { class: "field" }, h("label", { for: id }, label), this.select),
    ];
    directory.addEventListener("change", () => this.render());
    this.render();
  }

  get value() {
    return this.select.value;
  }

  render() {
    const chosen = this.select.value;
    const people = this.directory.search(this.search.value.trim());
    keepFocus(this.select.parentElement, () => fill(this.select,
      h("option", { value: "" }, people.length ? t("mod.member_choose") : t("mod.member_none")),
      ...people.map((p) => h("option", { value: p.user, selected: p.user === chosen }, this.directory.label(p))),
    ));
  }

  /** Select someone (added to the directory if new); the search is cleared so they are listed. */
  pick(user, name) {
    this.directory.add([{ user, name }]);
    this.search.value = "";
    this.render();
    this.select.value = user;
  }
}
