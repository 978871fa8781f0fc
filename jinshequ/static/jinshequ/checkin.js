// The venue check-in screen (activities/screen.html): fetch a fresh QR code at the start of every
// 30-second window, show a countdown, and switch to full screen on request. No inline script (CSP).
(function () {
  "use strict";
  var area = document.getElementById("qr-area");
  if (!area) { return; }
  var url = area.getAttribute("data-code-url");
  var countdown = document.querySelector("[data-countdown]");
  var status = document.querySelector("[data-status]");
  var deadline = 0;
  var timer = null;

  function secondsLeft() {
    var block = area.querySelector("[data-seconds-left]");
    var left = block ? parseInt(block.getAttribute("data-seconds-left"), 10) : NaN;
    return isNaN(left) || left < 1 ? 30 : left;
  }

  function schedule(ms) {
    if (timer) { window.clearTimeout(timer); }
    deadline = Date.now() + ms;
    timer = window.setTimeout(refresh, ms);
  }

  function say(key) {
    if (status) { status.textContent = key ? (status.getAttribute("data-" + key) || "") : ""; }
  }

  function refresh() {
    fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (response.redirected || response.url.indexOf("/accounts/login/") !== -1) { throw new Error("expired"); }
        if (!response.ok) { throw new Error("offline"); }
        return response.text();
      })
      .then(function (html) {
        area.innerHTML = html;
        say("");
        schedule(secondsLeft() * 1000 + 300);
      })
      .catch(function (error) {
        if (error && error.message === "expired") { say("expired"); return; }
        say("offline");
        schedule(5000);
      });
  }

  function tick() {
    if (!countdown) { return; }
    var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    countdown.textContent = (countdown.getAttribute("data-template") || "{n}").replace("{n}", String(left));
  }

  schedule(secondsLeft() * 1000 + 300);
  tick();
  window.setInterval(tick, 1000);

  var button = document.querySelector("[data-fullscreen]");
  if (button) {
    button.addEventListener("click", function () {
      if (document.fullscreenElement) { document.exitFullscreen(); return; }
      var root = document.documentElement;
      if (root.requestFullscreen) { root.requestFullscreen(); }
    });
  }
})();
