// Small behaviours without inline script (CSP): confirmations, auto-submitting selects.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
document.addEventListener("change", function (event) {
  var form = event.target.closest("form[data-autosubmit]");
  if (form && event.target.tagName === "SELECT") { form.submit(); }
});
// A part of a page loaded with htmx that fails ("显示更多" with a stale position, a lost connection): say so
// beside what was clicked, with the server's plain-text reason when it gave one.
function showLoadError(event) {
  var trigger = event.detail.elt;
  var xhr = event.detail.xhr;
  var text = document.body.getAttribute("data-load-error") || "";
  if (xhr && xhr.status && (xhr.getResponseHeader("Content-Type") || "").indexOf("text/plain") === 0) {
    text = xhr.responseText;
  }
  var note = trigger.parentNode.querySelector(".load-error");
  if (!note) {
    note = document.createElement("div");
    note.className = "load-error text-danger small mt-1";
    note.setAttribute("role", "alert");
    trigger.parentNode.appendChild(note);
  }
  note.textContent = text;
}
document.addEventListener("htmx:responseError", showLoadError);
document.addEventListener("htmx:sendError", showLoadError);
