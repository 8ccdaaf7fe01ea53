// Behaviour every page may need, without inline scripts (Content-Security-Policy: script-src 'self').
(function () {
  "use strict";
  // "Go back" links: <a data-back href="/">, the href being where to go without history.
  document.addEventListener("click", function (e) {
    var link = e.target.closest ? e.target.closest("a[data-back]") : null;
    if (!link || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) {
      return;  // not ours, or a new tab or window: the href
    }
    if (window.history.length > 1) {
      e.preventDefault();
      window.history.back();
    }
  });
})();
