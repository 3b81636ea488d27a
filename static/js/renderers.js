/**
 * The controller's event table: what each kind of live event means for the page. socket.js hands
 * every event (anything with a numeric `pos`, from the WebSocket or a poll, already in `pos` order
 * and de-duplicated) to `Controller.dispatch`, which looks its `type` up in EVENTS; a type with no
 * entry is ignored, its `pos` still counted. Frames without a `pos` (typing, presence) go through
 * FRAMES the same way.
 *
 * Adding a new event kind: add an entry here, `kind(controller, event)`, that changes the state
 * through the controller and store and lets them redraw what changed. Nothing in the transports
 * changes.
 */

import { plainText } from './markdown.js';

export const EVENTS = {
  /** A new stored message: appended to its room (one node when the room is open). */
  message(controller, event) {
    const message = event.message;
    // Our own message coming back confirms its outbox entry, even if its ack was lost.
    if (controller.connection) controller.connection.delivery.echoed(message);
    const store = controller.store;
    const room = store.rooms.get(message.room);
    if (!room) return; // not one of ours: a later room event or reload brings it
    if (!store.users.has(message.sender)) controller.refreshUsers();
    const mine = message.sender === store.me;
    const open = message.room === store.current;
    const seen = open && !document.hidden && controller.messagesView.atBottom() && controller.messagesView.atEnd;
    // The reader is scrolled up or away: mark where the new messages start.
    if (!mine && open && !seen) controller.markNewFrom(message.room);
    store.stopTyping(message.room, message.sender);
    controller.addMessages(message.room, [message]);
    if (open) controller.showTyping();
    if (mine) return;
    const said = plainText(message.text) || (message.file ? `shared ${message.file.name}` : '');
    if (open) controller.view.announce(`${message.sender}: ${said}`);
    const direct = room.kind === 'dm';
    if (document.hidden && (direct || store.mentionsMe(message.text))) {
      const where = direct ? 'Direct message' : `In ${store.title(room)}`;
      notify(controller, `${message.sender} · ${where}`, plainText(message.text), message.room);
    }
  },

  /** A stored message changed (edited, deleted, reacted to): its node is replaced by `seq`. */
  update(controller, event) {
    controller.replaceMessage(event.message);
  },

  /** The user's read position in a room moved, on this or another tab or device. */
  read(controller, event) {
    controller.readElsewhere(event.room, event.seq);
  },

  /** A room was created, or someone joined, left, was added or removed. */
  room(controller, event) {
    const store = controller.store;
    const before = store.rooms.get(event.room.id);
    const wasMember = Boolean(before && store.isMember(before));
    const room = controller.putRoom(event.room);
    const isMember = Boolean(room && store.isMember(room));
    if (isMember && !wasMember && !(event.room.id in store.lastRead)) {
      // A room the user just joined or was added to: its past is not "unread".
      store.markReadUpTo(event.room.id, event.room.last_seq || 0);
      controller.saveRead();
      controller.view.renderSidebar(store);
      controller.updateTitle();
    }
    if (event.room.id === store.current && !isMember && (!room || room.visibility !== 'public')) {
      controller.divider = null;
      const fallback = store.myRooms('group')[0] || store.myRooms('dm')[0];
      if (fallback) controller.openRoom(fallback.id);
      else controller.showRoom(null);
      return;
    }
    // Added by someone else: at a room's creation (`user` is its creator) or invited later
    // (`added`, `user` is the one added: this user). Joining is the user's own doing.
    const byOther = event.action === 'added' || (event.action === 'created' && event.user !== store.me);
    if (isMember && !wasMember && byOther) {
      const label = room.kind === 'dm' ? `${store.title(room)} started a conversation with you` : `You were added to ${room.name}`;
      controller.view.announce(label);
    }
  },
};

export const FRAMES = {
  typing(controller, frame) {
    if (frame.user === controller.store.me) return;
    controller.store.setTyping(frame.room, frame.user);
    controller.showTyping(true);
  },

  presence(controller, frame) {
    controller.store.setOnline(frame.user, frame.online);
    controller.view.renderSidebar(controller.store);
  },
};

/** A browser notification, only if the user allowed them (the tab is hidden). */
function notify(controller, title, body, roomId) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const note = new Notification(title, { body: body.slice(0, 200), tag: roomId });
  note.onclick = () => {
    window.focus();
    controller.openRoom(roomId);
    note.close();
  };
}
