// The one rule for what is a link in a comment. The widget turns these into links (dom.js), and
// the server counts them with this very pattern, read from this file (spam.py), so that a
// comment shows exactly the links its spam check counted. It uses nothing whose meaning differs
// between JavaScript and Python regular expressions: no \b, \s or \w, no case-insensitive flag,
// only explicit characters. A link ends at a space of any kind, a control, or < > " ' `.
export const LINK_SOURCE =
  "[Hh][Tt][Tt][Pp][Ss]?://[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u180e\\u2000-\\u200b\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff<>\"'`]+";
