// <span data-comment-count="thread">: "3 comments", asked for in one request per 100 threads.
const PER_REQUEST = 100;

export async function fillCounts(api, elements) {
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
        for (const element of byThread.get(thread) || []) element.textContent = n === 1 ? "1 comment" : `${n} comments`;
      }
    } catch {
      // Counts are decoration: leave whatever the page put there.
    }
  }
}
