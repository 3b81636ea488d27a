/**
 * The user's actions on rooms and messages. Each one calls the API, applies the answer to the
 * store at once (the matching room event arrives later and changes nothing) and lets errors
 * reach the dialog that asked, which shows the server's message inline.
 */

import { api, withRetry } from './api.js';
import { PAGE } from './chat.js';

/** Enter in the composer: the message goes to the outbox, shown as pending at once. */
export function send(chat, text) {
  const store = chat.store;
  if (!store || !store.current || !chat.connection) return;
  if (!text.trim()) return;
  chat.connection.delivery.send(store.current, text);
  chat.messagesView.scrollToBottom();
  chat.renderMessages('update');
}

export function typing(chat) {
  if (chat.connection && chat.store && chat.store.current) chat.connection.typing(chat.store.current);
}

/** Turn a 401 into the sign-in form, and any error into a rejection the dialog can show. */
async function call(chat, fn) {
  try {
    return await fn();
  } catch (error) {
    if (error.status === 401) chat.sessionEnded();
    throw error;
  }
}

export async function createRoom(chat, name, visibility, members) {
  const answer = await call(chat, () => api.createRoom(name, visibility, members));
  chat.store.putRoom(answer.room);
  await chat.openRoom(answer.room.id);
}

export async function joinRoom(chat, roomId) {
  const answer = await call(chat, () => api.addMember(roomId, chat.store.me));
  chat.store.putRoom(answer.room);
  // Joining shows the room's history, so none of it counts as unread.
  chat.store.markRead(roomId);
  await chat.openRoom(roomId);
}

export async function invite(chat, username) {
  const roomId = chat.store.current;
  const answer = await call(chat, () => api.addMember(roomId, username));
  chat.store.putRoom(answer.room);
  if (chat.store.current === roomId) chat.view.renderHeader(chat.store, chat.store.rooms.get(roomId));
}

export async function leave(chat) {
  const store = chat.store;
  const room = store.rooms.get(store.current);
  if (!room || room.kind !== 'group') return;
  if (!window.confirm(`Leave ${room.name}?`)) return;
  try {
    await call(chat, () => api.leave(room.id, store.me));
  } catch (error) {
    chat.view.announce(`Could not leave ${room.name}: ${error.message}`);
    return;
  }
  store.putRoom({ ...room, members: room.members.filter((name) => name !== store.me) });
  const next = store.myRooms('group')[0] || store.myRooms('dm')[0];
  if (next) await chat.openRoom(next.id);
  else chat.showRoom(null);
}

export async function openDm(chat, username) {
  try {
    const answer = await call(chat, () => api.openDm(username));
    chat.store.putRoom(answer.room);
    await chat.openRoom(answer.room.id);
  } catch (error) {
    chat.view.announce(`Could not open a conversation with ${username}: ${error.message}`);
  }
}

/** Ask for notification permission: only ever from a click, as browsers require. */
export async function enableNotifications(chat) {
  if (!('Notification' in window)) return;
  await Notification.requestPermission();
  chat.view.setNotificationButton(Notification.permission);
}

/** The create-room dialog lists everyone else; the invite dialog those not in the room. */
export function openCreate(chat) {
  const others = [...chat.store.users.keys()].filter((name) => name !== chat.store.me).sort();
  chat.dialogs.openCreate(others);
}

export function openInvite(chat) {
  const room = chat.store.rooms.get(chat.store.current);
  if (!room) return;
  const candidates = [...chat.store.users.keys()].filter((name) => !room.members.includes(name)).sort();
  chat.dialogs.openInvite(room.name, candidates);
}

export function openBrowse(chat) {
  chat.dialogs.openBrowse(chat.store.joinable());
}

/** Scrolled near the top: fetch the page before the first loaded message. */
export async function loadOlder(chat) {
  const store = chat.store;
  if (!store || !store.current || chat.loadingOlder) return;
  const roomId = store.current;
  const history = store.history(roomId);
  if (!history.loaded || !history.hasOlder || history.first === null) return;
  chat.loadingOlder = true;
  chat.renderMessages('older');
  try {
    const answer = await withRetry(() => api.messages(roomId, { before: history.first, limit: PAGE }), chat.retryHooks());
    if (store !== chat.store) return;
    history.hasOlder = answer.messages.length > 0 && answer.messages[0].seq > 1;
    store.addMessages(roomId, answer.messages);
  } finally {
    chat.loadingOlder = false;
  }
  if (store.current === roomId) chat.renderMessages('older');
}
