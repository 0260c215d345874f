// The view switcher (Chat, Q&A, Moderation) as an ARIA tab list: arrow keys move between
// tabs, Home/End jump, the panel follows the selected tab.

import { $ } from "./dom.js";

export function setupTabs({ staff }) {
  const list = $("#tabs");
  const tabs = [...list.querySelectorAll('[role="tab"]')];
  for (const tab of tabs) {
    if (tab.dataset.staff !== undefined && !staff) tab.hidden = true;
  }
  const visible = () => tabs.filter((t) => !t.hidden);
  const select = (tab, focus = false) => {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute("aria-selected", String(selected));
      t.tabIndex = selected ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    list.dispatchEvent(new CustomEvent("tab", { detail: tab.id }));
  };
  list.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) select(tab);
  });
  list.addEventListener("keydown", (event) => {
    const shown = visible();
    const index = shown.indexOf(document.activeElement);
    if (index < 0) return;
    let next = null;
    if (event.key === "ArrowRight") next = shown[(index + 1) % shown.length];
    else if (event.key === "ArrowLeft") next = shown[(index - 1 + shown.length) % shown.length];
    else if (event.key === "Home") next = shown[0];
    else if (event.key === "End") next = shown[shown.length - 1];
    if (next) {
      event.preventDefault();
      select(next, true);
    }
  });
  select(tabs[0]);
  return { select: (id) => select(document.getElementById(id)) };
}
