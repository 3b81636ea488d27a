/**
 * The controller, the one owner of the page's state (TodoMVC's shape): it holds the store, changes
 * it, and tells the views exactly what changed: one message node appended or replaced, one outbox
 * entry, the sidebar rows that differ. Signing in and out, the start-up load and opening rooms
 * are here; what each kind of live event means is its event table (renderers.js); history pages
 * and gaps are paging.js; the user's actions are actions.js. All of them work on this object's
 * state. It talks to the server only through api.js and socket.js, to localStorage only through
 * persist.js, and to the page only through the views.
 */

import { ApiError, api, loadLimits, withRetry } from './api.js';
import { fillGap, loadAround, olderState } from './paging.js';
import { FileShelf, Saved, forgetLastSession, lastSession, saveLastSession } from './persist.js';
import { EVENTS, FRAMES } from './renderers.js';
import {
  DOM_MESSAGES_MAX,
  DOM_MESSAGES_OPEN,
  KEPT_WHEN_LEFT,
  READ_SYNC_MS,
  SNAPSHOT_MESSAGES,
  TYPING_SHOWN_MS,
  USERS_REFRESH_MS,
  limits,
  pageSize,
  passwordProblem,
  setLimits,
  usernameProblem,
} from './rules.js';
import { Search } from './search.js';
import { Connection } from './socket.js';
import { Store } from './store.js';
import { Uploads } from './uploads.js';

export class Controller {
  constructor(view, messagesView, dialogs, { forcePolling = false, searchView = null } = {}) {
    this.view = view;
    this.messagesView = messagesView;
    this.dialogs = dialogs;
    this.searchView = searchView;
    this.search = new Search();
    this.forcePolling = forcePolling;
    this.store = null;
    this.saved = null;
    this.connection = null;
    this.uploads = null; // files on their way (uploads.js)
    this.divider = null; // {room, after}: where the "new messages" line goes in the open room
    this.loadingOlder = false;
    this.loadingNewer = false;
    this.gapLoading = new Set();
    this.usersTimer = null;
    this.session = 0; // bumps on sign-out, so late answers for an old session are dropped
    this.lastStatus = { state: 'connecting' };
    this.replyTo = null; // {room, seq}: the message the composer answers
    this.parents = new Map(); // "room/seq" -> a replied-to message not in the loaded history
    this.updatedAt = new Map(); // "room/seq" -> when an update event last changed it
    this.drafts = {}; // room id -> the composer's unsent text there (kept through persist.js)
    messagesView.setLookups({
      changes: (seq) => this.changesTo(this.store && this.store.current, seq),
      parent: (seq) => this.parentOf(this.store && this.store.current, seq),
      canAct: () => this.isMemberHere(),
      canEdit: (message) => this.isMemberHere() && message.sender === this.store.me,
      canDelete: (message) => this.mayDelete(message),
    });
  }

  /* ---- what the message list asks about messages ---- */

  isMemberHere() {
    const room = this.store && this.store.rooms.get(this.store.current);
    return Boolean(room && this.store.isMember(room));
  }

  /** Its sender, or the creator of the group room it is in. */
  mayDelete(message) {
    const room = this.store && this.store.rooms.get(message.room);
    if (!room || !this.store.isMember(room)) return false;
    return message.sender === this.store.me || (room.kind === 'group' && room.created_by === this.store.me);
  }

  /** The outbox's changes to message `seq` of `roomId`. */
  changesTo(roomId, seq) {
    return this.connection && roomId ? this.connection.delivery.outbox.changesTo(roomId, seq) : [];
  }

  /** Message `seq` of `roomId` when known: loaded, or fetched once for a reply's quote. */
  parentOf(roomId, seq) {
    if (!this.store || !roomId) return null;
    const history = this.store.history(roomId);
    const index = history.indexOf(seq);
    if (index >= 0) return history.messages[index];
    const key = `${roomId}/${seq}`;
    if (this.parents.has(key)) return this.parents.get(key);
    this.parents.set(key, null); // asked once; the quote says "an earlier message" meanwhile
    const store = this.store;
    api.message(roomId, seq).then(
      (answer) => {
        if (store !== this.store) return;
        this.parents.set(key, answer.message);
        if (roomId === store.current) this.messagesView.refreshReplies(seq);
      },
      () => {}, // gone or unreachable: the quote stays general
    );
    return null;
  }

