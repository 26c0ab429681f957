// The portal's only script. On the compose page it refuses, before any
// upload starts, files whose total size is over the message limit, or over
// Mon espace santé's when a recipient is a patient (the server refuses them
// anyway). Every page works without it.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var input = document.getElementById("pieces");
  var send = document.getElementById("envoyer");
  var error = document.getElementById("pieces-erreur");
  if (!input || !send || !error) {
    return;
  }
  var max = Number(input.dataset.max || 0);
  var maxPatient = Number(input.dataset.maxPatient || 0);
  var recipients = ["a", "cc", "cci"].map(function (id) { return document.getElementById(id); })
    .filter(function (field) { return field; });
  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(1).replace(".", ",") + " Mo";
  }
  function toPatient() {
    return recipients.some(function (field) { return /@patient\.mssante\.fr/i.test(field.value); });
  }
  function check() {
    var total = 0;
    for (var i = 0; i < input.files.length; i++) {
      total += input.files[i].size;
    }
    var patient = maxPatient > 0 && (max === 0 || maxPatient < max) && toPatient();
    var limit = patient ? maxPatient : max;
    var over = limit > 0 && total > limit;
    error.textContent = !over ? "" : patient
      ? "Erreur : les pièces jointes font " + megabytes(total) + ", au-delà de ce que Mon espace santé " +
        "accepte pour un patient (" + megabytes(limit) + "). Retirez ou réduisez des fichiers."
      : "Erreur : les pièces jointes font " + megabytes(total) + ", au-delà de la taille maximale du " +
        "message (" + megabytes(limit) + "). Retirez ou réduisez des fichiers.";
    input.setAttribute("aria-invalid", over ? "true" : "false");
    input.setCustomValidity(over ? error.textContent : "");
    return !over;
  }
  input.addEventListener("change", check);
  recipients.forEach(function (field) { field.addEventListener("change", check); });
  input.form.addEventListener("submit", function (event) {
    if (!check()) {
      event.preventDefault();
      input.focus();
    }
  });
});

// On a folder page: new mail appears without reloading. The folder's state
// is polled; when a message arrives the list and the folder counts are
// fetched again and swapped in, and a screen reader hears it.
document.addEventListener("DOMContentLoaded", function () {
  var list = document.getElementById("liste-messages");
  if (!list || !window.fetch) {
    return;
  }
  var known = list.dataset.uidnext;
  function refresh() {
    fetch(location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("liste-messages");
        var folders = page.querySelector(".dossiers");
        if (fresh) {
          list.replaceWith(fresh);
          list = fresh;
        }
        var current = document.querySelector(".dossiers");
        if (folders && current) {
          current.replaceWith(folders);
        }
        document.getElementById("annonce").textContent = "Nouveau message reçu.";
      })
      .catch(function () {});
  }
  setInterval(function () {
    fetch(list.dataset.etat, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (state) {
        if (String(state.uidnext) !== String(known)) {
          known = String(state.uidnext);
          refresh();
        }
      })
      .catch(function () {});
  }, 10000);
});

// On the compose page: as the person types a name in a recipients field,
// the Annuaire Santé is searched and its entries offered (after the
// addresses already typed); the recent correspondents otherwise.
document.addEventListener("DOMContentLoaded", function () {
  var list = document.getElementById("correspondants");
  if (!list || !window.fetch) {
    return;
  }
  var recent = list.innerHTML;
  var timer = null;
  function offer(field) {
    var text = field.value;
    var cut = text.lastIndexOf(",") + 1;
    var before = cut > 0 ? text.slice(0, cut).trim() + " " : "";
    var typed = text.slice(cut).trim();
    if (typed.length < 2 || typed.indexOf("@") >= 0) {
      list.innerHTML = recent;
      return;
    }
    var url = field.dataset.suggestions + "?q=" + encodeURIComponent(typed);
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (found) {
        if (field.value !== text) {
          return; // typed on since
        }
        list.textContent = "";
        found.forEach(function (s) {
          var option = document.createElement("option");
          option.value = before + s.address;
          option.textContent = s.label;
          list.appendChild(option);
        });
      })
      .catch(function () {});
  }
  document.querySelectorAll("input[data-suggestions]").forEach(function (field) {
    field.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { offer(field); }, 250);
    });
  });
});

