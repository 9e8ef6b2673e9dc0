/*
 * The 3-D Secure test page's behaviour.
 *
 * In Stripe.js's modal (an iframe whose URL fragment names the embedding page's origin) the
 * answer is sent with fetch and the page tells its parent, by postMessage to that origin only,
 * that the challenge is over. Opened as a full page (redirect flow) the form simply posts and
 * the sandbox redirects to the return_url.
 */
(function () {
  'use strict';

  var SOURCE = 'stripe-sandbox';
  var parentOrigin = new URLSearchParams(window.location.hash.slice(1)).get('origin');
  var ancestors = window.location.ancestorOrigins;
  var framed = window.parent !== window && Boolean(parentOrigin) &&
    (!ancestors || ancestors.length === 0 || ancestors[0] === parentOrigin);
  var page = document.getElementById('challenge');
  var form = document.getElementById('challenge-form');
  var statusLine = document.getElementById('challenge-status');

  function tellParent(status) {
    window.parent.postMessage({ source: SOURCE, type: 'three-d-secure-complete', status: status },
      parentOrigin);
  }

  function setBusy(busy) {
    Array.prototype.forEach.call(form.querySelectorAll('button'), function (button) {
      button.disabled = busy;
    });
  }

  if (!form) {
    // Nothing left to answer (already answered, or not a 3-D Secure payment): let the modal close.
    if (framed) { tellParent(page.dataset.status); }
    return;
  }

  function ready() {
    setBusy(false);
    // Focus the first answer, unless the customer already moved into the form.
    if (!form.contains(document.activeElement)) { form.querySelector('button').focus(); }
  }

  if (!framed) { ready(); return; } // full page: the form posts and the sandbox redirects

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    body.set('outcome', event.submitter && event.submitter.value === 'fail' ? 'fail' : 'complete');
    setBusy(true);
    statusLine.textContent = 'Sending your answer…';
    fetch(form.action, {
      method: 'POST',
      body: body,
      headers: { Accept: 'application/json' },
      credentials: 'omit'
    }).then(function (response) {
      if (!response.ok) { throw new Error('HTTP ' + response.status); }
      return response.json();
    }).then(function (answer) {
      statusLine.textContent = 'Done.';
      tellParent(answer.status);
    }).catch(function () {
      setBusy(false);
      statusLine.textContent = 'The answer could not be sent. Please try again.';
    });
  });
  ready();
}());
