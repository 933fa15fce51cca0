// The editor's two live views, each refreshed a moment after the last change (only the newest
// answer is shown): the Markdown body rendered by the server exactly as the website feed does
// (raw HTML is not allowed in the body, so the returned HTML is safe to insert), and the
// findings of pre-review on the form as typed (nothing is stored; links are checked on save
// only), so the author sees before submitting what submit will say.
(function () {
  "use strict";
  var form = document.getElementById("item-form");
  if (!form) { return; }
  var token = form.querySelector("input[name=_csrf]").value;
  var limit = parseInt(document.body.getAttribute("data-max-bytes") || "0", 10);

  function live(url, target, fields, delay, unavailable) {
    var timer = null;
    var seq = 0;
    function refresh() {
      var mine = ++seq;
      var data = fields();
      if (limit > 0 && data.toString().length > limit) {
        target.textContent = "内容超过允许的大小，请先删减。";
        return;
      }
      fetch(url, {
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
        if (mine === seq) { target.textContent = unavailable; }
      });
    }
    refresh();
    return function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, delay);
    };
  }

  var body = document.getElementById("body");
  var preview = body && document.getElementById(body.getAttribute("data-preview"));
  if (preview) {
    var later = live("/console/preview", preview, function () {
      var data = new URLSearchParams();
      data.append("body", body.value);
      return data;
    }, 400, "预览暂不可用，请点击“预览”按钮。");
    body.addEventListener("input", later);
  }

  var findings = document.getElementById("live-findings");
  if (findings) {
    var item = findings.getAttribute("data-item");
    var url = "/console/prereview" + (item ? "?item=" + encodeURIComponent(item) : "");
    var again = live(url, findings, function () {
      var data = new URLSearchParams(new FormData(form));
      data.delete("_csrf");
      return data;
    }, 800, "预审提示暂不可用；保存草稿后可在稿件页面查看。");
    form.addEventListener("input", again);
    form.addEventListener("change", again);
  }
})();
