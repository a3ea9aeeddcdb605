// One thread under a page: its comments (oldest first, replies under the comment they answer),
// "load more", the form, and what an author may do with their own comments.
import { idempotencyKey } from "./api.js";
import { el, exactTime, fill, relativeTime, remaining, textWithLinks, timeElement } from "./dom.js";
import { commentForm, editForm, explain } from "./form.js";
import { Mine } from "./mine.js";

const TICK_MS = 15000; // how often relative times and the edit windows' countdowns are redrawn

export class Thread {
  constructor(api, host) {
    this.api = api;
    this.host = host;
    this.thread = host.dataset.thread || location.pathname;
    this.pageSize = Math.min(100, Math.max(1, Math.trunc(Number(host.dataset.pageSize)) || 50)); // the API's range
    this.mine = new Mine(api.base);
    this.nodes = new Map(); // comment id -> { comment, item, article, actions, replies, root }
    this.cursor = null;
  }

  async mount() {
    this.host.dataset.state = "loading";
    try {
      const [settings, page] = await Promise.all([
        this.api.loadSettings().then((settings) => this.addStylesheet(settings)),
        this.api.page(this.thread, this.pageSize),
      ]);
      this.settings = settings;
      this.advertiseFeed();
      this.render();
      this.showPage(page);
      for (const comment of this.mine.pendingIn(this.thread)) if (!this.nodes.has(comment.id)) this.place(comment);
    } catch (error) {
      this.host.dataset.state = "error";
      const message = `Comments could not be loaded. ${explain(error)}`;
      this.host.replaceChildren(el("p", { class: "cw-problem", role: "alert" }, message));
      return;
    }
    this.host.dataset.state = "ready";
    performance.mark("comments-rendered"); // the time to first comment that the benchmark reports
    setInterval(() => this.tick(), TICK_MS);
  }

  // Resolves once the stylesheet has loaded (or failed), so nothing is drawn unstyled.
  // Tells feed readers (and browsers' "subscribe") where this thread's Atom feed is, unless the
  // page already does (the demo page says so itself).
  advertiseFeed() {
    const href = this.api.url(`feed.atom?${new URLSearchParams({ thread: this.thread })}`);
    const known = [...document.querySelectorAll('link[rel="alternate"][type="application/atom+xml"]')];
    const sameFeed = (link) => {
      const url = new URL(link.href);
      return url.pathname.endsWith("/feed.atom") && url.searchParams.get("thread") === this.thread;
    };
    if (known.some(sameFeed)) return;
    document.head.append(el("link", { rel: "alternate", type: "application/atom+xml", title: "Comments", href }));
  }

  addStylesheet(settings) {
    return new Promise((resolve) => {
      const link = el("link", { rel: "stylesheet", href: this.api.url(settings.stylesheet) });
      link.addEventListener("load", () => resolve(settings));
      link.addEventListener("error", () => resolve(settings));
      document.head.append(link);
    });
  }

  render() {
    this.status = el("p", { class: "cw-status", role: "status" });
    this.list = el("ol", { class: "cw-list" });
    this.more = el("button", { type: "button", class: "cw-more", hidden: true, onclick: () => this.loadMore() });
    this.more.textContent = "Load more comments";
    this.form = this.newForm(null, (node) => this.announce(node, "Your comment"));
    const title = el("h2", { class: "cw-title" }, "Comments");
    this.host.replaceChildren(el("section", { class: "cw", "aria-label": "Comments" }, title, this.form, this.status, this.list, this.more));
  }

  newForm(parentId, after, onCancel) {
    return commentForm({
      api: this.api,
      settings: this.settings,
      mine: this.mine,
      thread: this.thread,
      parentId,
      onCancel,
      onPosted: ({ edit_token: token, ...comment }) => {
        this.mine.remember(comment, token, this.settings.edit_window_seconds);
        after(this.place(comment));
      },
    });
  }

  announce(node, what) {
    const pending = node.comment.status === "pending";
    this.status.textContent = pending ? `${what} was received and is awaiting moderation.` : `${what} was posted.`;
    node.article.scrollIntoView({ block: "nearest" });
    node.article.focus();
  }

  showPage(page) {
    const added = page.comments.filter((comment) => !this.nodes.has(comment.id));
    for (const comment of page.comments) this.place(comment);
    this.cursor = page.next_cursor;
    this.more.hidden = !this.cursor;
    return added;
  }

  async loadMore() {
    this.more.disabled = true;
    try {
      const added = this.showPage(await this.api.page(this.thread, this.pageSize, this.cursor));
      this.status.textContent = `${added.length} more comments loaded.`;
      if (this.more.hidden && added.length) this.nodes.get(added[0].id).article.focus();
    } catch (error) {
      this.status.textContent = explain(error);
    } finally {
      this.more.disabled = false;
    }
  }

  // Adds a comment where it belongs, or redraws it if it is already shown. Two levels: a
  // comment that answers a reply joins its thread's replies, saying whom it answers.
  place(comment) {
    const known = this.nodes.get(comment.id);
    if (known) {
      known.comment = comment;
      this.mine.update(comment);
      this.draw(known);
      return known;
    }
    const parent = comment.parent_id ? this.nodes.get(comment.parent_id) : null;
    const root = parent ? parent.root || parent : null;
    const node = { comment, root, parent: comment.parent_id && parent !== root ? parent || {} : null };
    node.article = el("article", { class: "cw-comment", id: `cw-comment-${comment.id}`, tabindex: "-1" });
    node.item = el("li", {}, node.article);
    if (!root) {
      node.replies = el("ol", { class: "cw-replies" });
      node.item.append(node.replies);
    }
    (root ? root.replies : this.list).append(node.item);
    this.nodes.set(comment.id, node);
    this.draw(node);
    return node;
  }

