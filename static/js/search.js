/**
 * Searching, for the controller: `GET /api/search` for what the box holds, the next page with
 * `before=` the last result's `pos`, and opening a result: its room, scrolled to that message,
 * with the history around it loaded (`before=` and `after=` its `seq`) when it is not in memory.
 * Only the latest search's answer is shown; an older one arriving late is dropped.
 */

import { api } from './api.js';
import { limits } from './rules.js';
import { queryTerms } from './search_view.js';

/** The search state of a page: what was asked, what came back. */
export class Search {
  constructor() {
    this.q = '';
    this.results = [];
    this.more = false;
    this.partial = false;
    this.asked = 0; // bumps with every request, so only the latest answer counts
  }
}

function codePoints(text) {
  return [...text].length;
}

/** Search for `q` from the newest; an empty box closes the results. */
export async function run(controller, q) {
  const search = controller.search;
  const view = controller.searchView;
  const text = q.trim();
  if (!text) {
    search.asked += 1;
    view.close();
    return;
  }
  const max = limits && limits.search ? limits.search.max : 200;
  if (codePoints(text) > max) {
    search.asked += 1;
    view.setStatus(`Search for at most ${max} characters.`);
    return;
  }
  const asked = (search.asked += 1);
  view.setStatus('Searching…');
  try {
    const answer = await api.search(text);
    if (asked !== search.asked) return;
    Object.assign(search, { q: text, results: answer.results, more: answer.more, partial: answer.partial });
    render(controller);
  } catch (error) {
    if (asked !== search.asked) return;
    if (error.status === 401) controller.sessionEnded();
    else view.setStatus(`Search did not work: ${error.message}`);
  }
}

/** The next page of the same search, below the results shown. */
export async function more(controller) {
  const search = controller.search;
  if (!search.more || !search.results.length) return;
  const asked = (search.asked += 1);
  const before = search.results[search.results.length - 1].pos;
  try {
    const answer = await api.search(search.q, { before });
    if (asked !== search.asked) return;
    search.results = search.results.concat(answer.results);
    search.more = answer.more;
    search.partial = search.partial || answer.partial;
    render(controller);
  } catch (error) {
    if (asked === search.asked) controller.searchView.setStatus(`Search did not work: ${error.message}`);
  }
}

function render(controller) {
  const { q, results, more: hasMore, partial } = controller.search;
  const store = controller.store;
  controller.searchView.render({
    q,
    results,
    more: hasMore,
    partial,
    terms: queryTerms(q),
    title: (roomId) => {
      const room = store && store.rooms.get(roomId);
      return room ? store.title(room) : 'A room';
    },
  });
}

/** Open a result: its room at that message, loading the history around it when it is not loaded. */
export async function open(controller, roomId, seq) {
  const store = controller.store;
  if (!store) return;
  if (!store.rooms.has(roomId)) {
    // A room the sidebar does not know yet (joined on another device): fetch it first.
    try {
      controller.putRoom((await api.room(roomId)).room);
    } catch (error) {
      controller.searchView.setStatus(`This room cannot be opened: ${error.message}`);
      return;
    }
  }
  controller.searchView.close();
  await controller.openRoom(roomId, { at: seq });
}
