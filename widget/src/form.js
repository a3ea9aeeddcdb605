// The comment form (a new comment or a reply) and what it says when the API refuses.
import { ApiError, idempotencyKey } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { richText } from "./rich.js";

let formCount = 0;

// What a visitor reads for an error that is not about one field.
export function explain(error) {
  if (!(error instanceof ApiError)) return t("somethingWrong");
  if (error.status === 0) return t("unreachable");
  if (error.status === 429) return error.retryAfter ? t("tooFastIn", { n: error.retryAfter }) : t("tooFast");
  if (error.status >= 500) return t("unavailable");
  if (error.code === "own_comment") return t("ownComment");
  return error.message; // the server's own words (English)
}

function field(id, label, control, hint) {
  const error = el("p", { class: "cw-error", id: `${id}-error` });
  control.id = id;
  control.setAttribute("aria-describedby", `${id}-error`);
  return el("div", { class: "cw-field" }, el("label", { for: id }, label), hint, control, error);
}

function checkbox(id, label, control) {
  const error = el("p", { class: "cw-error", id: `${id}-error` });
  control.id = id;
  control.setAttribute("aria-describedby", `${id}-error`);
  return el("div", { class: "cw-field cw-check" }, el("label", {}, control, ` ${label}`), error);
}

// A form that posts to `thread` (replying to `parentId`, when given). `onPosted(answer)` gets
// the 201's body; `onCancel`, when given, adds a Cancel button.
export function commentForm({ api, settings, mine, thread, parentId, onPosted, onCancel }) {
  const id = `cw-form-${++formCount}`;
  const name = el("input", { name: "name", autocomplete: "name", maxlength: settings.limits.name, required: true });
  name.value = mine.name;
  const text = el("textarea", { name: "comment", rows: 4, maxlength: settings.limits.comment, required: true });
  const images = settings.images
    ? el("input", { name: "image", type: "file", multiple: true, accept: "image/jpeg,image/png,image/webp,image/gif" })
    : null;
  // The reply notice: an address (never shown) and the opt-in, which needs the address.
  const email = el("input", { name: "email", type: "email", autocomplete: "email", maxlength: 254 });
  email.value = mine.email;
  const notify = el("input", { name: "notify_replies", type: "checkbox", disabled: !email.value });
  email.addEventListener("input", () => {
    notify.disabled = !email.value.trim();
    if (notify.disabled) notify.checked = false;
  });
  // The honeypot: people never see it and screen readers skip it; bots fill it in.
  const website = el("input", { name: "website", tabindex: "-1", autocomplete: "off" });
  const problem = el("p", { class: "cw-problem", role: "alert" });
  const submit = el("button", { type: "submit", class: "cw-primary" }, parentId ? t("postReply") : t("postComment"));
  const writing = previewing(api, text);
  const form = el(
    "form",
    { class: "cw-form", novalidate: true, "aria-label": parentId ? t("replyLabel") : t("addComment") },
    field(`${id}-name`, t("name"), name),
    field(`${id}-comment`, parentId ? t("replyLabel") : t("comment"), text, el("span", { class: "cw-hint" }, t("formatHint"))),
    writing.shown,
    images &&
      field(`${id}-image`, t("images"), images, el("span", { class: "cw-hint" }, t("imagesHint", { n: settings.images.max_count }))),
    field(`${id}-email`, t("email"), email),
    checkbox(`${id}-notify`, t("notify"), notify),
    el("div", { class: "cw-honeypot", "aria-hidden": "true" }, el("label", {}, `${t("website")} `, website)),
    problem,
    el("div", { class: "cw-buttons" }, submit, writing.toggle, onCancel && el("button", { type: "button", onclick: onCancel }, t("cancel"))),
  );
  const fields = { name, comment: text, image: images, email, notify_replies: notify };
  onSubmit(form, submit, problem, fields, async (key) => {
    if (!filledIn([name, text])) return;
    const body = new FormData();
    body.append("thread", thread);
    body.append("name", name.value);
    body.append("comment", text.value);
    if (email.value.trim()) body.append("email", email.value.trim());
    if (notify.checked) body.append("notify_replies", "true");
    if (website.value) body.append("website", website.value);
    if (parentId) body.append("parent_id", String(parentId));
    for (const file of images ? images.files : []) body.append("image", file, file.name);
    const answer = await api.post(body, key);
    mine.name = name.value;
    mine.email = email.value.trim();
    text.value = "";
    writing.reset();
    if (images) images.value = "";
    onPosted(answer);
  });
  form.focusFirst = () => (name.value ? text : name).focus();
  return form;
}

