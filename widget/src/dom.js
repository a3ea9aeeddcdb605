import { currentLanguage, t } from "./i18n.js";
import { LINK_SOURCE } from "./links.js";

// Building DOM from data. User text only ever becomes text nodes, never parsed as HTML, so a
// comment of "<img src=x onerror=...>" shows exactly those characters and runs nothing.

// el("p", { class: "x", onclick: f }, "text", child...): an element with attributes,
// listeners (on...) and children (strings become text nodes; null and false are skipped).
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  return fill(element, ...children);
}

// Replaces an element's children; null, undefined and false stand for "nothing here", so
// `condition && child` reads naturally in a list of children.
export function fill(element, ...children) {
  element.replaceChildren(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

// http(s) URLs in text, up to whitespace or a character that cannot be in one unescaped.
const URL_IN_TEXT = new RegExp(LINK_SOURCE, "g");
const TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;

// The text with its URLs as links; newlines are kept by the stylesheet (white-space: pre-wrap).
export function textWithLinks(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_IN_TEXT)) {
    const url = match[0].replace(TRAILING_PUNCTUATION, "");
    fragment.append(text.slice(last, match.index));
    fragment.append(el("a", { href: url, rel: "nofollow ugc noopener" }, url));
    last = match.index + url.length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

const UNITS = [
  ["year", 31536000],
  ["month", 2592000],
  ["week", 604800],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
];

// Intl formatters are slow to make (the first one loads locale data): one of each per language.
let formats = null;
function format() {
  const language = currentLanguage();
  if (formats?.language !== language) {
    formats = {
      language,
      relative: new Intl.RelativeTimeFormat(language, { numeric: "auto" }),
      exact: new Intl.DateTimeFormat(language, { dateStyle: "long", timeStyle: "short" }),
    };
  }
  return formats;
}

// "5 minutes ago", in the widget's language.
export function relativeTime(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format().relative.format(Math.trunc(seconds / size), unit);
  }
  return format().relative.format(0, "second"); // "now"
}

export function exactTime(iso) {
  return format().exact.format(new Date(iso));
}

export function timeElement(iso) {
  return el("time", { datetime: iso, title: exactTime(iso) }, relativeTime(iso));
}

// "12 min left", "40 s left": what remains of an edit window.
export function remaining(until, now = Date.now()) {
  const seconds = Math.max(0, Math.round((until - now) / 1000));
  return seconds >= 60 ? t("minutesLeft", { n: Math.floor(seconds / 60) }) : t("secondsLeft", { n: seconds });
}
