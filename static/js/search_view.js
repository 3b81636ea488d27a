/**
 * The search box in the header and its results panel: results grouped by room, each with its
 * sender, time and text, the words searched for marked. Every piece of text goes in as a Text
 * node or `textContent` (the marks are <mark> elements holding text), never as HTML. `Ctrl+K` or
 * `/` (outside a text field) focuses the box; Escape closes the panel.
 */

import { clockTime, dayLabel, el } from './format.js';

export class SearchView {
  /** `handlers`: onSearch(q), onMore(), onOpen(roomId, seq), onClose(). */
  constructor(doc, handlers) {
    this.doc = doc;
    this.on = handlers;
    this.form = doc.getElementById('search-form');
    this.input = doc.getElementById('search-input');
    this.panel = doc.getElementById('search-panel');
    this.status = doc.getElementById('search-status');
    this.list = doc.getElementById('search-results');
    this.more = doc.getElementById('search-more');
    this.timer = null;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      clearTimeout(this.timer);
      this.on.onSearch(this.input.value);
    });
    // Searching as one types, once the typing pauses.
    this.input.addEventListener('input', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.on.onSearch(this.input.value), 300);
    });
    this.more.addEventListener('click', () => this.on.onMore());
    doc.getElementById('search-close').addEventListener('click', () => this.close());
    this.list.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-room]');
      if (button) this.on.onOpen(button.dataset.room, Number(button.dataset.seq));
    });
    doc.addEventListener('keydown', (event) => {
      const typing = event.target.closest && event.target.closest('input, textarea, select, [contenteditable]');
      if ((event.key === 'k' && (event.ctrlKey || event.metaKey)) || (event.key === '/' && !typing)) {
        event.preventDefault();
        this.input.focus();
        this.input.select();
      } else if (event.key === 'Escape' && !this.panel.hidden && this.panel.contains(event.target)) {
        this.close();
      } else if (event.key === 'Escape' && event.target === this.input) {
        this.close();
      }
    });
  }

  close() {
    clearTimeout(this.timer);
    this.panel.hidden = true;
    this.on.onClose();
  }

  /** Back to nothing searched (signed out). */
  reset() {
    clearTimeout(this.timer);
    this.input.value = '';
    this.panel.hidden = true;
    this.list.replaceChildren();
  }

  /** "Searching…", an error, or nothing: the panel's status line. */
  setStatus(text) {
    this.panel.hidden = false;
    this.status.textContent = text;
  }

  /**
   * Show `results` (newest first), grouped by room in the order of each room's newest result;
   * `title(roomId)` names a room; `terms` are the folded words to mark.
   */
  render({ q, results, more, partial, terms, title }) {
    this.panel.hidden = false;
    const count = results.length;
    let text = count
      ? `${count}${more ? '+' : ''} ${count === 1 ? 'message' : 'messages'} found for “${q}”.`
      : `No messages match “${q}”.`;
    if (partial) text += ' The search index is still being built: some messages may be missing.';
    this.status.textContent = text;
    const groups = new Map();
    for (const message of results) {
      if (!groups.has(message.room)) groups.set(message.room, []);
      groups.get(message.room).push(message);
    }
    const fragment = document.createDocumentFragment();
    for (const [roomId, messages] of groups) {
      const group = el('li', 'search-group');
      const heading = el('h3', 'search-room', title(roomId));
      const items = el('ul', 'search-items');
      for (const message of messages) items.append(resultNode(message, terms));
      group.append(heading, items);
      fragment.append(group);
    }
    this.list.replaceChildren(fragment);
    this.more.hidden = !more;
  }
}

function resultNode(message, terms) {
  const item = el('li');
  const button = el('button', 'search-result');
  button.type = 'button';
  button.dataset.room = message.room;
  button.dataset.seq = String(message.seq);
  const head = el('span', 'meta');
  head.append(el('span', 'sender', message.sender));
  const time = el('time', 'time', `${dayLabel(message.ts)} ${clockTime(message.ts)}`);
  time.dateTime = message.ts;
  head.append(time);
  const body = el('span', 'text');
  body.dir = 'auto';
  body.append(marked(message.text, terms));
  button.append(head, body);
  item.append(button);
  return item;
}

/** Lower case without accents, one character at a time, with where each came from in `text`. */
export function fold(text) {
  let folded = '';
  const from = [];
  for (let i = 0; i < text.length; ) {
    const ch = String.fromCodePoint(text.codePointAt(i));
    const plain = ch.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
    for (let k = 0; k < plain.length; k += 1) from.push(i);
    folded += plain;
    i += ch.length;
  }
  from.push(text.length);
  return { folded, from };
}

/** The words of a query, folded: what the server matched, to be marked in the results. */
export function queryTerms(q) {
  return [...new Set((fold(q).folded.match(/[\p{L}\p{N}]+/gu) || []))].sort((a, b) => b.length - a.length);
}

/** `text` as nodes, each whole word that starts with one of `terms` (folded) in a <mark>. */
export function marked(text, terms) {
  const fragment = document.createDocumentFragment();
  const { folded, from } = fold(text);
  const ranges = [];
  for (const term of terms) {
    const pattern = new RegExp(`(?<![\\p{L}\\p{N}])${term}[\\p{L}\\p{N}]*`, 'gu');
    for (const match of folded.matchAll(pattern)) ranges.push([match.index, match.index + match[0].length]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  let last = 0;
  for (const [start, end] of ranges) {
    const a = from[start];
    const b = from[end];
    if (a < last) continue; // overlaps one already marked
    if (a > last) fragment.append(text.slice(last, a));
    fragment.append(el('mark', null, text.slice(a, b)));
    last = b;
  }
  if (last < text.length) fragment.append(text.slice(last));
  return fragment;
}
