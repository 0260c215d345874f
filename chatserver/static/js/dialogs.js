// One accessible modal form (native <dialog>: focus stays inside, Escape cancels). When it
// closes, however it closes, focus returns to the element that opened it, or to `returnTo`
// or the view's main content when that element is gone: never to <body>.
//
//   const values = await ask({title, description, submit: "Report", fields: [
//     {name: "reason", label: "Reason", type: "select", options: [["spam", "Spam"], ...]},
//     {name: "details", label: "Details (optional)", type: "textarea"},
//   ]});
//   // values is null when cancelled, else {reason, details}

import { h, newId, focusFirst } from "./dom.js";
import { t } from "./i18n.js";
import { mainContent } from "./skiplink.js";

export function ask({ title, description, submit = t("dialog.ok"), fields = [], danger = false, returnTo = null }) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const titleId = newId("dlg-");
    const inputs = {};
    const rows = fields.map((field) => {
      const id = newId("f-");
      let control;
      if (field.type === "select") {
        control = h(
          "select",
          { id, name: field.name },
          field.options.map(([value, label]) => h("option", { value, selected: value === field.value }, label)),
        );
        if (field.onchange) control.addEventListener("change", () => field.onchange(control.value, inputs));
      } else if (field.type === "textarea") {
        control = h("textarea", { id, name: field.name, rows: 3, required: field.required, maxlength: field.maxlength || 4000 });
        control.value = field.value || "";
      } else {
        control = h("input", { id, name: field.name, type: field.type || "text", required: field.required, value: field.value ?? "" });
      }
      inputs[field.name] = control;
      return h("div", { class: "field" }, h("label", { for: id }, field.label), control, field.hint ? h("p", { class: "hint" }, field.hint) : null);
    });
    const cancel = h("button", { type: "button", class: "secondary" }, t("dialog.cancel"));
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: titleId }, title),
      description ? h("p", {}, description) : null,
      rows,
      h("div", { class: "dialog-buttons" }, cancel, h("button", { type: "submit", class: danger ? "danger" : "" }, submit)),
    );
    const dialog = h("dialog", { "aria-labelledby": titleId }, form);
    let answered = false;
    const finish = (value) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      focusFirst(opener, returnTo, mainContent);
      resolve(value);
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const values = {};
      for (const [name, control] of Object.entries(inputs)) values[name] = control.value;
      finish(values);
    });
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("cancel", () => finish(null));
    dialog.addEventListener("close", () => finish(null));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Durations offered for mutes, in seconds (1 minute to 28 days), with their names. */
export function muteDurations() {
  return [
    ["60", t("duration.minute")],
    ["600", t("duration.minutes", { n: 10 })],
    ["3600", t("duration.hour")],
    ["86400", t("duration.day")],
    ["604800", t("duration.days", { n: 7 })],
    ["2419200", t("duration.days", { n: 28 })],
  ];
}
