// Report-in pages: filter the community list as the member types, select all rows of the pending
// queue, print buttons. Loaded as a static file with the CSP nonce; every page also works without it.
(function () {
  "use strict";

  // <input data-filter-list="#id"> hides the list's items whose data-filter text lacks the typed words.
  document.querySelectorAll("input[data-filter-list]").forEach(function (input) {
    var list = document.querySelector(input.getAttribute("data-filter-list"));
    if (!list) { return; }
    var empty = document.querySelector(input.getAttribute("data-filter-empty"));
    var items = list.querySelectorAll("[data-filter]");
    function apply() {
      var words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      items.forEach(function (item) {
        var text = item.getAttribute("data-filter");
        var match = words.every(function (w) { return text.indexOf(w) !== -1; });
        item.hidden = !match;
        if (match) { shown += 1; }
      });
      if (empty) { empty.hidden = shown !== 0; }
    }
    input.addEventListener("input", apply);
    var form = input.closest("form");
    if (form) {
      form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
    }
    apply();
  });

  // <input type=checkbox data-check-all="name"> toggles every checkbox called name; buttons with
  // data-count-for="name" show how many are ticked and are disabled while none is.
  function syncCount(name) {
    var ticked = document.querySelectorAll("input[type=checkbox][name='" + name + "']:checked").length;
    document.querySelectorAll("[data-count-for='" + name + "']").forEach(function (el) {
      var out = el.querySelector("[data-count]");
      if (out) { out.textContent = ticked; }
      el.disabled = ticked === 0;
    });
  }
  document.querySelectorAll("input[data-check-all]").forEach(function (all) {
    var name = all.getAttribute("data-check-all");
    all.addEventListener("change", function () {
      document.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
        box.checked = all.checked;
      });
      syncCount(name);
    });
    document.addEventListener("change", function (event) {
      if (event.target.name === name) { syncCount(name); }
    });
    syncCount(name);
  });

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
