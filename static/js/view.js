/**
 * The page shell: sign-in form, sidebar (rooms, DMs, people), room header, status pill,
 * composer, typing line, tab title, the drawer on narrow screens and the screen-reader
 * announcer. It turns clicks and keys into handler calls and store data into nodes; it never
 * fetches anything. The sidebar's lists are sidebar.js.
 */

import { el } from './format.js';
import { plainText } from './markdown.js';
import { SignInForm } from './signin_form.js';
import { renderSidebar } from './sidebar.js';
import { TYPING_EVERY_MS, limits } from './rules.js';

const STATUS_TEXT = { live: 'Live', polling: 'Polling', connecting: 'Connecting…', offline: 'Offline' };

export class View {
  /**
   * `handlers`: onSignIn(username, password, create), onSignOut(), onOpenRoom(id), onOpenDm(username),
   * onSend(text), onTyping(), onLeave(), onInvite(), onCreateRoom(), onBrowse(),
   * onEnableNotifications(), onEditLast() (up-arrow in the empty composer: true when an edit
   * box opened), onCancelReply(), onRetryNow() (the Offline pill's button), onJoin(roomId) (a
   * public room the user is not in, open on screen).
   */
  constructor(doc, handlers) {
    this.doc = doc;
    this.on = handlers;
    this.$ = (id) => doc.getElementById(id);
    this.countdown = null;
    this.lastTyping = 0;
    this.signInForm = new SignInForm(doc, (username, password, create) => this.on.onSignIn(username, password, create));
    this.wire();
  }

