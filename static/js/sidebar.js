/**
 * The sidebar's lists: rooms, DMs and people. Rows are keyed (room id, username) and patched in
 * place: a change touches only the rows it changes, a row's button is kept (so keyboard focus on
 * it survives), and a new row is inserted without moving the others.
 */

import { el } from './format.js';
import { icon } from './icons.js';

/**
 * Make `list`'s items match `rows` ({key, sig, fill(item)}, in order): an item whose `sig` is
 * unchanged is left alone, a changed one is filled again in place, a new one inserted, a gone
 * one removed. Focus inside a moved item is put back.
 */
function patchList(list, rows) {
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const items = new Map([...list.children].map((item) => [item.dataset.key, item]));
  const wanted = new Set(rows.map((row) => row.key));
  for (const [key, item] of items) if (!wanted.has(key)) item.remove();
  let cursor = list.firstElementChild;
  for (const row of rows) {
    let item = items.get(row.key);
    if (!item) {
      item = el('li');
      item.dataset.key = row.key;
    }
    if (item.dataset.sig !== row.sig) {
      row.fill(item);
      item.dataset.sig = row.sig;
    }
    if (item === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(item, cursor);
  }
  if (focused && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
}

/** The button of a sidebar item, made once and kept (so that focus on it survives updates). */
function itemButton(item, className) {
  let button = item.firstElementChild;
  if (!button) {
    button = el('button', className);
    button.type = 'button';
    item.append(button);
  }
  return button;
}

/** Bring the room, DM and people lists of `doc` up to date with the store, row by row. */
export function renderSidebar(doc, store) {
const $ = (id) => doc.getElementById(id);
  patchList($('room-list'), store.myRooms('group').map((room) => roomRow(store, room)));
  const dms = store.myRooms('dm').map((room) => roomRow(store, room));
  if (!dms.length) {
    dms.push({
      key: '-empty',
      sig: '',
      fill: (item) => {
        item.className = 'empty';
        item.textContent = 'Pick a person below to start one.';
      },
    });
  }
  patchList($('dm-list'), dms);
  const people = store.people().filter((user) => user.username !== store.me);
  patchList(
    $('people-list'),
    people.map((user) => {
      const state = user.online ? 'online' : 'offline';
      return {
        key: user.username,
        sig: state,
        fill: (item) => {
          const button = itemButton(item, 'person');
          button.dataset.user = user.username;
          button.setAttribute('aria-label', `${user.username} (${state}): send a direct message`);
          button.replaceChildren(el('span', `dot ${state}`), el('span', 'name', user.username));
        },
      };
    }),
  );
}

/** One room's sidebar row: its name, kind, unread badge and whether it is open. */
function roomRow(store, room) {
  const unread = store.unread(room.id);
  const title = store.title(room);
  const current = room.id === store.current;
  const kind = room.kind === 'dm' ? 'at' : room.visibility === 'private' ? 'lock' : 'hash';
  const detail = store.detail(room);
  return {
    key: room.id,
    sig: JSON.stringify([title, kind, detail, unread, current]),
    fill: (item) => {
      const button = itemButton(item, 'chat-item');
      button.dataset.room = room.id;
      if (current) button.setAttribute('aria-current', 'page');
      else button.removeAttribute('aria-current');
      const named = detail ? `${title} (${detail})` : title;
      button.setAttribute('aria-label', unread ? `${named}, ${unread} unread` : named);
      const prefix = el('span', 'prefix');
      prefix.append(icon(kind));
      button.replaceChildren(prefix, el('span', 'name', title));
      if (detail) button.append(el('span', 'detail', detail));
      if (unread) button.append(el('span', 'badge', unread > 99 ? '99+' : String(unread)));
    },
  };
}
