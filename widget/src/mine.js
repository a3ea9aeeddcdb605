// The visitor's own comments, remembered in localStorage per comment server: the edit token
// (shown only once, in the answer to the post), when the edit window closes, and a pending
// comment's content (the public listing does not show it, but its author should see it).
// localStorage can be missing or full (private modes): then this lasts as long as the page.

const PENDING_KEPT_MS = 7 * 86400 * 1000;

export class Mine {
  constructor(base) {
    this.key = `comments-widget:${base}`;
    this.entries = this.read();
    this.forgetExpired();
  }

  read(key = this.key) {
    try {
      return JSON.parse(localStorage.getItem(key)) || {};
    } catch {
      return {};
    }
  }

  save(key = this.key, value = this.entries) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // Storage is off or full: editing still works until the page is left.
    }
  }

  forgetExpired(now = Date.now()) {
    for (const [id, entry] of Object.entries(this.entries)) {
      if (entry.until < now && !(entry.pending && entry.kept + PENDING_KEPT_MS > now)) delete this.entries[id];
    }
  }

  remember(comment, token, editWindowSeconds) {
    const now = Date.now();
    // Timed from this clock, not the server's created_at, so a skewed clock cannot overstate it.
    this.entries[comment.id] = {
      token,
      until: now + editWindowSeconds * 1000,
      kept: now,
      thread: comment.thread,
      created: comment.created_at, // with the id, names the comment even if a database was reset
    };
    this.update(comment);
  }

  update(comment) {
    const entry = this.entries[comment.id];
    if (!entry || entry.created !== comment.created_at) return;
    entry.pending = comment.status === "pending" ? comment : null;
    this.save();
  }

  forget(id) {
    delete this.entries[id];
    this.save();
  }

  get(id) {
    return this.entries[id];
  }

  // Posted from here (and not another comment that took its id after a database reset).
  owns(comment) {
    const entry = this.entries[comment.id];
    return Boolean(entry && entry.created === comment.created_at);
  }

  canEdit(comment, now = Date.now()) {
    return this.owns(comment) && this.entries[comment.id].until > now;
  }

  pendingIn(thread) {
    return Object.values(this.entries)
      .filter((entry) => entry.pending && entry.thread === thread)
      .map((entry) => entry.pending);
  }

  // The reply-notice address, kept on this device only, like the name.
  get email() {
    return storedText("comments-widget:email");
  }

  set email(value) {
    storeText("comments-widget:email", value);
  }

  // The reader's own votes (1 or -1 by comment id), so that the buttons show them pressed.
  vote(id) {
    this.votes ||= this.read(`${this.key}:votes`);
    return this.votes[id] || 0;
  }

  setVote(id, value) {
    this.vote(id);
    if (value) this.votes[id] = value;
    else delete this.votes[id];
    this.save(`${this.key}:votes`, this.votes);
  }

  get name() {
    return storedText("comments-widget:name");
  }

  set name(value) {
    storeText("comments-widget:name", value);
  }
}

// A plain string kept on this device, across comment servers (the name, the address): "" when
// storage is off, and setting it then lasts as long as the page.
function storedText(key) {
  try {
    return localStorage.getItem(key) || "";
  } catch {
    return "";
  }
}

function storeText(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage is off or full.
  }
}
