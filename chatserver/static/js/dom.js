// Small DOM helpers. User text is only ever set through textContent, never innerHTML.

import { t, lang } from "./i18n.js";

/**
 * Create an element: h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", child)
 * Attributes whose value is false, null or undefined are left out; `true` sets an empty one.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "value") {
      node.value = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

/** Replace a node's children; like h(), skips null/false and flattens arrays. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

const timeFormat = new Intl.DateTimeFormat(lang(), { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(lang(), {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});

export function formatTime(ms) {
  return timeFormat.format(new Date(ms));
}

/** A <time> element for a millisecond timestamp. */
export function timeEl(ms, withDate = false) {
  if (!ms) return h("time", {}, "");
  const date = new Date(ms);
  return h("time", { datetime: date.toISOString() }, (withDate ? dateTimeFormat : timeFormat).format(date));
}

export function formatDateTime(value) {
  const date = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : dateTimeFormat.format(date);
}

/** Server messages name times in ISO 8601 UTC; show them in the reader's own time. */
export function localTimes(text) {
  return String(text).replace(/\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)/g, (iso) => formatDateTime(iso));
}

let pendingAnnouncements = [];

/**
 * Say something to screen reader users without moving focus. What is said within the same
 * moment (e.g. the answer to a send and the private notice about the same message) becomes
 * one update of the live region, each sentence once, instead of several that cut each other off.
 */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region || !text) return;
  if (!pendingAnnouncements.includes(text)) pendingAnnouncements.push(text);
  if (pendingAnnouncements.length > 1) return; // already scheduled
  region.textContent = "";
  setTimeout(() => {
    region.textContent = pendingAnnouncements.join(". ");
    pendingAnnouncements = [];
  }, 50);
}

const FOCUSABLE = "button, a[href], input, select, textarea, summary, [tabindex]";

/** Focus the first candidate that can take focus now (connected, shown, enabled). */
export function focusFirst(...candidates) {
  for (const candidate of candidates) {
    const el = typeof candidate === "function" ? candidate() : candidate;
    if (!el || !el.isConnected || !el.getClientRects().length || el.disabled) continue;
    el.focus();
    if (document.activeElement === el) return el;
  }
  return null;
}

/**
 * Run `render` (which replaces children of `container`) without dropping keyboard focus to
 * <body>. Items are the elements with data-key; a focused control inside an item is found
 * again in the new item by its position. When the focused item is gone, the item now in its
 * place takes focus (items carry tabindex="-1"), else `fallback` (e.g. the list's heading).
 */
export function keepFocus(container, render, fallback = null) {
  const active = document.activeElement;
  if (!active || active === document.body || !container.contains(active)) {
    render();
    return;
  }
  const items = () => [...container.querySelectorAll("[data-key]")];
  const controls = (item) => [...item.querySelectorAll(FOCUSABLE)];
  const item = active.closest("[data-key]");
  const key = item?.dataset.key;
  const index = item ? items().indexOf(item) : -1;
  const position = item ? controls(item).indexOf(active) : -1;
  render();
  if (document.activeElement === active && active.isConnected) return;
  const now = items();
  const same = key !== undefined ? now.find((el) => el.dataset.key === key) : null;
  if (same) {
    focusFirst(position >= 0 ? controls(same)[position] : null, same, fallback);
  } else if (index >= 0 && now.length) {
    focusFirst(now[Math.min(index, now.length - 1)], fallback);
  } else {
    focusFirst(fallback);
  }
}

/** A unique-enough id for client_msg_id and element ids. */
export function newId(prefix = "") {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The name of a role in the reader's language ("Member", "Host", ...). */
export function roleLabel(role) {
  return ["member", "supporter", "host", "moderator", "admin"].includes(role) ? t(`role.${role}`) : role;
}

export function isStaff(role) {
  return role === "moderator" || role === "admin";
}
