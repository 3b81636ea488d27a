/**
 * The message box: Enter sends and Shift+Enter starts a line, up-arrow in an empty box edits the
 * user's last message, Escape drops the reply being written, typing notices go out at most every
 * TYPING_EVERY_MS. Nothing typed or pasted is ever cut: near the message limit a counter shows,
 * and over it Send is refused and the text can go as several messages (split.js). Every change of
 * its text is told (`onDraft`), so that each room keeps its own draft.
 */

import { TYPING_EVERY_MS, codePoints, limits } from './rules.js';
import { splitForSending } from './split.js';

// The counter shows from this share of the message limit on.
const COUNT_FROM = 0.9;

export class Composer {
  /**
   * `handlers`: onSend(text), onTyping(), onEditLast() (true when an edit box opened),
   * onCancelReply(), onDraft(text); `announce(text)` reads a refusal out.
   */
  constructor(doc, handlers, announce) {
    this.$ = (id) => doc.getElementById(id);
    this.on = handlers;
    this.announce = announce;
    this.box = this.$('composer-text');
    this.lastTyping = 0;
    this.wire();
  }

  wire() {
    const box = this.box;
    this.$('composer').addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    box.addEventListener('keydown', (event) => {
      // Enter sends; Shift+Enter (and Enter while an input method is composing) is a new line.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      } else if (event.key === 'ArrowUp' && !box.value && !event.isComposing) {
        // Slack's habit: up-arrow in an empty box edits your last message.
        if (this.on.onEditLast()) event.preventDefault();
      } else if (event.key === 'Escape' && !this.$('reply-bar').hidden) {
        event.preventDefault();
        this.on.onCancelReply();
      }
    });
    this.$('reply-cancel').addEventListener('click', () => {
      this.on.onCancelReply();
      box.focus();
    });
    this.$('composer-split').addEventListener('click', () => this.sendSplit());
    box.addEventListener('input', () => {
      this.changed();
      const now = Date.now();
      if (box.value.trim() && now - this.lastTyping > TYPING_EVERY_MS) {
        this.lastTyping = now;
        this.on.onTyping();
      }
    });
  }

  submit() {
    if (!this.box.value.trim()) return;
    if (this.overLimit()) {
      this.announce(this.$('composer-count').textContent);
      return;
    }
    this.on.onSend(this.box.value);
    this.sent();
  }

  /** A text over the limit, sent as several messages that each fit. */
  sendSplit() {
    for (const part of splitForSending(this.box.value, limits.message.max)) this.on.onSend(part);
    this.sent();
  }

  sent() {
    this.setText('');
    this.lastTyping = 0;
    this.box.focus();
  }

  /** Put `text` in the box (a room's draft, or nothing after sending). */
  setText(text) {
    if (this.box.value === text) return;
    this.box.value = text;
    this.changed();
  }

  setEnabled(enabled, placeholder) {
    this.box.disabled = !enabled;
    this.box.placeholder = placeholder;
    this.$('attach').disabled = !enabled;
    this.$('send').disabled = !enabled || this.overLimit();
  }

  focus() {
    this.box.focus();
  }

  changed() {
    // Grow the box with its lines, up to six.
    this.box.rows = Math.min(6, Math.max(1, this.box.value.split('\n').length));
    this.showCount();
    this.on.onDraft(this.box.value);
  }

  overLimit() {
    return codePoints(this.box.value) > limits.message.max;
  }

  /** Near the limit, a counter; over it, how much is too much, Send refused, and the offer to split. */
  showCount() {
    const max = limits.message.max;
    const length = codePoints(this.box.value);
    const over = length > max;
    const number = (n) => n.toLocaleString('en');
    this.$('composer-limit').hidden = length < max * COUNT_FROM;
    this.$('composer-limit').classList.toggle('over', over);
    this.$('composer-count').textContent = over
      ? `${number(length)} / ${number(max)} characters: ${number(length - max)} too many to send as one message.`
      : `${number(length)} / ${number(max)} characters`;
    const split = this.$('composer-split');
    split.hidden = !over;
    if (over) split.textContent = `Send as ${splitForSending(this.box.value, max).length} messages`;
    this.$('send').disabled = over || this.box.disabled;
  }
}
