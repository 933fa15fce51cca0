/* Keyboard shortcuts of the inbox pages (each page's help line lists them).
   List: j/k move the current row, x ticks it, a/c/s assign-to-me / close / spam it (through
   the bulk form, so the results page shows the outcome). Comment page: a, c, s submit the
   marked forms, r focuses the reply box. Nothing fires while typing in a field, with a
   modifier key held, or during IME composition. */
(function () {
  "use strict";
  var TEXTLIKE = { checkbox: false, radio: false, button: false, submit: false, reset: false };

  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    if (el.tagName === "INPUT") return TEXTLIKE[(el.type || "text").toLowerCase()] !== false;
    return false;
  }

  function send(form) {
    if (!form) return false;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
    return true;
  }

  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-row]"));
  var current = -1;

  function mark(i) {
    if (current >= 0 && rows[current]) rows[current].classList.remove("current");
    current = i;
    rows[i].classList.add("current");
  }

  function move(step) {
    if (!rows.length) return;
    var i = current < 0 ? 0 : Math.max(0, Math.min(rows.length - 1, current + step));
    mark(i);
    var link = rows[i].querySelector("a.row-link");
    if (link) link.focus();
  }

  rows.forEach(function (row, i) {
    row.addEventListener("focusin", function () { if (current !== i) mark(i); });
  });

  function bulk(op) {
    var form = document.getElementById("bulk-form");
    if (!form || current < 0) return false;
    Array.prototype.forEach.call(form.querySelectorAll('input[name="ids"]'), function (box) {
      box.checked = false;
    });
    rows[current].querySelector('input[name="ids"]').checked = true;
    form.querySelector('select[name="op"]').value = op;
    return send(form);
  }

  function onList(key) {
    if (key === "j") { move(1); return true; }
    if (key === "k") { move(-1); return true; }
    if (current < 0) return false;
    if (key === "x") {
      var box = rows[current].querySelector('input[name="ids"]');
      box.checked = !box.checked;
      return true;
    }
    var ops = { a: "assign_me", c: "close", s: "spam" };
    return ops[key] ? bulk(ops[key]) : false;
  }

  function onDetail(key) {
    if (key === "r") {
      var box = document.querySelector('[data-shortcut-focus="r"] textarea');
      if (box) { box.focus(); return true; }
      return false;
    }
    if (key === "a" || key === "c" || key === "s") {
      return send(document.querySelector('form[data-shortcut="' + key + '"]'));
    }
    return false;
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing || typing(ev.target)) return;
    var handled = rows.length ? onList(ev.key) : onDetail(ev.key);
    if (handled) ev.preventDefault();
  });
})();
