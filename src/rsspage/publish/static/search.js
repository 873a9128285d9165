// Site search with Pagefind: reads the shards' layout (pagefind/rsspage-shards.json), starts
// Pagefind from the runtime bundle (its script and WebAssembly, once for all shards) and merges
// the shards' bundles into it, newest first and a wave at a time: a query searches the newest
// `wave` articles first and reaches further back only when those give no result (or on
// "more"), each wave twice the one before, so what a first query downloads does not grow with
// the archive and a search through all of it takes a few waves. Pagefind and the first wave
// start at the reader's first move, key or touch (the filters' choices come from them).
// Results are shown with highlighted excerpts; Pagefind's excerpts are text with < and >
// escaped plus <mark>, still rebuilt node by node so that nothing else from the index becomes
// markup.
//
// Filters: every record has Pagefind filters "category", "source", "feed" (both) and "bundle"
// (its bundle's folder). The choices and their counts are those of the merged bundles
// (sources: of the chosen category); the query and the filters are kept in the page's URL
// (?q=芯片&category=科技&source=快科技), a filter chosen is a step "back" undoes. Filters
// without a query list their newest articles on a small site (see newest()), else ask for one.
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
const category = document.getElementById("search-category");
const source = document.getElementById("search-source");
const more = document.getElementById("search-more");
const PAGE = 20;
// Results examined in a row without a relevant one, after which the rest count as stand-ins.
const GIVE_UP = 3 * PAGE;
// Articles whose bundles are merged in the first wave (the layout says; search_index.WAVE).
let wave = 2000;
// Filters alone list the newest articles of sites up to this size (search_index.BROWSE):
// Pagefind's search by filters alone loads every index chunk of the merged bundles.
let browse = 0;
let archived = 0;   // articles in all the bundles
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
let merged = [];    // folders of the bundles merged so far
// The wave being merged: a search that starts meanwhile waits for it, since the search that
// started the wave may be stale by then and leave its bundles unsearched.
let inFlight = Promise.resolve();
let streams = [];   // by filters alone: each bundle's matches, newest first {results, next, head}
let checked = 0;    // candidates examined so far
let kept = 0;       // of those, shown
let misses = 0;     // examined in a row and dropped
let terms = [];
let query = "";
let filters = {};
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
  browse = layout.browse || 0;
  archived = waiting.reduce((sum, shard) => sum + shard.count, 0);
  if (layout.floor) floor = Date.parse(layout.floor) / 1000;
  await mergeWave(pf);
  pagefind = pf;
  return pf;
}

// Merges the next bundles, newest first, until `wave` more articles are searchable; the next
// wave is twice as large. Returns the folders merged.
function mergeWave(pf) {
  const done = mergeNext(pf);
  inFlight = done.catch(() => {});
  return done;
}

async function mergeNext(pf) {
  const merging = [];
  let articles = 0;
  while (waiting.length && (articles < wave || !merging.length)) {
    const shard = waiting.shift();
    merging.push(shard);
    articles += shard.count;
  }
  wave *= 2;
  const done = (await Promise.all(merging.map((shard) => pf.mergeIndex(
    new URL(`pagefind/${shard.folder}/`, root).pathname).then(() => shard.folder, (e) => {
    console.warn(`search shard ${shard.folder} is missing`, e);  // search the rest
  })))).filter((folder) => folder !== undefined);
  merged.push(...done);
  // More articles, more choices. Awaited: Pagefind loading the new bundles' filters for this
  // and for a search at once sometimes left a bundle out of the search's filter counts
  // ({"1":10,"3":10} after merging 2 and 1), and its articles were never listed (seen under
  // load in tests/test_search_filters.py).
  await fillChoices(pf).catch(() => {});
  return done;
}

