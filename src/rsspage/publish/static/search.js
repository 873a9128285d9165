// Site search with Pagefind: loads shard 1's bundle and merges the others, then shows
// results with highlighted excerpts. Pagefind's excerpts are escaped text plus <mark>;
// they are still rebuilt node by node so that nothing else from the index becomes markup.
const status = document.getElementById("search-status");
const list = document.getElementById("search-results");
const input = document.getElementById("search-input");
const more = document.getElementById("search-more");
const PAGE = 20;
const shards = Number(status.dataset.shards || 0);
const root = new URL(status.dataset.root || "./", location.href);
let pagefind = null;
let current = [];
let shown = 0;
let generation = 0;

function say(text) { status.textContent = text; }

async function load() {
  if (pagefind) return pagefind;
  const pf = await import(new URL("pagefind/1/pagefind.js", root).href);
  await pf.options({ excerptLength: 40 });
  for (let k = 2; k <= shards; k++) {
    try {
      await pf.mergeIndex(new URL(`pagefind/${k}/`, root).pathname);
    } catch (e) {
      console.warn(`search shard ${k} is missing`, e);  // search the rest
    }
  }
  await pf.init();
  pagefind = pf;
  return pf;
}

function excerpt(html) {
  const p = document.createElement("p");
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  for (const node of doc.body.childNodes) {
    if (node.nodeType === Node.ELEMENT_NODE && node.tagName === "MARK") {
      const mark = document.createElement("mark");
      mark.textContent = node.textContent;
      p.append(mark);
    } else {
      p.append(document.createTextNode(node.textContent));
    }
  }
  return p;
}

function item(data) {
  const li = document.createElement("li");
  const h2 = document.createElement("h2");
  const a = document.createElement("a");
  a.href = data.url;
  a.textContent = data.meta.title || data.url;
  h2.append(a);
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = [data.meta.source, data.meta.date].filter(Boolean).join(" · ");
  li.append(h2, meta, excerpt(data.excerpt || ""));
  return li;
}

async function showMore(run) {
  const batch = current.slice(shown, shown + PAGE);
  const items = await Promise.all(batch.map((r) => r.data()));
  if (run !== generation) return;
  for (const data of items) list.append(item(data));
  shown += batch.length;
  more.hidden = shown >= current.length;
}

async function search(query) {
  const run = ++generation;
  list.replaceChildren();
  more.hidden = true;
  current = [];
  shown = 0;
  if (!query.trim()) { say(""); return; }
  if (!shards) { say(status.dataset.unavailable); return; }
  say(status.dataset.searching);
  let pf;
  try {
    pf = await load();
  } catch (e) {
    say(status.dataset.unavailable);
    return;
  }
  const response = await pf.search(query);
  if (run !== generation) return;
  current = response.results;
  say(current.length ? status.dataset.found.replace("{}", current.length) : status.dataset.none);
  await showMore(run);
}

let timer = 0;
input.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(() => {
    const url = new URL(location.href);
    url.searchParams.set("q", input.value);
    history.replaceState(null, "", url);
    search(input.value).catch((e) => say(String(e)));
  }, 200);
});
more.addEventListener("click", () => showMore(generation));
input.form.addEventListener("submit", (event) => {
  event.preventDefault();
  search(input.value).catch((e) => say(String(e)));
});

const initial = new URLSearchParams(location.search).get("q") || "";
input.value = initial;
search(initial).catch((e) => say(String(e)));
