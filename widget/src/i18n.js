// The widget's words. English is built in, and stands in for any string a catalogue lacks; the
// other languages are JSON catalogues (messages-<language>.json) fetched only by the pages that
// use them, so the bundle does not grow with every language. Plurals go through
// Intl.PluralRules, with the categories each language has (Russian's few and many, Arabic's six).

export const LANGUAGES = ["en", "de", "fr", "es", "pt", "ru", "zh-Hans", "ja", "ar"];
const RIGHT_TO_LEFT = new Set(["ar"]);

const ENGLISH = {
  title: "Comments",
  loadFailed: "Comments could not be loaded. {reason}",
  loadMore: "Load more comments",
  moreLoaded: { one: "{n} more comment loaded.", other: "{n} more comments loaded." },
  newArrived: { one: "{n} new comment.", other: "{n} new comments." },
  count: { one: "{n} comment", other: "{n} comments" },
  commentPosted: "Your comment was posted.",
  commentPending: "Your comment was received and is awaiting moderation.",
  replyPosted: "Your reply was posted.",
  replyPending: "Your reply was received and is awaiting moderation.",
  saved: "Your comment was saved.",
  deletedYours: "Your comment was deleted.",
  deleted: "deleted",
  edited: "edited",
  awaiting: "awaiting moderation",
  inReplyTo: "in reply to {name}",
  deletedComment: "a deleted comment",
  earlierComment: "an earlier comment",
  imagesHeld: { one: "{n} image, shown once approved", other: "{n} images, shown once approved" },
  imageAlt: "Image {i} of {count} from {name}",
  reply: "Reply",
  edit: "Edit",
  delete: "Delete",
  confirmDelete: "Delete this comment?",
  yesDelete: "Yes, delete it",
  keep: "Keep it",
  minutesLeft: "{n} min left",
  secondsLeft: "{n} s left",
  sortBy: "Sort comments",
  oldest: "Oldest",
  newest: "Newest",
  best: "Best",
  upvote: "Upvote",
  downvote: "Downvote",
  ownComment: "You cannot vote on your own comment.",
  name: "Name",
  comment: "Comment",
  replyLabel: "Reply",
  yourComment: "Your comment",
  images: "Images (optional)",
  imagesHint: "Up to {n}, JPEG, PNG, WebP or GIF.",
  email: "E-mail (optional, never shown)",
  notify: "E-mail me when someone replies",
  formatHint: "*emphasis*, **strong**, `code`, > quote, - list, [link](https://…)",
  website: "Website",
  postComment: "Post comment",
  postReply: "Post reply",
  addComment: "Add a comment",
  editYours: "Edit your comment",
  save: "Save",
  cancel: "Cancel",
  preview: "Preview",
  writeAgain: "Write",
  nothingToPreview: "Nothing to preview yet.",
  fillIn: "Please fill this in.",
  somethingWrong: "Something went wrong. Please try again.",
  unreachable: "The comment server could not be reached. Check your connection and try again.",
  tooFastIn: "You are posting too quickly. Please try again in {n} seconds.",
  tooFast: "You are posting too quickly. Please try again in a moment.",
  unavailable: "Comments are briefly unavailable. Please try again in a moment.",
};

let language = "en";
let messages = ENGLISH;

// The first of the wanted languages (data-lang, the page's, the browser's) that is shipped:
// "de-AT" is German, "pt-BR" Portuguese, "zh-CN" and "zh" simplified Chinese.
export function pickLanguage(wanted) {
  for (const tag of wanted.filter(Boolean)) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh")) {
      if (/^zh(-hans|-cn|-sg|$)/.test(lower)) return "zh-Hans";
      continue; // traditional Chinese is not shipped: try the next wanted language
    }
    const found = LANGUAGES.find((shipped) => shipped === lower.split("-")[0]);
    if (found) return found;
  }
  return "en";
}

let prepared = null;

// The language of this page's widget, its catalogue loaded: once per page, for the thread and
// the counts alike. The host's data-lang first, then the page's language, then the browser's.
export function prepareLanguage(api, host) {
  prepared ||= api.loadSettings().then(
    (settings) => {
      const chosen = pickLanguage([host?.dataset.lang, document.documentElement.lang, ...navigator.languages]);
      const catalogue = settings.catalogues?.[chosen];
      return useLanguage(chosen, catalogue && api.url(catalogue));
    },
    () => useLanguage("en"), // the thread says why the server cannot be reached
  );
  return prepared;
}

// Loads the catalogue (a missing or broken one leaves English) and makes it current.
async function useLanguage(chosen, catalogueUrl) {
  language = chosen;
  messages = ENGLISH;
  if (chosen === "en" || !catalogueUrl) return;
  try {
    const response = await fetch(catalogueUrl, { credentials: "omit" });
    if (response.ok) messages = { ...ENGLISH, ...(await response.json()) };
  } catch {
    // Offline or blocked: the widget speaks English rather than not at all.
  }
}

export function currentLanguage() {
  return language;
}

export function direction() {
  return RIGHT_TO_LEFT.has(language) ? "rtl" : "ltr";
}

// t("inReplyTo", { name }) or t("count", { n: 3 }): the string, its {placeholders} filled in.
export function t(key, values = {}) {
  let entry = messages[key] ?? ENGLISH[key] ?? key;
  if (typeof entry === "object") {
    const category = new Intl.PluralRules(language).select(values.n);
    entry = entry[category] ?? entry.other ?? ENGLISH[key].other;
  }
  return entry.replace(/\{(\w+)\}/g, (match, name) =>
    name in values ? (typeof values[name] === "number" ? values[name].toLocaleString(language) : values[name]) : match,
  );
}
