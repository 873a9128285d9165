// rsspage's own script on every page: broken pictures, and the reading aids that need no
// server (the reader's choices stay in this browser's localStorage; no cookie is set).
// Loaded in <head> without defer: the error listener must hear every <img>, and the density
// must be on <html> before the first paint so that the page does not jump.
(function () {
  "use strict";
  var root = document.documentElement;

  // ---------------------------------------------------------------- broken pictures
  // A picture that fails to load is hidden instead of showing a broken-image icon: a card's
  // frame then shows the local placeholder behind it (see .thumb in site.css).
  function hide(img) { img.classList.add("img-broken"); }
  document.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target.tagName === "IMG") hide(target);
  }, true);

  // ---------------------------------------------------------------- storage
  // localStorage throws where it is off (some privacy modes, file:// in some browsers).
  function load(key) {
    try { return window.localStorage.getItem("rsspage:" + key); } catch (e) { return null; }
  }
  function save(key, value) {
    try { window.localStorage.setItem("rsspage:" + key, value); } catch (e) { /* off */ }
  }

  // ---------------------------------------------------------------- density
  // cards / list / headlines. The reader's choice wins; else the listing's own layout
  // (data-layout, from what its feeds are: a list for feeds without pictures), else cards.
  var DENSITIES = ["cards", "list", "headlines"];
  var chosen = load("density");
  if (DENSITIES.indexOf(chosen) >= 0) root.setAttribute("data-density", chosen);

  function setDensity(value) {
    root.setAttribute("data-density", value);
    save("density", value);
    showDensity();
  }
  function showDensity() {
    var current = root.getAttribute("data-density") || root.getAttribute("data-layout") || "cards";
    var buttons = document.querySelectorAll("[data-set-density]");
    for (var i = 0; i < buttons.length; i++) {
      var on = buttons[i].getAttribute("data-set-density") === current;
      buttons[i].setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  // ---------------------------------------------------------------- new since last visit
  // A visit ends after half an hour without a page: cards published after the start of the
  // reader's previous visit are marked new (the page's own order is by publication time).
  var VISIT_GAP = 30 * 60 * 1000;
  function previousVisit() {
    var now = Date.now();
    var last = Number(load("last-seen")) || 0;
    var since = Number(load("new-since")) || 0;
    if (now - last > VISIT_GAP) { since = last; save("new-since", String(since)); }
    save("last-seen", String(now));
    return since;
  }
  function markNew(since) {
    if (!since) return;  // a first visit: everything would be new, so nothing is marked
    var times = document.querySelectorAll(".cards > li time[datetime], .rows > li time[datetime]");
    for (var i = 0; i < times.length; i++) {
      if (Date.parse(times[i].getAttribute("datetime")) > since) {
        times[i].closest("li").classList.add("is-new");
      }
    }
  }

  // ---------------------------------------------------------------- keyboard
  // j / k: next / previous article of a listing, o or Enter: open it, /: search.
  var current = -1;
  function items() { return document.querySelectorAll(".cards > li, .rows > li"); }
  function select(list, index) {
    if (current >= 0 && list[current]) list[current].classList.remove("is-current");
    current = Math.max(0, Math.min(list.length - 1, index));
    var item = list[current];
    item.classList.add("is-current");
    var link = item.querySelector("h2 a, a:not([tabindex])");
    if (link) link.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
  }
  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var list = items();
    if (event.key === "/") {
      var box = document.querySelector("#search-input, header form[role=search] input");
      if (box) { event.preventDefault(); box.focus(); }
    } else if ((event.key === "j" || event.key === "k") && list.length) {
      select(list, current + (event.key === "j" ? 1 : -1));
    } else if (event.key === "o" && current >= 0 && list[current]) {
      var link = list[current].querySelector("h2 a, a:not([tabindex])");
      if (link) link.click();
    }
  }

  // ---------------------------------------------------------------- back to top
  function backToTop() {
    var button = document.querySelector(".totop");
    if (!button) return;
    var update = function () { button.hidden = window.scrollY < window.innerHeight * 1.5; };
    window.addEventListener("scroll", update, { passive: true });
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    // Pictures that failed before the listener could hear them (e.g. cached failures).
    var images = document.images;
    for (var i = 0; i < images.length; i++) {
      var img = images[i];
      if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) hide(img);
    }
    var switcher = document.querySelector(".density");
    if (switcher) {
      switcher.hidden = false;
      switcher.addEventListener("click", function (event) {
        var button = event.target.closest("[data-set-density]");
        if (button) setDensity(button.getAttribute("data-set-density"));
      });
      showDensity();
    }
    markNew(previousVisit());
    document.addEventListener("keydown", onKey);
    backToTop();
  });
})();
