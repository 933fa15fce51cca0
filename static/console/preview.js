// Live preview of the Markdown body: the server renders it exactly as the website feed does
// (raw HTML is not allowed in the body, so the returned HTML is safe to insert).
(function () {
  "use strict";
  var body = document.getElementById("body");
  var form = document.getElementById("item-form");
  if (!body || !form) { return; }
  var target = document.getElementById(body.getAttribute("data-preview"));
  var token = form.querySelector("input[name=_csrf]").value;
  var timer = null;
  var seq = 0;
  function refresh() {
    var mine = ++seq;
    var data = new URLSearchParams();
    data.append("body", body.value);
    fetch("/console/preview", {
      method: "POST",
      headers: { "X-CSRF-Token": token },
      body: data,
      credentials: "same-origin"
    }).then(function (resp) {
      if (!resp.ok) { throw new Error(String(resp.status)); }
      return resp.text();
    }).then(function (html) {
      if (mine === seq) { target.innerHTML = html; }
    }).catch(function () {
      if (mine === seq) { target.textContent = "预览暂不可用，请点击“预览”按钮。"; }
    });
  }
  body.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
  refresh();
})();
