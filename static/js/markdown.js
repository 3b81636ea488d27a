/**
 * Message bodies as formatted text, safely: `renderBody(text, me)` is the one function that turns a
 * message's raw text (the stored truth) into page nodes, used everywhere a body is shown.
 *
 * markdown-it (vendored, `html: false`, so `<tag>` typed by a user is text) makes **bold**,
 * _italic_, `code`, fenced code blocks, block quotes and lists; headings, tables, rules, images,
 * indented code and entities are switched off, because in a chat those marks are far more often
 * meant literally. Its HTML then goes through DOMPurify (vendored) with a strict allowlist of
 * elements and one attribute (`href`, only http(s) and mailto), returned as a DocumentFragment.
 * That fragment is the one exception to "user text only as textContent": no app module parses
 * markup into the page itself. Finally every text node outside links and code gets format.js's address and
 * @mention detection, as plain messages always had, and every link's text loses Unicode's
 * bidirectional controls (below).
 */

import DOMPurify from '../vendor/dompurify/purify.es.mjs';
import markdownit from '../vendor/markdown-it/markdown-it.esm.min.mjs';
import { renderText } from './format.js';

const SAFE_URL = /^(?:https?:|mailto:)/i;

const md = markdownit({ html: false, linkify: false, breaks: true, typographer: false });
md.disable(['heading', 'lheading', 'table', 'hr', 'image', 'reference', 'code', 'entity', 'html_block', 'html_inline'], true);
md.validateLink = (url) => SAFE_URL.test(url.trim());

/** What may reach the page: these elements, `href` on links, `start` on ordered lists. */
const PURIFY = {
  ALLOWED_TAGS: ['p', 'br', 'strong', 'em', 's', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a'],
  ALLOWED_ATTR: ['href', 'start'],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOWED_URI_REGEXP: SAFE_URL,
  RETURN_DOM_FRAGMENT: true,
};

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.nodeName === 'A') {
    if (!SAFE_URL.test(node.getAttribute('href') || '')) node.removeAttribute('href');
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

/**
 * Unicode's bidirectional controls: marks, embeddings, overrides and isolates. In a link's text they
 * can make `https://evil.example/\u202Egnp.exe` read as `https://evil.example/exe.png`, so a link
 * shows its text without them (its `href` keeps them, percent-encoded, as the browser sends it).
 */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

const BLOCKS = new Set(['UL', 'OL', 'BLOCKQUOTE', 'LI', '#document-fragment']);

/** A DocumentFragment showing `text` formatted; `me` gets its own mention highlight. */
export function renderBody(text, me) {
  const fragment = document.importNode(DOMPurify.sanitize(md.render(text), PURIFY), true);
  const texts = [];
  const walker = document.createTreeWalker(fragment, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) texts.push(node);
  for (const node of texts) {
    const parent = node.parentNode;
    // The line breaks markdown-it writes between blocks are not part of the message.
    if (BLOCKS.has(parent.nodeName) && !node.data.trim()) node.remove();
    else if (!node.parentElement || !node.parentElement.closest('a, code, pre')) {
      node.replaceWith(renderText(node.data, me));
    }
  }
  for (const link of fragment.querySelectorAll('a')) {
    const inside = document.createTreeWalker(link, NodeFilter.SHOW_TEXT);
    for (let node = inside.nextNode(); node; node = inside.nextNode()) node.data = node.data.replace(BIDI_CONTROLS, '');
  }
  return fragment;
}

/** The text a reader sees, without the marks: for one-line quotes and announcements. */
export function plainText(text) {
  return renderBody(text, null).textContent.replace(/\s+/g, ' ').trim();
}
