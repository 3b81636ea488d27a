/**
 * The nodes of the message list, built off the page and handed to messages_view.js to insert:
 * a stored message (keyed by `seq`), an outbox entry (keyed by `client_id`), a day separator.
 * User text goes in only through `el` and `renderText`, as text.
 */

import { clockTime, dayKey, dayLabel, el, renderText } from './format.js';

const GROUP_GAP_MS = 5 * 60 * 1000; // consecutive messages closer than this share one header
const SENDING = 'Sending…';
const WAITING = 'Waiting for the connection…';

/** True when `message` follows `prev` closely enough to share its header. */
export function groupedWith(prev, message) {
  return Boolean(
    prev &&
      prev.sender === message.sender &&
      dayKey(prev.ts) === dayKey(message.ts) &&
      Date.parse(message.ts) - Date.parse(prev.ts) < GROUP_GAP_MS,
  );
}

/** A plain list item, so screen readers read "Today" in its place. */
export function dayNode(ts) {
  return el('li', 'day', dayLabel(ts));
}

/** A stored message; `grouped` hides its header (still read by screen readers). */
export function messageNode(message, me, grouped) {
  const item = el('li', grouped ? 'message grouped' : 'message');
  if (message.sender === me) item.classList.add('mine');
  item.dataset.seq = String(message.seq);
  const head = el('div', 'meta');
  head.append(el('span', 'sender', message.sender));
  const time = el('time', 'time', clockTime(message.ts));
  time.dateTime = message.ts;
  time.title = new Date(message.ts).toLocaleString();
  head.append(time);
  if (grouped) head.classList.add('visually-hidden');
  const body = el('div', 'text');
  body.append(renderText(message.text, me));
  item.append(head, body);
  return item;
}

/** Show or hide a message node's header as it joins or leaves the group above it. */
export function setGrouped(node, grouped) {
  node.classList.toggle('grouped', grouped);
  node.querySelector('.meta').classList.toggle('visually-hidden', grouped);
}

/** An outbox entry: "Sending…", or "Waiting for the connection…" while there is none. */
export function pendingNode(entry, me, waiting) {
  const item = el('li', entry.failed ? 'message mine failed' : 'message mine pending');
  item.dataset.clientId = entry.client_id;
  const head = el('div', 'meta');
  head.append(el('span', 'sender', me));
  head.append(el('span', 'state', entry.failed ? 'Not sent' : waiting ? WAITING : SENDING));
  const body = el('div', 'text');
  body.append(renderText(entry.text, me));
  item.append(head, body);
  if (entry.failed) {
    const why = el('p', 'why', entry.failed.message || entry.failed.code);
    const actions = el('div', 'actions');
    for (const [action, label] of [['retry', 'Retry'], ['discard', 'Discard']]) {
      const button = el('button', 'small', label);
      button.type = 'button';
      button.dataset.clientId = entry.client_id;
      button.dataset.action = action;
      actions.append(button);
    }
    item.append(why, actions);
  }
  return item;
}

/** The connection went or came back: a pending node's state word follows. */
export function setWaiting(node, waiting) {
  if (!node.classList.contains('failed')) node.querySelector('.state').textContent = waiting ? WAITING : SENDING;
}
