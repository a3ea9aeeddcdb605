// Finds where the page wants comments and counts, and starts them. The API is wherever the
// script came from (its src), so a page needs nothing but the two lines of the README.
import { Api } from "./api.js";
import { fillCounts } from "./counts.js";
import { Thread } from "./thread.js";

export function start(script) {
  // currentScript is null only if the page loaded embed.js as a module; then find its tag.
  script ||= document.querySelector('script[src$="/embed.js"]');
  const api = new Api(new URL(".", script.src).href);
  const run = () => {
    fillCounts(api, document.querySelectorAll("[data-comment-count]"));
    const host = document.getElementById("comments");
    if (host) new Thread(api, host).mount();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
}
