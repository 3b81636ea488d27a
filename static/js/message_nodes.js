/**
 * The nodes of the message list, built off the page and handed to messages_view.js to insert:
 * a stored message (keyed by `seq`), an outbox entry (keyed by `client_id`), a day separator.
 * User text goes in only through `el` and `renderText`, as text.
 */

import { clockTime, dayKey, dayLabel, el, fileSize, renderText } from './format.js';

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
  if (message.file) item.append(fileNode(message.file));
  return item;
}

/**
 * A message's file: an image as its thumbnail (a button that opens it full size), anything else
 * as a card with its name, size and a download link. Names go in as text only.
 */
export function fileNode(file) {
  if (file.image) {
    const open = el('button', 'thumb');
    open.type = 'button';
    open.dataset.viewUrl = file.url;
    open.dataset.viewName = file.name;
    open.setAttribute('aria-label', `Open the image ${file.name}`);
    const img = el('img');
    img.src = file.image.thumb_url;
    img.alt = file.name;
    const scale = Math.min(1, 400 / Math.max(file.image.width, file.image.height));
    img.width = Math.max(1, Math.round(file.image.width * scale));
    img.height = Math.max(1, Math.round(file.image.height * scale));
    img.loading = 'lazy';
    open.append(img);
    return open;
  }
  const card = el('div', 'file-card');
  const dot = file.name.lastIndexOf('.');
  const kind = dot > 0 && file.name.length - dot <= 6 ? file.name.slice(dot + 1).toUpperCase() : 'FILE';
  card.append(el('span', 'file-icon', kind));
  const info = el('div', 'file-info');
  info.append(el('span', 'file-name', file.name), el('span', 'file-size', fileSize(file.size)));
  const link = el('a', 'file-download', 'Download');
  link.href = file.url;
  link.download = file.name;
  link.setAttribute('aria-label', `Download ${file.name}`);
  card.append(info, link);
  return card;
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
  if (entry.file) item.append(uploadNode(entry));
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

/** A file on its way: name, size, a progress bar and Cancel. */
function uploadNode(entry) {
  const card = el('div', 'file-card upload');
  const info = el('div', 'file-info');
  info.append(el('span', 'file-name', entry.file.name), el('span', 'file-size', fileSize(entry.file.size)));
  card.append(info);
  if (!entry.failed) {
    const bar = el('progress', 'progress');
    bar.max = 1;
    bar.value = entry.progress || 0;
    bar.setAttribute('aria-label', `Uploading ${entry.file.name}`);
    const cancel = el('button', 'small', 'Cancel');
    cancel.type = 'button';
    cancel.dataset.clientId = entry.client_id;
    cancel.dataset.action = 'cancel';
    card.append(bar, cancel);
  }
  return card;
}

/** An upload moved on: its bar follows, nothing else is redrawn. */
export function setProgress(node, fraction) {
  const bar = node.querySelector('progress');
  if (bar) bar.value = fraction;
}

/** The connection went or came back: a pending node's state word follows. */
export function setWaiting(node, waiting) {
  if (!node.classList.contains('failed')) node.querySelector('.state').textContent = waiting ? WAITING : SENDING;
}
