// The comments API over fetch: JSON in and out, errors as ApiError. No cookies are ever sent
// (credentials: "omit"); an author proves who they are with the edit token alone.

export class ApiError extends Error {
  constructor(status, body = {}, retryAfter = 0) {
    super(body.message || `HTTP ${status}`);
    this.status = status; // 0: the server was not reached at all
    this.code = body.code || "";
    this.fields = body.fields || {};
    this.retryAfter = retryAfter;
  }
}

export class Api {
  constructor(base) {
    this.base = base; // ends with "/": where embed.js came from
    this.settings = null;
  }

  url(path) {
    return new URL(path, this.base).href;
  }

  async request(method, path, { json, form, token, key, cache } = {}) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (key) headers["Idempotency-Key"] = key;
    let body = form;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    let response;
    try {
      response = await fetch(this.url(path), { method, headers, body, cache, credentials: "omit" });
    } catch {
      throw new ApiError(0, { code: "unreachable" });
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data, Number(response.headers.get("Retry-After")) || 0);
    return data;
  }

  loadSettings() {
    this.settings ||= this.request("GET", "widget.json");
    return this.settings;
  }

  page(thread, limit, cursor, order = "oldest") {
    const query = new URLSearchParams({ thread, limit });
    if (order !== "oldest") query.set("order", order);
    if (cursor) query.set("cursor", cursor);
    return this.request("GET", `comments?${query}`);
  }

  // What came since `cursor` (a poll_cursor). "no-cache": the browser asks with its copy's ETag,
  // so a poll that finds nothing new is a 304 that costs the server one index lookup.
  poll(thread, cursor) {
    const query = new URLSearchParams({ thread, limit: 100, cursor });
    return this.request("GET", `comments?${query}`, { cache: "no-cache" });
  }

  vote(id, value) {
    return this.request("POST", `comments/${id}/vote`, { json: { value } });
  }

  preview(comment) {
    return this.request("POST", "preview", { json: { comment } });
  }

  post(form, key) {
    return this.request("POST", "comments", { form, key });
  }

  edit(id, comment, token, key) {
    return this.request("PATCH", `comments/${id}`, { json: { comment }, token, key });
  }

  remove(id, token, key) {
    return this.request("DELETE", `comments/${id}`, { token, key });
  }

  counts(threads) {
    const query = new URLSearchParams(threads.map((thread) => ["thread", thread]));
    return this.request("GET", `counts?${query}`);
  }
}

// One key per attempt to say something: a retry of the same words reuses it, so a timeout
// followed by a retry never posts twice (the server answers the first post again).
export function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID(); // only in secure contexts
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
