// Site search with Pagefind: reads the shards' layout (pagefind/rsspage-shards.json), starts
// Pagefind from the runtime bundle (its script and WebAssembly, once for all shards) and merges
// the shards' bundles into it, newest first and a wave at a time: a query searches the newest
// `wave` articles first and reaches further back only when those give no result (or on
// "more"), each wave twice the one before, so what a first query downloads does not grow with
// the archive and a search through all of it takes a few waves. Focusing the search box
// starts Pagefind and the first wave before the first query. Results are shown
// with highlighted excerpts; Pagefind's excerpts are escaped text plus <mark>, still rebuilt
// node by node so that nothing else from the index becomes markup.
//
// Why the query is split here and not by Pagefind: the index splits Chinese and Japanese into
// words with jieba, but Pagefind splits a query with the browser's Intl.Segmenter, whose
// dictionary lacks many common words (Chromium: 芯片 → 芯|片, 涨停 → 涨|停), and a query
// whose pieces are not words of the index finds nothing. So Pagefind is started with a language
// that turns its own splitting off, and the query is tried a few ways (see variants()); a page
// found by any of them is a result.
const status = document.getElementById("search-status");
const list = document.getElementById("search-results");
const input = document.getElementById("search-input");
const more = document.getElementById("search-more");
const PAGE = 20;
// Results examined in a row without a relevant one, after which the rest count as stand-ins.
const GIVE_UP = 3 * PAGE;
// Articles whose bundles are merged in the first wave (the layout says; search_index.WAVE).
let wave = 10000;
// Unix seconds: a record published before it belongs to an article that left the site (the
// window moves a day at a time; the shards keep such records until they are rebuilt).
let floor = -Infinity;
const available = Number(status.dataset.shards || 0) > 0;
const root = new URL(status.dataset.root || "./", location.href);
const language = document.documentElement.lang || "en";
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+/gu;
let pagefind = null;
let loading = null;
let waiting = [];   // bundles not merged yet, newest first: {folder, count}
let current = [];   // candidates, best first within each wave, newer waves first
let known = new Set();  // ids of the candidates
let checked = 0;    // candidates examined so far
let kept = 0;       // of those, shown
let misses = 0;     // examined in a row and dropped
let terms = [];
let query = "";
let generation = 0;

function say(text) { status.textContent = text; }

// Pagefind with the first wave merged, started once however many searches ask for it.
function load() {
  loading ??= start().catch((e) => {
    loading = null;  // try again at the next search
    throw e;
  });
  return loading;
}

async function start() {
  const answer = await fetch(new URL("pagefind/rsspage-shards.json", root), { cache: "no-cache" });
  if (!answer.ok) throw new Error(`search layout: HTTP ${answer.status}`);
  const layout = await answer.json();
  const pf = await import(new URL(`pagefind/${layout.runtime}/pagefind.js`, root).href);
  await pf.options({ excerptLength: 40 });
  // Pagefind reads its language from <html lang> once, when it starts (synchronously, inside
  // init); "zxx" (no linguistic content) makes it keep a query's words as they are.
  const html = document.documentElement;
  html.lang = "zxx";
  let started;
  try {
    started = pf.init();
  } finally {
    html.lang = language;
  }
  await started;
  waiting = layout.shards.filter((s) => s.folder !== null).reverse();
  wave = layout.wave || wave;
  if (layout.floor) floor = Date.parse(layout.floor) / 1000;
  await mergeWave(pf);
  pagefind = pf;
  return pf;
}

// Merges the next bundles, newest first, until `wave` more articles are searchable; the next
// wave is twice as large.
async function mergeWave(pf) {
  const merging = [];
  let articles = 0;
  while (waiting.length && (articles < wave || !merging.length)) {
    const shard = waiting.shift();
    merging.push(shard);
    articles += shard.count;
  }
  wave *= 2;
  await Promise.all(merging.map((shard) => pf.mergeIndex(
    new URL(`pagefind/${shard.folder}/`, root).pathname).catch((e) => {
    console.warn(`search shard ${shard.folder} is missing`, e);  // search the rest
  })));
}

// The query as typed (a Chinese word matches a whole word of the index or its start), split by
// the browser, and with each Chinese or Japanese run cut into two-character words (the most
// common word length: 芯片板块 → 芯片 板块). "Quoted" queries are Pagefind's exact phrases.
function variants(query) {
  if (/^\s*".+"\s*$/.test(query)) return [query];
  const words = browserWords(query);
  const pairs = query.replace(CJK, (run) => run.match(/.{1,2}/gu).join(" "));
  return [...new Set([query, words.join(" "), pairs])];
}

function browserWords(query) {
  if (typeof Intl.Segmenter === "undefined") return query.split(/\s+/);  // older browsers
  let segmenter;
  try {
    segmenter = new Intl.Segmenter(language, { granularity: "word" });
  } catch (e) {
    segmenter = new Intl.Segmenter(undefined, { granularity: "word" });  // unknown language tag
  }
  return [...segmenter.segment(query)].map((s) => s.segment.trim()).filter(Boolean);
}

