/**
 * The nodes of the message list, built off the page and handed to messages_view.js to insert:
 * a stored message (keyed by `seq`), an outbox entry (keyed by `client_id`), a day separator.
 * A message body goes in only through markdown.js's `renderBody` (the one sanitized fragment);
 * every other piece of user text through `el`, as text.
 *
 * A stored message is drawn from the server's copy with the user's own changes still in the
 * outbox laid over it (an edit shows its new text, "Saving…"; a reaction its chip), and with
 * what the reader is doing to it (the edit box). `ctx` says what the view knows beyond the
 * message: see `NO_CONTEXT`.
 */

import { clockTime, dayKey, dayLabel, el, fileSize, moment } from './format.js';
import { icon } from './icons.js';
import { plainText, renderBody } from './markdown.js';
import { isLong } from './rules.js';

const GROUP_GAP_MS = 5 * 60 * 1000; // consecutive messages closer than this share one header
const SENDING = 'Sending…';
const WAITING = 'Waiting for the connection…';
const SAVING = 'Saving…';
export const DELETED_TEXT = 'This message was deleted';

/** What a view with nothing more to say knows: no changes, no parents, no actions. */
export const NO_CONTEXT = {
  me: null,
  waiting: false,
  editing: null, // {seq, draft}: the message whose edit box is open, and its text
  changes: () => [], // the outbox's changes to a seq
  parent: () => null, // the message a seq names, when known
  canAct: () => false, // reply and react
  canEdit: () => false,
  canDelete: () => false,
};

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

function button(className, text, data = {}, type = 'button') {
  const node = el('button', className, text);
  node.type = type;
  Object.assign(node.dataset, data);
  return node;
}

/** A stored message; `grouped` hides its header (still read by screen readers). */
export function messageNode(message, ctx, grouped) {
  const changes = ctx.changes(message.seq);
  const edit = changes.find((entry) => entry.kind === 'edit') || null;
  const item = el('li', grouped ? 'message grouped' : 'message');
  if (message.sender === ctx.me) item.classList.add('mine');
  if (message.deleted) item.classList.add('deleted');
  item.dataset.seq = String(message.seq);
  const head = el('div', 'meta');
  head.append(el('bdi', 'sender', message.sender)); // an isolate: a name's direction stays in it
  const time = el('time', 'time', clockTime(message.ts));
  time.dateTime = message.ts;
  time.title = moment(message.ts);
  head.append(time);
  if (message.edited_at && !message.deleted) {
    const edited = el('span', 'edited', '(edited)');
    edited.title = moment(message.edited_at);
    head.append(edited);
  }
  if (edit && !message.deleted) {
    head.append(el('span', 'state', edit.failed ? 'Not saved' : ctx.waiting ? WAITING : SAVING));
    item.classList.add(edit.failed ? 'failed' : 'changing');
  }
  if (grouped) head.classList.add('visually-hidden');
  item.append(head);
  if (message.reply_to) item.append(quoteNode(message.reply_to, ctx));
  const open = ctx.editing && ctx.editing.seq === message.seq;
  if (message.deleted) {
    item.append(el('div', 'text', DELETED_TEXT));
  } else if (open || (edit && edit.failed)) {
    item.append(editForm(message.seq, open ? ctx.editing.draft : edit.text, edit && edit.failed));
  } else {
    item.append(...bodyNodes(edit ? edit.text : message.text, ctx.me));
  }
  if (message.file && !message.deleted) item.append(fileNode(message.file));
  if (!message.deleted) {
    const reactions = reactionsNode(message, changes, ctx);
    if (reactions) item.append(reactions);
    for (const entry of changes) if (entry.kind === 'react' && entry.failed) item.append(...failedReaction(entry));
    const tools = toolsNode(message, ctx);
    if (tools) item.append(tools);
  }
  return item;
}

/**
 * A message's text: in its own direction (`dir="auto"`: Arabic and Hebrew read right to left)
 * and, when very long, collapsed with a "Show more" button after it (message_controls.js).
 */
function bodyNodes(text, me) {
  const body = el('div', 'text');
  body.dir = 'auto';
  body.append(renderBody(text, me));
  if (!isLong(text)) return [body];
  body.classList.add('collapsed');
  const toggle = button('small show-more', 'Show more', { act: 'show-more' });
  toggle.setAttribute('aria-expanded', 'false');
  return [body, toggle];
}

/** The one-line quote of the message a reply answers; clicking it goes there. */
function quoteNode(seq, ctx) {
  const parent = ctx.parent(seq);
  let text = 'an earlier message';
  if (parent && parent.deleted) text = DELETED_TEXT;
  else if (parent) text = `${parent.sender}: ${plainText(parent.text)}`;
  const quote = button('quote', '', { replyTo: String(seq) });
  quote.title = 'Go to the message this answers';
  const mark = el('span', 'quote-mark');
  mark.append(icon('reply'));
  quote.append(mark, el('span', 'quote-text', text));
  return quote;
}

