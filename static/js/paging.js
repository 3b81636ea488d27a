/**
 * Paging through the open room's history, for the controller: older pages when the reader
 * scrolls up (from memory first, then from the server), newer ones from memory when the reader
 * scrolls back down a window that was trimmed, and the gap a jump in `seq` leaves. What was
 * fetched goes into the store; the message list grows at one end and trims the other.
 */

import { api, withRetry } from './api.js';
import { DOM_MESSAGES_OPEN, pageMax, pageSize } from './rules.js';

const CONTEXT_ABOVE = 20; // messages shown above one that is brought into view

/** What the line above the messages says, for a window starting at seq `first`. */
export function olderState(controller, first) {
  const history = controller.store.history(controller.store.current);
  if (controller.loadingOlder) return 'Loading older messages…';
  if (first !== history.first || history.hasOlder) return '';
  return 'This is the start of the conversation.';
}

/** Scrolled near the top: the loaded messages above the window, or the page before them. */
export async function loadOlder(controller) {
  const store = controller.store;
  if (!store || !store.current || controller.loadingOlder) return;
  const roomId = store.current;
  const history = store.history(roomId);
  const view = controller.messagesView;
  if (!history.loaded || view.roomId !== roomId || view.first === null) return;
  if (view.first > history.first) {
    view.prepend(history.around(view.first, pageSize()));
    view.setOlderState(olderState(controller, view.first));
    return;
  }
  if (!history.hasOlder) return;
  controller.loadingOlder = true;
  view.setOlderState(olderState(controller, view.first));
  try {
    const before = history.first;
    const answer = await withRetry(() => api.messages(roomId, { before, limit: pageSize() }), controller.retryHooks());
    if (store !== controller.store) return;
    history.hasOlder = answer.messages.length > 0 && answer.messages[0].seq > 1;
    store.addMessages(roomId, answer.messages);
  } finally {
    controller.loadingOlder = false;
  }
  if (store.current !== roomId || view.roomId !== roomId) return;
  view.prepend(history.around(view.first, pageSize()));
  view.setOlderState(olderState(controller, view.first));
  view.fillIfShort();
}

/**
 * Bring message `seq` of the open room into view (a reply's quote was clicked): from the window,
 * else from memory, else after loading older pages until it is there. The window then shows the
 * part of history around it, and it is focused and marked.
 */
export async function showMessage(controller, seq) {
  const store = controller.store;
  const view = controller.messagesView;
  if (!store || !store.current || view.controls.highlight(seq)) return;
  const roomId = store.current;
  const history = store.history(roomId);
  controller.loadingOlder = true;
  try {
    while (history.indexOf(seq) < 0 && history.hasOlder && (history.first === null || history.first > seq)) {
      const before = history.first;
      const answer = await withRetry(() => api.messages(roomId, { before, limit: pageMax() }), controller.retryHooks());
      if (store !== controller.store) return;
      history.hasOlder = answer.messages.length > 0 && answer.messages[0].seq > 1;
      store.addMessages(roomId, answer.messages);
      if (!answer.messages.length) break;
    }
  } finally {
    controller.loadingOlder = false;
  }
  if (store.current !== roomId) return;
  const index = history.indexOf(seq);
  if (index < 0) {
    controller.view.showProblem('That message is not in the history.');
    return;
  }
  const start = Math.max(0, index - CONTEXT_ABOVE);
  controller.renderSlice(start, Math.min(history.messages.length, start + DOM_MESSAGES_OPEN));
  view.controls.highlight(seq);
}

/**
 * Scrolled near the end of a window that stops short of the newest: the next loaded page, or,
 * in a run opened around a search result (`newer`), the next page from the server.
 */
export async function showNewer(controller) {
  const store = controller.store;
  const view = controller.messagesView;
  if (!store || view.roomId !== store.current || view.atEnd || view.last === null) return;
  const roomId = store.current;
  const history = store.history(roomId);
  if (view.last === history.last && history.newer) {
    if (controller.loadingNewer) return;
    controller.loadingNewer = true;
    try {
      const after = history.last;
      const answer = await withRetry(() => api.messages(roomId, { after, limit: pageSize() }), controller.retryHooks());
      if (store !== controller.store) return;
      store.addMessages(roomId, answer.messages);
      history.newer = history.last < answer.last_seq;
    } finally {
      controller.loadingNewer = false;
    }
    if (store.current !== roomId || view.roomId !== roomId) return;
  }
  const next = history.around(view.last, pageSize(), true);
  const end = !history.newer && (!next.length || next[next.length - 1].seq === history.last);
  view.extend(next, end);
  if (end) controller.markReadIfSeen();
}

/**
 * Load the page around message `seq` of a room (the messages just before it, it, and just after
 * it) unless it is loaded already; the room's history becomes that run. False when there is no
 * such message (deleted since, or the room was left).
 */
export async function loadAround(controller, roomId, seq) {
  const store = controller.store;
  const history = store.history(roomId);
  if (history.loaded && history.indexOf(seq) >= 0) return true;
  const half = Math.ceil(pageSize() / 2);
  const [older, newer] = await withRetry(
    () =>
      Promise.all([
        api.messages(roomId, { before: seq + 1, limit: half }),
        api.messages(roomId, { after: seq, limit: half }),
      ]),
    controller.retryHooks(),
  );
  if (store !== controller.store) return false;
  history.reset();
  store.addMessages(roomId, [...older.messages, ...newer.messages]);
  history.loaded = true;
  history.hasOlder = history.first !== null && history.first > 1;
  history.newer = history.last < newer.last_seq;
  return history.indexOf(seq) >= 0;
}

/** Fetch every message after the last loaded one of a room, up to its newest. */
export async function fillGap(controller, roomId) {
  if (controller.gapLoading.has(roomId)) return;
  controller.gapLoading.add(roomId);
  const store = controller.store;
  try {
    for (;;) {
      const after = store.history(roomId).last;
      const answer = await withRetry(() => api.messages(roomId, { after, limit: pageMax() }), controller.retryHooks());
      if (store !== controller.store || !answer.messages.length) break;
      controller.takeMessages(roomId, answer.messages);
      if (answer.messages.length < pageMax()) break;
    }
  } catch (error) {
    if (error.status === 401) controller.sessionEnded();
  } finally {
    controller.gapLoading.delete(roomId);
  }
  if (store === controller.store) controller.addMessages(roomId, []);
}
