// A member's own messages: edit (within the room's edit window) and delete (after a
// confirmation), through the RPC methods chat.edit and chat.delete (docs/protocol.md). The
// room's events (message.edited, message.deleted) update every screen, this one included.

import { ask } from "./dialogs.js";
import { t } from "./i18n.js";

/** Ask for the new text and send it; returns a sentence for the member (or null: cancelled). */
export async function editOwn(conn, channel, message) {
  const values = await ask({
    title: t("own_edit.title"),
    description: t("own_edit.description"),
    submit: t("own_edit.save"),
    fields: [{ name: "text", label: t("own_edit.label"), type: "textarea", value: message.text, required: true }],
  });
  if (!values || !values.text.trim() || values.text.trim() === message.text) return null;
  try {
    const result = await conn.rpc("chat.edit", { channel, offset: message.offset, text: values.text.trim() });
    if (result.status === "held") return t("own_edit.held");
    return result.status === "redacted" ? t("own_edit.redacted") : t("own_edit.done");
  } catch (error) {
    return t("own_edit.failed", { error: error.message });
  }
}

/** Confirm, then delete; returns a sentence for the member (or null: cancelled). */
export async function deleteOwn(conn, channel, message) {
  const values = await ask({
    title: t("own_delete.title"),
    description: t("own_delete.description"),
    submit: t("own_delete.confirm"),
    danger: true,
  });
  if (!values) return null;
  try {
    await conn.rpc("chat.delete", { channel, offset: message.offset });
    return t("own_delete.done");
  } catch (error) {
    return t("own_delete.failed", { error: error.message });
  }
}