/** The edit box: the text being edited, Save and Cancel, and why the last try failed. */
function editForm(seq, draft, failed) {
  const form = el('form', 'edit');
  form.dataset.seq = String(seq);
  const box = el('textarea', 'edit-text');
  box.value = draft;
  box.setAttribute('aria-label', 'Edit message');
  box.rows = Math.min(6, Math.max(2, draft.split('\n').length));
  form.append(box);
  if (failed) {
    const why = el('p', 'why', failed.message || failed.code);
    why.setAttribute('role', 'alert');
    form.append(why);
  }
  const actions = el('div', 'actions');
  actions.append(button('small primary', 'Save', {}, 'submit'), button('small', 'Cancel', { act: 'cancel-edit', seq: String(seq) }));
  form.append(actions);
  return form;
}

/** The reactions as the server has them, with the user's own pending ones laid over. */
function currentReactions(message, changes, me) {
  const list = (message.reactions || []).map(({ emoji, users }) => ({ emoji, users: [...users], pending: false }));
  for (const entry of changes) {
    if (entry.kind !== 'react' || entry.failed) continue;
    let chip = list.find((r) => r.emoji === entry.emoji);
    if (entry.added && !(chip && chip.users.includes(me))) {
      if (!chip) {
        chip = { emoji: entry.emoji, users: [], pending: true };
        list.push(chip);
      }
      chip.users.push(me);
      chip.pending = true;
    } else if (!entry.added && chip && chip.users.includes(me)) {
      chip.users = chip.users.filter((name) => name !== me);
      chip.pending = true;
    }
  }
  return list.filter((r) => r.users.length);
}

/** Chips under the message: emoji and count, who reacted in the tooltip; one's own pressed. */
function reactionsNode(message, changes, ctx) {
  const list = currentReactions(message, changes, ctx.me);
  if (!list.length) return null;
  const row = el('div', 'reactions');
  for (const { emoji, users, pending } of list) {
    const chip = button(pending ? 'reaction pending' : 'reaction', '', { emoji, seq: String(message.seq) });
    chip.append(el('span', 'emoji', emoji), el('span', 'count', String(users.length)));
    chip.title = users.join(', ');
    const mine = users.includes(ctx.me);
    chip.setAttribute('aria-pressed', String(mine));
    chip.setAttribute('aria-label', `${emoji} ${users.length}: ${users.join(', ')}`);
    chip.disabled = !ctx.canAct(message);
    row.append(chip);
  }
  return row;
}

/** A reaction the server refused for good: why, and Retry or Discard. */
function failedReaction(entry) {
  const what = entry.added ? `Your reaction ${entry.emoji}` : `Removing your reaction ${entry.emoji}`;
  const why = el('p', 'why', `${what} did not work: ${entry.failed.message || entry.failed.code}`);
  const actions = el('div', 'actions');
  actions.append(
    button('small', 'Retry', { changeId: entry.client_id, act: 'retry-change' }),
    button('small', 'Discard', { changeId: entry.client_id, act: 'discard-change' }),
  );
  return [why, actions];
}

/**
 * The action menu: one "Message actions" button (shown on hover and focus) that opens a row of
 * buttons, only those the reader may use. messages_view.js opens it and moves focus in it.
 */
function toolsNode(message, ctx) {
  const seq = String(message.seq);
  const items = [];
  if (ctx.canAct(message)) items.push(['reply', 'Reply'], ['react', 'Add reaction']);
  if (ctx.canEdit(message)) items.push(['edit', 'Edit']);
  if (ctx.canDelete(message)) items.push(['delete', 'Delete']);
  if (!items.length) return null;
  const tools = el('div', 'tools');
  const more = button('more icon', '', { seq });
  more.append(icon('more'));
  more.setAttribute('aria-label', 'Message actions');
  more.title = 'Message actions';
  more.setAttribute('aria-haspopup', 'true');
  more.setAttribute('aria-expanded', 'false');
  const menu = el('div', 'menu');
  menu.setAttribute('role', 'group');
  menu.setAttribute('aria-label', 'Message actions');
  menu.hidden = true;
  for (const [act, label] of items) menu.append(button('small', label, { act, seq }));
  tools.append(more, menu);
  return tools;
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
export function pendingNode(entry, ctx) {
  const me = ctx.me;
  const item = el('li', entry.failed ? 'message mine failed' : 'message mine pending');
  item.dataset.clientId = entry.client_id;
  const head = el('div', 'meta');
  head.append(el('span', 'sender', me));
  head.append(el('span', 'state', entry.failed ? 'Not sent' : ctx.waiting ? WAITING : SENDING));
  item.append(head);
  if (entry.reply_to) item.append(quoteNode(entry.reply_to, ctx));
  item.append(...bodyNodes(entry.text, me));
  if (entry.file) item.append(uploadNode(entry));
  if (entry.failed) {
    const why = el('p', 'why', entry.failed.message || entry.failed.code);
    const actions = el('div', 'actions');
    for (const [action, label] of [['retry', 'Retry'], ['discard', 'Discard']]) {
      const retry = button('small', label, { clientId: entry.client_id, action });
      actions.append(retry);
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

/** The connection went or came back: a pending node's (or pending edit's) state word follows. */
export function setWaiting(node, waiting, word = SENDING) {
  if (!node.classList.contains('failed')) node.querySelector('.state').textContent = waiting ? WAITING : word;
}

export { SAVING };
