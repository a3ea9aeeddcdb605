"""Synthetic exports of any size, written as a stream: a Disqus file of a million posts for the
import benchmark, or of a few thousand for the tests of an interrupted import.

`python -m devtools.sample_exports disqus POSTS FILE` writes one. The posts spread over threads
of ~50 comments, a third of them replies (some listed before their parents), a few deleted or
spam, with the HTML Disqus writes (paragraphs, links, entities) and some non-ASCII text.
"""

import random
import sys
from datetime import UTC, datetime, timedelta

HEAD = """<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
  <category dsq:id="1"><forum>{forum}</forum><title>General</title><isDefault>true</isDefault></category>
"""
THREAD = """  <thread dsq:id="{id}"><id/><forum>{forum}</forum><category dsq:id="1"/>
    <link>https://blog.example.tld/{year}/post-{id}/</link><title>Post {id}</title><message/>
    <createdAt>{time}</createdAt><isClosed>false</isClosed><isDeleted>false</isDeleted></thread>
"""
POST = """  <post dsq:id="{id}"><id/>
    <message><![CDATA[<p>{words}</p><p>See <a href="https://example.org/{id}">this</a> &amp; more.</p>]]></message>
    <createdAt>{time}</createdAt><isDeleted>{deleted}</isDeleted><isSpam>{spam}</isSpam>
    <author><email>reader{reader}@example.tld</email><name>Reader {reader}</name></author>
    <ipAddress>198.51.{octet}.{last}</ipAddress><thread dsq:id="{thread}"/>{parent}
  </post>
"""
WORDS = [
    "comment",
    "thread",
    "reply",
    "agreed",
    "indeed",
    "però",
    "größer",
    "日本語",
    "naïve",
    "café",
    "quite",
    "point",
]
PER_THREAD = 50
START = datetime(2012, 1, 1, tzinfo=UTC)


def disqus(posts: int, out, forum: str = "sampleforum", seed: int = 1) -> None:
    """Write a Disqus export of `posts` posts to the text stream `out`."""
    rng = random.Random(seed)
    threads = max(1, posts // PER_THREAD)
    out.write(HEAD.format(forum=forum))
    for thread in range(1, threads + 1):
        moment = START + timedelta(hours=thread)
        out.write(THREAD.format(id=thread, forum=forum, year=moment.year, time=_time(moment)))
    for thread in range(1, threads + 1):
        count = posts // threads + (1 if thread <= posts % threads else 0)
        first = (thread - 1) * (posts // threads) + min(thread - 1, posts % threads) + 1_000_000
        posts_of_thread = [_post(rng, thread, first, number) for number in range(count)]
        if len(posts_of_thread) > 2:  # a reply listed before its parent, as exports do
            posts_of_thread[1], posts_of_thread[2] = posts_of_thread[2], posts_of_thread[1]
        out.writelines(posts_of_thread)
    out.write("</disqus>\n")


def _post(rng: random.Random, thread: int, first: int, number: int) -> str:
    post_id = first + number
    parent = ""
    if number and rng.random() < 0.33:
        parent = f'<parent dsq:id="{first + rng.randrange(number)}"/>'
    moment = START + timedelta(hours=thread, minutes=number * 7)
    reader = rng.randrange(5000)
    return POST.format(
        id=post_id,
        words=" ".join(rng.choice(WORDS) for _ in range(rng.randrange(5, 40))),
        time=_time(moment),
        deleted="true" if rng.random() < 0.01 else "false",
        spam="true" if rng.random() < 0.02 else "false",
        reader=reader,
        octet=100 + reader % 100,
        last=reader % 250 + 1,
        thread=thread,
        parent=parent,
    )


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "disqus" or not sys.argv[2].isdigit():
        raise SystemExit("usage: python -m devtools.sample_exports disqus POSTS FILE")
    with open(sys.argv[3], "w", encoding="utf-8") as file:
        disqus(int(sys.argv[2]), file)
