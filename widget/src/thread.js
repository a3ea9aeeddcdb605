// One thread under a page: its comments (oldest, newest or best first, replies under the
// comment they answer), "load more", new comments as they come, votes, the form, and what an
// author may do with their own comments.
import { idempotencyKey } from "./api.js";
import { fillCounts } from "./counts.js";
import { el, exactTime, fill, relativeTime, remaining, timeElement } from "./dom.js";
import { commentForm, editForm, explain } from "./form.js";
import { currentLanguage, direction, prepareLanguage, t } from "./i18n.js";
import { Mine } from "./mine.js";
import { richText } from "./rich.js";

const TICK_MS = 15000; // how often relative times and the edit windows' countdowns are redrawn
const ORDERS = ["oldest", "newest", "top"];
const POLL_SECONDS = 15; // how often an open, visible thread asks for new comments (data-poll-seconds)
const IDLE_MS = 30 * 60 * 1000; // no scroll, key or touch for this long: stop asking until there is
const MAX_BACKOFF_MS = 5 * 60 * 1000; // after failures, wait up to this long between polls

export class Thread {
  constructor(api, host) {
    this.api = api;
    this.host = host;
    this.thread = host.dataset.thread || location.pathname;
    this.pageSize = Math.min(100, Math.max(1, Math.trunc(Number(host.dataset.pageSize)) || 50)); // the API's range
    this.mine = new Mine(api.base);
    this.nodes = new Map(); // comment id -> { comment, item, article, actions, replies, root }
    this.waiting = new Map(); // newest first: parent id -> replies that came before their parent
    this.cursor = null;
    this.order = "oldest";
    this.end = null; // where the thread ended when last asked: new comments come after it
    this.pollEvery = Math.max(1, Number(host.dataset.pollSeconds) || POLL_SECONDS) * 1000;
    this.pollDelay = this.pollEvery;
  }

  async mount() {
    this.host.dataset.state = "loading";
    try {
      const [settings, page] = await Promise.all([
        this.api.loadSettings().then((settings) => this.prepare(settings)),
        this.api.page(this.thread, this.pageSize),
      ]);
      this.settings = settings;
      this.advertiseFeed();
      this.render();
      this.showPage(page, true);
      for (const comment of this.mine.pendingIn(this.thread)) if (!this.nodes.has(comment.id)) this.place(comment);
    } catch (error) {
      this.host.dataset.state = "error";
      this.host.replaceChildren(el("p", { class: "cw-problem", role: "alert" }, t("loadFailed", { reason: explain(error) })));
      return;
    }
    this.host.dataset.state = "ready";
    performance.mark("comments-rendered"); // the time to first comment that the benchmark reports
    setInterval(() => this.tick(), TICK_MS);
    this.watch();
  }

  // The stylesheet and the language's words, both before anything is drawn.
  async prepare(settings) {
    await Promise.all([this.addStylesheet(settings), prepareLanguage(this.api, this.host)]);
    return settings;
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
    document.head.append(el("link", { rel: "alternate", type: "application/atom+xml", title: t("title"), href }));
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
    this.more.textContent = t("loadMore");
    this.form = this.newForm(null, (node) => this.announce(node, "comment"));
    this.sorting = el("div", { class: "cw-sort", role: "group", "aria-label": t("sortBy") });
    for (const order of ORDERS) {
      const label = t({ oldest: "oldest", newest: "newest", top: "best" }[order]);
      const pressed = String(order === this.order);
      this.sorting.append(el("button", { type: "button", "aria-pressed": pressed, "data-order": order, onclick: () => this.sort(order) }, label));
    }
    const title = el("h2", { class: "cw-title" }, t("title"));
    const section = el("section", { class: "cw", "aria-label": t("title"), lang: currentLanguage(), dir: direction() });
    this.host.replaceChildren(fill(section, title, this.form, this.sorting, this.status, this.list, this.more));
  }