// The filters' choices (a choice in the URL that the merged bundles lack is kept), from the
// filters' counts alone: a search by filters would load every index chunk.
async function fillChoices(pf) {
  const all = await pf.filters();
  let sources = all.source;
  if (category.value) {
    sources = {};
    for (const [pair, count] of Object.entries(all.feed || {})) {
      const [name, feed] = JSON.parse(pair);
      if (name === category.value) sources[feed] = (sources[feed] || 0) + count;
    }
  }
  choices(category, all.category);
  choices(source, sources);
}

// Counts of the merged bundles: "+" while older ones wait, as in the status line.
function choices(select, counts = {}) {
  const value = select.value;
  const names = Object.keys(counts).filter((name) => counts[name] || name === value);
  if (value && !names.includes(value)) names.push(value);
  names.sort((a, b) => a.localeCompare(b, language));
  const plus = waiting.length ? "+" : "";
  select.replaceChildren(select.options[0], ...names.map((name) => new Option(
    counts[name] ? `${name} (${counts[name]}${plus})` : name, name)));
  select.value = value;
}

function choose(select, value) {
  if (value && ![...select.options].some((o) => o.value === value)) select.add(new Option(value));
  select.value = value;
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
    const response = await pf.search(variant, { filters });
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

// Pagefind's excerpt parsed in a document of its own (inert: nothing in it runs or loads).
function parse(html) {
  return new DOMParser().parseFromString(`<body>${html}</body>`, "text/html").body;
}

function relevant(html) {
  return [...parse(html).querySelectorAll("mark")].some((m) => {
    const mark = normal(m.textContent);
    return mark && terms.some((term) => close(mark, term));
  });
}

// Only text and <mark> elements made here: no markup of the index's reaches the page. In an
// index that splits Chinese, a word's spaces are part of it: they are put outside the mark.
function excerpt(html) {
  const p = document.createElement("p");
  for (const node of parse(html).childNodes) {
    if (node.nodeName === "MARK") {
      const [, before, word, after] = node.textContent.match(/^(\s*)(.*?)(\s*)$/su);
      const mark = document.createElement("mark");
      mark.textContent = word;
      p.append(before, mark, after);
    } else {
      p.append(node.textContent);
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

// Filters alone: Pagefind sorts a bundle's matches by time ("t", newest first) but orders
// those of merged bundles by score, which does not compare across bundles; so each bundle
// with matches (the "bundle" filter's counts say which) is asked on its own, and their lists
// are merged here, one article's data ahead in each.
async function addStreams(pf, folders, run) {
  const counts = (await pf.search(null, { filters })).filters.bundle || {};
  for (const folder of folders.filter((f) => counts[f])) {
    const response = await pf.search(null, {
      filters: { ...filters, bundle: String(folder) }, sort: { t: "desc" },
    });
    if (run !== generation) return;
    streams.push({ results: response.results, next: 0, head: null });
  }
}

// (own: the streams of the run that asks; a stale run must not take the heads of the
// current run's.)
async function newest(own) {
  await Promise.all(own.filter((s) => !s.head && s.next < s.results.length)
    .map(async (s) => { s.head = await s.results[s.next++].data(); }));
  let best = null;
  for (const s of own) {
    if (s.head && (!best || Number(s.head.meta.t) > Number(best.head.meta.t))) best = s;
  }
  if (!best) return null;
  const data = best.head;
  best.head = null;
  return data;
}

function left(own) {
  return query.trim()
    ? current.length - checked
    : own.reduce((n, s) => n + s.results.length - s.next + (s.head ? 1 : 0), 0);
}

// Shows up to PAGE more results, then the count: exact once every bundle was searched and
// every candidate examined. When the candidates run out, the next wave of older bundles is
// merged only while this call has shown nothing yet: the newest results come first, and older
// ones cost a click on "more" (the archive is searched a wave at a time, never all at once).
async function showMore(run) {
  const byQuery = Boolean(query.trim());
  const own = streams;
  let added = 0;
  while (added < PAGE) {
    const drained = byQuery ? checked >= current.length || misses >= GIVE_UP : !left(own);
    if (drained) {
      checked = current.length;  // the rest rank lower still: stand-ins
      if (!waiting.length || added) break;
      const folders = await mergeWave(pagefind);
      if (run !== generation) return;
      await (byQuery ? gather(pagefind, run) : addStreams(pagefind, folders, run));
      if (run !== generation) return;
      continue;
    }
    let items;
    if (byQuery) {
      const batch = current.slice(checked, checked + PAGE - added);
      items = await Promise.all(batch.map((r) => r.data()));
      checked += batch.length;
    } else {
      items = [await newest(own)].filter(Boolean);
    }
    if (run !== generation) return;
    for (const data of items) {
      if (Number(data.meta.t) < floor) continue;  // its page is gone
      if (byQuery && !relevant(data.excerpt || "")) {
        misses++;
        continue;
      }
      misses = 0;
      list.append(item(data));
      added++;
      kept++;
    }
  }
  const total = kept + left(own);
  more.hidden = total === kept && !waiting.length;
  const count = waiting.length ? `${total}+` : String(total);
  say(total ? status.dataset.found.replace("{}", count) : status.dataset.none);
}

async function search() {
  const run = ++generation;
  list.replaceChildren();
  more.hidden = true;
  current = [];
  known = new Set();
  streams = [];
  checked = kept = misses = 0;
  query = input.value;
  filters = {};
  if (category.value) filters.category = category.value;
  if (source.value) filters.source = source.value;
  if (!query.trim() && !filters.category && !filters.source) { say(""); return; }
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
  await inFlight;  // its bundles are in merged then
  if (run !== generation) return;
  if (query.trim()) {
    terms = queryTerms(query);
    await gather(pf, run);
  } else if (archived > browse) {
    say(status.dataset.needQuery);
    return;
  } else {
    await addStreams(pf, merged, run);
  }
  if (run !== generation) return;
  await showMore(run);
}

function go() {
  search().catch((e) => say(String(e)));
}

// The query and filters in the page's URL. A filter chosen is a new step of the history
// (steps a second apart or less, arrow keys on a closed list, are one); typing is not.
let stepped = 0;
function remember(step) {
  const url = new URL(location.href);
  url.search = new URLSearchParams([["q", input.value], ["category", category.value],
    ["source", source.value]].filter(([, value]) => value));
  if (url.href === location.href) return;
  if (step && Date.now() - stepped > 1000) {
    history.pushState(null, "", url);
  } else {
    history.replaceState(null, "", url);
  }
  if (step) stepped = Date.now();
}

function fromUrl() {
  const params = new URLSearchParams(location.search);
  input.value = params.get("q") || "";
  choose(category, params.get("category") || "");
  choose(source, params.get("source") || "");
}

let timer = 0;
input.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(() => {
    remember(false);
    go();
  }, 200);
});
for (const select of [category, source]) {
  select.addEventListener("change", () => {
    if (select === category) source.value = "";  // the sources of the new category
    remember(true);
    go();
    if (select === category && pagefind) fillChoices(pagefind).catch(() => {});
  });
}
addEventListener("popstate", () => {
  fromUrl();
  go();
  if (pagefind) fillChoices(pagefind).catch(() => {});
});
// One "more" at a time: a second click while the first still loads would examine the same
// candidates twice.
more.addEventListener("click", () => {
  if (more.disabled) return;
  more.disabled = true;
  showMore(generation).catch((e) => say(String(e))).finally(() => { more.disabled = false; });
});
input.form.addEventListener("submit", (event) => {
  event.preventDefault();
  remember(false);
  go();
});

fromUrl();
go();
// The filters' choices come from the merged bundles: Pagefind starts at the first sign of a
// reader (a pointer moved, a key, a touch, a focus), not for a page only loaded.
if (available) {
  const begin = () => load().catch(() => {});  // a failure is reported by the search that needs it
  for (const type of ["pointermove", "pointerdown", "keydown", "focusin", "touchstart"]) {
    addEventListener(type, begin, { once: true, passive: true });
  }
}
