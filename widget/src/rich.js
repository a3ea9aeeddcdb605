// A comment's `html` (rendered and sanitised by the server, core/formatting.py) shown without
// trusting it: it is parsed into an inert document (nothing in it loads or runs there), and the
// shown copy is built element by element from an allow-list, so even a sanitiser's mistake on
// the server cannot put a script, a handler, a style or a javascript: link into the page.
//
// DOMParser is a Trusted Types sink: on a page that enforces them (the demo page does, with
// require-trusted-types-for 'script'), the string goes through this widget's own policy, which
// may pass it on as it is because only the walk below ever reaches the page. A page whose policy
// list leaves this one out gets the plain text instead.
import { el, textWithLinks } from "./dom.js";

const ELEMENTS = new Set(["P", "BR", "EM", "STRONG", "CODE", "PRE", "BLOCKQUOTE", "UL", "OL", "LI", "A"]);
const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const POLICY_NAME = "comments-widget";

let policy;
function trusted(html) {
  if (policy === undefined) {
    try {
      policy = window.trustedTypes ? window.trustedTypes.createPolicy(POLICY_NAME, { createHTML: (s) => s }) : null;
    } catch {
      policy = false; // the page allows only other policies
    }
  }
  if (policy === false) return null;
  return policy ? policy.createHTML(html) : html;
}

// The comment's words as DOM: from `html` when it can be shown safely, else its text.
export function richText(html, text) {
  const markup = html && trusted(html);
  if (!markup) return el("p", { class: "cw-plain" }, textWithLinks(text || ""));
  const parsed = new DOMParser().parseFromString(markup, "text/html");
  const fragment = document.createDocumentFragment();
  for (const node of parsed.body.childNodes) fragment.append(...copy(node));
  return fragment;
}

// Allowed elements are remade with their allowed attributes; anything else gives only its text.
function copy(node) {
  if (node.nodeType === Node.TEXT_NODE) return [document.createTextNode(node.data)];
  if (node.nodeType !== Node.ELEMENT_NODE) return [];
  const children = [...node.childNodes].flatMap(copy);
  if (!ELEMENTS.has(node.tagName)) return children;
  const made = document.createElement(node.tagName.toLowerCase());
  if (node.tagName === "A") {
    const href = safeLink(node.getAttribute("href"));
    if (!href) return children;
    made.href = href;
    made.rel = "nofollow ugc noopener";
  }
  const start = node.getAttribute("start");
  if (node.tagName === "OL" && start && /^\d{1,9}$/.test(start)) made.setAttribute("start", start);
  made.append(...children);
  return [made];
}

function safeLink(href) {
  try {
    const url = new URL(href); // no base: a relative link has no place in someone else's page
    return LINK_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}