  // Oldest, newest or best first: the list starts again from the first page in that order.
  async sort(order) {
    if (order === this.order) return;
    for (const button of this.sorting.children) button.setAttribute("aria-pressed", String(button.dataset.order === order));
    this.order = order;
    this.host.dataset.state = "loading";
    try {
      const page = await this.api.page(this.thread, this.pageSize, null, order);
      this.nodes.clear();
      this.waiting.clear();
      this.list.replaceChildren();
      this.end = null;
      this.showPage(page, true);
      if (order === "newest") this.end = (await this.api.page(this.thread, 1, null, "top")).poll_cursor;
    } catch (error) {
      this.status.textContent = explain(error);
    }
    this.host.dataset.state = "ready";
    this.watch();
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
        after(this.place(comment, true));
      },
    });
  }

  announce(node, what) {
    const pending = node.comment.status === "pending";
    this.status.textContent = t(`${what}${pending ? "Pending" : "Posted"}`);
    node.article.scrollIntoView({ block: "nearest" });
    node.article.focus();
    this.recount();
  }

  // The page's "N comments" for this thread, asked again after a change here.
  recount() {
    const here = [...document.querySelectorAll("[data-comment-count]")].filter((e) => e.dataset.commentCount === this.thread);
    if (here.length) fillCounts(this.api, here);
  }

  // `first`: the first page in this order. Where new comments will come from is known once the
  // oldest-first list reaches its end; best first, the first page says where the thread ends.
  showPage(page, first = false) {
    const added = page.comments.filter((comment) => !this.nodes.has(comment.id));
    for (const comment of page.comments) this.place(comment);
    this.cursor = page.next_cursor;
    this.more.hidden = !this.cursor;
    if ((this.order === "oldest" && !this.cursor) || (this.order === "top" && first)) this.end = page.poll_cursor;
    return added;
  }

  async loadMore() {
    this.more.disabled = true;
    try {
      const added = this.showPage(await this.api.page(this.thread, this.pageSize, this.cursor, this.order));
      this.status.textContent = t("moreLoaded", { n: added.length });
      if (this.more.hidden && added.length) this.nodes.get(added[0].id).article.focus();
    } catch (error) {
      this.status.textContent = explain(error);
    } finally {
      this.more.disabled = false;
    }
  }

  // Adds a comment where it belongs, or redraws it if it is already shown. Two levels: a
  // comment that answers a reply joins its thread's replies, saying whom it answers. Replies
  // stay oldest first in every order; newest first, a reply can come before its parent, and
  // waits for it. `fresh`: it just arrived (posted here, or polled), so newest first it goes on top.
  place(comment, fresh = false) {
    const known = this.nodes.get(comment.id);
    if (known) {
      known.comment = comment;
      this.mine.update(comment);
      this.draw(known);
      return known;
    }
    const parent = comment.parent_id ? this.nodes.get(comment.parent_id) : null;
    if (comment.parent_id && !parent && this.order === "newest" && !fresh) {
      this.waiting.set(comment.parent_id, [comment, ...(this.waiting.get(comment.parent_id) || [])]);
      return null;
    }
    const root = parent ? parent.root || parent : null;
    const node = { comment, root, parent: comment.parent_id && parent !== root ? parent || {} : null };
    node.article = el("article", { class: "cw-comment", id: `cw-comment-${comment.id}`, tabindex: "-1" });
    node.item = el("li", { "data-id": comment.id }, node.article);
    if (!root) {
      node.replies = el("ol", { class: "cw-replies" });
      node.item.append(node.replies);
    }
    if (root) this.insertReply(root.replies, node.item, comment.id);
    else if (this.order === "newest" && fresh) this.list.prepend(node.item);
    else this.list.append(node.item);
    this.nodes.set(comment.id, node);
    this.draw(node);
    for (const reply of this.waiting.get(comment.id) || []) this.place(reply);
    this.waiting.delete(comment.id);
    return node;
  }

  // Replies in id order (oldest first), whichever order they arrive in.
  insertReply(replies, item, id) {
    const later = [...replies.children].find((other) => Number(other.dataset.id) > id);
    replies.insertBefore(item, later || null);
  }

  draw(node) {
    const comment = node.comment;
    if (comment.status === "deleted") {
      node.article.replaceChildren(el("p", { class: "cw-deleted" }, t("deleted")));
      return;
    }
    const edited = comment.edited_at && el("span", { class: "cw-edited", title: exactTime(comment.edited_at) }, t("edited"));
    const badge = comment.status === "pending" && el("span", { class: "cw-badge" }, t("awaiting"));
    node.actions = el("div", { class: "cw-actions" }, ...this.actions(node));
    fill(
      node.article,
      el("header", { class: "cw-meta" }, el("span", { class: "cw-name" }, comment.name), timeElement(comment.created_at), edited, badge),
      node.parent && this.replyTo(node.parent, comment.parent_id),
      el("div", { class: "cw-text" }, richText(comment.html, comment.comment)),
      comment.images.length > 0 && (badge ? this.heldImages(comment) : this.images(comment)),
      node.actions,
    );
  }

  replyTo(parent, parentId) {
    const name = parent.comment ? parent.comment.name || t("deletedComment") : t("earlierComment");
    const [before, after] = t("inReplyTo").split("{name}");
    return el("p", { class: "cw-reply-to" }, before, el("a", { href: `#cw-comment-${parentId}` }, name), after);
  }

  // The API serves a comment's images only once it is published: until then, say they wait.
  heldImages(comment) {
    return el("p", { class: "cw-hint" }, t("imagesHeld", { n: comment.images.length }));
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
            alt: t("imageAlt", { i: i + 1, count, name: comment.name }),
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
    if (status === "published" && !this.mine.owns(node.comment)) buttons.push(...this.votes(node));
    if (status === "published") buttons.push(this.button(t("reply"), () => this.openReply(node)));
    if (this.mine.canEdit(node.comment)) {
      node.edit = this.button(t("edit"), () => this.openEdit(node));
      node.remove = this.button(t("delete"), () => this.confirmRemove(node));
      node.left = el("span", { class: "cw-left" }, remaining(this.mine.get(id).until));
      buttons.push(node.edit, node.remove, node.left);
    }
    return buttons;
  }

  // ▲ 3 ▼ 1, the reader's own vote pressed; pressing it again takes the vote back.
  votes(node) {
    const { id, upvotes, downvotes } = node.comment;
    const mine = this.mine.vote(id);
    const vote = (value, label, sign, count) =>
      el(
        "button",
        { type: "button", class: "cw-vote", "aria-pressed": String(mine === value), "aria-label": `${t(label)}: ${count}`, onclick: () => this.vote(node, value) },
        el("span", { "aria-hidden": "true" }, sign),
        ` ${count.toLocaleString(currentLanguage())}`,
      );
    return [vote(1, "upvote", "▲", upvotes), vote(-1, "downvote", "▼", downvotes)];
  }

  async vote(node, value) {
    const { id } = node.comment;
    const wanted = this.mine.vote(id) === value ? 0 : value;
    try {
      const counted = await this.api.vote(id, wanted);
      this.mine.setVote(id, wanted);
      node.comment = { ...node.comment, upvotes: counted.upvotes, downvotes: counted.downvotes };
      this.draw(node);
      node.actions.querySelector(`.cw-vote:nth-child(${value === 1 ? 1 : 2})`).focus();
    } catch (error) {
      this.status.textContent = explain(error);
    }
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
        this.announce(added, "reply");
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
        this.status.textContent = t("saved");
        done((node) => node.article);
      },
      onCancel: () => done((node) => node.edit || node.article),
    });
    node.article.querySelector(".cw-text").replaceWith(form);
    node.actions.hidden = true;
    form.focusFirst();
  }

  confirmRemove(node) {
    const yes = this.button(t("yesDelete"), () => this.remove(node, yes));
    const keep = this.button(t("keep"), () => {
      this.draw(node);
      node.remove.focus();
    });
    node.actions.replaceChildren(el("span", {}, t("confirmDelete")), yes, keep);
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
    node.comment = { ...node.comment, status: "deleted", name: null, comment: null, html: null, images: [] };
    this.draw(node);
    this.status.textContent = t("deletedYours");
    node.article.focus();
    this.recount();
  }

  // New comments without a reload: asked for while the tab is visible and the reader is there
  // (not after half an hour without a scroll, key or touch), sooner again after each success,
  // less often after failures. A poll that finds nothing is a 304 (api.js).
  watch() {
    if (!this.watching) {
      this.watching = true;
      this.active = Date.now();
      const wake = () => {
        const idle = Date.now() - this.active > IDLE_MS;
        this.active = Date.now();
        if (idle) this.schedule(0);
      };
      for (const type of ["pointerdown", "keydown", "scroll", "focusin"]) addEventListener(type, wake, { passive: true });
      document.addEventListener("visibilitychange", () => this.schedule(0));
    }
    this.schedule();
  }

  schedule(delay = this.pollDelay) {
    clearTimeout(this.pollTimer);
    if (document.hidden || !this.end || Date.now() - this.active > IDLE_MS) return; // resumed by watch()
    this.pollTimer = setTimeout(() => this.poll(), delay);
  }

  async poll() {
    const order = this.order;
    try {
      const page = await this.api.poll(this.thread, this.end);
      if (order !== this.order) return; // sorted meanwhile: that list has its own end
      this.end = page.poll_cursor;
      const added = page.comments.filter((comment) => !this.nodes.has(comment.id));
      for (const comment of added) this.place(comment, true);
      if (added.length) {
        this.status.textContent = t("newArrived", { n: added.length });
        this.recount();
      }
      this.pollDelay = page.next_cursor ? 0 : this.pollEvery; // more than a page came: ask again now
    } catch {
      this.pollDelay = Math.min(this.pollDelay * 2, MAX_BACKOFF_MS);
    }
    this.schedule();
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
