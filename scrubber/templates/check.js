// "Check a photo": a photo dropped on the page is checked at once; the form shows it is busy.
(function () {
  const form = document.getElementById("check-form");
  const input = document.getElementById("file");
  const zone = document.getElementById("drop");
  const busy = document.getElementById("busy");
  if (!form || !input || !zone) return;
  form.addEventListener("submit", function () { busy.hidden = false; });
  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    document.addEventListener(name, function (event) { event.preventDefault(); zone.classList.remove("over"); });
  });
  document.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      busy.hidden = false;
      form.submit();
    }
  });
})();
