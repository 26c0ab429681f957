// The portal's only script. On the compose page it refuses, before any
// upload starts, files whose total size is over the message limit (the
// server refuses them anyway, from the request's length). Every page works
// without it.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var input = document.getElementById("pieces");
  var send = document.getElementById("envoyer");
  var error = document.getElementById("pieces-erreur");
  if (!input || !send || !error) {
    return;
  }
  var max = Number(input.dataset.max || 0);
  function check() {
    var total = 0;
    for (var i = 0; i < input.files.length; i++) {
      total += input.files[i].size;
    }
    var over = max > 0 && total > max;
    error.textContent = over
      ? "Erreur : les pièces jointes font " + (total / 1048576).toFixed(1).replace(".", ",") +
        " Mo, au-delà de la taille maximale du message (" + (max / 1048576).toFixed(1).replace(".", ",") +
        " Mo). Retirez ou réduisez des fichiers."
      : "";
    input.setAttribute("aria-invalid", over ? "true" : "false");
    input.setCustomValidity(over ? error.textContent : "");
    return !over;
  }
  input.addEventListener("change", check);
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
