/**
 * Entry point: builds the views and the controller and wires each view's handlers to the
 * controller or an action. Nothing else happens here. `?transport=polling` in the address skips
 * WebSockets entirely.
 */

import * as actions from './actions.js';
import { retryNow } from './api.js';
import { Controller } from './controller.js';
import { Dialogs } from './dialogs.js';
import { placeIcons } from './icons.js';
import * as messageActions from './message_actions.js';
import { MessagesView } from './messages_view.js';
import * as paging from './paging.js';
import * as search from './search.js';
import { SearchView } from './search_view.js';
import { View } from './view.js';

placeIcons(document);
const forcePolling = new URLSearchParams(location.search).get('transport') === 'polling';
let controller = null;

const view = new View(document, {
  onSignIn: (username, password, create) => controller.signIn(username, password, create),
  onSignOut: () => controller.signOut(),
  onOpenRoom: (roomId) => controller.openRoom(roomId),
  onOpenDm: (username) => actions.openDm(controller, username),
  onSend: (text) => actions.send(controller, text),
  onAttach: (files) => controller.attach(files),
  onTyping: () => actions.typing(controller),
  onLeave: () => actions.leave(controller),
  onInvite: () => actions.openInvite(controller),
  onCreateRoom: () => actions.openCreate(controller),
  onBrowse: () => actions.openBrowse(controller),
  onEnableNotifications: () => actions.enableNotifications(controller),
  onEditLast: () => messageActions.editLast(controller),
  onCancelReply: () => controller.cancelReply(),
  onRetryNow: () => retryNow(),
  onJoin: (roomId) =>
    actions.joinRoom(controller, roomId).catch((error) => view.joinFailed(`Could not join: ${error.message}`)),
  onDraft: (text) => controller.draftChanged(text),
});

const messagesView = new MessagesView(document, {
  // Deferred: the view asks while it renders, and loading renders again.
  onNeedOlder: () => setTimeout(() => paging.loadOlder(controller), 0),
  onNeedNewer: () => setTimeout(() => paging.showNewer(controller), 0),
  onReachBottom: () => controller.markReadIfSeen(),
  onJump: () => controller.jumpToEnd(),
  onRetry: (clientId) => controller.retryPending(clientId),
  onDiscard: (clientId) => controller.discardPending(clientId),
  onOpenImage: (url, name, opener) => view.openImage(url, name, opener),
  onReply: (seq) => controller.startReply(seq),
  onReact: (seq) => messageActions.openPicker(controller, seq),
  onEdit: (seq, text) => messageActions.edit(controller, seq, text),
  onDelete: (seq) => messageActions.remove(controller, seq),
  onToggleReaction: (seq, emoji) => messageActions.toggleReaction(controller, seq, emoji),
  onShowMessage: (seq) => messageActions.goToMessage(controller, seq),
  onRetryChange: (clientId) => controller.connection && controller.connection.delivery.retry(clientId),
  onDiscardChange: (clientId) => controller.connection && controller.connection.delivery.discard(clientId),
});

const dialogs = new Dialogs(document, {
  create: (name, visibility, members) => actions.createRoom(controller, name, visibility, members),
  join: (roomId) => actions.joinRoom(controller, roomId),
  invite: (username) => actions.invite(controller, username),
});

const searchView = new SearchView(document, {
  onSearch: (q) => search.run(controller, q),
  onMore: () => search.more(controller),
  onOpen: (roomId, seq) => search.open(controller, roomId, seq),
  onClose: () => {},
});

controller = new Controller(view, messagesView, dialogs, { forcePolling, searchView });
view.setNotificationButton('Notification' in window ? Notification.permission : 'unsupported');
/** The page is hidden, closed or reloaded: what was read goes to the server, the rest to storage. */
function leaving() {
  controller.sendReadPositions();
  controller.saveSnapshot();
}
document.addEventListener('visibilitychange', () => {
  if (document.hidden) leaving();
  else controller.markReadIfSeen();
});
window.addEventListener('pagehide', leaving);
// The app shell from a service worker: a reload while the server is down still shows the app.
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});
controller.boot();
