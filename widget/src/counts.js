// <span data-comment-count="thread">: "3 comments", asked for in one request per 100 threads.
import { prepareLanguage, t } from "./i18n.js";

const PER_REQUEST = 100;

export async function fillCounts(api, elements) {
  await prepareLanguage(api, document.getElementById("comments"));
  const byThread = new Map();
  for (const element of elements) {
    const thread = element.dataset.commentCount;
    if (!byThread.has(thread)) byThread.set(thread, []);
    byThread.get(thread).push(element);
  }
  const threads = [...byThread.keys()];
  for (let i = 0; i < threads.length; i += PER_REQUEST) {
    try {
      const { counts } = await api.counts(threads.slice(i, i + PER_REQUEST));
      for (const [thread, n] of Object.entries(counts)) {
        for (const element of byThread.get(thread) || []) element.textContent = t("count", { n });
      }
    } catch {
      // Counts are decoration: leave whatever the page put there.
    }
  }
}
