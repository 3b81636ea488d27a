/**
 * The page shell: sign-in form, sidebar (rooms, DMs, people), room header, status pill,
 * typing line, tab title, the drawer on narrow screens, the notice of a failed action and the
 * screen-reader announcer. It turns clicks and keys into handler calls and store data into
 * nodes; it never fetches anything. The sidebar's lists are sidebar.js, the message box
 * composer.js.
 */

import { Composer } from './composer.js';
import { el } from './format.js';
import { plainText } from './markdown.js';
import { SignInForm } from './signin_form.js';
import { renderSidebar } from './sidebar.js';
import { NOTICE_SHOWN_MS, limits } from './rules.js';

// The width under which the sidebar is a drawer (app.css's media query says the same).
const PHONE_LAYOUT = '(max-width: 720px)';

const STATUS_TEXT = { live: 'Live', polling: 'Polling', connecting: 'Connecting…', offline: 'Offline' };
// Connected, but the front server cannot reach its backend: sends wait and are retried.
const DEGRADED_TEXT = ' · server busy, retrying';

export class View {
  /**
   * `handlers`: onSignIn(username, password, create), onSignOut(), onOpenRoom(id),
   * onOpenDm(username), onLeave(), onInvite(), onCreateRoom(), onBrowse(), onEnableNotifications(),
   * onAttach(files), onRetryNow() (the Offline pill's button), onJoin(roomId) (a public room the
   * user is not in, open on screen), and the message box's (composer.js): onSend(text),
   * onTyping(), onEditLast(), onCancelReply(), onDraft(text).
   */
  constructor(doc, handlers) {
    this.doc = doc;
    this.on = handlers;
    this.$ = (id) => doc.getElementById(id);
    this.countdown = null;
    this.signInForm = new SignInForm(doc, (username, password, create) => this.on.onSignIn(username, password, create));
    this.composer = new Composer(doc, handlers, (text) => this.announce(text));
    this.phone = doc.defaultView.matchMedia(PHONE_LAYOUT); // the sidebar is a drawer
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
    $('notice-close').addEventListener('click', () => this.hideProblem());
    $('menu').addEventListener('click', () => this.setDrawer(!this.drawerOpen()));
    $('join-room').addEventListener('click', () => this.on.onJoin($('join-room').dataset.room));
    $('scrim').addEventListener('click', () => this.setDrawer(false));
    this.doc.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.drawerOpen()) {
        this.setDrawer(false);
        $('menu').focus();
      } else if (event.key === 'Tab' && this.drawerOpen()) {
        this.keepFocusInDrawer(event);
      }
    });
    // Widened past the phone layout, the sidebar is a column again: no drawer to keep open.
    this.phone.addEventListener('change', () => {
      if (!this.phone.matches && this.drawerOpen()) this.setDrawer(false);
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

  /**
   * Open or close the sidebar as a drawer (it only acts as one on narrow screens). While it is
   * open the page behind the scrim is inert: no focus, no clicks, hidden from screen readers.
   */
  setDrawer(open) {
    this.$('sidebar').classList.toggle('open', open);
    this.$('scrim').hidden = !open;
    this.$('menu').setAttribute('aria-expanded', String(open));
    const behind = open && this.phone.matches;
    this.doc.querySelector('main.main').inert = behind;
    this.doc.querySelector('.skip').inert = behind;
    if (open) {
      const first = this.drawerStops()[0];
      if (first) first.focus();
    }
  }

  /** The drawer's controls that Tab stops at, in order. */
  drawerStops() {
    return [...this.$('sidebar').querySelectorAll('button, a[href], input')].filter(
      (node) => !node.disabled && node.offsetParent !== null,
    );
  }

  /** Tab from the drawer's last control goes to its first, Shift+Tab from the first to its last. */
  keepFocusInDrawer(event) {
    const stops = this.drawerStops();
    if (!stops.length) return;
    const first = stops[0];
    const last = stops[stops.length - 1];
    const inside = this.$('sidebar').contains(this.doc.activeElement);
    if (event.shiftKey && (this.doc.activeElement === first || !inside)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (this.doc.activeElement === last || !inside)) {
      event.preventDefault();
      first.focus();
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
    const placeholder = room ? `Message ${room.kind === 'dm' ? '' : '#'}${store.title(room)}` : '';
    this.composer.setEnabled(Boolean(room && store.isMember(room)), placeholder);
  }

  /** The quote of the message the composer answers above it, or none (`message` null). */
  showReply(message) {
    const bar = this.$('reply-bar');
    bar.hidden = !message;
    this.$('reply-quote').textContent = message
      ? `${message.sender}: ${message.deleted ? 'This message was deleted' : plainText(message.text)}`
      : '';
  }

  /** Put a room's draft (or nothing) in the message box. */
  setComposerText(text) {
    this.composer.setText(text);
  }

  focusComposer() {
    this.composer.focus();
  }

  /**
   * Show how the page is connected; Offline counts down to the next try, with "Retry now" beside,
   * and a `degraded` connection says the server is busy. The state words are the pill's live text
   * (read out when they change); the countdown beside them is hidden from screen readers, which
   * would otherwise announce every second.
   */
  setStatus({ state, retryAt, degraded = false }) {
    clearInterval(this.countdown);
    const parts = [this.$('status'), this.$('loading-status')].map((pill) => {
      if (!pill.querySelector('.pill-state')) {
        const tick = el('span', 'pill-countdown');
        tick.setAttribute('aria-hidden', 'true');
        pill.replaceChildren(el('span', 'pill-state'), tick);
      }
      pill.dataset.state = degraded ? 'degraded' : state;
      return [pill.querySelector('.pill-state'), pill.querySelector('.pill-countdown')];
    });
    const label = (STATUS_TEXT[state] || state) + (degraded ? DEGRADED_TEXT : '');
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

  /**
   * Show that an action failed, where everyone sees it (an alert, so screen readers read it
   * too); it goes after NOTICE_SHOWN_MS or with its Dismiss button.
   */
  showProblem(text) {
    clearTimeout(this.noticeTimer);
    this.$('notice-text').textContent = text;
    this.$('notice').hidden = false;
    this.noticeTimer = setTimeout(() => this.hideProblem(), NOTICE_SHOWN_MS);
  }

  hideProblem() {
    clearTimeout(this.noticeTimer);
    this.$('notice').hidden = true;
    this.$('notice-text').textContent = '';
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
