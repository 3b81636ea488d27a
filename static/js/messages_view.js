/**
 * The message list of the open room, rendered by identity: one node per message keyed by its
 * `seq` (appended, replaced or removed alone) and one per outbox entry keyed by its `client_id`.
 * It shows a window of the room's loaded history, at most DOM_MESSAGES_MAX messages: growing it at
 * one end trims the other (Campfire's trimExcessMessages), and scrolling back renders that part
 * again. Also senders, times, grouping, day separators, the "new messages" divider, and the
 * scroll rules (follow new messages only at the bottom, keep the reading position when the
 * window grows or shrinks).
 *
 * Each message's action menu, reaction chips, reply quote and edit box are message_controls.js
 * (`this.controls`); a message whose outbox changes, or whose parent changed, is one node
 * replaced here.
 */

import { dayKey, el } from './format.js';
import {
  NO_CONTEXT,
  SAVING,
  dayNode,
  groupedWith,
  messageNode,
  pendingNode,
  setGrouped,
  setProgress,
  setWaiting,
} from './message_nodes.js';
import { MessageControls } from './message_controls.js';
import { DOM_MESSAGES_MAX } from './rules.js';

const BOTTOM_SLACK_PX = 48; // this close to the end still counts as "at the bottom"
const EDGE_LOAD_PX = 120; // this close to the top (or bottom) grows the window that way

export class MessagesView {
  /**
   * `handlers`: onNeedOlder(), onNeedNewer() (the window does not reach the newest loaded
   * message and the reader is near its end), onReachBottom(), onJump() (the "new messages
   * below" button), onRetry(clientId), onDiscard(clientId); for sent messages: onReply(seq),
   * onReact(seq), onEdit(seq, text), onDelete(seq), onToggleReaction(seq, emoji),
   * onShowMessage(seq) (a reply's quote), onRetryChange(clientId), onDiscardChange(clientId);
   * onOpenImage(url, name, opener) (a thumbnail was clicked); Cancel of an upload is onDiscard.
   */
  constructor(root, handlers) {
    this.scroller = root.querySelector('#messages');
    this.list = root.querySelector('#message-list');
    this.top = root.querySelector('#history-status');
    this.jump = root.querySelector('#jump');
    this.on = handlers;
    this.roomId = null;
    this.me = null;
    this.shown = new Map(); // seq -> {message, node}, for the window of stored messages
    this.pending = new Map(); // client_id -> node, always after the stored messages
    this.pendingEntries = new Map(); // client_id -> its outbox entry
    this.atEnd = true; // the window reaches the newest loaded message
    this.dividerAfter = null; // the divider goes before the first other's message after this seq
    this.dividerNode = null; // once placed, never placed again for this showing of the room
    this.waiting = false;
    this.editing = null; // {seq, draft}: the open edit box
    this.lookups = NO_CONTEXT; // what the controller tells about messages (see message_nodes.js)
    this.scroller.addEventListener('scroll', () => this.onScroll());
    this.jump.addEventListener('click', () => this.on.onJump());
    this.controls = new MessageControls(this); // the menus, chips, quotes and edit box
  }

  /** What the controller tells about messages: changes(seq), parent(seq), canAct/canEdit/canDelete(m). */
  setLookups(lookups) {
    this.lookups = { ...NO_CONTEXT, ...lookups };
  }

  context() {
    return { ...this.lookups, me: this.me, waiting: this.waiting, editing: this.editing };
  }

  /** Message `seq` drawn again as it is now (its outbox changes or its parent moved on). */
  refresh(seq) {
    const shown = this.shown.get(seq);
    if (shown) this.replace(shown.message);
  }

  /** The replies in the window to message `seq`: their quotes drawn again. */
  refreshReplies(seq) {
    for (const [replySeq, { message }] of this.shown) if (message.reply_to === seq) this.refresh(replySeq);
    for (const node of this.pending.values()) {
      const quote = node.querySelector(`.quote[data-reply-to="${seq}"]`);
      if (quote) this.updatePending(this.pendingEntries.get(node.dataset.clientId));
    }
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
    const s = this.scroller;
    const fromEnd = s.scrollHeight - s.scrollTop - s.clientHeight;
    if (!this.atEnd && fromEnd < EDGE_LOAD_PX) {
      this.on.onNeedNewer(); // the window was trimmed at the bottom: render the next part
    } else if (fromEnd <= BOTTOM_SLACK_PX) {
      this.jump.hidden = true;
      this.on.onReachBottom();
    }
    if (s.scrollTop < EDGE_LOAD_PX) this.on.onNeedOlder();
  }

