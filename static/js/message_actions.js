/**
 * The user's actions on sent messages: edit, delete, react, reply, and going to the message a
 * reply answers. Edits and reactions go into the outbox (delivery.js sends them exactly once,
 * also after an outage or a reload) and show at once as pending; a deletion asks first and goes
 * straight to the server. Nothing here changes state itself: the controller and the outbox do.
 */

import { api } from './api.js';
import { showMessage } from './paging.js';
import { trimBlankLines } from './rules.js';

function openMessage(controller, seq) {
  const store = controller.store;
  if (!store || !store.current || !controller.connection) return null;
  const history = store.history(store.current);
  const index = history.indexOf(seq);
  return index >= 0 ? history.messages[index] : null;
}

/** Save an edit: the new text waits in the outbox and shows as "Saving…". */
export function edit(controller, seq, typed) {
  const message = openMessage(controller, seq);
  const text = trimBlankLines(typed);
  if (!message || message.deleted || !text.trim()) return;
  controller.connection.delivery.change(message.room, seq, { kind: 'edit', text });
}

/** Whether the user's reaction `emoji` is on message `seq`, counting one still on its way. */
function reacted(controller, message, emoji) {
  const wanted = controller.changesTo(message.room, message.seq).find((e) => e.kind === 'react' && e.emoji === emoji);
  if (wanted && !wanted.failed) return wanted.added;
  const chip = (message.reactions || []).find((r) => r.emoji === emoji);
  return Boolean(chip && chip.users.includes(controller.store.me));
}

/** A chip was clicked: the user's own reaction with that emoji goes on or off. */
export function toggleReaction(controller, seq, emoji) {
  const message = openMessage(controller, seq);
  if (!message || message.deleted) return;
  const added = !reacted(controller, message, emoji);
  controller.connection.delivery.change(message.room, seq, { kind: 'react', emoji, added });
}

/** An emoji picked in "Add reaction": on (if it is not already). */
export function react(controller, seq, emoji) {
  const message = openMessage(controller, seq);
  if (!message || message.deleted || reacted(controller, message, emoji)) return;
  controller.connection.delivery.change(message.room, seq, { kind: 'react', emoji, added: true });
}

/** "Add reaction": the picker; focus goes back to the message's menu button when it closes. */
export function openPicker(controller, seq) {
  controller.dialogs.openEmoji(
    (emoji) => react(controller, seq, emoji),
    () => controller.messagesView.controls.focusActions(seq),
  );
}

/** "Delete": asked first; then everyone sees "This message was deleted" (this page at once). */
export async function remove(controller, seq) {
  const message = openMessage(controller, seq);
  if (!message || message.deleted) return;
  if (!window.confirm('Delete this message for everyone?')) return;
  const sentAt = Date.now();
  try {
    await api.deleteMessage(message.room, seq);
  } catch (error) {
    if (error.status === 401) controller.sessionEnded();
    else controller.view.showProblem(`Could not delete the message: ${error.message}`);
    return;
  }
  const { id, room, pos, sender, ts, client_id, reply_to } = message;
  const tombstone = { id, room, seq, pos, sender, ts, client_id, text: '', deleted: true };
  if (reply_to) tombstone.reply_to = reply_to;
  controller.changeConfirmed(tombstone, sentAt);
}

/** Up-arrow in an empty composer: the edit box of the user's last message in the open room. */
export function editLast(controller) {
  const store = controller.store;
  if (!store || !store.current || !controller.isMemberHere()) return false;
  const messages = store.history(store.current).messages;
  let mine = null;
  for (let i = messages.length - 1; i >= 0 && !mine; i -= 1) {
    if (messages[i].sender === store.me && !messages[i].deleted) mine = messages[i];
  }
  if (!mine) return false;
  if (!controller.messagesView.shown.has(mine.seq)) controller.jumpToEnd();
  return controller.messagesView.controls.startEdit(mine.seq);
}

/** A reply's quote was clicked: to the message it answers, loading older history if needed. */
export function goToMessage(controller, seq) {
  showMessage(controller, seq);
}