// Every page any variant finds, once, best score first; its excerpt from the variant that
// matched the most words in it (that one highlights best).
async function find(pf, query) {
  const found = new Map();
  for (const variant of variants(query)) {
    const response = await pf.search(variant);
    for (const r of response.results) {
      const seen = found.get(r.id);
      if (!seen) {
        found.set(r.id, { result: r, score: r.score });
        continue;
      }
      seen.score = Math.max(seen.score, r.score);
      if (r.words.length > seen.result.words.length) seen.result = r;
    }
  }
  return [...found.values()].sort((a, b) => b.score - a.score).map((f) => f.result);
}

// Pagefind answers a word missing from an index with the longest prefix that is in it (Aurora →
// "a"), and with several shards each shard without the word adds such stand-ins. A result is
// kept only when its excerpt marks a word that shares most of its start with a query word.
function normal(word) {
  return word.toLocaleLowerCase().replace(/[^\p{L}\p{N}]/gu, "");
}

function queryTerms(query) {
  const typed = query.split(/\s+/).map(normal).filter(Boolean);
  // One character cut out of a longer word would let every stand-in through.
  const pieces = variants(query).flatMap((v) => v.split(/\s+/)).map(normal)
    .filter((w) => [...w].length > 1);
  return [...new Set([...typed, ...pieces])].map((w) => [...w]);
}

function close(mark, term) {
  const chars = [...mark];
  let same = 0;
  while (same < chars.length && same < term.length && chars[same] === term[same]) same++;
  return same >= Math.min(term.length, Math.max(term.length - 3, 3));
}

function relevant(html) {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  return [...doc.querySelectorAll("mark")].some((m) => {
    const mark = normal(m.textContent);
    return mark && terms.some((term) => close(mark, term));
  });
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

// Adds the results of the bundles merged so far that are not candidates yet (a search covers
// every merged bundle: those of earlier waves are found again, and skipped).
async function gather(pf, run) {
  const results = await find(pf, query);
  if (run !== generation) return;
  const fresh = results.filter((r) => !known.has(r.id));
  for (const r of fresh) known.add(r.id);
  current = current.concat(fresh);
  misses = 0;
}

// Shows up to PAGE more relevant results, then the count: exact once every bundle was searched
// and every candidate examined. When the candidates run out, the next wave of older bundles is
// merged only while this call has shown nothing yet: the newest results come first, and older
// ones cost a click on "more" (the archive is searched a wave at a time, never all at once).
async function showMore(run) {
  let added = 0;
  while (added < PAGE) {
    if (checked >= current.length || misses >= GIVE_UP) {
      checked = current.length;  // the rest rank lower still: stand-ins
      if (!waiting.length || added) break;
      await mergeWave(pagefind);
      if (run !== generation) return;
      await gather(pagefind, run);
      if (run !== generation) return;
      continue;
    }
    const batch = current.slice(checked, checked + PAGE - added);
    const items = await Promise.all(batch.map((r) => r.data()));
    if (run !== generation) return;
    checked += batch.length;
    for (const data of items) {
      if (Number(data.meta.t) < floor) continue;  // its page is gone
      if (!relevant(data.excerpt || "")) {
        misses++;
        continue;
      }
      misses = 0;
      list.append(item(data));
      added++;
      kept++;
    }
  }
  more.hidden = checked >= current.length && !waiting.length;
  const total = kept + current.length - checked;
  const count = waiting.length ? `${total}+` : String(total);
  say(total ? status.dataset.found.replace("{}", count) : status.dataset.none);
}

async function search(typed) {
  const run = ++generation;
  list.replaceChildren();
  more.hidden = true;
  current = [];
  known = new Set();
  checked = kept = misses = 0;
  query = typed;
  if (!query.trim()) { say(""); return; }
  if (!available) { say(status.dataset.unavailable); return; }
  say(status.dataset.searching);
  let pf;
  try {
    pf = await load();
  } catch (e) {
    say(status.dataset.unavailable);
    return;
  }
  if (run !== generation) return;
  terms = queryTerms(query);
  await gather(pf, run);
  if (run !== generation) return;
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
// One "more" at a time: a second click while the first still loads would examine the same
// candidates twice.
more.addEventListener("click", () => {
  if (more.disabled) return;
  more.disabled = true;
  showMore(generation).catch((e) => say(String(e))).finally(() => { more.disabled = false; });
});
input.addEventListener("focus", () => {
  if (available) load().catch(() => {});  // a failure is reported by the search that needs it
}, { once: true });
input.form.addEventListener("submit", (event) => {
  event.preventDefault();
  search(input.value).catch((e) => say(String(e)));
});

const initial = new URLSearchParams(location.search).get("q") || "";
input.value = initial;
search(initial).catch((e) => say(String(e)));
