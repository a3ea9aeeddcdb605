// The admin app's keyboard, selection and undo: an enhancement of plain forms, which work alone.
// j/k move between comments, a approves, r rejects, d deletes (after its inline confirmation),
// ? lists the keys. An action shows at once and is sent only after UNDO_SECONDS, unless undone;
// leaving the page sends what is still waiting (sendBeacon), so nothing decided is dropped.
"use strict";

const UNDO_SECONDS = Number(document.body.dataset.undoSeconds || 5);
const DONE = { published: "approved", rejected: "rejected", erase: "deleted" };
const comments = () => [...document.querySelectorAll("article.comment:not([hidden])")];
const waiting = new Map(); // id -> {send, restore, timer}
let lastId = 0;

function focusComment(step) {
  const all = comments();
  if (!all.length) return;
  const at = all.indexOf(document.activeElement.closest("article.comment"));
  const next = all[Math.min(all.length - 1, Math.max(0, at === -1 ? 0 : at + step))];
  next.tabIndex = -1;
  next.focus();
}

function announce(text, undo) {
  const bar = document.getElementById("undo-bar");
  bar.querySelector("span").textContent = text;
  const button = bar.querySelector("button");
  button.hidden = !undo;
  button.onclick = undo;
  bar.hidden = false;
}

function postLater(forms, articles, text) {
  const id = ++lastId;
  articles.forEach((article) => (article.hidden = true));
  const send = () => {
    waiting.delete(id);
    forms.forEach((data) =>
      fetch(data.action, { method: "POST", body: data.body, credentials: "same-origin", redirect: "manual" })
        .then((response) => {
          if (response.type !== "opaqueredirect" && !response.ok) throw new Error(String(response.status));
        })
        .catch(() => {
          articles.forEach((article) => (article.hidden = false));
          announce("That did not reach the server; the comment is shown again.");
        }),
    );
  };
  const timer = setTimeout(send, UNDO_SECONDS * 1000);
  waiting.set(id, { send, timer, forms });
  announce(text, () => {
    clearTimeout(timer);
    waiting.delete(id);
    articles.forEach((article) => (article.hidden = false));
    announce("Undone.");
  });
}

function formData(form, extra = {}) {
  const body = new FormData(form);
  Object.entries(extra).forEach(([key, value]) => body.set(key, value));
  // The attribute, not form.action: these forms have a field named "action", which shadows it.
  return { action: form.getAttribute("action"), body };
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  // matches(), not form.id: the bulk form's checkboxes are named "id", which shadows the property.
  if (form.matches("form.act")) {
    event.preventDefault();
    const article = form.closest("article.comment");
    postLater([formData(form)], [article], `Comment ${DONE[form.elements.namedItem("action").value]}.`);
  } else if (form.matches("form#bulk")) {
    const picked = [...document.querySelectorAll('input[form="bulk"][name="id"]:checked')];
    if (!picked.length) return;
    event.preventDefault();
    const articles = picked.map((box) => box.closest("article.comment"));
    const action = event.submitter ? event.submitter.value : "";
    // FormData takes the checked boxes too: they belong to this form through their form attribute.
    const body = formData(form, { action });
    postLater([body], articles, `${picked.length} comment${picked.length === 1 ? "" : "s"} ${DONE[action]}.`);
    picked.forEach((box) => (box.checked = false));
  }
});

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest("input, select, textarea")) return;
  const dialog = document.getElementById("shortcuts");
  const article = document.activeElement.closest("article.comment");
  const press = (selector) => article && article.querySelector(selector)?.click();
  switch (event.key) {
    case "j": focusComment(1); break;
    case "k": focusComment(-1); break;
    case "a": press('form.act input[value="published"] ~ button'); break;
    case "r": press('form.act input[value="rejected"] ~ button'); break;
    case "d":
      if (article) {
        const confirm = article.querySelector("details.delete");
        confirm.open = true;
        confirm.querySelector("button").focus(); // Enter confirms, as a click would
      }
      break;
    case "?": dialog.open ? dialog.close() : dialog.showModal(); break;
    default: return;
  }
  event.preventDefault();
});

window.addEventListener("pagehide", () => {
  for (const { timer, forms } of waiting.values()) {
    clearTimeout(timer);
    forms.forEach((data) => navigator.sendBeacon(data.action, data.body));
  }
  waiting.clear();
});