  draw(node) {
    const comment = node.comment;
    if (comment.status === "deleted") {
      node.article.replaceChildren(el("p", { class: "cw-deleted" }, "deleted"));
      return;
    }
    const edited = comment.edited_at && el("span", { class: "cw-edited", title: exactTime(comment.edited_at) }, "edited");
    const badge = comment.status === "pending" && el("span", { class: "cw-badge" }, "awaiting moderation");
    node.actions = el("div", { class: "cw-actions" }, ...this.actions(node));
    fill(
      node.article,
      el("header", { class: "cw-meta" }, el("span", { class: "cw-name" }, comment.name), timeElement(comment.created_at), edited, badge),
      node.parent && this.replyTo(node.parent, comment.parent_id),
      el("p", { class: "cw-text" }, textWithLinks(comment.comment)),
      comment.images.length > 0 && (badge ? this.heldImages(comment) : this.images(comment)),
      node.actions,
    );
  }

  replyTo(parent, parentId) {
    const name = parent.comment ? parent.comment.name || "a deleted comment" : "an earlier comment";
    return el("p", { class: "cw-reply-to" }, "in reply to ", el("a", { href: `#cw-comment-${parentId}` }, name));
  }

  // The API serves a comment's images only once it is published: until then, say they wait.
  heldImages(comment) {
    const count = comment.images.length;
    return el("p", { class: "cw-hint" }, `${count} ${count === 1 ? "image" : "images"}, shown once approved`);
  }

  images(comment) {
    const count = comment.images.length;
    return el(
      "div",
      { class: "cw-images" },
      ...comment.images.map((image, i) =>
        el(
          "a",
          { href: image.url, rel: "nofollow ugc noopener" },
          el("img", {
            src: image.url,
            alt: `Image ${i + 1} of ${count} from ${comment.name}`,
            width: image.width,
            height: image.height,
            loading: "lazy",
          }),
        ),
      ),
    );
  }

  actions(node) {
    const { id, status } = node.comment;
    const buttons = [];
    if (status === "published") buttons.push(this.button("Reply", () => this.openReply(node)));
    if (this.mine.canEdit(node.comment)) {
      node.edit = this.button("Edit", () => this.openEdit(node));
      node.remove = this.button("Delete", () => this.confirmRemove(node));
      node.left = el("span", { class: "cw-left" }, remaining(this.mine.get(id).until));
      buttons.push(node.edit, node.remove, node.left);
    }
    return buttons;
  }

  button(label, onclick) {
    return el("button", { type: "button", class: "cw-link", onclick }, label);
  }

  openReply(node) {
    if (node.replyForm) return node.replyForm.focusFirst();
    const reply = node.actions.querySelector("button");
    const close = () => {
      node.replyForm.remove();
      node.replyForm = null;
    };
    node.replyForm = this.newForm(
      node.comment.id,
      (added) => {
        close();
        this.announce(added, "Your reply");
      },
      () => {
        close();
        reply.focus();
      },
    );
    node.article.after(node.replyForm);
    node.replyForm.focusFirst();
  }

  openEdit(node) {
    const { id } = node.comment;
    node.editing = true;
    const done = (focus) => {
      node.editing = false;
      this.draw(node);
      focus(node).focus();
    };
    const form = editForm({
      comment: node.comment,
      settings: this.settings,
      onSave: async (text, key) => {
        this.place(await this.api.edit(id, text, this.mine.get(id).token, key));
        this.status.textContent = "Your comment was saved.";
        done((node) => node.article);
      },
      onCancel: () => done((node) => node.edit || node.article),
    });
    node.article.querySelector(".cw-text").replaceWith(form);
    node.actions.hidden = true;
    form.focusFirst();
  }

  confirmRemove(node) {
    const yes = this.button("Yes, delete it", () => this.remove(node, yes));
    const keep = this.button("Keep it", () => {
      this.draw(node);
      node.remove.focus();
    });
    node.actions.replaceChildren(el("span", {}, "Delete this comment?"), yes, keep);
    yes.focus();
  }

  async remove(node, button) {
    const { id } = node.comment;
    node.removeKey ||= idempotencyKey(); // a second click repeats the first DELETE's answer
    button.disabled = true;
    try {
      await this.api.remove(id, this.mine.get(id).token, node.removeKey);
    } catch (error) {
      button.disabled = false;
      node.actions.append(el("p", { class: "cw-problem", role: "alert" }, explain(error)));
      return;
    }
    this.mine.forget(id);
    node.comment = { ...node.comment, status: "deleted", name: null, comment: null, images: [] };
    this.draw(node);
    this.status.textContent = "Your comment was deleted.";
    node.article.focus();
  }

  // Relative times age, and edit windows close: redraw both, never under an open form.
  tick() {
    for (const time of this.list.querySelectorAll("time")) time.textContent = relativeTime(time.dateTime);
    for (const node of this.nodes.values()) {
      if (!node.left || node.editing || !node.left.isConnected) continue;
      if (this.mine.canEdit(node.comment)) node.left.textContent = remaining(this.mine.get(node.comment.id).until);
      else this.draw(node);
    }
  }
}
