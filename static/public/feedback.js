/* 网上留言: what a visitor typed survives a failed submission. The message (never the contact
   details) is kept in this tab's sessionStorage as it is typed and put back when the form is
   opened again empty (after a refusal, a lost connection, a page over the size limit); the
   「留言已提交」 page drops it. Without scripts the form works as before. */
(function () {
  "use strict";
  var KEY = "gongkai.feedback.content";
  var store = null;
  try { store = window.sessionStorage; store.getItem(KEY); } catch (e) { store = null; }
  if (!store) { return; }
  document.addEventListener("DOMContentLoaded", function () {
    if (document.getElementById("query-code")) { store.removeItem(KEY); return; }
    var content = document.getElementById("content");
    if (!content) { return; }
    var kept = store.getItem(KEY);
    if (kept && !content.value) {
      content.value = kept;
      var note = document.createElement("p");
      note.className = "hint";
      note.setAttribute("role", "status");
      note.textContent = "已恢复您上次填写但未提交成功的留言内容。";
      content.parentNode.insertBefore(note, content);
    }
    content.addEventListener("input", function () {
      try { store.setItem(KEY, content.value); } catch (e) { /* storage full */ }
    });
  });
})();
