// Category checkboxes and a text search over the rows; no library, nothing fetched.
(function () {
  "use strict";
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=category]"));
  var search = document.getElementById("search");
  var items = Array.prototype.slice.call(document.querySelectorAll("tbody.item"));
  // Lower-cased once: searching a few hundred rows of long texts on every key stays instant.
  var texts = items.map(function (item) { return item.textContent.toLowerCase(); });
  var shown = document.getElementById("shown");

  function update() {
    var on = {};
    boxes.forEach(function (box) { on[box.value] = box.checked; });
    var words = search.value.trim().toLowerCase();
    var count = 0;
    items.forEach(function (item, i) {
      var inCategory = item.dataset.categories.split(" ").some(function (c) { return on[c]; });
      var visible = inCategory && (!words || texts[i].indexOf(words) >= 0);
      item.hidden = !visible;
      if (visible) { count += 1; }
    });
    shown.textContent = String(count);
  }

  function openAll(open) {
    document.querySelectorAll("tbody.item details").forEach(function (d) { d.open = open; });
  }

  boxes.forEach(function (box) { box.addEventListener("change", update); });
  search.addEventListener("input", update);
  document.getElementById("only-none").addEventListener("click", function () {
    boxes.forEach(function (box) { box.checked = false; });
    update();
  });
  document.getElementById("only-all").addEventListener("click", function () {
    boxes.forEach(function (box) { box.checked = true; });
    update();
  });
  document.getElementById("expand").addEventListener("click", function () { openAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { openAll(false); });
  update();
})();