// The Preview button and what it shows: the words rendered by the server (POST /preview) as
// they would be stored, drawn by the same allow-list walk as a comment.
function previewing(api, text) {
  const shown = el("div", { class: "cw-preview cw-body", hidden: true, "aria-live": "polite" });
  const toggle = el("button", { type: "button", "aria-pressed": "false" }, t("preview"));
  const reset = () => {
    shown.hidden = true;
    text.hidden = false;
    toggle.textContent = t("preview");
    toggle.setAttribute("aria-pressed", "false");
  };
  toggle.addEventListener("click", async () => {
    if (!shown.hidden) return reset();
    if (!text.value.trim()) {
      shown.replaceChildren(el("p", { class: "cw-hint" }, t("nothingToPreview")));
    } else {
      try {
        shown.replaceChildren(richText((await api.preview(text.value)).html, text.value));
      } catch (error) {
        shown.replaceChildren(el("p", { class: "cw-problem" }, explain(error)));
      }
    }
    shown.hidden = false;
    text.hidden = true;
    toggle.textContent = t("writeAgain");
    toggle.setAttribute("aria-pressed", "true");
  });
  return { shown, toggle, reset };
}

// A comment's own edit form: the text, Save and Cancel.
export function editForm({ comment, settings, onSave, onCancel }) {
  const id = `cw-form-${++formCount}`;
  const text = el("textarea", { name: "comment", rows: 4, maxlength: settings.limits.comment, required: true });
  text.value = comment.comment;
  const problem = el("p", { class: "cw-problem", role: "alert" });
  const save = el("button", { type: "submit", class: "cw-primary" }, t("save"));
  const form = el(
    "form",
    { class: "cw-form cw-edit", novalidate: true, "aria-label": t("editYours") },
    field(`${id}-comment`, t("yourComment"), text),
    problem,
    el("div", { class: "cw-buttons" }, save, el("button", { type: "button", onclick: onCancel }, t("cancel"))),
  );
  onSubmit(form, save, problem, { comment: text }, (key) => onSave(text.value, key));
  form.focusFirst = () => text.focus();
  return form;
}

// On submit: send(key) with the button off meanwhile, and the API's errors shown if it throws.
// One idempotency key per wording: a retry of the same words reuses it, so a timeout followed
// by a retry never acts twice; any edit of the form makes a new one.
function onSubmit(form, button, problem, controls, send) {
  let key = null;
  form.addEventListener("input", () => (key = null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, problem);
    key ||= idempotencyKey();
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await send(key);
      key = null;
    } catch (error) {
      showErrors(error, controls, problem);
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
}

// Names every empty required field, before anything is sent; false if there was one.
function filledIn(controls) {
  const missing = controls.filter((control) => !control.value.trim());
  for (const control of missing) showFieldError(control, t("fillIn"));
  if (missing.length) missing[0].focus();
  return missing.length === 0;
}

function clearErrors(form, problem) {
  problem.textContent = "";
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    document.getElementById(control.getAttribute("aria-describedby")).textContent = "";
  }
}

function showFieldError(control, message) {
  control.setAttribute("aria-invalid", "true");
  document.getElementById(control.getAttribute("aria-describedby")).textContent = message;
}

// The API names the fields it refuses ("comment", "image[2]"...): each message goes under its
// field, the rest above the buttons, and focus moves to the first field to fix.
function showErrors(error, controls, problem) {
  const others = [];
  let first = null;
  for (const [name, message] of Object.entries(error.fields || {})) {
    const control = controls[name.replace(/\[\d+\]$/, "")];
    if (!control) {
      others.push(`${name}: ${message}`);
      continue;
    }
    const prefix = name.includes("[") ? `${name}: ` : "";
    showFieldError(control, prefix + message);
    first ||= control;
  }
  if (first) first.focus();
  if (!first || others.length) problem.textContent = others.length ? others.join("; ") : explain(error);
}
