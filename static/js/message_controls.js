/**
 * What the reader does to the messages in the list, by delegation on the list: each message's
 * action menu (one "Message actions" button opening Reply, Add reaction, Edit and Delete, moved
 * through with the arrow keys, closed with Escape), the reaction chips, a reply's quote, the
 * failed changes' Retry and Discard, and the edit box (Enter saves, Shift+Enter a new line,
 * Escape cancels). It asks the messages view to redraw a message and hands the rest to the
 * view's handlers (see MessagesView).
 */

export class MessageControls {
  constructor(view) {
    this.view = view;
    const list = view.list;
    list.addEventListener('click', (event) => this.onClick(event));
    list.addEventListener('keydown', (event) => this.onKey(event));
    list.addEventListener('submit', (event) => {
      event.preventDefault();
      this.saveEdit(event.target);
    });
    // What is typed in an edit box (also one reopened after a refusal) survives a redraw.
    list.addEventListener('input', (event) => {
      const box = event.target;
      if (box.classList.contains('edit-text')) view.editing = { seq: Number(box.form.dataset.seq), draft: box.value };
    });
  }

  onClick(event) {
    const target = event.target.closest('button');
    if (!target) return;
    const data = target.dataset;
    if (data.viewUrl) {
      this.view.on.onOpenImage(data.viewUrl, data.viewName, target); // a file's thumbnail
    } else if (data.clientId) {
      if (data.action === 'retry') this.view.on.onRetry(data.clientId);
      else this.view.on.onDiscard(data.clientId);
    } else if (target.classList.contains('more')) {
      this.toggleMenu(target);
    } else if (target.classList.contains('reaction')) {
      this.view.on.onToggleReaction(Number(data.seq), data.emoji);
    } else if (data.replyTo) {
      this.view.on.onShowMessage(Number(data.replyTo));
    } else if (data.act === 'retry-change') {
      this.view.on.onRetryChange(data.changeId);
    } else if (data.act === 'discard-change') {
      this.view.on.onDiscardChange(data.changeId);
    } else if (data.act === 'cancel-edit') {
      this.cancelEdit(Number(data.seq));
    } else if (data.act === 'show-more') {
      // A long message's text, just before its button, opens or closes.
      const open = !target.previousElementSibling.classList.toggle('collapsed');
      target.textContent = open ? 'Show less' : 'Show more';
      target.setAttribute('aria-expanded', String(open));
    } else if (data.act) {
      const seq = Number(data.seq);
      this.closeMenus();
      if (data.act === 'edit') this.startEdit(seq);
      else if (data.act === 'reply') this.view.on.onReply(seq);
      else if (data.act === 'react') this.view.on.onReact(seq);
      else if (data.act === 'delete') this.view.on.onDelete(seq);
    }
  }

  onKey(event) {
    const target = event.target;
    if (target.classList.contains('edit-text')) {
      // Enter saves, Shift+Enter is a new line, Escape cancels (Slack's keys).
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.saveEdit(target.form);
      } else if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        this.cancelEdit(Number(target.form.dataset.seq));
      }
      return;
    }
    const menu = target.closest('.menu');
    if (!menu) return;
    const items = [...menu.querySelectorAll('button')];
    const at = items.indexOf(target);
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (step) {
      event.preventDefault();
      items[(at + step + items.length) % items.length].focus();
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      items[event.key === 'Home' ? 0 : items.length - 1].focus();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      const more = menu.parentElement.querySelector('.more');
      this.closeMenus();
      more.focus();
    }
  }

  /** Open (or close) a message's action menu; opening moves focus to its first button. */
  toggleMenu(more) {
    const menu = more.nextElementSibling;
    const open = menu.hidden;
    this.closeMenus();
    if (!open) return;
    menu.hidden = false;
    more.setAttribute('aria-expanded', 'true');
    more.closest('li').classList.add('menu-open');
    menu.querySelector('button').focus();
  }

  closeMenus() {
    for (const menu of this.view.list.querySelectorAll('.menu:not([hidden])')) {
      menu.hidden = true;
      menu.parentElement.querySelector('.more').setAttribute('aria-expanded', 'false');
      menu.closest('li').classList.remove('menu-open');
    }
  }

  /** Open the edit box of message `seq` (in the window) with its text, focused at the end. */
  startEdit(seq) {
    const shown = this.view.shown.get(seq);
    if (!shown || shown.message.deleted) return false;
    const failed = this.view.lookups.changes(seq).find((entry) => entry.kind === 'edit');
    this.view.editing = { seq, draft: failed ? failed.text : shown.message.text };
    this.view.refresh(seq);
    const box = this.view.shown.get(seq).node.querySelector('.edit-text');
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
    box.scrollIntoView({ block: 'nearest' });
    return true;
  }

  /** Escape or Cancel: the edit box closes (a refused edit is given up). */
  cancelEdit(seq) {
    const failed = this.view.lookups.changes(seq).find((entry) => entry.kind === 'edit' && entry.failed);
    if (this.view.editing && this.view.editing.seq === seq) this.view.editing = null;
    if (failed) this.view.on.onDiscardChange(failed.client_id);
    this.view.refresh(seq);
    const shown = this.view.shown.get(seq);
    const more = shown && shown.node.querySelector('.more');
    if (more) more.focus();
  }

  saveEdit(form) {
    if (!form || !form.classList.contains('edit')) return;
    const seq = Number(form.dataset.seq);
    const text = form.querySelector('.edit-text').value;
    const shown = this.view.shown.get(seq);
    if (!text.trim() || !shown) return;
    if (this.view.editing && this.view.editing.seq === seq) this.view.editing = null;
    const failed = this.view.lookups.changes(seq).find((entry) => entry.kind === 'edit');
    if (text === shown.message.text && !failed) this.view.refresh(seq);
    else this.view.on.onEdit(seq, text);
    const node = this.view.shown.get(seq).node;
    (node.querySelector('.more') || this.view.scroller).focus();
  }

  /** Focus the action-menu button of message `seq` (after a dialog it opened closes). */
  focusActions(seq) {
    const shown = this.view.shown.get(seq);
    const more = shown && shown.node.querySelector('.more');
    (more || this.view.scroller).focus();
  }

  /** Bring message `seq` (in the window) into view, focused and briefly marked. */
  highlight(seq) {
    const shown = this.view.shown.get(seq);
    if (!shown) return false;
    const node = shown.node;
    node.scrollIntoView({ block: 'center' });
    node.tabIndex = -1;
    node.classList.add('flash');
    node.focus({ preventScroll: true });
    setTimeout(() => node.classList.remove('flash'), 2000);
    return true;
  }
}
