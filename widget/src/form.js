// The comment form (a new comment or a reply) and what it says when the API refuses.
import { ApiError, idempotencyKey } from "./api.js";
import { el } from "./dom.js";

let formCount = 0;

// What a visitor reads for an error that is not about one field.
export function explain(error) {
  if (!(error instanceof ApiError)) return "Something went wrong. Please try again.";
  if (error.status === 0) return "The comment server could not be reached. Check your connection and try again.";
  if (error.status === 429) {
    const wait = error.retryAfter ? ` in ${error.retryAfter} seconds` : " in a moment";
    return `You are posting too quickly. Please try again${wait}.`;
  }
  if (error.status >= 500) return "Comments are briefly unavailable. Please try again in a moment.";
  return error.message;
}

function field(id, label, control, hint) {
  const error = el("p", { class: "cw-error", id: `${id}-error` });
  control.id = id;
  control.setAttribute("aria-describedby", `${id}-error`);
  return el("div", { class: "cw-field" }, el("label", { for: id }, label), hint, control, error);
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
  // The honeypot: people never see it and screen readers skip it; bots fill it in.
  const website = el("input", { name: "website", tabindex: "-1", autocomplete: "off" });
  const problem = el("p", { class: "cw-problem", role: "alert" });
  const submit = el("button", { type: "submit", class: "cw-primary" }, parentId ? "Post reply" : "Post comment");
  const form = el(
    "form",
    { class: "cw-form", novalidate: true, "aria-label": parentId ? "Reply" : "Add a comment" },
    field(`${id}-name`, "Name", name),
    field(`${id}-comment`, parentId ? "Reply" : "Comment", text),
    images &&
      field(
        `${id}-image`,
        "Images (optional)",
        images,
        el("span", { class: "cw-hint" }, `Up to ${settings.images.max_count}, JPEG, PNG, WebP or GIF.`),
      ),
    el("div", { class: "cw-honeypot", "aria-hidden": "true" }, el("label", {}, "Website ", website)),
    problem,
    el(
      "div",
      { class: "cw-buttons" },
      submit,
      onCancel && el("button", { type: "button", onclick: onCancel }, "Cancel"),
    ),
  );
  const fields = { name, comment: text, image: images };
  onSubmit(form, submit, problem, fields, async (key) => {
    if (!filledIn([name, text])) return;
    const body = new FormData();
    body.append("thread", thread);
    body.append("name", name.value);
    body.append("comment", text.value);
    if (website.value) body.append("website", website.value);
    if (parentId) body.append("parent_id", String(parentId));
    for (const file of images ? images.files : []) body.append("image", file, file.name);
    const answer = await api.post(body, key);
    mine.name = name.value;
    text.value = "";
    if (images) images.value = "";
    onPosted(answer);
  });
  form.focusFirst = () => (name.value ? text : name).focus();
  return form;
}

// A comment's own edit form: the text, Save and Cancel.
export function editForm({ comment, settings, onSave, onCancel }) {
  const id = `cw-form-${++formCount}`;
  const text = el("textarea", { name: "comment", rows: 4, maxlength: settings.limits.comment, required: true });
  text.value = comment.comment;
  const problem = el("p", { class: "cw-problem", role: "alert" });
  const save = el("button", { type: "submit", class: "cw-primary" }, "Save");
  const form = el(
    "form",
    { class: "cw-form cw-edit", novalidate: true, "aria-label": "Edit your comment" },
    field(`${id}-comment`, "Your comment", text),
    problem,
    el("div", { class: "cw-buttons" }, save, el("button", { type: "button", onclick: onCancel }, "Cancel")),
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
  for (const control of missing) showFieldError(control, "Please fill this in.");
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