  /** The seq of the first and last message in the window (null when empty). */
  get first() {
    const node = this.firstMessageNode();
    return node ? Number(node.dataset.seq) : null;
  }

  get last() {
    const node = this.lastMessageNode();
    return node ? Number(node.dataset.seq) : null;
  }

  firstMessageNode() {
    return this.list.querySelector('li[data-seq]');
  }

  lastMessageNode() {
    const before = this.firstPendingNode();
    let node = before ? before.previousElementSibling : this.list.lastElementChild;
    while (node && !node.dataset.seq) node = node.previousElementSibling;
    return node;
  }

  firstPendingNode() {
    return this.pending.size ? this.pending.values().next().value : null;
  }

  /**
   * Show room `roomId`: `messages` (the newest part of its loaded history, oldest first), its
   * outbox `entries`, the divider before the first message after seq `dividerAfter` (null for
   * none), and `olderState` above. Jumps to the divider or the end.
   */
  show(roomId, messages, entries, { me, dividerAfter, olderState, waiting, atEnd = true }) {
    if (this.roomId !== roomId) this.editing = null;
    this.roomId = roomId;
    this.me = me;
    this.waiting = waiting;
    this.shown.clear();
    this.pending.clear();
    this.pendingEntries.clear();
    this.atEnd = atEnd;
    this.dividerAfter = dividerAfter;
    this.dividerNode = null;
    this.top.textContent = olderState;
    const fragment = document.createDocumentFragment();
    this.run(fragment, messages, null);
    if (atEnd) for (const entry of entries) fragment.append(this.pendingItem(entry));
    this.list.replaceChildren(fragment);
    this.jump.hidden = true;
    this.atEnd = atEnd;
    if (this.dividerNode) this.dividerNode.scrollIntoView({ block: 'center' });
    else this.scroller.scrollTop = this.scroller.scrollHeight;
    this.fillIfShort();
  }

  /** Mark message `seq` as the one looked for (a search result), scroll to it and focus it. */
  highlight(seq) {
    for (const old of this.list.querySelectorAll('li.found')) old.classList.remove('found');
    const shown = this.shown.get(seq);
    if (!shown) return;
    shown.node.classList.add('found');
    shown.node.tabIndex = -1;
    shown.node.scrollIntoView({ block: 'center' });
    shown.node.focus({ preventScroll: true });
  }

  /** Newer messages exist below what is loaded: the "new messages below" button. */
  showJump() {
    this.jump.hidden = false;
  }

  /** From now on, a new message from someone else gets the "new messages" divider before it. */
  setDivider(after) {
    if (!this.dividerNode) this.dividerAfter = after;
  }

  /** Clear the list (no room, or a room whose history is on its way). */
  clear(olderState = '') {
    this.roomId = null;
    this.editing = null;
    this.pendingEntries.clear();
    this.atEnd = true;
    this.dividerNode = null;
    this.shown.clear();
    this.pending.clear();
    this.list.replaceChildren();
    this.top.textContent = olderState;
    this.jump.hidden = true;
  }

  setOlderState(text) {
    if (this.top.textContent !== text) this.top.textContent = text;
  }

  /**
   * Build the nodes of `messages` (consecutive, oldest first) into `parent`, the message before
   * them being `prev` (null: start with a day separator). The divider is placed once, unless
   * `older` (messages above the window).
   */
  run(parent, messages, prev, older = false) {
    const after = this.dividerAfter;
    for (const message of messages) {
      if (!prev || dayKey(prev.ts) !== dayKey(message.ts)) {
        // Plain list items, so screen readers read "Today" and "New messages" in their place.
        parent.append(dayNode(message.ts));
        prev = null;
      }
      if (!older && after !== null && !this.dividerNode && message.seq > after && message.sender !== this.me) {
        this.dividerNode = el('li', 'divider', 'New messages');
        parent.append(this.dividerNode);
        prev = null;
      }
      const node = messageNode(message, this.context(), groupedWith(prev, message));
      this.shown.set(message.seq, { message, node });
      parent.append(node);
      prev = message;
    }
  }

