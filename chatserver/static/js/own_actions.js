// A member's own messages: edit (within the room's edit window) and delete (after a
// confirmation), through the RPC methods chat.edit and chat.delete (docs/protocol.md). The
// room's events (message.edited, message.deleted) update every screen, this one included.

import { ask } from "./dialogs.js";

/** Ask for the new text and send it; returns a sentence for the member (or null: cancelled). */
export async function editOwn(conn, channel, message) {
  const values = await ask({
    title: "Edit your message",
    description: "Everyone in the room will see it marked as edited. Edits pass the room's moderation like new messages.",
    submit: "Save",
    fields: [{ name: "text", label: "Message", type: "textarea", value: message.text, required: true }],
  });
  if (!values || !values.text.trim() || values.text.trim() === message.text) return null;
  try {
    const result = await conn.rpc("chat.edit", { channel, offset: message.offset, text: values.text.trim() });
    if (result.status === "held") return "Your edit is waiting for a moderator; the earlier text stays until then.";
    return result.status === "redacted" ? "Edited. Some personal details were hidden to protect your privacy." : "Edited.";
  } catch (error) {
    return `Not edited: ${error.message}`;
  }
}

/** Confirm, then delete; returns a sentence for the member (or null: cancelled). */
export async function deleteOwn(conn, channel, message) {
  const values = await ask({
    title: "Delete your message?",
    description: "It disappears for everyone in the room and from the history. This cannot be undone.",
    submit: "Delete",
    danger: true,
  });
  if (!values) return null;
  try {
    await conn.rpc("chat.delete", { channel, offset: message.offset });
    return "Your message was deleted.";
  } catch (error) {
    return `Not deleted: ${error.message}`;
  }
}