  /** The retry hooks that keep the status pill honest during start-up loads. */
  retryHooks() {
    return {
      onWait: (ms) => this.view.setStatus({ state: 'offline', retryAt: Date.now() + ms }),
      // Back to whatever the connection last said (start-up: still connecting).
      onOk: () => this.view.setStatus(this.lastStatus),
    };
  }

  /**
   * First load: the server's limits, then a valid cookie goes straight to the chats. When the
   * server cannot be reached and someone was signed in on this browser, their app shows at once
   * as it was saved (rooms, the open room's newest messages, the outbox) while the loads retry.
   */
  async boot() {
    this.view.showLoading();
    const last = lastSession();
    try {
      if (last) {
        try {
          setLimits(await api.limits());
        } catch (error) {
          if (!(error instanceof ApiError && error.transient)) throw error;
          setLimits(last.limits);
          this.view.applyLimits();
          await this.enter(last.user, { fromSaved: true });
          return;
        }
      } else {
        await loadLimits(this.retryHooks());
      }
      this.view.applyLimits();
      const answer = await withRetry(() => api.getSession(), this.retryHooks());
      await this.enter(answer.user);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) this.showSignIn();
      else this.showSignIn(error.message);
    }
  }

  /** The sign-in form; the app this browser would show offline is forgotten (the outbox stays). */
  showSignIn(message = '') {
    forgetLastSession();
    this.view.showSignIn(message);
  }

  /** Sign in; with `create` (the person confirmed a name nobody has) register it. */
  async signIn(username, password, create = false) {
    const nameProblem = usernameProblem(username);
    const problem = nameProblem || passwordProblem(password);
    if (problem) {
      this.view.setSignInError(problem, nameProblem ? 'username' : 'password');
      return;
    }
    this.view.setSignInBusy(true);
    try {
      const answer = await api.signIn(username, password, create);
      await this.enter(answer.data.user, { registered: answer.status === 201 });
    } catch (error) {
      this.view.setSignInBusy(false);
      // The server's own sentence says why (a name too like another's, a guessable password, a
      // limit and how long to wait), tied to the field it is about; a wrong password and a name
      // nobody has are worded here.
      if (error.code === 'not_found') this.view.offerToCreate(username);
      else if (error.code === 'invalid_credentials') this.view.setSignInError('Wrong password for this name.', 'password');
      else if (error.code === 'weak_password') this.view.setSignInError(error.message, 'password');
      else if (error.code === 'username_taken') this.view.setSignInError(error.message, 'username');
      else this.view.setSignInError(error.message || 'Signing in did not work.');
    }
  }

  /**
   * Sign out on the server first: only once it has ended the session (or says it had already
   * ended, 401) does the page leave it. When the server cannot be reached the session and the
   * cookie live on, so the page stays signed in, says so and offers to try again; showing the
   * sign-in form would let the next person at this browser reload into the session.
   */
  async signOut() {
    this.view.setSignOutBusy(true);
    try {
      await api.signOut();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) {
        this.view.setSignOutBusy(false);
        const why = error.message || 'the server did not answer';
        this.view.showSignOutProblem(`Signing out did not work: ${why} You are still signed in here.`);
        return;
      }
    }
    this.view.setSignOutBusy(false);
    if (this.saved) this.saved.forgetSnapshot();
    this.leaveSession();
    this.showSignIn();
  }

  /** Forget everything of the current session on this page. */
  leaveSession() {
    this.session += 1;
    clearTimeout(this.readTimer);
    this.readTimer = null;
    if (this.connection) this.connection.stop();
    this.connection = null;
    if (this.uploads) this.uploads.stop();
    this.uploads = null;
    clearInterval(this.usersTimer);
    this.store = null;
    this.replyTo = null;
    this.parents.clear();
    this.updatedAt.clear();
    this.view.showReply(null);
    this.view.setComposerText('');
    this.messagesView.clear();
    this.search = new Search();
    if (this.searchView) this.searchView.reset();
  }

  /** The server no longer knows this session: back to the form, the outbox kept for later. */
  sessionEnded() {
    this.leaveSession();
    this.showSignIn('Your session ended. Sign in again; unsent messages are kept.');
  }

  /**
   * Load the user's world (retrying through outages), then go live. `fromSaved`: the server could
   * not be reached, so the saved snapshot shows meanwhile (and the outbox takes new messages).
   */
  async enter(user, { registered = false, fromSaved = false } = {}) {
    const session = this.session;
    const me = user.username;
    this.saved = new Saved(me);
    this.drafts = this.saved.drafts();
    this.store = new Store(me);
    this.readSent = {}; // room id -> the read position the server has confirmed
    saveLastSession(user, limits);
    this.view.showApp(me);
    this.lastStatus = { state: 'connecting' };
    this.view.setStatus(this.lastStatus);
    this.connection = new Connection(me, this.connectionHandlers(), { forcePolling: this.forcePolling, saved: this.saved });
    const snapshot = fromSaved ? this.saved.snapshot() : null;
    if (snapshot) this.showSnapshot(snapshot);
    // The cursor first: events after it are replayed over the lists, which is harmless.
    const first = await withRetry(() => api.events(), this.retryHooks());
    const [rooms, users] = await withRetry(() => Promise.all([api.rooms(), api.users()]), this.retryHooks());
    if (session !== this.session) return;
    // What the snapshot showed may be old: every room's history loads afresh.
    if (snapshot) this.store.histories.clear();
    this.store.setRooms(rooms.rooms);
    this.store.setUsers(users.users);
    for (const room of rooms.rooms) if (room.read_seq) this.readSent[room.id] = room.read_seq;
    // A new account's rooms (general) held messages from before it existed: none are unread.
    if (registered) {
      for (const room of this.store.rooms.values()) if (this.store.isMember(room)) this.store.markRead(room.id);
    }
    this.saveRead();
    this.uploads = new Uploads(new FileShelf(me), {
      onChange: (change) => this.outboxChanged(change),
      onProgress: (clientId, fraction) => this.messagesView.setProgress(clientId, fraction),
      onConfirmed: (message) => this.addMessages(message.room, [message]),
      onUnauthorized: () => this.sessionEnded(),
    });
    this.uploads.load();
    this.view.renderSidebar(this.store);
    const general = [...this.store.rooms.values()].find((room) => room.name === 'general');
    const start = [this.saved.lastRoom(), general && general.id].find((id) => id && this.store.rooms.has(id));
    this.connection.start(first.pos);
    if (start) await this.openRoom(start);
    else this.showRoom(null);
    this.usersTimer = setInterval(() => this.refreshUsers(), USERS_REFRESH_MS);
  }

  /** The app as saved before the reload: the rooms, people, the open room with its outbox. */
  showSnapshot(snapshot) {
    const store = this.store;
    store.setRooms(snapshot.rooms);
    store.setUsers(snapshot.users || []);
    this.view.renderSidebar(store);
    const room = store.rooms.get(snapshot.room);
    if (!room) return;
    store.current = room.id;
    const history = store.history(room.id);
    history.loaded = true;
    store.addMessages(room.id, snapshot.messages);
    history.hasOlder = history.messages.length > 0 && history.first > 1;
    this.showRoom(room);
    this.renderRoom();
  }

  /** Keep what the page shows for a reload that finds the server unreachable (the page is hidden). */
  saveSnapshot() {
    const store = this.store;
    if (!store || !this.saved) return;
    const current = store.current ? store.history(store.current).messages : [];
    this.saved.saveSnapshot({
      rooms: [...store.rooms.values()],
      users: [...store.users.values()].map((user) => ({ username: user.username, online: false })),
      room: store.current,
      messages: current.slice(-SNAPSHOT_MESSAGES),
    });
  }

  connectionHandlers() {
    return {
      onEvent: (event) => this.dispatch(EVENTS, event),
      onFrame: (frame) => this.dispatch(FRAMES, frame),
      onConfirmed: (message) => this.addMessages(message.room, [message]),
      onStatus: (status) => {
        this.lastStatus = status;
        this.view.setStatus(status);
        this.messagesView.setWaiting(!['live', 'polling'].includes(status.state));
        if (this.uploads) this.uploads.setOnline(['live', 'polling'].includes(status.state));
        if (status.state === 'live' || status.state === 'polling') this.refreshUsers();
      },
      onOutbox: (change) => this.outboxChanged(change),
      onChanged: (message, sentAt) => this.changeConfirmed(message, sentAt),
      onUnauthorized: () => this.sessionEnded(),
    };
  }

  /**
   * Hand an event (or frame) to its entry in `table` by `type`. A kind with no entry is ignored
   * (the transport has already moved its cursor past it). A failing entry is reported as a page
   * error without breaking the transport that delivered it.
   */
  dispatch(table, item) {
    const handler = Object.hasOwn(table, item.type) ? table[item.type] : null;
    if (!handler || !this.store) return;
    try {
      handler(this, item);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  async refreshUsers() {
    if (!this.store) return;
    try {
      const answer = await api.users();
      if (!this.store) return;
      this.store.setUsers(answer.users);
      this.view.renderSidebar(this.store);
    } catch (error) {
      if (error.status === 401) this.sessionEnded();
    }
  }

  /**
   * Tell the server, within READ_SYNC_MS, every read position that moved past what it confirmed;
   * the positions that move meanwhile go together. One that fails (an outage) is sent again by
   * the next call; the server never moves a position back, so a late or repeated one is harmless.
   */
  saveRead() {
    if (!this.store || this.readTimer) return;
    this.readTimer = setTimeout(() => this.sendReadPositions(), READ_SYNC_MS);
  }

  /** Send the read positions now (the page is being hidden or closed). */
  sendReadPositions() {
    clearTimeout(this.readTimer);
    this.readTimer = null;
    const store = this.store;
    if (!store) return;
    const sent = this.readSent;
    for (const [roomId, seq] of Object.entries(store.lastRead)) {
      if (seq <= (sent[roomId] || 0) || !store.rooms.has(roomId)) continue;
      sent[roomId] = seq;
      api.markRead(roomId, seq).catch(() => {
        if (this.readSent === sent && sent[roomId] === seq) delete sent[roomId];
      });
    }
  }

  /** The user's read position moved on another tab or device (a `read` event). */
  readElsewhere(roomId, seq) {
    if (!this.store) return;
    this.readSent[roomId] = Math.max(this.readSent[roomId] || 0, seq);
    this.store.markReadUpTo(roomId, seq);
    this.view.renderSidebar(this.store);
    this.updateTitle();
  }

  /** Take a room as an answer or an event shows it; the sidebar, header and browse list follow. */
  putRoom(room) {
    if (!this.store) return null; // an answer that arrived after signing out
    const stored = this.store.putRoom(room);
    if (stored && room.id === this.store.current) this.view.renderHeader(this.store, stored);
    this.view.renderSidebar(this.store);
    this.dialogs.refreshBrowse(this.store.joinable());
    this.updateTitle();
    return stored;
  }

  /**
   * Open a room: its latest page of history (retried through outages) and the divider; or, with
   * `at` (a search result's seq), the history around that message, shown and highlighted.
   */
  async openRoom(roomId, { at = null } = {}) {
    const store = this.store;
    const room = store.rooms.get(roomId);
    if (!room) return;
    this.view.setDrawer(false);
    // The room left keeps only its newest messages; scrolling back there loads the rest again.
    if (store.current && store.current !== roomId) store.history(store.current).keepNewest(KEPT_WHEN_LEFT);
    if (store.current !== roomId) this.cancelReply();
    store.current = roomId;
    this.view.setComposerText(this.drafts[roomId] || '');
    this.saved.saveLastRoom(roomId);
    const unread = store.unread(roomId);
    this.divider = unread > 0 ? { room: roomId, after: store.lastRead[roomId] || 0 } : null;
    this.showRoom(room);
    const history = store.history(roomId);
    if (at !== null) {
      if (!history.loaded || history.indexOf(at) < 0) this.messagesView.clear('Loading…');
      const found = await loadAround(this, roomId, at);
      if (store !== this.store || store.current !== roomId) return;
      if (found) {
        this.revealMessage(at);
        return;
      }
      history.reset(); // gone since (deleted): the room opens at its end instead
    }
    if (!history.loaded) {
      this.messagesView.clear('Loading…');
      const answer = await withRetry(() => api.messages(roomId, { limit: pageSize() }), this.retryHooks());
      if (store !== this.store) return;
      history.loaded = true;
      history.hasOlder = answer.messages.length > 0 && answer.messages[0].seq > 1;
      store.addMessages(roomId, answer.messages);
      // A message that arrived while the page was on its way is fetched, not lost.
      const latest = store.rooms.get(roomId);
      if (latest && (latest.last_seq || 0) > history.last) fillGap(this, roomId);
      if (store.current !== roomId) return;
    }
    this.renderRoom();
    this.markReadIfSeen();
    this.view.focusComposer();
  }

  showRoom(room) {
    this.view.renderHeader(this.store, room);
    this.view.renderSidebar(this.store);
    this.view.renderTyping([]);
    if (!room) this.messagesView.clear();
    this.updateTitle();
  }

  updateTitle() {
    const store = this.store;
    const room = store.current && store.rooms.get(store.current);
    const total = store.totalUnread();
    this.view.setTitle(total, room ? store.title(room) : '');
    this.view.setMenuBadge(total - (store.current ? store.unread(store.current) : 0));
  }

  /** Show the open room from scratch: its newest loaded messages (from the divider, if near). */
  renderRoom() {
    const store = this.store;
    const roomId = store.current;
    const messages = store.history(roomId).messages;
    const after = this.divider && this.divider.room === roomId ? this.divider.after : null;
    let start = Math.max(0, messages.length - DOM_MESSAGES_OPEN);
    if (after !== null) {
      const unread = messages.findIndex((m) => m.seq > after);
      if (unread >= 0 && unread < start) start = Math.max(0, unread - 5, messages.length - DOM_MESSAGES_MAX);
    }
    this.renderSlice(start, messages.length, after);
  }

  /** Show messages [start, end) of the open room's loaded history (to the end: with the outbox). */
  renderSlice(start, end, dividerAfter = null) {
    const store = this.store;
    const roomId = store.current;
    const shown = store.history(roomId).messages.slice(start, end);
    const atEnd = end >= store.history(roomId).messages.length;
    const entries = [
      ...(this.connection ? this.connection.delivery.outbox.forRoom(roomId) : []),
      ...(this.uploads ? this.uploads.forRoom(roomId) : []),
    ];
    this.messagesView.show(roomId, shown, entries, {
      me: store.me,
      dividerAfter,
      olderState: olderState(this, shown.length ? shown[0].seq : null),
      waiting: !['live', 'polling'].includes(this.lastStatus.state),
      atEnd,
    });
  }

  /** Show the open room's loaded messages around `seq`, that one scrolled to and highlighted. */
  revealMessage(seq) {
    const store = this.store;
    const roomId = store.current;
    const history = store.history(roomId);
    const messages = history.messages;
    const index = history.indexOf(seq);
    const start = Math.max(0, Math.min(index - DOM_MESSAGES_OPEN / 2, messages.length - DOM_MESSAGES_OPEN));
    const shown = messages.slice(start, start + DOM_MESSAGES_OPEN);
    const atEnd = !history.newer && shown[shown.length - 1].seq === history.last;
    const entries = atEnd && this.connection ? this.connection.delivery.outbox.forRoom(roomId) : [];
    this.messagesView.show(roomId, shown, entries, {
      me: store.me,
      dividerAfter: null,
      olderState: olderState(this, shown[0].seq),
      waiting: !['live', 'polling'].includes(this.lastStatus.state),
      atEnd,
    });
    this.messagesView.highlight(seq);
    this.markReadIfSeen();
  }

  /** The reader can see the end of the open room: everything in it is read. */
  markReadIfSeen() {
    const store = this.store;
    if (!store || !store.current || document.hidden || !this.messagesView.atBottom()) return;
    if (!this.messagesView.atEnd || store.unread(store.current) === 0) return;
    store.markRead(store.current);
    this.saveRead();
    this.view.renderSidebar(store);
    this.updateTitle();
  }

  /** New messages of the open room arrive while the reader is away from the end: mark where. */
  markNewFrom(roomId) {
    if (this.divider) return;
    this.divider = { room: roomId, after: this.store.lastRead[roomId] || 0 };
    this.messagesView.setDivider(this.divider.after);
  }

  /**
   * Add stored messages of a room. A loaded history only takes a run that continues it; a
   * jump in `seq` fetches the gap instead.
   */
  addMessages(roomId, messages) {
    const store = this.store;
    if (!store) return;
    const history = store.history(roomId);
    const room = store.rooms.get(roomId);
    const gap = history.loaded && !history.newer && messages.length && messages[0].seq > history.last + 1;
    if (!history.loaded || gap || (history.newer && messages.length)) {
      for (const m of messages) if (room && m.seq > (room.last_seq || 0)) room.last_seq = m.seq;
      if (gap) fillGap(this, roomId);
      // A run opened at a search result does not reach the end: the news waits below.
      else if (history.newer && roomId === store.current) this.messagesView.showJump();
    } else {
      this.takeMessages(roomId, messages);
    }
    if (roomId === store.current) this.markReadIfSeen();
    this.view.renderSidebar(store);
    this.updateTitle();
  }

  /** Into the store; the open room's view appends each new one after its last. */
  takeMessages(roomId, messages) {
    const last = this.store.history(roomId).last;
    const fresh = this.store.addMessages(roomId, messages);
    if (roomId !== this.store.current || this.messagesView.roomId !== roomId) return;
    for (const message of fresh) if (message.seq > last) this.messagesView.append(message);
  }

  /**
   * A message changed (an `update` event): the store's copy and its one node are replaced, and
   * the quotes of the replies to it in the window follow.
   */
  replaceMessage(message) {
    const key = `${message.room}/${message.seq}`;
    this.updatedAt.set(key, Date.now());
    if (this.parents.has(key)) this.parents.set(key, message);
    const loaded = this.store.history(message.room).replace(message);
    if (message.deleted && this.connection) {
      // Nothing can change a deleted message any more: its waiting edits and reactions go.
      for (const entry of this.changesTo(message.room, message.seq)) this.connection.delivery.discard(entry.client_id);
    }
    if (message.room !== this.store.current) return;
    if (loaded) this.messagesView.replace(message);
    this.messagesView.refreshReplies(message.seq);
    if (this.replyTo && this.replyTo.room === message.room && this.replyTo.seq === message.seq) {
      this.view.showReply(message);
    }
  }

  /**
   * The server confirmed one of the user's changes, answering with the message as it was then.
   * An update event that arrived after the request left may be newer: then the events have
   * the last word (the change's own event comes too), and the answer is not shown.
   */
  changeConfirmed(message, sentAt) {
    if (!this.store) return;
    const key = `${message.room}/${message.seq}`;
    if ((this.updatedAt.get(key) || 0) >= sentAt) return;
    if (this.store.history(message.room).replace(message) && message.room === this.store.current) {
      this.messagesView.replace(message);
    }
  }

  /** The "new messages below" button, or sending: to the newest message, rendered if trimmed. */
  jumpToEnd() {
    if (!this.store || !this.store.current) return;
    const history = this.store.history(this.store.current);
    if (history.newer) {
      // The run around a search result stops short of the end: open the room at its end.
      history.reset();
      this.openRoom(this.store.current).then(() => this.messagesView.scrollToBottom());
      return;
    }
    if (!this.messagesView.atEnd) this.renderRoom();
    this.messagesView.scrollToBottom();
  }

  /** The user attached files (button, paste or drop): they go to the open room's upload queue. */
  attach(files) {
    if (!this.store || !this.store.current || !this.uploads) return;
    this.uploads.add(this.store.current, files);
    this.jumpToEnd();
  }

  /** A pending entry's Retry or Discard (Cancel, for an upload): the outbox or the uploads own it. */
  retryPending(clientId) {
    if (this.uploads && this.uploads.has(clientId)) this.uploads.retry(clientId);
    else if (this.connection) this.connection.delivery.retry(clientId);
  }

  discardPending(clientId) {
    if (this.uploads && this.uploads.has(clientId)) this.uploads.discard(clientId);
    else if (this.connection) this.connection.delivery.discard(clientId);
  }

  /** One outbox entry changed: only its node in the open room changes. */
  outboxChanged({ kind, entry, clientId }) {
    if (!this.store) return;
    if (entry && entry.kind) {
      // A change to a sent message: that message is drawn again, with it or without it.
      if (entry.room === this.store.current) this.messagesView.refresh(entry.seq);
      return;
    }
    if (kind === 'remove') this.messagesView.removePending(clientId);
    else if (entry && entry.room === this.store.current && this.messagesView.roomId === entry.room) {
      if (kind === 'add') this.messagesView.addPending(entry);
      else this.messagesView.updatePending(entry);
    }
  }

  /** The composer's text changed: it is the open room's draft, kept across reloads. */
  draftChanged(text) {
    const store = this.store;
    if (!store || !store.current || (this.drafts[store.current] || '') === text) return;
    if (text) this.drafts[store.current] = text;
    else delete this.drafts[store.current];
    this.saved.saveDraft(store.current, text);
  }

  /** The composer answers message `seq` of the open room: its quote shows above the composer. */
  startReply(seq) {
    const message = this.parentOf(this.store.current, seq);
    if (!message || message.deleted) return;
    this.replyTo = { room: this.store.current, seq };
    this.view.showReply(message);
    this.view.focusComposer();
  }

  cancelReply() {
    this.replyTo = null;
    this.view.showReply(null);
  }

  /** Show who is typing in the open room; again once the notices may have run out. */
  showTyping(later = false) {
    const store = this.store;
    if (store && store.current) this.view.renderTyping(store.typingIn(store.current));
    if (later) setTimeout(() => this.showTyping(), TYPING_SHOWN_MS + 50);
  }
}
