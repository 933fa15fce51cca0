// 从 Word 导入 on the new-item page: the chosen .docx goes to /console/items/new/word with the
// CSRF token as a header (so the server reads the upload as a stream and stops at the size
// limit, and a document larger than a plain form may carry still arrives); the answer names the
// new draft's editor, which opens, or the refusal, which is shown beside the button. Without
// this script the form posts normally and the server answers with the editor or this page.
(function () {
  "use strict";
  var form = document.getElementById("word-form");
  var file = document.getElementById("word-file");
  var kind = document.getElementById("word-kind");
  var status = document.getElementById("word-status");
  var button = document.getElementById("word-submit");
  if (!form || !file || !kind || !status || !window.fetch || !window.FormData) { return; }
  var token = form.querySelector("input[name=_csrf]").value;

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "field-error" : "hint";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!file.files || !file.files.length) {
      say("请先选择要导入的 Word 文档（.docx）。", true);
      file.focus();
      return;
    }
    var chosen = file.files[0];
    var data = new FormData();
    data.append("kind", kind.value);
    data.append("file", chosen, chosen.name);
    if (button) { button.disabled = true; }
    say("正在导入「" + chosen.name + "」……", false);
    fetch(form.action, {
      method: "POST",
      headers: { "X-CSRF-Token": token, "Accept": "application/json" },
      body: data,
      credentials: "same-origin"
    }).then(function (resp) {
      return resp.json().catch(function () {
        return { error: "导入「" + chosen.name + "」失败（HTTP " + resp.status + "），请刷新页面后重试。" };
      });
    }).then(function (answer) {
      if (answer.redirect) {
        window.location.assign(answer.redirect);
        return;
      }
      say(answer.error || "导入失败，请重试。", true);
      if (button) { button.disabled = false; }
    }).catch(function () {
      say("导入「" + chosen.name + "」失败：网络错误，请重试。", true);
      if (button) { button.disabled = false; }
    });
  });
})();
