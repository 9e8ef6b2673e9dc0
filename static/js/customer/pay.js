/*
 * The customer's payment page (templates/customer/pay.html).
 *
 * Mounts Stripe's Payment Element (Stripe.js is loaded from STRIPE_JS_URL by the page) and
 * confirms the payment in the browser: card details go from Stripe's iframe to Stripe and
 * never through this script or Postern. The PaymentIntent takes cards only, so the Element
 * offers the card fields and, where the phone or browser has one, Apple Pay or Google Pay
 * (a card too); a wallet's button submits this form, so both are confirmed the same way. Everything it needs comes from data- attributes on
 * #payment-form (no inline script). After confirming, it asks Postern's status endpoint for
 * the server-side truth, and only that decides what the customer is told or shown next.
 */
(function () {
  'use strict';

  var form = document.getElementById('payment-form');
  if (!form) { return; }
  var button = document.getElementById('pay-button');
  var message = document.getElementById('payment-message');
  var loading = document.getElementById('payment-loading');
  var data = form.dataset;
  var POLL_MS = 1000;
  var POLL_TRIES = 30;
  // The page's words, in its language, from the form's data-word-* attributes (pay.html).
  var COULD_NOT_CHECK = data.wordCouldNotCheck;
  var DID_NOT_GO_THROUGH = data.wordDidNotGoThrough;
  var NO_CONNECTION = data.wordNoConnection;
  var WAITING = data.wordWaiting;

  function say(text, isError) {
    message.textContent = text || '';
    message.classList.toggle('payment-message-error', Boolean(text && isError));
  }

  function setBusy(busy) {
    button.disabled = busy;
    if (busy) { button.setAttribute('aria-busy', 'true'); } else { button.removeAttribute('aria-busy'); }
  }

  function wait(ms) {
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }

  function fetchStatus() {
    return fetch(data.statusUrl, {
      credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' }
    }).then(function (response) {
      return response.json().catch(function () { return { state: 'unavailable' }; });
    }, function () { return { state: 'unavailable' }; });
  }

  // Ask until the bank's answer is in (or we give up and say so).
  function settle(tries) {
    return fetchStatus().then(function (status) {
      if (status.state === 'processing' && tries > 0) {
        say(WAITING);
        return wait(POLL_MS).then(function () { return settle(tries - 1); });
      }
      return status;
    });
  }

  // Act on the server's answer; true if the page is being left.
  function follow(status, fallback) {
    switch (status.state) {
      case 'succeeded':
        say(data.wordReceived);
        window.location.assign(data.paidUrl);
        return true;
      case 'failed':
      case 'closed':
        // The server explains why on the page itself.
        window.location.assign(data.payUrl);
        return true;
      case 'ready':
        say(status.message || fallback || '', Boolean(status.message || fallback));
        return false;
      case 'processing':
        say(WAITING);
        return false;
      default:
        say(status.message || COULD_NOT_CHECK, true);
        return false;
    }
  }

  if (typeof window.Stripe !== 'function') {
    say(data.wordNotLoaded, true);
    return;
  }

  var stripe = window.Stripe(data.publishableKey);
  var elements = stripe.elements({ clientSecret: data.clientSecret });
  var paymentElement = elements.create('payment');
  var busy = false;

  paymentElement.on('ready', function () {
    if (loading) { loading.hidden = true; }
    if (!busy) { setBusy(false); }
  });
  paymentElement.mount('#payment-element');

  function run(step) {
    busy = true;
    setBusy(true);
    var leaving = false;
    return step().then(function (left) { leaving = Boolean(left); }, function () {
      say(COULD_NOT_CHECK, true);
    }).then(function () {
      if (!leaving) { busy = false; setBusy(false); }
    });
  }

  function confirm() {
    say(data.wordChecking);
    return fetchStatus().then(function (before) {
      if (before.state !== 'ready') { return follow(before); }
      return stripe.confirmPayment({
        elements: elements,
        confirmParams: { return_url: data.returnUrl },
        redirect: 'if_required'
      }).then(function (result) {
        if (result.error && result.error.type === 'validation_error') {
          // The Payment Element already shows what is wrong beside the field itself; saying
          // it again here showed the customer the same words twice.
          say('');
          return false;
        }
        var lostConnection = Boolean(result.error && result.error.type === 'api_connection_error');
        return settle(POLL_TRIES).then(function (status) {
          if (lostConnection && status.state === 'ready') {
            say(NO_CONNECTION, true); // not an older decline's message: this try never arrived
            return false;
          }
          return follow(status, result.error ? DID_NOT_GO_THROUGH : null);
        });
      });
    });
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (busy) { return; } // a double click confirms once
    run(confirm);
  });

  // Reloaded while the bank was checking (3-D Secure): pick the check up again.
  if (data.state === 'processing') {
    run(function () {
      say(data.wordConfirm);
      return stripe.handleNextAction({ clientSecret: data.clientSecret }).then(function () {
        return settle(POLL_TRIES).then(function (status) { return follow(status); });
      });
    });
  }
}());
