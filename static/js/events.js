/**
 * What happens on the page when something happens on the server: a message or room event
 * (from the WebSocket or a poll, already in `pos` order and de-duplicated by socket.js), a
 * typing notice, a presence change. Also the browser notification for a DM or a mention.
 */

const TYPING_SHOWN_MS = 4000;

/** Apply one `message` or `room` event to the store and the page. */
export function applyEvent(chat, event) {
  const store = chat.store;
  if (!store) return;
  if (event.type === 'message') applyMessage(chat, event.message);
  else if (event.type === 'room') applyRoom(chat, event);
}

function applyMessage(chat, message) {
  const store = chat.store;
  const room = store.rooms.get(message.room);
  if (!room) return; // not one of ours: a later room event or reload brings it
  if (!store.users.has(message.sender)) chat.refreshUsers();
  const mine = message.sender === store.me;
  const open = message.room === store.current;
  const seen = open && !document.hidden && chat.messagesView.atBottom();
  if (!mine && open && !seen && !chat.divider) {
    // The reader is scrolled up or away: mark where the new messages start.
    chat.divider = { room: message.room, after: store.lastRead[message.room] || 0 };
  }
  store.stopTyping(message.room, message.sender);
  chat.addMessages(message.room, [message]);
  if (open) showTyping(chat);
  if (mine) return;
  if (open) chat.view.announce(`${message.sender}: ${message.text}`);
  const direct = room.kind === 'dm';
  if (document.hidden && (direct || store.mentionsMe(message.text))) {
    const where = direct ? 'Direct message' : `In ${store.title(room)}`;
    notify(chat, `${message.sender} · ${where}`, message.text, message.room);
  }
}

function applyRoom(chat, event) {
  const store = chat.store;
  const before = store.rooms.get(event.room.id);
  const wasMember = Boolean(before && store.isMember(before));
  const room = store.putRoom(event.room);
  const isMember = Boolean(room && store.isMember(room));
  if (isMember && !wasMember && !(event.room.id in store.lastRead)) {
    // A room the user just joined or was added to: its past is not "unread".
    store.lastRead[event.room.id] = event.room.last_seq || 0;
    chat.saveRead();
  }
  if (event.room.id === store.current) {
    if (!isMember && (!room || room.visibility !== 'public')) {
      chat.divider = null;
      const fallback = store.myRooms('group')[0] || store.myRooms('dm')[0];
      if (fallback) chat.openRoom(fallback.id);
      else chat.showRoom(null);
      return;
    }
    chat.view.renderHeader(store, room);
  }
  if (isMember && !wasMember && event.user !== store.me && event.action !== 'joined') {
    const label = room.kind === 'dm' ? `${store.title(room)} started a conversation with you` : `You were added to ${room.name}`;
    chat.view.announce(label);
  }
  chat.view.renderSidebar(store);
  chat.dialogs.refreshBrowse(store.joinable());
  chat.updateTitle();
}

/** Apply a frame that is not an event: typing and presence. */
export function applyFrame(chat, frame) {
  const store = chat.store;
  if (!store) return;
  if (frame.type === 'typing' && frame.user !== store.me) {
    store.setTyping(frame.room, frame.user);
    showTyping(chat);
    setTimeout(() => showTyping(chat), TYPING_SHOWN_MS + 50);
  } else if (frame.type === 'presence') {
    store.setOnline(frame.user, frame.online);
    chat.view.renderSidebar(store);
  }
}

function showTyping(chat) {
  const store = chat.store;
  if (store && store.current) chat.view.renderTyping(store.typingIn(store.current));
}

/** A browser notification, only if the user allowed them and the tab is hidden. */
function notify(chat, title, body, roomId) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const note = new Notification(title, { body: body.slice(0, 200), tag: roomId });
  note.onclick = () => {
    window.focus();
    chat.openRoom(roomId);
    note.close();
  };
}
