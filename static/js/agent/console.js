// Agent console: keeps every request panel's status live without a reload, and copies links.
//
// Pushed where the server offers a stream (data-stream-url: Server-Sent Events fed by
// PostgreSQL LISTEN/NOTIFY, docs/scaling.md): each changed panel arrives as it changes. The
// stream is only an accelerator: whenever it is missing, fails or asks to resync, the script
// polls the JSON list endpoint every 1.5 s (so a payment moment reaches the agent within 2 s)
// with If-None-Match, so an unchanged list costs a 304 and no body, and tries the stream again
// later. All state lives on the server (any app process answers); this script only writes
// text into elements the server rendered, never HTML.
(function () {
  "use strict";

  var POLL_MS = 1500;
  var MAX_BACKOFF_MS = 15000;
  var STREAM_RETRY_MS = 10000;
  var MAX_STREAM_RETRY_MS = 300000;
  var SESSION_ENDED = "Your session has ended, so this page has stopped updating. " +
    "Sign in again to see the latest status.";
  var root = document.querySelector("[data-poll-url]");
  var problem = document.getElementById("live-status-problem");
  var etag = null;
  var failures = 0;
  var stopped = false;
  var pollTimer = null;
  var streamUrl = root ? root.getAttribute("data-stream-url") : null;
  var source = null;
  var streaming = false;
  var streamFailures = 0;

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
      ["done", "stopped", "skipped"].forEach(function (state) {
        li.classList.toggle("step-" + state, step.state === state);
      });
      setText(li, ".step-label", step.label);
      setText(li, ".step-at", step.at || "");
      setText(li, ".step-state", step.state_words);
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
    setText(panel, ".js-link-lifetime", data.link_lifetime);
    updateSteps(panel, data.steps);
    updateDelivery(panel, data.delivery);
    updateDataFields(panel, data.data);
    Array.prototype.forEach.call(panel.querySelectorAll(".js-action"), function (node) {
      node.hidden = !data.actions[node.getAttribute("data-action")];
    });
  }

  // The page's own filter (?state=&q=&page=), plus the panels it shows: one that stops
  // matching the filter (just paid, under "Waiting") must still be brought up to date.
  function pollUrl() {
    var url = root.getAttribute("data-poll-url");
    var ids = Array.prototype.map.call(document.querySelectorAll("[data-request]"), function (panel) {
      return panel.getAttribute("data-request");
    });
    if (!ids.length) return url;
    return url + (url.indexOf("?") === -1 ? "?" : "&") + "shown=" + encodeURIComponent(ids.join(","));
  }

  // One poll timer at most; none while the stream is live (it brings every change).
  function schedule(delay) {
    window.clearTimeout(pollTimer);
    if (!stopped && !streaming) pollTimer = window.setTimeout(poll, delay);
  }

  function poll() {
    var began = Date.now();
    // Marks the request as automatic, so it need not count as the agent being active (the
    // 15-minute idle timeout must still end an unattended session).
    var headers = { "Accept": "application/json", "X-Postern-Background": "poll" };
    if (etag) headers["If-None-Match"] = etag;
    fetch(pollUrl(), {
      headers: headers,
      credentials: "same-origin",
      cache: "no-store",
      redirect: "error"
    }).then(function (response) {
      if (response.status === 401) {
        stopEverything();
        return null;
      }
      if (response.status === 304) return null;
      if (!response.ok) throw new Error("status " + response.status);
      etag = response.headers.get("ETag");
      return response.json();
    }).then(function (body) {
      failures = 0;
      if (!stopped) hideProblem();
      if (body) body.mine.concat(body.team, body.shown || []).forEach(updatePanel);
      // A steady rhythm: the time the request took counts towards the next wait.
      schedule(Math.max(250, POLL_MS - (Date.now() - began)));
    }).catch(function () {
      failures += 1;
      if (!streaming) showProblem("Live updates are paused: Postern cannot be reached. Retrying…");
      schedule(Math.min(POLL_MS * Math.pow(2, failures), MAX_BACKOFF_MS));
    });
  }

  function stopEverything() {
    stopped = true;
    closeStream();
    window.clearTimeout(pollTimer);
    showProblem(SESSION_ENDED);
  }

  function closeStream() {
    if (source) source.close();
    source = null;
    streaming = false;
    if (root) root.setAttribute("data-live", "poll");
  }

  // The stream failed or asked to resync: poll now (nothing is missed), try it again later.
  function dropStream(retryMs) {
    closeStream();
    if (stopped) return;
    schedule(0);
    streamFailures += 1;
    var wait = retryMs || Math.min(STREAM_RETRY_MS * Math.pow(2, streamFailures - 1),
      MAX_STREAM_RETRY_MS);
    window.setTimeout(startStream, wait);
  }

  function startStream() {
    if (stopped || !streamUrl || !window.EventSource || source) return false;
    source = new window.EventSource(streamUrl);
    source.addEventListener("ready", function () {
      streaming = true;
      streamFailures = 0;
      root.setAttribute("data-live", "push");
      window.clearTimeout(pollTimer);
      poll();  // once: whatever changed before the stream was listening
    });
    source.addEventListener("panel", function (event) {
      updatePanel(JSON.parse(event.data));
    });
    source.addEventListener("ended", stopEverything);
    source.addEventListener("resync", function () { dropStream(1000); });
    // This server pushes nothing (push off, or no push service): poll, as before.
    source.addEventListener("unavailable", closeStream);
    // A refused stream (503: not offered here; 401: signed out) or a broken connection: the
    // browser would retry on its own, but polling is the safe place to wait in.
    source.onerror = function () { dropStream(null); };
    return true;
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

  // The create form shows only what the chosen kind (and channel) needs. Hidden groups are
  // also disabled, so a value typed before the kind changed is not sent. Without this script
  // every field shows and the server still checks only what the kind needs.
  function initCreateForm() {
    var form = document.querySelector(".create-form");
    if (!form) return;

    function checked(name) {
      var input = form.querySelector('input[name="' + name + '"]:checked');
      return input ? input.value : "";
    }

    function showFor(selector, attribute, value) {
      Array.prototype.forEach.call(form.querySelectorAll(selector), function (group) {
        var wanted = (group.getAttribute(attribute) || "").split(" ").indexOf(value) !== -1;
        group.hidden = !wanted;
        Array.prototype.forEach.call(group.querySelectorAll("input, select"), function (control) {
          control.disabled = !wanted;
        });
      });
    }

    function update() {
      showFor(".js-for-kind", "data-kinds", checked("kind"));
      showFor(".js-for-channel", "data-channels", checked("channel"));
    }

    form.addEventListener("change", function (event) {
      var name = event.target.getAttribute("name");
      if (name === "kind" || name === "channel") update();
    });
    update();
  }

  initCreateForm();
  initCopyButtons();
  if (root) {
    root.setAttribute("data-live", "poll");
    // Polling carries on until the stream says it is listening.
    schedule(POLL_MS);
    startStream();
  }
})();
