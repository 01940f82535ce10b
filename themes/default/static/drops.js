// Marks every element that carries `data-starts-at` as upcoming, live or ended, from the
// visitor's clock. The phase is decided here, not at build time, because a page cached at the
// edge outlives the moment a drop opens. Only text and attributes are set, never HTML.
(function () {
  "use strict";
  var LABELS = { upcoming: "Upcoming", live: "Live now", ended: "Ended" };

  function phaseAt(now, el) {
    var start = Date.parse(el.getAttribute("data-starts-at"));
    var end = Date.parse(el.getAttribute("data-ends-at") || "");
    if (isNaN(start)) return null;
    if (now < start) return "upcoming";
    if (!isNaN(end) && now >= end) return "ended";
    return "live";
  }

  function update() {
    var now = Date.now();
    var items = document.querySelectorAll("[data-starts-at]");
    for (var i = 0; i < items.length; i++) {
      var phase = phaseAt(now, items[i]);
      if (!phase) continue;
      items[i].setAttribute("data-phase", phase);
      var label = items[i].querySelector("[data-phase-label]");
      if (label) label.textContent = LABELS[phase];
    }
  }

  update();
  setInterval(update, 30000);
})();
