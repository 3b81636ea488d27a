/**
 * The chat controller: signing in and out, the start-up load, opening rooms, and the user's
 * actions (send, create, join, invite, leave, DM). Live events are handled in events.js. It
 * talks to the server only through api.js and socket.js and to the page only through the views.
 */

import { ApiError, api, withRetry } from './api.js';
import { applyEvent, applyFrame } from './events.js';
import { Connection, saved } from './socket.js';
import { Store } from './store.js';

export const PAGE = 50; // messages fetched per history page
const USERNAME = /^[A-Za-z0-9_.-]{2,32}$/;
const USERS_REFRESH_MS = 60000; // new sign-ups have no event: the people list refreshes this often

export class Chat {
  constructor(view, messagesView, dialogs, { forcePolling = false } = {}) {
    this.view = view;
    this.messagesView = messagesView;
    this.dialogs = dialogs;
    this.forcePolling = forcePolling;
    this.store = null;
    this.connection = null;
    this.divider = null; // {room, after}: where the "new messages" line goes in the open room
    this.loadingOlder = false;
    this.gapLoading = new Set();
    this.usersTimer = null;
    this.session = 0; // bumps on sign-out, so late answers for an old session are dropped
    this.lastStatus = { state: 'connecting' };
  }

  /** The retry hooks that keep the status pill honest during start-up loads. */
  retryHooks() {
    return {
      onWait: (ms) => this.view.setStatus({ state: 'offline', retryAt: Date.now() + ms }),
      // Back to whatever the connection last said (start-up: still connecting).
      onOk: () => this.view.setStatus(this.lastStatus),
    };
  }

