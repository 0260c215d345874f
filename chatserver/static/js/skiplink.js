// The skip link leads to the main content of the view on show, and leaves focus there:
// the sign-in form, the message box (Chat), or the panel of the Q&A board or the moderator
// console. Its words follow, set when it takes focus (it is only seen then).

import { $ } from "./dom.js";
import { t } from "./i18n.js";

function target() {
  if (!$("#signin").hidden) {
    return { label: t("skip.signin"), element: [...$("#signin").querySelectorAll("input, textarea, summary")].find((el) => el.getClientRects().length) };
  }
  if ($("#app").hidden) return { label: t("skip.main"), element: $("#main") };
  if (!$("#panel-chat").hidden) return { label: t("skip.chat"), element: $("#composer-text") };
  if (!$("#panel-qa").hidden) return { label: t("skip.qa"), element: $("#panel-qa") };
  return { label: t("skip.mod"), element: $("#panel-mod") };
}

/** The main content of the view on show: where the skip link leads, and where focus goes
 *  when the element that had it is gone (e.g. a dialog's opener). */
export function mainContent() {
  return target().element;
}

export function setupSkipLink() {
  const link = $("#skip-link");
  link.addEventListener("focus", () => { link.textContent = target().label; });
  link.addEventListener("click", (event) => {
    const { element } = target();
    if (!element) return;
    event.preventDefault();
    element.focus();
  });
}
