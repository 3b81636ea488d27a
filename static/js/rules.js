/**
 * Every limit and timing the app uses, in one place. The limits a user can break (name and
 * password lengths, the username's characters, message and room-name lengths, history page
 * sizes) come from the server's `GET /api/limits`, read once at start through api.js and handed
 * to `setLimits`; nothing here copies them. The app's own timings are named below, once.
 */

export const TYPING_SHOWN_MS = 4000; // a typing notice shows this long unless renewed
export const TYPING_EVERY_MS = 3000; // at most one typing notice sent per this long
// Read positions go to the server at most this often: a reader at the end of a busy room would
// otherwise send one (an fsynced write, and a read event to each of their tabs) per message.
export const READ_SYNC_MS = 2000;
export const NOTICE_SHOWN_MS = 10000; // a failed action's notice shows this long unless dismissed
export const USERS_REFRESH_MS = 60000; // new sign-ups have no event: the people list refreshes this often
export const LONG_POLL_SECONDS = 25; // asked of GET /api/events; capped by the server's maximum

// The message list keeps at most this many messages as nodes: scrolling far away trims the other
// end (scrolling back renders or loads it again), so a long session's page stays small.
export const DOM_MESSAGES_MAX = 300;
// Opening a room renders at most this many of its newest loaded messages.
export const DOM_MESSAGES_OPEN = 100;
// A room that is left keeps only this many of its newest messages in memory.
export const KEPT_WHEN_LEFT = 100;
// A message longer than this (lines, or characters) shows collapsed, with "Show more".
export const LONG_MESSAGE_LINES = 15;
export const LONG_MESSAGE_CHARS = 1500;
// The open room's newest messages saved for a reload that finds the server unreachable.
export const SNAPSHOT_MESSAGES = 50;

// The reaction picker's common emoji, each with the name its filter box matches.
export const COMMON_EMOJI = [
  ['👍', 'thumbs up yes ok'],
  ['👎', 'thumbs down no'],
  ['😀', 'grinning smile happy'],
  ['😂', 'joy laughing tears'],
  ['❤️', 'red heart love'],
  ['🎉', 'party tada celebrate'],
  ['🙏', 'pray thanks please'],
  ['👀', 'eyes looking'],
  ['🔥', 'fire hot'],
  ['✅', 'check done yes'],
  ['❌', 'cross no wrong'],
  ['🤔', 'thinking hmm'],
  ['😢', 'crying sad'],
  ['😮', 'surprised wow'],
  ['🚀', 'rocket ship launch'],
  ['💯', 'hundred perfect'],
  ['👏', 'clap applause'],
  ['🙌', 'raised hands hooray'],
  ['😅', 'sweat smile phew'],
  ['☕', 'coffee tea'],
];

/** The server's limits, as `GET /api/limits` answered; null until `setLimits`. */
export let limits = null;
let usernameRule = null;
let nameClass = null;

/** Take the server's limits (once, at start). */
export function setLimits(answer) {
  limits = answer;
  usernameRule = new RegExp(answer.username.pattern, 'u');
  // The pattern is one character class repeated (`^[…]+$`); mentions reuse that class.
  const match = /^\^(\[.*\])[+*]\$$/.exec(answer.username.pattern);
  nameClass = match ? match[1] : '[^\\s@]';
}

/**
 * A message as it is sent (and an edit as it is saved): without the blank lines before its first
 * line and after its last, which nobody means to send. Spaces that indent the first line stay.
 */
export function trimBlankLines(text) {
  return text.replace(/^(?:[^\S\n]*\n)+/, '').replace(/(?:\n[^\S\n]*)+$/, '');
}

/** True when a message is long enough to show collapsed. */
export function isLong(text) {
  return text.length > LONG_MESSAGE_CHARS || text.split('\n').length > LONG_MESSAGE_LINES;
}

/** Unicode code points, the unit every limit counts in. */
export function codePoints(text) {
  return [...text].length;
}

/** Why `username` cannot be a username, or '' when it can. */
export function usernameProblem(username) {
  const { min, max } = limits.username;
  const length = codePoints(username);
  if (length < min || length > max || !usernameRule.test(username)) {
    return `A username is ${min} to ${max} letters, digits, "_", "-" or ".".`;
  }
  return '';
}

/** Why `password` cannot be a password, or '' when it can. */
export function passwordProblem(password) {
  const { min, max } = limits.password;
  const length = codePoints(password);
  return length < min || length > max ? `A password is ${min} to ${max} characters.` : '';
}

/** The characters a username is made of, as a regular-expression class (for the `u` flag). */
export function usernameClass() {
  return nameClass;
}

/** A character that can start a mention before it: none of a name's, nor `@`. */
export function beforeMention() {
  return nameClass.startsWith('[') && !nameClass.startsWith('[^') ? `[^@${nameClass.slice(1)}` : '(?:\\s|\\p{P})';
}

/** Messages fetched per history page. */
/** The largest file the server takes, in bytes. */
export function uploadMax() {
  return limits.upload_max_bytes;
}

export function pageSize() {
  return limits.history.default;
}

/** The most messages one history request may ask for. */
export function pageMax() {
  return limits.history.max;
}
