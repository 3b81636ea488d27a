/**
 * The message list of the open room: senders, times, grouping, day separators, the "new
 * messages" divider, pending and refused messages from the outbox, and the scroll rules (follow
 * new messages only at the bottom, keep the reading position when older ones load above).
 */

import { clockTime, dayKey, dayLabel, el, renderText } from './format.js';

const GROUP_GAP_MS = 5 * 60 * 1000; // consecutive messages closer than this share one header
const BOTTOM_SLACK_PX = 48; // this close to the end still counts as "at the bottom"
const TOP_LOAD_PX = 120; // this close to the top starts loading older messages

export class MessagesView {
  /** `handlers`: onNeedOlder(), onReachBottom(), onRetry(clientId), onDiscard(clientId). */
  constructor(root, handlers) {
    this.scroller = root.querySelector('#messages');
    this.list = root.querySelector('#message-list');
    this.top = root.querySelector('#history-status');
    this.jump = root.querySelector('#jump');
    this.on = handlers;
    this.roomKey = null;
    this.scroller.addEventListener('scroll', () => this.onScroll());
    this.jump.addEventListener('click', () => this.scrollToBottom());
    this.list.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-client-id]');
      if (!button) return;
      const id = button.dataset.clientId;
      if (button.dataset.action === 'retry') this.on.onRetry(id);
      else this.on.onDiscard(id);
    });
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= BOTTOM_SLACK_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.jump.hidden = true;
    this.on.onReachBottom();
  }

  onScroll() {
    if (this.atBottom()) {
      this.jump.hidden = true;
      this.on.onReachBottom();
    }
    if (this.scroller.scrollTop < TOP_LOAD_PX) this.on.onNeedOlder();
  }

  /**
   * Show `history` (a store History) of room `roomId` plus its outbox `entries`.
   * `dividerAfter`: the last read seq when the room was opened, or null for no divider.
   * `mode`: `open` (jump to the divider or the end), `older` (keep the position as messages
   * arrive above) or `update` (follow only if at the bottom). `waiting`: no connection now.
   */
  render(roomId, history, entries, { me, dividerAfter, mode, olderState, waiting = false }) {
    const wasAtBottom = this.atBottom();
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    const previousCount = this.list.childElementCount;
    this.top.textContent = olderState;
    const items = [];
    let prev = null;
    let dividerNode = null;
    for (const message of history.messages) {
      if (!prev || dayKey(prev.ts) !== dayKey(message.ts)) {
        // Plain list items, so screen readers read "Today" and "New messages" in their place.
        items.push(el('li', 'day', dayLabel(message.ts)));
        prev = null;
      }
      if (dividerAfter !== null && !dividerNode && message.seq > dividerAfter && message.sender !== me) {
        dividerNode = el('li', 'divider', 'New messages');
        items.push(dividerNode);
        prev = null;
      }
      const grouped =
        prev && prev.sender === message.sender && Date.parse(message.ts) - Date.parse(prev.ts) < GROUP_GAP_MS;
      items.push(this.messageItem(message, me, grouped));
      prev = message;
    }
    for (const entry of entries) items.push(this.pendingItem(entry, me, waiting));
    this.list.replaceChildren(...items);

    if (mode === 'open') {
      this.jump.hidden = true;
      if (dividerNode) dividerNode.scrollIntoView({ block: 'center' });
      else this.scroller.scrollTop = this.scroller.scrollHeight;
      this.roomKey = roomId;
    } else if (mode === 'older') {
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    } else if (wasAtBottom) {
      this.scroller.scrollTop = this.scroller.scrollHeight;
    } else if (items.length > previousCount) {
      this.jump.hidden = false;
    }
    // A short history leaves no room to scroll up: fetch more until the view is full.
    if (this.scroller.scrollHeight <= this.scroller.clientHeight + TOP_LOAD_PX) this.on.onNeedOlder();
  }

  messageItem(message, me, grouped) {
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

  /** An outbox entry: "Sending…", or "Waiting for the connection…" while there is none. */
  pendingItem(entry, me, waiting) {
    const item = el('li', entry.failed ? 'message mine failed' : 'message mine pending');
    item.dataset.clientId = entry.client_id;
    const head = el('div', 'meta');
    head.append(el('span', 'sender', me));
    const state = entry.failed ? 'Not sent' : waiting ? 'Waiting for the connection…' : 'Sending…';
    head.append(el('span', 'state', state));
    const body = el('div', 'text');
    body.append(renderText(entry.text, me));
    item.append(head, body);
    if (entry.failed) {
      const why = el('p', 'why', entry.failed.message || entry.failed.code);
      const retry = el('button', 'small', 'Retry');
      retry.type = 'button';
      retry.dataset.clientId = entry.client_id;
      retry.dataset.action = 'retry';
      const discard = el('button', 'small', 'Discard');
      discard.type = 'button';
      discard.dataset.clientId = entry.client_id;
      discard.dataset.action = 'discard';
      const actions = el('div', 'actions');
      actions.append(retry, discard);
      item.append(why, actions);
    }
    return item;
  }
}
