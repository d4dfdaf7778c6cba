// tokenward console behaviour. No inline scripts anywhere (the Content-Security-Policy
// forbids them): pages declare behaviour with data- attributes and this file wires it.
(function () {
  "use strict";

  // Forms with data-confirm ask first, in a styled dialog. Runs in the capture phase,
  // before htmx sees the submit, so a cancelled confirmation sends nothing. Without
  // JavaScript the button's formaction leads to the confirmation page instead (confirm.go).
  var dialog, pending;

  function confirmDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.setAttribute("aria-labelledby", "confirm-dialog-title");
    dialog.setAttribute("aria-describedby", "confirm-dialog-detail");
    dialog.innerHTML = '<h2 id="confirm-dialog-title"></h2><p id="confirm-dialog-detail"></p><div class="confirm-choice"></div>' +
      '<div class="confirm-actions"><button type="button" class="cancel">Cancel</button>' +
      '<button type="button" class="confirm danger solid"></button></div>';
    dialog.querySelector("button.cancel").addEventListener("click", function () { dialog.close(); });
    dialog.querySelector("button.confirm").addEventListener("click", function () {
      var form = pending;
      dialog.close();
      if (!form) return;
      form.setAttribute("data-confirmed", "yes");
      // A choice the dialog asked (a rotation's grace period) goes back to the form's field.
      var chosen = dialog.querySelector(".confirm-choice select");
      var field = form.querySelector("select[data-confirm-choice]");
      if (chosen && field) field.value = chosen.value;
      // Post to the form's own target: the button's formaction (the page without
      // JavaScript) is set aside while htmx, which remembers the button clicked, reads it.
      var aside = [];
      form.querySelectorAll("[formaction]").forEach(function (b) {
        aside.push([b, b.getAttribute("formaction"), b.getAttribute("formmethod")]);
        b.removeAttribute("formaction");
        b.removeAttribute("formmethod");
      });
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
      aside.forEach(function (a) {
        a[0].setAttribute("formaction", a[1]);
        if (a[2] !== null) a[0].setAttribute("formmethod", a[2]);
      });
    });
    dialog.addEventListener("close", function () {
      var form = pending;
      pending = null;
      if (form && !form.hasAttribute("data-confirmed")) {
        var button = form.querySelector("button[type=submit]");
        if (button) button.focus();
      }
    });
    dialog.addEventListener("click", function (e) { if (e.target === dialog) dialog.close(); }); // the backdrop
    document.body.appendChild(dialog);
    return dialog;
  }

  document.addEventListener("submit", function (e) {
    var form = e.target.closest("form[data-confirm]");
    if (!form) return;
    if (form.getAttribute("data-confirmed") === "yes") {
      form.removeAttribute("data-confirmed");
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
    var text = form.getAttribute("data-confirm");
    var cut = text.indexOf("? ");
    var d = confirmDialog();
    d.querySelector("#confirm-dialog-title").textContent = cut < 0 ? text : text.slice(0, cut + 1);
    d.querySelector("#confirm-dialog-detail").textContent = cut < 0 ? "" : text.slice(cut + 2);
    var label = (e.submitter || form.querySelector("button[type=submit]") || {}).textContent || "Confirm";
    d.querySelector("button.confirm").textContent = label.replace(/…$/, "").trim();
    // A form may ask one choice with the question: its select[data-confirm-choice], shown
    // in the dialog under the label the attribute holds.
    var choice = d.querySelector(".confirm-choice");
    choice.innerHTML = "";
    var field = form.querySelector("select[data-confirm-choice]");
    if (field) {
      var caption = document.createElement("label");
      caption.setAttribute("for", "confirm-dialog-choice");
      caption.textContent = field.getAttribute("data-confirm-choice");
      var select = field.cloneNode(true);
      select.removeAttribute("hidden");
      select.removeAttribute("name");
      select.removeAttribute("data-confirm-choice");
      select.id = "confirm-dialog-choice";
      select.value = field.value;
      choice.appendChild(caption);
      choice.appendChild(select);
    }
    pending = form;
    var menu = form.closest("details.menu");
    if (menu) menu.removeAttribute("open");
    d.showModal();
    d.querySelector("button.cancel").focus();
  }, true);

  function copyText(text, button) {
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.setAttribute("aria-live", "polite");
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else {
      fallbackCopy(text);
      done();
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (err) { /* the text stays selectable on the page */ }
    document.body.removeChild(area);
  }

  document.addEventListener("click", function (e) {
    var copy = e.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (source) copyText(source.textContent.trim(), copy);
      return;
    }
    var share = e.target.closest("[data-share]");
    if (share) copyText(window.location.href, share);
  });

  // An open row menu closes when a click lands elsewhere or on Escape, as menus do.
  document.addEventListener("click", function (e) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(e.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });

  // The expiry picker: typing a number of days chooses "custom".
  document.addEventListener("input", function (e) {
    if (e.target.name !== "expires_days" || !e.target.form) return;
    var pick = e.target.form.querySelector("select[name=expires]");
    if (pick && e.target.value !== "") pick.value = "custom";
  });

  // A table's "select all" box, for row checkboxes that belong to a bulk form (form="ID"):
  // it needs JavaScript, so it is shown by it, on every page htmx loads.
  function revealSelectAll(root) {
    root.querySelectorAll("[data-select-all]").forEach(function (box) { box.hidden = false; });
  }
  revealSelectAll(document);
  document.addEventListener("htmx:load", function (e) { revealSelectAll(e.target); });
  document.addEventListener("change", function (e) {
    var all = e.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll('input[type=checkbox][form="' + all.getAttribute("data-select-all") + '"]')
      .forEach(function (box) { box.checked = all.checked; });
  });

  // Filter forms apply as soon as a control changes; the URL keeps the view.
  document.addEventListener("change", function (e) {
    var form = e.target.closest("form[data-autosubmit]");
    if (form && !e.target.hasAttribute("data-no-autosubmit")) {
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
    }
  });
})();
