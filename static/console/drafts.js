/* What was typed survives a failed save. A form marked data-draft (the item editor) keeps a
   copy of its fields in this browser's localStorage as they change, until the server has them:
   a successful save names the copy in the next page's <body data-drafts-saved>, and that page
   drops it. Opening the form again while a copy differs from what the server shows offers to
   restore it. Logging out drops every copy (a shared computer keeps nothing).
   Every POST form is also checked against the server's body limit (<body data-max-bytes>)
   before it is sent, with the limit said in words, rather than a refusal after the upload. */
(function () {
  "use strict";
  var PREFIX = "gongkai.draft.";
  var body = document.body;
  var store = null;
  try { store = window.localStorage; store.getItem(PREFIX); } catch (e) { store = null; }

  function forEachKey(fn) {
    if (!store) return;
    var keys = [];
    for (var i = 0; i < store.length; i++) {
      var key = store.key(i);
      if (key && key.indexOf(PREFIX) === 0) keys.push(key);
    }
    keys.forEach(fn);
  }

  // The server has these: drop them.
  (body.getAttribute("data-drafts-saved") || "").split(" ").forEach(function (name) {
    if (name && store) store.removeItem(PREFIX + name);
  });

  // Logging out drops every copy.
  document.querySelectorAll("form[action='/console/logout']").forEach(function (form) {
    form.addEventListener("submit", function () {
      forEachKey(function (key) { store.removeItem(key); });
    });
  });

  function kept(field) {
    if (!field.name || field.name.charAt(0) === "_" || field.disabled) return false;
    var type = (field.type || "").toLowerCase();
    return type !== "file" && type !== "submit" && type !== "button" && type !== "password";
  }

  function valuesOf(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!kept(field)) return;
      var type = (field.type || "").toLowerCase();
      if (type === "checkbox" || type === "radio") {
        if (!out[field.name]) out[field.name] = [];
        if (field.checked) out[field.name].push(field.value);
      } else {
        out[field.name] = [field.value];
      }
    });
    return out;
  }

  function restore(form, values) {
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!kept(field) || !(field.name in values)) return;
      var type = (field.type || "").toLowerCase();
      if (type === "checkbox" || type === "radio") {
        field.checked = values[field.name].indexOf(field.value) >= 0;
      } else {
        field.value = values[field.name][0] || "";
      }
      field.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  function note(form, kind, text) {
    var box = form.querySelector(".draft-note");
    if (!box) {
      box = document.createElement("div");
      box.className = "draft-note flash flash-" + kind;
      box.setAttribute("role", kind === "error" ? "alert" : "status");
      form.insertBefore(box, form.firstChild);
    }
    box.className = "draft-note flash flash-" + kind;
    box.textContent = text;
    return box;
  }

  function button(label, onclick) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", onclick);
    return b;
  }

  function local(time) {
    return new Date(time).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  }

  document.querySelectorAll("form[data-draft]").forEach(function (form) {
    if (!store) return;
    var key = PREFIX + form.getAttribute("data-draft");
    var shown = JSON.stringify(valuesOf(form));
    var copy = null;
    try { copy = JSON.parse(store.getItem(key) || "null"); } catch (e) { copy = null; }
    if (copy && copy.values && JSON.stringify(copy.values) !== shown) {
      var box = note(form, "info", "本机保存有 " + local(copy.at) + " 输入但未保存成功的内容。");
      box.appendChild(document.createTextNode(" "));
      box.appendChild(button("恢复这些内容", function () {
        restore(form, copy.values);
        box.remove();
      }));
      box.appendChild(document.createTextNode(" "));
      box.appendChild(button("丢弃", function () {
        store.removeItem(key);
        box.remove();
      }));
    } else if (copy) {
      store.removeItem(key); // the server shows the same: nothing to keep
    }
    var timer = null;
    function save() {
      try {
        store.setItem(key, JSON.stringify({ at: Date.now(), values: valuesOf(form) }));
      } catch (e) { /* storage full: the server's answer still says what happened */ }
    }
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(save, 300); });
    form.addEventListener("change", save);
    form.addEventListener("submit", save);
  });

  // The body limit, checked before sending (urlencoded forms: what the server counts).
  var limit = parseInt(body.getAttribute("data-max-bytes") || "0", 10);
  function encodedSize(form) {
    var size = 0;
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.disabled) return;
      var type = (field.type || "").toLowerCase();
      if ((type === "checkbox" || type === "radio") && !field.checked) return;
      if (type === "file" || type === "submit" || type === "button") return;
      size += encodeURIComponent(field.name).length + encodeURIComponent(field.value).length + 2;
    });
    return size;
  }
  function words(bytes) {
    if (bytes >= 1024 * 1024) return (bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, "") + " MB";
    return Math.ceil(bytes / 1024) + " KB";
  }
  if (limit > 0) {
    document.querySelectorAll("form[method='post']").forEach(function (form) {
      if ((form.enctype || "").indexOf("multipart") >= 0) return;
      form.addEventListener("submit", function (event) {
        var size = encodedSize(form);
        if (size <= limit) return;
        event.preventDefault();
        note(form, "error", "内容过大：提交约 " + words(size) + "，超过允许的 " + words(limit) +
          "，未发送。请删减正文（图片请用“上传并插入正文”）后再保存；" +
          (form.hasAttribute("data-draft") ? "您输入的内容已保存在本机。" : ""));
        form.querySelector(".draft-note").scrollIntoView({ block: "center" });
      });
    });
  }
})();