  wire() {
    const $ = this.$;
    $('signout').addEventListener('click', () => this.on.onSignOut());
    $('signout-retry').addEventListener('click', () => this.on.onSignOut());
    $('new-room').addEventListener('click', () => this.on.onCreateRoom());
    $('browse-rooms').addEventListener('click', () => this.on.onBrowse());
    $('invite').addEventListener('click', () => this.on.onInvite());
    $('leave').addEventListener('click', () => this.on.onLeave());
    $('enable-notifications').addEventListener('click', () => this.on.onEnableNotifications());
    for (const button of this.doc.querySelectorAll('button.retry-now')) {
      button.addEventListener('click', () => this.on.onRetryNow());
    }
    $('menu').addEventListener('click', () => this.setDrawer(!this.drawerOpen()));
    $('join-room').addEventListener('click', () => this.on.onJoin($('join-room').dataset.room));
    $('scrim').addEventListener('click', () => this.setDrawer(false));
    this.doc.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.drawerOpen()) {
        this.setDrawer(false);
        $('menu').focus();
      }
    });
    for (const listId of ['room-list', 'dm-list']) {
      $(listId).addEventListener('click', (event) => {
        const button = event.target.closest('button[data-room]');
        if (button) this.on.onOpenRoom(button.dataset.room);
      });
    }
    $('people-list').addEventListener('click', (event) => {
      const button = event.target.closest('button[data-user]');
      if (button) this.on.onOpenDm(button.dataset.user);
    });
    this.wireFiles();
    const text = $('composer-text');
    $('composer').addEventListener('submit', (event) => {
      event.preventDefault();
      this.submitComposer();
    });
    text.addEventListener('keydown', (event) => {
      // Enter sends; Shift+Enter (and Enter while an input method is composing) is a new line.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submitComposer();
      } else if (event.key === 'ArrowUp' && !text.value && !event.isComposing) {
        // Slack's habit: up-arrow in an empty box edits your last message.
        if (this.on.onEditLast()) event.preventDefault();
      } else if (event.key === 'Escape' && !$('reply-bar').hidden) {
        event.preventDefault();
        this.on.onCancelReply();
      }
    });
    $('reply-cancel').addEventListener('click', () => {
      this.on.onCancelReply();
      text.focus();
    });
    text.addEventListener('input', () => {
      this.fitComposer();
      const now = Date.now();
      if (text.value.trim() && now - this.lastTyping > TYPING_EVERY_MS) {
        this.lastTyping = now;
        this.on.onTyping();
      }
    });
  }

  /** Files come by the Attach button, a paste into the message box, or a drop on the conversation. */
  wireFiles() {
    const $ = this.$;
    const input = $('file-input');
    $('attach').addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      if (input.files.length) this.on.onAttach([...input.files]);
      input.value = '';
    });
    $('composer-text').addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (!files.length) return;
      event.preventDefault();
      this.on.onAttach(files);
    });
    const area = this.doc.querySelector('main.main');
    const hint = $('drop-hint');
    const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes('Files');
    area.addEventListener('dragover', (event) => {
      if (!carriesFiles(event) || $('composer-text').disabled) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      hint.hidden = false;
    });
    area.addEventListener('dragleave', (event) => {
      if (!area.contains(event.relatedTarget)) hint.hidden = true;
    });
    area.addEventListener('drop', (event) => {
      hint.hidden = true;
      if (!carriesFiles(event) || $('composer-text').disabled) return;
      event.preventDefault();
      const files = [...event.dataTransfer.files];
      if (files.length) this.on.onAttach(files);
    });
    $('viewer-close').addEventListener('click', () => $('viewer').close());
    $('viewer').addEventListener('close', () => {
      $('viewer-image').removeAttribute('src');
      if (this.viewerOpener) this.viewerOpener.focus();
    });
  }

  /** The image viewer: the full image, its name, a download link; Escape or Close shuts it. */
  openImage(url, name, opener) {
    const $ = this.$;
    this.viewerOpener = opener || null;
    $('viewer-title').textContent = name;
    $('viewer-image').src = url;
    $('viewer-image').alt = name;
    $('viewer-download').href = url;
    $('viewer-download').download = name;
    $('viewer').showModal();
    $('viewer-close').focus();
  }

  submitComposer() {
    const text = this.$('composer-text');
    if (!text.value.trim()) return;
    this.on.onSend(text.value);
    text.value = '';
    this.lastTyping = 0;
    this.fitComposer();
    text.focus();
  }

  /** Grow the message box with its lines, up to six. */
  fitComposer() {
    const text = this.$('composer-text');
    text.rows = Math.min(6, Math.max(1, text.value.split('\n').length));
  }

  showOnly(id) {
    for (const name of ['loading', 'signin', 'app']) this.$(name).hidden = name !== id;
  }

  showLoading() {
    this.showOnly('loading');
  }

  showSignIn(message = '') {
    this.showOnly('signin');
    this.signInForm.reset(message);
    this.doc.title = 'Chat: sign in';
  }

  /** The sign-in form's error, tied to `field` ('username' or 'password') when it is about one. */
  setSignInError(message, field = null) {
    this.signInForm.setError(message, field);
  }

  setSignInBusy(busy) {
    this.signInForm.setBusy(busy);
  }

  /** Nobody has `name`: the form asks whether to create it. */
  offerToCreate(name) {
    this.signInForm.offerToCreate(name);
  }

  /**
   * Apply the server's limits to the form fields (called once, before any form shows). The room
   * name gets none: its dialog says when a name is too long rather than cutting it (dialogs.js).
   */
  applyLimits() {
    const fields = [
      ['signin-username', limits.username],
      ['signin-password', limits.password],
      ['composer-text', limits.message],
    ];
    for (const [id, { min, max }] of fields) {
      this.$(id).minLength = min;
      this.$(id).maxLength = max;
    }
  }

  showApp(me) {
    this.$('me-name').textContent = me;
    this.showSignOutProblem('');
    this.showOnly('app');
  }

  setSignOutBusy(busy) {
    this.$('signout').disabled = busy;
    this.$('signout-retry').disabled = busy;
  }

  /** Say that signing out failed and offer to try again; '' hides it. */
  showSignOutProblem(message) {
    this.$('signout-problem-text').textContent = message;
    this.$('signout-problem').hidden = !message;
    if (message) this.$('signout-retry').focus();
  }

  drawerOpen() {
    return this.$('sidebar').classList.contains('open');
  }

  /** Open or close the sidebar as a drawer (it only acts as one on narrow screens). */
  setDrawer(open) {
    this.$('sidebar').classList.toggle('open', open);
    this.$('scrim').hidden = !open;
    this.$('menu').setAttribute('aria-expanded', String(open));
    if (open) {
      const first = this.$('sidebar').querySelector('button');
      if (first) first.focus();
    }
  }

  /** Bring the room, DM and people lists up to date with the store, row by row. */
  renderSidebar(store) {
    renderSidebar(this.doc, store);
  }

  /**
   * Show the open room's name, who made it, its members and the actions that apply to it. A
   * public room the user is not in (left here or on another device, or the last room of a
   * reload) offers Join where the composer was.
   */
  renderHeader(store, room) {
    this.$('room-name').textContent = room ? store.title(room) : 'No room open';
    const members = room ? room.members || [] : [];
    const creator = room && room.kind === 'group' && room.created_by ? `Created by ${room.created_by} · ` : '';
    let about = '';
    if (room && room.kind === 'dm') about = `Direct message with ${store.title(room)}`;
    else if (room) about = `${creator}${members.length} member${members.length === 1 ? '' : 's'}: ${members.join(', ')}`;
    this.$('room-members').textContent = about;
    const member = Boolean(room && store.isMember(room));
    const group = member && room.kind === 'group';
    this.$('invite').hidden = !group;
    this.$('leave').hidden = !group;
    const outside = Boolean(room && !member && room.kind === 'group' && room.visibility === 'public');
    this.$('join-bar').hidden = !outside;
    this.$('composer').hidden = outside;
    if (outside) {
      this.$('join-text').textContent = `You are not in #${room.name}. Join to write here.`;
      this.$('join-room').dataset.room = room.id;
      this.$('join-room').setAttribute('aria-label', `Join ${room.name}`);
      this.$('join-room').disabled = false;
    }
    this.setComposerEnabled(member);
    this.$('composer-text').placeholder = room ? `Message ${room.kind === 'dm' ? '' : '#'}${store.title(room)}` : '';
  }

  /** The quote of the message the composer answers above it, or none (`message` null). */
  showReply(message) {
    const bar = this.$('reply-bar');
    bar.hidden = !message;
    this.$('reply-quote').textContent = message
      ? `${message.sender}: ${message.deleted ? 'This message was deleted' : plainText(message.text)}`
      : '';
  }

  setComposerEnabled(enabled) {
    this.$('composer-text').disabled = !enabled;
    this.$('attach').disabled = !enabled;
    this.$('send').disabled = !enabled;
  }

  focusComposer() {
    this.$('composer-text').focus();
  }

  /**
   * Show how the page is connected; Offline counts down to the next try, with "Retry now" beside. The state word is the
   * pill's live text (read out when it changes); the countdown beside it is hidden from screen
   * readers, which would otherwise announce every second.
   */
  setStatus({ state, retryAt }) {
    clearInterval(this.countdown);
    const parts = [this.$('status'), this.$('loading-status')].map((pill) => {
      if (!pill.querySelector('.pill-state')) {
        const tick = el('span', 'pill-countdown');
        tick.setAttribute('aria-hidden', 'true');
        pill.replaceChildren(el('span', 'pill-state'), tick);
      }
      pill.dataset.state = state;
      return [pill.querySelector('.pill-state'), pill.querySelector('.pill-countdown')];
    });
    const label = STATUS_TEXT[state] || state;
    // Other people's presence is unknown while this page is offline: their dots grey out.
    this.$('app').dataset.connection = state;
    for (const button of this.doc.querySelectorAll('button.retry-now')) button.hidden = state !== 'offline';
    const paint = () => {
      let tick = '';
      if (state === 'offline' && retryAt) {
        const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        tick = seconds > 0 ? ` · ${seconds} s` : ' · …';
      }
      for (const [word, countdown] of parts) {
        if (word.textContent !== label) word.textContent = label;
        countdown.textContent = tick;
      }
    };
    paint();
    if (state === 'offline' && retryAt) this.countdown = setInterval(paint, 1000);
  }

  renderTyping(users) {
    let text = '';
    if (users.length === 1) text = `${users[0]} is typing…`;
    else if (users.length === 2) text = `${users[0]} and ${users[1]} are typing…`;
    else if (users.length > 2) text = 'Several people are typing…';
    this.$('typing').textContent = text;
  }

  /** A refused Join in the bar: why, and the button to try again. */
  joinFailed(message) {
    this.$('join-text').textContent = message;
    this.$('join-room').disabled = false;
  }

  /**
   * The menu button (shown at phone widths, where the sidebar is a drawer) carries the unread
   * count of the rooms other than the open one, so news elsewhere shows without opening it.
   */
  setMenuBadge(count) {
    const badge = this.$('menu-badge');
    badge.hidden = count === 0;
    badge.textContent = count > 99 ? '99+' : count ? String(count) : '';
    this.$('menu').setAttribute('aria-label', count ? `Open the chat list, ${count} unread elsewhere` : 'Open the chat list');
  }

  /** The tab title carries the unread total so it shows in the tab strip. */
  setTitle(total, roomTitle) {
    const base = roomTitle ? `${roomTitle} · Chat` : 'Chat';
    this.doc.title = total > 0 ? `(${total}) ${base}` : base;
  }

  /** Read `text` out to screen-reader users without moving focus. */
  announce(text) {
    const region = this.$('announcer');
    region.append(el('p', '', text));
    // Keep only the last few, so the region does not grow forever.
    while (region.childElementCount > 5) region.firstElementChild.remove();
  }

  setNotificationButton(state) {
    const button = this.$('enable-notifications');
    button.hidden = state === 'unsupported' || state === 'granted';
    button.textContent = state === 'denied' ? 'Notifications blocked' : 'Enable notifications';
    button.disabled = state === 'denied';
  }
}