  /**
   * A new stored message after the window's last: one node appended (two on a new day) when the
   * window reaches the end; otherwise only the "new messages below" button. Follows the message
   * when the reader was at the bottom, then trims the top beyond the cap.
   */
  append(message) {
    if (!this.atEnd || this.shown.has(message.seq)) {
      if (!this.shown.has(message.seq)) this.jump.hidden = false;
      return;
    }
    const wasAtBottom = this.atBottom();
    const lastNode = this.lastMessageNode();
    const prev = lastNode ? this.shown.get(Number(lastNode.dataset.seq)).message : null;
    const fragment = document.createDocumentFragment();
    this.run(fragment, [message], prev);
    this.list.insertBefore(fragment, this.firstPendingNode());
    if (wasAtBottom) {
      this.trim('top');
      this.scroller.scrollTop = this.scroller.scrollHeight;
    } else {
      this.jump.hidden = false;
    }
  }

  /** A loaded message changed (edited, deleted, reacted to): its one node is replaced. */
  replace(message) {
    const shown = this.shown.get(message.seq);
    if (!shown) return;
    const old = shown.node;
    const focused = old.contains(document.activeElement) ? document.activeElement : null;
    const node = messageNode(message, this.context(), old.classList.contains('grouped'));
    old.replaceWith(node);
    this.shown.set(message.seq, { message, node });
    // Focus stays where it was: in the edit box (with its caret), or on the same button.
    if (!focused) return;
    const box = node.querySelector('.edit-text');
    if (focused.classList.contains('edit-text') && box) {
      box.focus();
      box.setSelectionRange(focused.selectionStart, focused.selectionEnd);
    } else if (focused.classList.contains('reaction')) {
      const chip = [...node.querySelectorAll('.reaction')].find((c) => c.dataset.emoji === focused.dataset.emoji);
      (chip || node.querySelector('.more') || this.scroller).focus();
    } else {
      (node.querySelector('.more') || this.scroller).focus();
    }
  }

  /** A message is gone from the window: its node removed, and separators left with nothing. */
  remove(seq) {
    const shown = this.shown.get(seq);
    if (!shown) return;
    let before = shown.node.previousElementSibling;
    const after = shown.node.nextElementSibling;
    shown.node.remove();
    this.shown.delete(seq);
    if (after && after.dataset.seq) {
      // The next message keeps its header unless it continues the one before.
      const prev = before && before.dataset.seq ? this.shown.get(Number(before.dataset.seq)).message : null;
      const next = this.shown.get(Number(after.dataset.seq));
      setGrouped(after, groupedWith(prev, next.message));
    } else if (!(after && after.classList.contains('divider'))) {
      // A day separator (and a divider) of this message alone go with it.
      while (before && (before.classList.contains('day') || before.classList.contains('divider'))) {
        const above = before.previousElementSibling;
        before.remove();
        before = above;
      }
    }
  }

  /** Older messages (just before the window's first) go on top, keeping the reading position. */
  prepend(messages) {
    if (!messages.length) return;
    this.keepPlace(() => {
      const oldFirst = this.firstMessageNode();
      const fragment = document.createDocumentFragment();
      this.run(fragment, messages, null, true);
      if (oldFirst) {
        // The old first message had its own day separator; the day may now continue from above.
        const last = messages[messages.length - 1];
        const first = this.shown.get(Number(oldFirst.dataset.seq)).message;
        let day = null;
        let divider = null;
        for (let node = this.list.firstElementChild; node !== oldFirst; node = node.nextElementSibling) {
          if (node.classList.contains('day')) day = node;
          if (node.classList.contains('divider')) divider = node;
        }
        if (day && dayKey(last.ts) === dayKey(first.ts)) {
          day.remove();
          if (!divider && groupedWith(last, first)) setGrouped(oldFirst, true);
        }
      }
      this.list.prepend(fragment);
      this.trim('bottom');
    });
  }

  /** Newer loaded messages (just after the window's last) go below; `atEnd` when they reach it. */
  extend(messages, atEnd) {
    this.keepPlace(() => {
      const lastNode = this.lastMessageNode();
      const prev = lastNode ? this.shown.get(Number(lastNode.dataset.seq)).message : null;
      const fragment = document.createDocumentFragment();
      this.run(fragment, messages, prev);
      this.list.insertBefore(fragment, this.firstPendingNode());
      this.trim('top');
    });
    this.atEnd = atEnd;
  }

