/*
 * The card fields inside the sandbox's iframe (the stand-in for Stripe's Elements iframe).
 *
 * The card number, expiry and CVC never leave this frame except to the sandbox's own API
 * (same origin, publishable key): the frame creates the PaymentMethod and confirms the
 * PaymentIntent itself and tells the embedding page only the outcome.
 *
 * The URL fragment (never sent to a server) carries: origin (the embedding page's origin),
 * frameId, key (publishable key) and type ('payment' or 'card'). Messages are accepted only
 * from window.parent at that origin and posted only to that origin.
 *
 * The Payment Element also offers a test wallet (the stand-in for Apple Pay and Google Pay)
 * when the page says the PaymentIntent takes cards. Pressing "Pay with test wallet" stands for
 * choosing the wallet and approving its payment sheet: the frame asks the page to submit its
 * form, and the confirmation that follows pays with the wallet's card (a Google Pay token for
 * the Visa test card) instead of the typed fields.
 */
(function () {
  'use strict';

  var SOURCE = 'stripe-sandbox';
  var settings = new URLSearchParams(window.location.hash.slice(1));
  var parentOrigin = settings.get('origin');
  var frameId = settings.get('frameId');
  var publishableKey = settings.get('key');
  var elementType = settings.get('type') === 'card' ? 'card' : 'payment';
  var ancestors = window.location.ancestorOrigins;

  if (!parentOrigin || !frameId || !publishableKey || window.parent === window ||
      (ancestors && ancestors.length > 0 && ancestors[0] !== parentOrigin)) {
    return; // not embedded by the page named in the fragment: stay inert
  }

  var MESSAGES = {
    incomplete_number: 'Your card number is incomplete.',
    invalid_number: 'Your card number is invalid.',
    incomplete_expiry: "Your card's expiration date is incomplete.",
    invalid_expiry_month: "Your card's expiration month is invalid.",
    invalid_expiry_month_past: "Your card's expiration date is in the past.",
    invalid_expiry_year_past: "Your card's expiration year is in the past.",
    invalid_expiry_year: "Your card's expiration year is invalid.",
    incomplete_cvc: "Your card's security code is incomplete."
  };

  var form = document.getElementById('card-form');
  var fields = {
    number: document.getElementById('card-number'),
    expiry: document.getElementById('card-expiry'),
    cvc: document.getElementById('card-cvc')
  };
  var errorBox = document.getElementById('card-error');
  var walletBox = document.getElementById('wallet');
  var walletButton = document.getElementById('wallet-button');
  var walletStatus = document.getElementById('wallet-status');
  // The token a wallet hands over for its card; the sandbox knows it as Google Pay's Visa.
  var WALLET_TOKEN = 'tok_sandbox_google_pay';
  var walletChosen = false;
  var brandBox = document.getElementById('card-brand');
  var touched = { number: false, expiry: false, cvc: false };
  var submitted = false;
  var busy = false;
  var lastHeight = 0;

  document.documentElement.classList.add('type-' + elementType);

  function post(type, data) {
    var message = { source: SOURCE, frameId: frameId, type: type };
    Object.keys(data || {}).forEach(function (name) { message[name] = data[name]; });
    window.parent.postMessage(message, parentOrigin);
  }

  function digits(value) { return value.replace(/\D/g, ''); }

  function brandOf(number) {
    if (/^4/.test(number)) { return 'visa'; }
    if (/^(5[1-5]|2(22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720))/.test(number)) { return 'mastercard'; }
    if (/^3[47]/.test(number)) { return 'amex'; }
    if (/^(6011|65|64[4-9])/.test(number)) { return 'discover'; }
    return 'unknown';
  }

  function luhnValid(number) {
    var total = 0;
    for (var i = 0; i < number.length; i += 1) {
      var digit = Number(number.charAt(number.length - 1 - i));
      if (i % 2 === 1) { digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2; }
      total += digit;
    }
    return total % 10 === 0;
  }

  function cardLength(brand) { return brand === 'amex' ? 15 : 16; }
  function cvcLength(brand) { return brand === 'amex' ? 4 : 3; }

  function formatNumber(number, brand) {
    var groups = brand === 'amex' ? [4, 6, 5] : [4, 4, 4, 4];
    var parts = [];
    var start = 0;
    groups.forEach(function (size) {
      if (start < number.length) { parts.push(number.slice(start, start + size)); }
      start += size;
    });
    return parts.join(' ');
  }

  // Each check returns { empty, complete, error, definite }: a definite error (invalid) shows
  // while typing; an incomplete one only once the field was left or a payment was attempted.
  function checkNumber() {
    var number = digits(fields.number.value);
    if (!number) { return { empty: true, complete: false, error: 'incomplete_number' }; }
    if (number.length < cardLength(brandOf(number))) {
      return { empty: false, complete: false, error: 'incomplete_number' };
    }
    if (!luhnValid(number)) {
      return { empty: false, complete: false, error: 'invalid_number', definite: true };
    }
    return { empty: false, complete: true, error: null };
  }

  function checkExpiry() {
    var value = digits(fields.expiry.value);
    if (!value) { return { empty: true, complete: false, error: 'incomplete_expiry' }; }
    var month = Number(value.slice(0, 2));
    if (value.length >= 2 && (month < 1 || month > 12)) {
      return { empty: false, complete: false, error: 'invalid_expiry_month', definite: true };
    }
    if (value.length < 4) { return { empty: false, complete: false, error: 'incomplete_expiry' }; }
    var year = 2000 + Number(value.slice(2, 4));
    var today = new Date();
    var thisYear = today.getFullYear();
    var error = null;
    if (year < thisYear) { error = 'invalid_expiry_year_past'; }
    else if (year === thisYear && month < today.getMonth() + 1) { error = 'invalid_expiry_month_past'; }
    else if (year > thisYear + 50) { error = 'invalid_expiry_year'; }
    return { empty: false, complete: !error, error: error, definite: Boolean(error) };
  }

  function checkCvc() {
    var value = digits(fields.cvc.value);
    if (!value) { return { empty: true, complete: false, error: 'incomplete_cvc' }; }
    if (value.length < cvcLength(brandOf(digits(fields.number.value)))) {
      return { empty: false, complete: false, error: 'incomplete_cvc' };
    }
    return { empty: false, complete: true, error: null };
  }

  function currentState() {
    var checks = { number: checkNumber(), expiry: checkExpiry(), cvc: checkCvc() };
    if (walletChosen) { // the wallet supplies the card: the typed fields do not matter
      Object.keys(fields).forEach(function (name) { fields[name].setAttribute('aria-invalid', 'false'); });
      return { checks: checks, complete: true, empty: false, error: null };
    }
    var shown = null;
    Object.keys(checks).forEach(function (name) {
      var check = checks[name];
      var visible = check.error && (check.definite || submitted || (touched[name] && !check.empty));
      fields[name].setAttribute('aria-invalid', visible ? 'true' : 'false');
      if (visible && !shown) {
        shown = { type: 'validation_error', code: check.error, message: MESSAGES[check.error] };
      }
    });
    return {
      checks: checks,
      complete: checks.number.complete && checks.expiry.complete && checks.cvc.complete,
      empty: checks.number.empty && checks.expiry.empty && checks.cvc.empty,
      error: shown
    };
  }

  function render() {
    var state = currentState();
    var message = state.error ? state.error.message : '';
    if (errorBox.textContent !== message) { errorBox.textContent = message; }
    var brand = brandOf(digits(fields.number.value));
    brandBox.textContent = brand === 'unknown' ? '' : brand;
    var event = { elementType: elementType, complete: state.complete, empty: state.empty,
      error: state.error || undefined };
    if (elementType === 'card') {
      event.brand = brand;
      event.value = { postalCode: '' };
    } else {
      event.collapsed = false;
      event.value = { type: walletChosen ? 'google_pay' : 'card' };
    }
    post('change', { event: event });
    reportHeight();
    return state;
  }

  function reportHeight() {
    var height = Math.ceil(form.getBoundingClientRect().height) + 4;
    if (height !== lastHeight) {
      lastHeight = height;
      post('resize', { height: height });
    }
  }

  function chooseWallet(chosen) {
    walletChosen = chosen;
    walletButton.setAttribute('aria-pressed', chosen ? 'true' : 'false');
    walletStatus.textContent = chosen ? 'Paying with your test wallet: Visa ending 4242.' : '';
  }

  walletButton.addEventListener('click', function () {
    if (busy) { return; }
    chooseWallet(true);
    render();
    post('wallet-submit');
  });

  // Typing a card means the customer chose the card after all.
  form.addEventListener('input', function () { if (walletChosen) { chooseWallet(false); } }, true);

  fields.number.addEventListener('input', function () {
    var number = digits(fields.number.value);
    var brand = brandOf(number);
    fields.number.value = formatNumber(number.slice(0, cardLength(brand)), brand);
    fields.cvc.maxLength = cvcLength(brand);
    render();
  });

  fields.expiry.addEventListener('input', function (event) {
    var value = digits(fields.expiry.value).slice(0, 4);
    if (value.length === 1 && value > '1') { value = '0' + value; }
    var deleting = event.inputType && event.inputType.indexOf('delete') === 0;
    if (value.length > 2 || (value.length === 2 && !deleting)) {
      value = value.slice(0, 2) + ' / ' + value.slice(2);
    }
    fields.expiry.value = value;
    render();
  });

  fields.cvc.addEventListener('input', function () {
    fields.cvc.value = digits(fields.cvc.value).slice(0, cvcLength(brandOf(digits(fields.number.value))));
    render();
  });

  Object.keys(fields).forEach(function (name) {
    fields[name].addEventListener('blur', function () {
      touched[name] = true;
      render();
    });
  });

  form.addEventListener('focusin', function (event) {
    if (!form.contains(event.relatedTarget)) { post('focus'); }
  });
  form.addEventListener('focusout', function (event) {
    if (!form.contains(event.relatedTarget)) { post('blur'); }
  });
  form.addEventListener('submit', function (event) { event.preventDefault(); });

  function setBusy(value) {
    busy = value;
    walletButton.disabled = value;
    Object.keys(fields).forEach(function (name) { fields[name].readOnly = value; });
  }

  function flatten(value, prefix, out) {
    if (value === null || value === undefined) { return out; }
    if (typeof value === 'object') {
      Object.keys(value).forEach(function (name) {
        flatten(value[name], prefix ? prefix + '[' + name + ']' : name, out);
      });
    } else {
      out.append(prefix, String(value));
    }
    return out;
  }

  function callApi(path, params) {
    var body = flatten(params, '', new URLSearchParams());
    body.append('key', publishableKey);
    return fetch(path, {
      method: 'POST',
      body: body,
      credentials: 'omit'
    }).then(function (response) {
      return response.json().then(function (payload) {
        return response.ok ? { body: payload } : { error: payload.error };
      });
    });
  }

  function confirm(request) {
    submitted = true;
    var state = render();
    if (state.error) { return Promise.resolve({ error: state.error }); }
    if (busy) {
      return Promise.resolve({ error: { type: 'invalid_request_error',
        message: 'A payment is already being confirmed with this Element.' } });
    }
    var clientSecret = String(request.clientSecret || '');
    var intentId = clientSecret.split('_secret_')[0];
    var expiry = digits(fields.expiry.value);
    var card = walletChosen ? { token: WALLET_TOKEN } : {
      number: digits(fields.number.value),
      exp_month: expiry.slice(0, 2),
      exp_year: expiry.slice(2, 4),
      cvc: digits(fields.cvc.value)
    };
    setBusy(true);
    return callApi('/v1/payment_methods', {
      type: 'card',
      card: card,
      billing_details: request.billingDetails || undefined
    }).then(function (created) {
      if (created.error) { return created; }
      var params = {
        client_secret: clientSecret,
        payment_method: created.body.id,
        use_stripe_sdk: 'true',
        return_url: request.returnUrl || undefined,
        receipt_email: request.receiptEmail || undefined
      };
      return callApi('/v1/payment_intents/' + encodeURIComponent(intentId) + '/confirm', params)
        .then(function (answer) {
          return answer.error ? answer : { paymentIntent: answer.body };
        });
    }).catch(function () {
      return { error: { type: 'api_connection_error',
        message: 'We could not reach the payment service. Check your connection and try again.' } };
    }).then(function (result) {
      setBusy(false);
      return result;
    });
  }

  function validate() {
    submitted = true;
    var state = render();
    return Promise.resolve(state.error ? { error: state.error } : {});
  }

  function configure(message) {
    var appearance = message.appearance || {};
    var root = document.documentElement;
    root.classList.toggle('theme-night', appearance.theme === 'night');
    var variables = appearance.variables || {};
    Object.keys(variables).forEach(function (name) {
      var value = variables[name];
      // Only plain values: custom properties cannot load anything, but keep them boring.
      if (/^[a-zA-Z]+$/.test(name) && typeof value === 'string' && value.length < 200 &&
          value.indexOf('url(') === -1) {
        root.style.setProperty('--' + name.replace(/[A-Z]/g, function (c) {
          return '-' + c.toLowerCase();
        }), value);
      }
    });
    var options = message.options || {};
    Object.keys(fields).forEach(function (name) { fields[name].disabled = Boolean(options.disabled); });
    walletButton.disabled = Boolean(options.disabled) || busy;
    var walletOffered = elementType === 'payment' && message.wallet === true;
    walletBox.hidden = !walletOffered;
    if (!walletOffered && walletChosen) { chooseWallet(false); }
    reportHeight();
  }

  function clear() {
    chooseWallet(false);
    Object.keys(fields).forEach(function (name) {
      fields[name].value = '';
      touched[name] = false;
    });
    submitted = false;
    render();
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== parentOrigin || event.source !== window.parent) { return; }
    var message = event.data;
    if (!message || message.source !== SOURCE || message.frameId !== frameId) { return; }
    switch (message.type) {
      case 'configure': configure(message); break;
      case 'focus': fields.number.focus(); break;
      case 'blur': if (form.contains(document.activeElement)) { document.activeElement.blur(); } break;
      case 'clear': clear(); break;
      case 'confirm':
      case 'validate':
        (message.type === 'confirm' ? confirm(message) : validate()).then(function (result) {
          post('response', { requestId: message.requestId, result: result });
        });
        break;
      default: break;
    }
  });

  if (window.ResizeObserver) { new window.ResizeObserver(reportHeight).observe(form); }
  post('ready');
  reportHeight();
}());
