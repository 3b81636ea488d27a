/**
 * The app's own icons, as inline SVG drawn with the text colour: no emoji or symbol font is
 * needed, so they never show as boxes. `icon(name)` makes one (hidden from screen readers: the
 * button or row carrying it has its own name); `placeIcons(doc)` fills every `[data-icon]` of the
 * page once at start.
 */

const SVG = 'http://www.w3.org/2000/svg';

// Each icon is one path on a 24×24 grid, stroked (Feather's style).
const PATHS = {
  menu: 'M3 6h18M3 12h18M3 18h18',
  plus: 'M12 5v14M5 12h14',
  close: 'M18 6 6 18M6 6l12 12',
  lock: 'M6 11h12a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2zM8 11V7a4 4 0 0 1 8 0v4',
  hash: 'M4 9h16M4 15h16M10 3 8 21M16 3l-2 18',
  at: 'M8 12a4 4 0 1 0 8 0 4 4 0 1 0-8 0M16 12v1.5a2.5 2.5 0 0 0 5 0V12a9 9 0 1 0-3.5 7.1',
  'arrow-down': 'M12 5v14M19 12l-7 7-7-7',
  more: 'M5 12h.01M12 12h.01M19 12h.01',
  reply: 'M15 10l5 5-5 5M4 4v7a4 4 0 0 0 4 4h12',
};

/** One icon as an `<svg>` element, `1em` square, in the current text colour. */
export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '1em');
  svg.setAttribute('height', '1em');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', name === 'more' ? '3.5' : '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.classList.add('svg-icon');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', PATHS[name]);
  svg.append(path);
  return svg;
}

/** Put its icon first in every element of the page that names one in `data-icon`. */
export function placeIcons(doc) {
  for (const node of doc.querySelectorAll('[data-icon]')) node.prepend(icon(node.dataset.icon));
}
