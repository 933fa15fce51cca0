// Uploads from the item editor: the chosen file goes to /console/media with the CSRF token as a
// header (so the server reads the upload as a stream and stops at the size limit), and the
// Markdown it answers with is inserted at the cursor in the body. Without this script the
// upload form posts normally and a new window shows the Markdown to copy.
(function () {
  "use strict";
  var form = document.getElementById("media-form");
  var body = document.getElementById("body");
  var file = document.getElementById("media-file");
  var status = document.getElementById("media-status");
  if (!form || !body || !file || !status || !window.fetch || !window.FormData) { return; }
  var token = form.querySelector("input[name=_csrf]").value;
  var item = form.querySelector("input[name=item]");
  var description = document.getElementById("media-description");
  var button = document.getElementById("media-submit");

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "field-error" : "hint";
  }

  function insert(snippet, block) {
    var value = body.value;
    var start = typeof body.selectionStart === "number" ? body.selectionStart : value.length;
    var end = typeof body.selectionEnd === "number" ? body.selectionEnd : value.length;
    var before = value.slice(0, start);
    var after = value.slice(end);
    var text = snippet;
    if (block) {  // an image stands in its own paragraph
      if (before && !/\n\n$/.test(before)) { text = (/\n$/.test(before) ? "\n" : "\n\n") + text; }
      if (after && !/^\n\n/.test(after)) { text = text + (/^\n/.test(after) ? "\n" : "\n\n"); }
    }
    body.value = before + text + after;
    var caret = before.length + text.length;
    body.focus();
    body.setSelectionRange(caret, caret);
    body.dispatchEvent(new Event("input", { bubbles: true }));  // refreshes the live preview
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!file.files || !file.files.length) {
      say("请先选择要上传的文件。", true);
      file.focus();
      return;
    }
    var chosen = file.files[0];
    var data = new FormData();
    data.append("description", description ? description.value : "");
    if (item) { data.append("item", item.value); }
    data.append("file", chosen, chosen.name);
    if (button) { button.disabled = true; }
    say("正在上传「" + chosen.name + "」……", false);
    fetch(form.action, {
      method: "POST",
      headers: { "X-CSRF-Token": token, "Accept": "application/json" },
      body: data,
      credentials: "same-origin"
    }).then(function (resp) {
      return resp.json().catch(function () {
        return { error: "上传「" + chosen.name + "」失败（HTTP " + resp.status + "），请刷新页面后重试。" };
      });
    }).then(function (answer) {
      if (answer.error || !answer.snippet) {
        say(answer.error || "上传失败，请重试。", true);
        return;
      }
      insert(answer.snippet, answer.image === true);
      say("已插入「" + answer.filename + "」（" + answer.type + "，" + answer.size_label + "）。", false);
      file.value = "";
      if (description) { description.value = ""; }
    }).catch(function () {
      say("上传「" + chosen.name + "」失败：网络错误，请重试。", true);
    }).then(function () {
      if (button) { button.disabled = false; }
    });
  });
})();
