/**
 * The dialogs: create a room, browse and join public rooms, invite someone, and the reaction
 * picker (common emoji and a filter box). Each uses a
 * native <dialog> (focus stays inside, Escape closes) and shows the server's refusal inline.
 * The handlers return promises; a rejected one carries the message to show.
 */

import { el } from './format.js';
import { COMMON_EMOJI, codePoints, limits } from './rules.js';

function wireCancel(dialog) {
  for (const button of dialog.querySelectorAll('button.cancel')) {
    button.addEventListener('click', () => dialog.close());
  }
}

export class Dialogs {
  /** `handlers`: create(name, visibility, members), join(roomId), invite(username). */
  constructor(doc, handlers) {
    this.$ = (id) => doc.getElementById(id);
    this.on = handlers;
    for (const id of ['room-dialog', 'browse-dialog', 'invite-dialog', 'emoji-dialog']) wireCancel(this.$(id));
    this.wireEmoji();
    this.$('room-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.submitRoom();
    });
    this.$('room-name-input').addEventListener('input', () => this.checkRoomName());
    this.$('invite-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.submitInvite();
    });
    this.$('browse-list').addEventListener('click', (event) => {
      const button = event.target.closest('button[data-room]');
      if (button) this.join(button);
    });
  }

  /** The reaction picker: a button per common emoji, the filter box narrowing them by name. */
  wireEmoji() {
    this.onEmoji = null;
    this.onEmojiClosed = null;
    const list = this.$('emoji-list');
    for (const [emoji, name] of COMMON_EMOJI) {
      const item = el('li');
      const choice = el('button', 'emoji-choice', emoji);
      choice.type = 'button';
      choice.dataset.emoji = emoji;
      choice.dataset.name = name;
      const label = name.split(' ').slice(0, 2).join(' ');
      choice.setAttribute('aria-label', `${emoji} ${label}`);
      choice.title = label;
      item.append(choice);
      list.append(item);
    }
    list.addEventListener('click', (event) => {
      const choice = event.target.closest('button[data-emoji]');
      if (choice) this.pickEmoji(choice.dataset.emoji);
    });
    const filter = this.$('emoji-filter');
    filter.addEventListener('input', () => this.filterEmoji());
    filter.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      event.preventDefault();
      const first = [...list.querySelectorAll('li:not([hidden]) button')][0];
      if (first) this.pickEmoji(first.dataset.emoji);
    });
    this.$('emoji-dialog').addEventListener('close', () => {
      const closed = this.onEmojiClosed;
      this.onEmojiClosed = null;
      if (closed) closed();
    });
  }

  filterEmoji() {
    const words = this.$('emoji-filter').value.trim().toLowerCase();
    let shown = 0;
    for (const item of this.$('emoji-list').children) {
      const choice = item.firstElementChild;
      const match = !words || choice.dataset.name.includes(words) || choice.dataset.emoji === words;
      item.hidden = !match;
      if (match) shown += 1;
    }
    this.$('emoji-none').hidden = shown > 0;
  }

  /** Open the picker; `onPick(emoji)` gets the choice, `onClosed()` puts focus back. */
  openEmoji(onPick, onClosed = null) {
    this.onEmoji = onPick;
    this.onEmojiClosed = onClosed;
    this.$('emoji-filter').value = '';
    this.filterEmoji();
    this.$('emoji-dialog').showModal();
    this.$('emoji-filter').focus();
  }

  pickEmoji(emoji) {
    const pick = this.onEmoji;
    this.onEmoji = null;
    this.$('emoji-dialog').close();
    if (pick) pick(emoji);
  }

  /** Open "create a room" with a checkbox for each other person. */
  openCreate(people) {
    const form = this.$('room-form');
    form.reset();
    this.$('room-error').textContent = '';
    const choices = people.map((name) => {
      const label = el('label', 'choice');
      const box = el('input');
      box.type = 'checkbox';
      box.name = 'members';
      box.value = name;
      label.append(box, document.createTextNode(` ${name}`));
      return label;
    });
    if (!choices.length) choices.push(el('p', 'hint', 'Nobody else has signed up yet.'));
    this.$('room-member-choices').replaceChildren(...choices);
    this.$('room-dialog').showModal();
    this.$('room-name-input').focus();
  }

  /**
   * Say, as it is typed or pasted, when the name is over the server's limit: the field has no
   * `maxlength`, which would cut a pasted name without a word. Returns the problem, or ''.
   */
  checkRoomName() {
    const input = this.$('room-name-input');
    const length = codePoints(input.value.trim());
    const { max } = limits.room_name;
    const problem = length > max ? `A room name is at most ${max} characters; this one has ${length}.` : '';
    this.$('room-error').textContent = problem;
    if (problem) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    return problem;
  }

  async submitRoom() {
    const form = this.$('room-form');
    const name = this.$('room-name-input').value.trim();
    if (!name) {
      this.$('room-error').textContent = 'Give the room a name.';
      return;
    }
    if (this.checkRoomName()) {
      this.$('room-name-input').focus();
      return;
    }
    const visibility = form.querySelector('input[name="visibility"]:checked').value;
    const members = [...form.querySelectorAll('input[name="members"]:checked')].map((box) => box.value);
    await this.busy(form, 'room-error', async () => {
      await this.on.create(name, visibility, members);
      this.$('room-dialog').close();
    });
  }

  /** Open the list of public rooms the user is not in. */
  openBrowse(rooms) {
    this.$('browse-error').textContent = '';
    this.fillBrowse(rooms);
    this.$('browse-dialog').showModal();
  }

  /** While the list is open, a public room created meanwhile shows up in it. */
  refreshBrowse(rooms) {
    if (this.$('browse-dialog').open) this.fillBrowse(rooms);
  }

  fillBrowse(rooms) {
    const items = rooms.map((room) => {
      const item = el('li');
      const members = (room.members || []).length;
      const count = `${members} member${members === 1 ? '' : 's'}`;
      item.append(el('span', 'name', `# ${room.name}`), el('span', 'hint', count));
      // Rooms may share a name: who made each tells them apart.
      const by = room.created_by ? ` by ${room.created_by}` : '';
      if (by) item.append(el('span', 'creator', by.trim()));
      const join = el('button', 'small primary', 'Join');
      join.type = 'button';
      join.dataset.room = room.id;
      join.setAttribute('aria-label', `Join ${room.name}${by}`);
      item.append(join);
      return item;
    });
    if (!items.length) items.push(el('li', 'hint', 'You are in every public room already.'));
    this.$('browse-list').replaceChildren(...items);
  }

  async join(button) {
    await this.busy(this.$('browse-dialog'), 'browse-error', async () => {
      await this.on.join(button.dataset.room);
      this.$('browse-dialog').close();
    });
  }

  /** Open "invite someone", suggesting the people not yet in the room. */
  openInvite(roomTitle, candidates) {
    this.$('invite-form').reset();
    this.$('invite-error').textContent = '';
    this.$('invite-title').textContent = `Invite someone to ${roomTitle}`;
    this.$('invite-options').replaceChildren(
      ...candidates.map((name) => {
        const option = el('option');
        option.value = name;
        return option;
      }),
    );
    this.$('invite-dialog').showModal();
    this.$('invite-name').focus();
  }

  async submitInvite() {
    const name = this.$('invite-name').value.trim();
    if (!name) {
      this.$('invite-error').textContent = 'Type a username.';
      return;
    }
    await this.busy(this.$('invite-form'), 'invite-error', async () => {
      await this.on.invite(name);
      this.$('invite-dialog').close();
    });
  }

  /** Run `fn` with the container's buttons disabled; a failure's message shows in `errorId`. */
  async busy(container, errorId, fn) {
    const buttons = [...container.querySelectorAll('button')];
    for (const button of buttons) button.disabled = true;
    this.$(errorId).textContent = '';
    try {
      await fn();
    } catch (error) {
      this.$(errorId).textContent = error.message || 'That did not work.';
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  }
}
