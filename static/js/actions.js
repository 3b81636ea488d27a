/**
 * The user's actions on rooms and messages. Each one calls the API and hands the answer to the
 * controller at once (the matching room event arrives later and changes nothing); errors reach
 * the dialog that asked, which shows the server's message inline. Nothing here changes state
 * itself: the controller does.
 */

import { api } from './api.js';
import { trimBlankLines } from './rules.js';

/** Enter in the composer: the message (an answer, while replying) goes to the outbox, pending at once. */
export function send(controller, typed) {
  const store = controller.store;
  if (!store || !store.current || !controller.connection) return;
  const text = trimBlankLines(typed);
  if (!text.trim()) return;
  controller.jumpToEnd();
  const reply = controller.replyTo && controller.replyTo.room === store.current ? controller.replyTo.seq : null;
  controller.connection.delivery.send(store.current, text, reply);
  if (reply) controller.cancelReply();
  controller.messagesView.scrollToBottom();
}

export function typing(controller) {
  if (controller.connection && controller.store && controller.store.current) {
    controller.connection.typing(controller.store.current);
  }
}

/** Turn a 401 into the sign-in form, and any error into a rejection the dialog can show. */
async function call(controller, fn) {
  try {
    return await fn();
  } catch (error) {
    if (error.status === 401) controller.sessionEnded();
    throw error;
  }
}

export async function createRoom(controller, name, visibility, members) {
  const answer = await call(controller, () => api.createRoom(name, visibility, members));
  controller.putRoom(answer.room);
  await controller.openRoom(answer.room.id);
}

export async function joinRoom(controller, roomId) {
  const answer = await call(controller, () => api.addMember(roomId, controller.store.me));
  controller.putRoom(answer.room);
  // Joining shows the room's history, so none of it counts as unread.
  controller.store.markRead(roomId);
  controller.saveRead();
  await controller.openRoom(roomId);
}

export async function invite(controller, username) {
  const answer = await call(controller, () => api.addMember(controller.store.current, username));
  controller.putRoom(answer.room);
}

export async function leave(controller) {
  const store = controller.store;
  const room = store.rooms.get(store.current);
  if (!room || room.kind !== 'group') return;
  if (!window.confirm(`Leave ${room.name}?`)) return;
  try {
    await call(controller, () => api.leave(room.id, store.me));
  } catch (error) {
    controller.view.showProblem(`Could not leave ${room.name}: ${error.message}`);
    return;
  }
  controller.putRoom({ ...room, members: room.members.filter((name) => name !== store.me) });
  const next = store.myRooms('group')[0] || store.myRooms('dm')[0];
  if (next) await controller.openRoom(next.id);
  else controller.showRoom(null);
}

export async function openDm(controller, username) {
  try {
    const answer = await call(controller, () => api.openDm(username));
    controller.putRoom(answer.room);
    await controller.openRoom(answer.room.id);
  } catch (error) {
    controller.view.showProblem(`Could not open a conversation with ${username}: ${error.message}`);
  }
}

/** Ask for notification permission: only ever from a click, as browsers require. */
export async function enableNotifications(controller) {
  if (!('Notification' in window)) return;
  await Notification.requestPermission();
  controller.view.setNotificationButton(Notification.permission);
}

/** The create-room dialog lists everyone else; the invite dialog those not in the room. */
export function openCreate(controller) {
  const store = controller.store;
  const others = [...store.users.keys()].filter((name) => name !== store.me).sort();
  controller.dialogs.openCreate(others);
}

export function openInvite(controller) {
  const room = controller.store.rooms.get(controller.store.current);
  if (!room) return;
  const candidates = [...controller.store.users.keys()].filter((name) => !room.members.includes(name)).sort();
  controller.dialogs.openInvite(room.name, candidates);
}

export function openBrowse(controller) {
  controller.dialogs.openBrowse(controller.store.joinable());
}
