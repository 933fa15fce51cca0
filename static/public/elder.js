/* 长辈版 (the large-text, high-contrast view for older readers, 适老化): a class on <html>,
   remembered in this browser's localStorage. Switched here, in the browser, so the page bytes
   stay one per version for everyone (no cookie, no Vary). Loaded in <head>, before the page is
   drawn, so a reader who chose it never sees the standard view flash first. */
(function () {
  "use strict";
  var KEY = "gongkai.elder";
  var root = document.documentElement;

  function chosen() {
    try {
      return window.localStorage.getItem(KEY) === "1";
    } catch (e) {
      return false; /* storage blocked: the standard view */
    }
  }

  function show(on) {
    root.classList.toggle("elder", on);
    var button = document.getElementById("elder-toggle");
    if (button) {
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  show(chosen());
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("elder-toggle");
    if (!button) {
      return;
    }
    button.hidden = false; /* without this script the button would do nothing: it stays hidden */
    show(chosen());
    button.addEventListener("click", function () {
      var on = !root.classList.contains("elder");
      try {
        window.localStorage.setItem(KEY, on ? "1" : "0");
      } catch (e) {
        /* not remembered, but switched for this page */
      }
      show(on);
    });
  });
})();
