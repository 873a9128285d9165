// A picture that fails to load is hidden instead of showing a broken-image icon: a card's
// frame then shows the local placeholder behind it (see .thumb in site.css).
// Loaded in <head> without defer, so the capture-phase listener sees every <img> error.
(function () {
  "use strict";
  function hide(img) { img.classList.add("img-broken"); }

  document.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target.tagName === "IMG") hide(target);
  }, true);

  // Pictures that failed before the listener could hear them (e.g. cached failures).
  document.addEventListener("DOMContentLoaded", function () {
    var images = document.images;
    for (var i = 0; i < images.length; i++) {
      var img = images[i];
      if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) hide(img);
    }
  });
})();
