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