  /** Keep at most DOM_MESSAGES_MAX messages, removing them from `end` ('top' or 'bottom'). */
  trim(end) {
    let excess = this.shown.size - DOM_MESSAGES_MAX;
    if (excess <= 0) return;
    if (end === 'bottom') {
      this.atEnd = false;
      while (excess > 0) {
        const node = this.lastMessageNode();
        this.remove(Number(node.dataset.seq));
        excess -= 1;
      }
      return;
    }
    // A day separator on top stays while its day still has messages in the window, so that a
    // new message at the end costs one node in and one out.
    const top = this.list.firstElementChild;
    const topDay = top && top.classList.contains('day') ? top : null;
    const afterTopDay = () => (topDay ? topDay.nextElementSibling : this.list.firstElementChild);
    while (excess > 0) {
      const node = this.firstMessageNode();
      this.shown.delete(Number(node.dataset.seq));
      // The separators above the removed message (its own) go with it.
      for (let lead = afterTopDay(); lead !== node; lead = afterTopDay()) lead.remove();
      node.remove();
      excess -= 1;
    }
    // What is left above the new first message are its own separators, if any.
    const first = this.firstMessageNode();
    if (first) {
      let ownDay = false;
      for (let node = afterTopDay(); node !== first; node = node.nextElementSibling) {
        if (node.classList.contains('day')) ownDay = true;
      }
      if (ownDay && topDay) topDay.remove();
      if (!ownDay && !topDay) this.list.prepend(dayNode(this.shown.get(Number(first.dataset.seq)).message.ts));
      setGrouped(first, false);
    }
    this.setOlderState(''); // older messages exist again above the window
  }

  /** Run `fn`, then scroll so that the message the reader was looking at stays where it was. */
  keepPlace(fn) {
    const top = this.scroller.getBoundingClientRect().top;
    // The first message at least partly in view, in page order.
    let anchor = null;
    for (let node = this.list.firstElementChild; node; node = node.nextElementSibling) {
      if (node.dataset.seq && node.getBoundingClientRect().bottom > top) {
        anchor = node;
        break;
      }
    }
    const before = anchor ? anchor.getBoundingClientRect().top : 0;
    fn();
    if (anchor && anchor.isConnected) this.scroller.scrollTop += anchor.getBoundingClientRect().top - before;
  }

  /** A short window leaves no room to scroll up: ask for more until the view is full. */
  fillIfShort() {
    if (this.scroller.scrollHeight <= this.scroller.clientHeight + EDGE_LOAD_PX) this.on.onNeedOlder();
  }

  /* ---- the outbox's entries, keyed by client_id ---- */

  /** A new outbox entry of the open room goes last. */
  addPending(entry) {
    if (this.pending.has(entry.client_id)) return this.updatePending(entry);
    const node = this.pendingItem(entry);
    this.list.append(node);
    return node;
  }

  /** An entry's state changed (refused, retried): its one node is replaced. */
  updatePending(entry) {
    const old = this.pending.get(entry.client_id);
    if (!old) return this.addPending(entry);
    const node = this.pendingItem(entry);
    old.replaceWith(node);
    return node;
  }

  removePending(clientId) {
    const node = this.pending.get(clientId);
    if (!node) return;
    node.remove();
    this.pending.delete(clientId);
    this.pendingEntries.delete(clientId);
  }

  /** An upload's progress: only its bar changes. */
  setProgress(clientId, fraction) {
    const node = this.pending.get(clientId);
    if (node) setProgress(node, fraction);
  }

  /** No connection now (or again one): only the pending entries' state words change. */
  setWaiting(waiting) {
    this.waiting = waiting;
    for (const node of this.pending.values()) setWaiting(node, waiting);
    for (const node of this.list.querySelectorAll('li.changing')) setWaiting(node, waiting, SAVING);
  }

  /** The node of an outbox entry, remembered by its client id. */
  pendingItem(entry) {
    const node = pendingNode(entry, this.context());
    this.pending.set(entry.client_id, node);
    this.pendingEntries.set(entry.client_id, entry);
    return node;
  }
}
