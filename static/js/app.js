/**
 * Entry point: builds the views and the controller and wires each view's handlers to an action.
 * Nothing else happens here. `?transport=polling` in the address skips WebSockets entirely.
 */

import * as actions from './actions.js';
import { Chat } from './chat.js';
import { Dialogs } from './dialogs.js';
import { MessagesView } from './messages_view.js';
import { View } from './view.js';

const forcePolling = new URLSearchParams(location.search).get('transport') === 'polling';
let chat = null;

const view = new View(document, {
  onSignIn: (username, password) => chat.signIn(username, password),
  onSignOut: () => chat.signOut(),
  onOpenRoom: (roomId) => chat.openRoom(roomId),
  onOpenDm: (username) => actions.openDm(chat, username),
  onSend: (text) => actions.send(chat, text),
  onTyping: () => actions.typing(chat),
  onLeave: () => actions.leave(chat),
  onInvite: () => actions.openInvite(chat),
  onCreateRoom: () => actions.openCreate(chat),
  onBrowse: () => actions.openBrowse(chat),
  onEnableNotifications: () => actions.enableNotifications(chat),
});

const messagesView = new MessagesView(document, {
  // Deferred: the view asks while it renders, and loading renders again.
  onNeedOlder: () => setTimeout(() => actions.loadOlder(chat), 0),
  onReachBottom: () => chat.markReadIfSeen(),
  onRetry: (clientId) => chat.connection && chat.connection.delivery.retry(clientId),
  onDiscard: (clientId) => chat.connection && chat.connection.delivery.discard(clientId),
});

const dialogs = new Dialogs(document, {
  create: (name, visibility, members) => actions.createRoom(chat, name, visibility, members),
  join: (roomId) => actions.joinRoom(chat, roomId),
  invite: (username) => actions.invite(chat, username),
});

chat = new Chat(view, messagesView, dialogs, { forcePolling });
view.setNotificationButton('Notification' in window ? Notification.permission : 'unsupported');
document.addEventListener('visibilitychange', () => chat.markReadIfSeen());
chat.boot();
