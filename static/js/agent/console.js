// Agent console: keeps every request panel's status live without a reload, and copies links.
//
// Polls the JSON list endpoint every 1.5 s (so a payment moment reaches the agent within 2 s)
// with If-None-Match, so an unchanged list costs a 304 and no body. All state lives on the server (any app process answers); this script only
// writes text into elements the server rendered, never HTML.
(function () {
  "use strict";

  var POLL_MS = 1500;
  var MAX_BACKOFF_MS = 15000;
  var root = document.querySelector("[data-poll-url]");
  var problem = document.getElementById("live-status-problem");
  var etag = null;
  var failures = 0;
  var stopped = false;

  function showProblem(text) {
    if (!problem) return;
    problem.textContent = text;
    problem.hidden = false;
  }

  function hideProblem() {
    if (problem) problem.hidden = true;
  }

  function setText(panel, selector, text) {
    var node = panel.querySelector(selector);
    if (node && node.textContent !== text) node.textContent = text;
  }

  function deliveryLine(item) {
    var words = item.channel_words.charAt(0).toUpperCase() + item.channel_words.slice(1);
    var line = words + " to " + item.destination + ": " + item.status_words;
    if (item.last_error) line += ". " + item.last_error;
    return line;
  }

  function updateDelivery(panel, items) {
    var list = panel.querySelector(".js-delivery");
    if (!list) return;
    var lines = items.map(deliveryLine);
    var current = Array.prototype.map.call(list.children, function (li) { return li.textContent; });
    if (current.join("\n") === lines.join("\n")) return;
    while (list.firstChild) list.removeChild(list.firstChild);
    lines.forEach(function (line) {
      var li = document.createElement("li");
      li.textContent = line;
      list.appendChild(li);
    });
  }

  function updateSteps(panel, steps) {
    steps.forEach(function (step) {
      var li = panel.querySelector('[data-step="' + step.key + '"]');
      if (!li) return;
      li.classList.toggle("step-done", step.done);
      setText(li, ".step-at", step.at || "");
      setText(li, ".step-state", step.done ? "done" : "not yet");
    });
  }

  // Personal-data fields: only whether each arrived ("Received"), never a value.
  function updateDataFields(panel, fields) {
    (fields || []).forEach(function (field) {
      var li = panel.querySelector('[data-field="' + field.name + '"]');
      if (!li) return;
      li.setAttribute("data-state", field.state);
      setText(li, ".js-data-state", field.text);
    });
  }

  // The payment's money line: brand and last four at most, as the server wrote it.
  function updatePayment(panel, payment) {
    var line = panel.querySelector(".js-payment");
    if (!line) return;
    var summary = payment ? payment.summary : "";
    line.setAttribute("data-payment-state", payment ? payment.state : "");
    setText(panel, ".js-payment", summary);
    line.hidden = !summary;
  }

  function updatePanel(data) {
    var panel = document.querySelector('[data-request="' + data.id + '"]');
    if (!panel) return;
    panel.setAttribute("data-tone", data.tone);
    var label = panel.querySelector(".js-label");
    if (label) {
      label.setAttribute("data-status", data.label_status);
      label.setAttribute("data-tone", data.tone);
      setText(panel, ".js-label", data.label);
    }
    setText(panel, ".js-detail", data.detail);
    updatePayment(panel, data.payment);
    setText(panel, ".js-expires", data.expires_label);
    updateSteps(panel, data.steps);
    updateDelivery(panel, data.delivery);
    updateDataFields(panel, data.data);
    Array.prototype.forEach.call(panel.querySelectorAll(".js-action"), function (node) {
      node.hidden = !data.actions[node.getAttribute("data-action")];
    });
  }

  function schedule(delay) {
    if (!stopped) window.setTimeout(poll, delay);
  }

  function poll() {
    var began = Date.now();
    // Marks the request as automatic, so it need not count as the agent being active (the
    // 15-minute idle timeout must still end an unattended session).
    var headers = { "Accept": "application/json", "X-Postern-Background": "poll" };
    if (etag) headers["If-None-Match"] = etag;
    fetch(root.getAttribute("data-poll-url"), {
      headers: headers,
      credentials: "same-origin",
      cache: "no-store",
      redirect: "error"
    }).then(function (response) {
      if (response.status === 401) {
        stopped = true;
        showProblem("Your session has ended, so this page has stopped updating. " +
          "Sign in again to see the latest status.");
        return null;
      }
      if (response.status === 304) return null;
      if (!response.ok) throw new Error("status " + response.status);
      etag = response.headers.get("ETag");
      return response.json();
    }).then(function (body) {
      failures = 0;
      if (!stopped) hideProblem();
      if (body) body.mine.concat(body.team).forEach(updatePanel);
      // A steady rhythm: the time the request took counts towards the next wait.
      schedule(Math.max(250, POLL_MS - (Date.now() - began)));
    }).catch(function () {
      failures += 1;
      showProblem("Live updates are paused: Postern cannot be reached. Retrying…");
      schedule(Math.min(POLL_MS * Math.pow(2, failures), MAX_BACKOFF_MS));
    });
  }

  function initCopyButtons() {
    Array.prototype.forEach.call(document.querySelectorAll(".js-copy"), function (button) {
      var source = document.getElementById(button.getAttribute("data-copy-target"));
      var feedback = document.querySelector(".js-copy-feedback");
      if (!source) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        source.select();
        var done = function () { if (feedback) feedback.textContent = "Link copied."; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(source.value).then(done, function () {
            if (feedback) feedback.textContent = "Press Ctrl+C to copy the selected link.";
          });
        } else if (feedback) {
          feedback.textContent = "Press Ctrl+C to copy the selected link.";
        }
      });
    });
  }

  initCopyButtons();
  if (root) schedule(POLL_MS);
})();