  /** First load: a valid cookie goes straight to the chats, otherwise the sign-in form. */
  async boot() {
    this.view.showLoading();
    try {
      const answer = await withRetry(() => api.getSession(), this.retryHooks());
      await this.enter(answer.user);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) this.view.showSignIn();
      else this.view.showSignIn(error.message);
    }
  }

  async signIn(username, password) {
    if (!USERNAME.test(username)) {
      this.view.setSignInError('A username is 2 to 32 letters, digits, "_", "-" or ".".');
      return;
    }
    if (password.length < 8 || password.length > 128) {
      this.view.setSignInError('A password is 8 to 128 characters.');
      return;
    }
    this.view.setSignInBusy(true);
    try {
      const answer = await api.signIn(username, password);
      await this.enter(answer.user);
    } catch (error) {
      this.view.setSignInBusy(false);
      if (error.code === 'invalid_credentials') this.view.setSignInError('Wrong password for this name.');
      else if (error.code === 'rate_limited') this.view.setSignInError('Too many tries. Wait a few minutes.');
      else this.view.setSignInError(error.message || 'Signing in did not work.');
    }
  }

  async signOut() {
    this.leaveSession();
    try {
      await api.signOut();
    } catch {
      // Already signed out on the server, or unreachable: the page is signed out either way.
    }
    this.view.showSignIn();
  }

  /** Forget everything of the current session on this page. */
  leaveSession() {
    this.session += 1;
    if (this.connection) this.connection.stop();
    this.connection = null;
    clearInterval(this.usersTimer);
    this.store = null;
  }

  /** The server no longer knows this session: back to the form, the outbox kept for later. */
  sessionEnded() {
    this.leaveSession();
    this.view.showSignIn('Your session ended. Sign in again; unsent messages are kept.');
  }

  /** Load the user's world (retrying through outages), then go live. */
  async enter(user) {
    const session = this.session;
    const me = user.username;
    this.store = new Store(me, saved.get(`chat.read.${me}`, {}));
    this.view.showApp(me);
    this.lastStatus = { state: 'connecting' };
    this.view.setStatus(this.lastStatus);
    // The cursor first: events after it are replayed over the lists, which is harmless.
    const first = await withRetry(() => api.events(), this.retryHooks());
    const [rooms, users] = await withRetry(() => Promise.all([api.rooms(), api.users()]), this.retryHooks());
    if (session !== this.session) return;
    this.store.setRooms(rooms.rooms);
    this.store.setUsers(users.users);
    this.saveRead();
    this.connection = new Connection(me, this.connectionHandlers(), { forcePolling: this.forcePolling });
    this.view.renderSidebar(this.store);
    const last = saved.get(`chat.room.${me}`, null);
    const general = [...this.store.rooms.values()].find((room) => room.name === 'general');
    const start = [last, general && general.id].find((id) => id && this.store.rooms.has(id));
    this.connection.start(first.pos);
    if (start) await this.openRoom(start);
    else this.showRoom(null);
    this.usersTimer = setInterval(() => this.refreshUsers(), USERS_REFRESH_MS);
  }

  connectionHandlers() {
    return {
      onEvent: (event) => applyEvent(this, event),
      onFrame: (frame) => applyFrame(this, frame),
      onConfirmed: (message) => this.addMessages(message.room, [message]),
      onStatus: (status) => {
        const was = this.lastStatus.state;
        this.lastStatus = status;
        this.view.setStatus(status);
        if (was !== status.state) this.renderMessages('update');
        if (status.state === 'live' || status.state === 'polling') this.refreshUsers();
      },
      onOutbox: () => this.renderMessages('update'),
      onUnauthorized: () => this.sessionEnded(),
    };
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

  saveRead() {
    if (this.store) saved.set(`chat.read.${this.store.me}`, this.store.lastRead);
  }

  /** Open a room: its latest page of history (retried through outages) and the divider. */
  async openRoom(roomId) {
    const store = this.store;
    const room = store.rooms.get(roomId);
    if (!room) return;
    this.view.setDrawer(false);
    store.current = roomId;
    saved.set(`chat.room.${store.me}`, roomId);
    const unread = store.unread(roomId);
    this.divider = unread > 0 ? { room: roomId, after: store.lastRead[roomId] || 0 } : null;
    this.showRoom(room);
    const history = store.history(roomId);
    if (!history.loaded) {
      this.messagesView.render(roomId, history, [], { me: store.me, dividerAfter: null, mode: 'open', olderState: 'Loading…' });
      const answer = await withRetry(() => api.messages(roomId, { limit: PAGE }), this.retryHooks());
      if (store !== this.store) return;
      history.loaded = true;
      history.hasOlder = answer.messages.length > 0 && answer.messages[0].seq > 1;
      this.addMessages(roomId, answer.messages, true);
      // A message that arrived while the page was on its way is fetched, not lost.
      const latest = store.rooms.get(roomId);
      if (latest && (latest.last_seq || 0) > history.last) this.fillGap(roomId);
      if (store.current !== roomId) return;
    }
    this.renderMessages('open');
    this.markReadIfSeen();
    this.view.focusComposer();
  }

  showRoom(room) {
    this.view.renderHeader(this.store, room);
    this.view.renderSidebar(this.store);
    this.view.renderTyping([]);
    this.updateTitle();
  }

  updateTitle() {
    const room = this.store.current && this.store.rooms.get(this.store.current);
    this.view.setTitle(this.store.totalUnread(), room ? this.store.title(room) : '');
  }

  /** Redraw the open room's messages; `mode` as in MessagesView.render. */
  renderMessages(mode) {
    const store = this.store;
    if (!store || !store.current) return;
    const history = store.history(store.current);
    if (!history.loaded) return;
    const entries = this.connection ? this.connection.delivery.outbox.forRoom(store.current) : [];
    const divider = this.divider && this.divider.room === store.current ? this.divider.after : null;
    let olderState = history.hasOlder ? '' : 'This is the start of the conversation.';
    if (this.loadingOlder) olderState = 'Loading older messages…';
    const waiting = !['live', 'polling'].includes(this.lastStatus.state);
    this.messagesView.render(store.current, history, entries, { me: store.me, dividerAfter: divider, mode, olderState, waiting });
  }

  /** The reader can see the end of the open room: everything in it is read. */
  markReadIfSeen() {
    const store = this.store;
    if (!store || !store.current || document.hidden || !this.messagesView.atBottom()) return;
    if (store.unread(store.current) === 0) return;
    store.markRead(store.current);
    this.saveRead();
    this.view.renderSidebar(store);
    this.updateTitle();
  }

  /**
   * Add stored messages of a room. A loaded history only takes a run that continues it; a
   * jump in `seq` fetches the gap instead. `initial` is the first page of a room.
   */
  addMessages(roomId, messages, initial = false) {
    const store = this.store;
    if (!store) return;
    const history = store.history(roomId);
    const room = store.rooms.get(roomId);
    if (!initial && !history.loaded) {
      for (const m of messages) if (room && m.seq > (room.last_seq || 0)) room.last_seq = m.seq;
    } else if (!initial && messages.length && messages[0].seq > history.last + 1) {
      for (const m of messages) if (room && m.seq > (room.last_seq || 0)) room.last_seq = m.seq;
      this.fillGap(roomId);
      return;
    } else {
      store.addMessages(roomId, messages);
    }
    if (roomId === store.current) {
      this.renderMessages(initial ? 'open' : 'update');
      this.markReadIfSeen();
    }
    this.view.renderSidebar(store);
    this.updateTitle();
  }

  /** Fetch every message after the last loaded one, up to the room's newest. */
  async fillGap(roomId) {
    if (this.gapLoading.has(roomId)) return;
    this.gapLoading.add(roomId);
    const store = this.store;
    try {
      for (;;) {
        const history = store.history(roomId);
        const answer = await withRetry(() => api.messages(roomId, { after: history.last, limit: 200 }), this.retryHooks());
        if (store !== this.store || !answer.messages.length) break;
        store.addMessages(roomId, answer.messages);
        if (answer.messages.length < 200) break;
      }
    } catch (error) {
      if (error.status === 401) this.sessionEnded();
    } finally {
      this.gapLoading.delete(roomId);
    }
    if (store === this.store) this.addMessages(roomId, []);
  }
}
