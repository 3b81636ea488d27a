/**
 * Turning message text into page nodes, safely: every piece of user text becomes a Text node or
 * an element's `textContent`, so markup in a message shows as the characters typed. Only
 * http(s) addresses become links, so a `javascript:` address stays text.
 */

import { beforeMention, limits, usernameClass } from './rules.js';

let token = null;

/**
 * An address, or an @mention: the server's username characters (any script), as many as a
 * username may have, after the start or a character that cannot be part of a name.
 */
function tokenPattern() {
  if (!token) {
    const { min, max } = limits.username;
    const name = usernameClass();
    token = new RegExp(`(https?:\\/\\/[^\\s<>"']+)|(^|${beforeMention()})@(${name}{${min},${max}})`, 'gu');
  }
  return token;
}

const TRAILING = /[.,!?;:)\]}'"]+$/; // punctuation after an address belongs to the sentence

/** A DocumentFragment showing `text` with links and mentions; `me` gets its own highlight. */
export function renderText(text, me) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  const lowerMe = (me || '').toLowerCase();
  for (const match of text.matchAll(tokenPattern())) {
    let start = match.index;
    let end = start + match[0].length;
    let node;
    if (match[1]) {
      let url = match[1];
      const trail = url.match(TRAILING);
      if (trail) {
        url = url.slice(0, -trail[0].length);
        end -= trail[0].length;
      }
      node = document.createElement('a');
      node.href = url;
      node.target = '_blank';
      node.rel = 'noopener noreferrer';
      node.textContent = url;
    } else {
      start += match[2].length; // the character before the @ stays plain text
      let name = match[3];
      if (name.endsWith('.')) {
        name = name.replace(/\.+$/, '');
        end = start + 1 + name.length;
      }
      node = document.createElement('span');
      node.className = name.toLowerCase() === lowerMe ? 'mention mention-me' : 'mention';
      node.textContent = `@${name}`;
    }
    if (start > last) fragment.append(document.createTextNode(text.slice(last, start)));
    fragment.append(node);
    last = end;
  }
  if (last < text.length) fragment.append(document.createTextNode(text.slice(last)));
  return fragment;
}

/** A size for people: "812 bytes", "48 KB", "3.4 MB". */
export function fileSize(bytes) {
  if (bytes < 1000) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  if (bytes < 1000 * 1000) return `${Math.round(bytes / 1000)} KB`;
  return `${(bytes / (1000 * 1000)).toFixed(1)} MB`;
}

// Making an Intl formatter costs far more than using one (toLocaleString makes one per call, a
// tenth of a millisecond each, twice per message drawn): each is made once, here.
const CLOCK = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' });
const MOMENT = new Intl.DateTimeFormat([], {
  year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
});
const DAY = new Intl.DateTimeFormat([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });

/** "14:05" in the reader's time zone. */
export function clockTime(iso) {
  return CLOCK.format(new Date(iso));
}

/** The date and time to the second, in the reader's locale and zone: a timestamp's tooltip. */
export function moment(iso) {
  return MOMENT.format(new Date(iso));
}

/** A local calendar day key, for grouping and day separators. */
export function dayKey(iso) {
  const date = new Date(iso);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

/** "Today", "Yesterday" or a date, for a day separator. */
export function dayLabel(iso, now = new Date()) {
  const date = new Date(iso);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(date.toISOString()) === dayKey(now.toISOString())) return 'Today';
  if (dayKey(date.toISOString()) === dayKey(yesterday.toISOString())) return 'Yesterday';
  return DAY.format(date);
}

/** Build an element with a class and optional text, the one way views make nodes. */
export function el(tag, className = '', text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}