// On the compose page: when a recipients field is left, the server says
// which addresses it would refuse (outside the trust space, no such
// mailbox), before anything is sent.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.fetch) {
    return;
  }
  document.querySelectorAll("input[data-verifier]").forEach(function (field) {
    var shown = document.getElementById(field.id + "-avertissement");
    if (!shown) {
      return;
    }
    field.addEventListener("change", function () {
      var asked = field.value;
      fetch(field.dataset.verifier + "?adresses=" + encodeURIComponent(asked), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { avertissements: [] }; })
        .then(function (answer) {
          if (field.value === asked) {
            var warnings = answer.avertissements || [];
            shown.textContent = warnings.length ? "Attention : " + warnings.join(" ") : "";
          }
        })
        .catch(function () {});
    });
  });
});

// In the mail client: keyboard shortcuts (listed in the folder pane) and a
// "select all" box for the list's bulk actions. Keys typed in a field, or
// with Ctrl, Alt or Meta, are left to the browser.
document.addEventListener("DOMContentLoaded", function () {
  var client = document.querySelector(".client");
  if (!client) {
    return;
  }
  var form = document.getElementById("lot");
  var boxes = form ? form.querySelectorAll(".choix-message") : [];
  var bar = form ? form.querySelector(".barre-lot") : null;
  if (bar && boxes.length) {
    var all = document.createElement("input");
    all.type = "checkbox";
    all.id = "tout";
    all.className = "choix-message";
    var label = document.createElement("label");
    label.htmlFor = "tout";
    label.textContent = "Tout sélectionner";
    var wrap = document.createElement("div");
    wrap.className = "case";
    wrap.appendChild(all);
    wrap.appendChild(label);
    bar.insertBefore(wrap, bar.firstChild);
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
  }
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("ul.messages a.resume"));
  }
  function move(step) {
    var links = rows();
    if (!links.length) {
      return;
    }
    var at = links.indexOf(document.activeElement);
    if (at < 0) {
      at = links.findIndex(function (a) { return a.getAttribute("aria-current"); });
    }
    var next = at < 0 ? 0 : Math.min(links.length - 1, Math.max(0, at + step));
    links[next].focus();
  }
  function click(selector) {
    var target = document.querySelector(selector);
    if (target) {
      target.click();
    }
  }
  document.addEventListener("keydown", function (event) {
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName) || event.target.isContentEditable;
    if (typing || event.ctrlKey || event.altKey || event.metaKey) {
      return;
    }
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "ArrowDown": case "ArrowUp":
        // Arrows move in the list only from a row; elsewhere they scroll.
        if (rows().indexOf(document.activeElement) < 0) {
          return;
        }
        move(event.key === "ArrowDown" ? 1 : -1);
        break;
      case "n": click("[data-raccourci='n']"); break;
      case "r": click("[data-raccourci='r']"); break;
      case "a": click("[data-raccourci='a']"); break;
      case "f": click("[data-raccourci='f']"); break;
      case "Delete": click("[data-raccourci='Delete']"); break;
      case "x": {
        var row = document.activeElement && document.activeElement.closest("ul.messages > li");
        var box = row && row.querySelector(".choix-message");
        if (box) {
          box.checked = !box.checked;
        }
        break;
      }
      case "/": {
        var search = document.getElementById("q");
        if (search) {
          search.focus();
        }
        break;
      }
      default: return;
    }
    event.preventDefault();
  });
});

// On the compose page: the draft saves itself a few seconds after the
// person stops typing, and every 30 seconds while they type (never the
// files chosen: they go with the message, or with "Enregistrer le
// brouillon"); the page then replaces that draft, and says when it saved.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.redaction[data-autosave]");
  var status = document.getElementById("etat-brouillon");
  if (!form || !status || !window.fetch || !window.FormData) {
    return;
  }
  var timer = null;
  var saving = false;
  var dirty = false;
  var leaving = false;
  function hidden(name) {
    var field = form.querySelector("input[type='hidden'][name='" + name + "']");
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = name;
      form.appendChild(field);
    }
    return field;
  }
  function save() {
    if (saving || !dirty || leaving) {
      return;
    }
    saving = true;
    dirty = false;
    var data = new FormData(form);
    data.delete("pieces");
    data.set("action", "auto");
    // form.action would name the button called "action": the attribute.
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (saved) {
        hidden("brouillon").value = String(saved.brouillon);
        if (saved.source) {
          hidden("source").value = saved.source;
        }
        status.textContent = "Brouillon enregistré à " + saved.heure + ".";
      })
      .catch(function () {
        dirty = true;
        status.textContent = "Le brouillon n'a pas pu être enregistré automatiquement : il le sera à la prochaine modification.";
      })
      .then(function () { saving = false; });
  }
  form.addEventListener("input", function () {
    dirty = true;
    clearTimeout(timer);
    timer = setTimeout(save, 3000);
  });
  form.addEventListener("submit", function () {
    leaving = true;
    clearTimeout(timer);
  });
  setInterval(save, 30000);
});
