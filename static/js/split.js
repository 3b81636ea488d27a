/**
 * A text too long for one message, cut into several that each fit: `splitForSending(text, max)`.
 * Lengths count Unicode code points, as the server's limit does. Each cut falls at the last
 * paragraph break, line break or space in the second half of the room left, so words and lines
 * stay whole where they can; only a run with no break at all is cut mid-way. The break itself is
 * dropped, and each part is trimmed, so no part is blank.
 */

const BREAKS = [/\n\s*\n/g, /\n/g, /\s/g];

/** The parts, in order, each at most `max` code points; [] for blank text. */
export function splitForSending(text, max) {
  const parts = [];
  let rest = [...text.trim()];
  while (rest.length > max) {
    const window = rest.slice(0, max + 1).join('');
    const [cut, skip] = lastBreak(window, max);
    parts.push(rest.slice(0, cut).join('').trimEnd());
    rest = [...rest.slice(cut + skip).join('').trimStart()];
  }
  if (rest.length) parts.push(rest.join(''));
  return parts.filter((part) => part);
}

/** Where to cut `window` (code points), and how many code points the break takes. */
function lastBreak(window, max) {
  const points = [...window];
  for (const pattern of BREAKS) {
    let found = null;
    for (const match of window.matchAll(pattern)) found = match;
    if (!found) continue;
    const at = [...window.slice(0, found.index)].length;
    if (at >= max / 2 && at <= max) return [at, [...found[0]].length];
  }
  return [Math.min(max, points.length), 0];
}
