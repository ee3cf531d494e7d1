// 收表: drop files on the zone or pick them; the form then posts itself (htmx when present).
(function () {
  function setup() {
    var zone = document.getElementById("dropzone");
    var input = document.getElementById("files");
    var form = document.getElementById("upload-form");
    if (!zone || !input || !form || zone.getAttribute("data-ready")) { return; }
    zone.setAttribute("data-ready", "1");
    function send() {
      if (!input.files || !input.files.length) { return; }
      if (window.htmx) { htmx.trigger(form, "submit"); } else { form.submit(); }
    }
    input.addEventListener("change", send);
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      zone.classList.remove("over");
      input.files = e.dataTransfer.files;
      send();
    });
  }
  document.addEventListener("DOMContentLoaded", setup);
  document.addEventListener("htmx:afterSettle", setup);
})();
