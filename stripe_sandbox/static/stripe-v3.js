/*
 * Stripe.js stand-in served by the Stripe sandbox at /v3/ (like https://js.stripe.com/v3/).
 *
 * Defines window.Stripe(publishableKey) with the subset of Stripe.js an integration needs for
 * card payments: elements({clientSecret, appearance}), elements.create('payment' | 'card'),
 * element.mount/on/off/once/focus/blur/clear/update/unmount/destroy, elements.submit(),
 * stripe.confirmPayment, stripe.confirmCardPayment, stripe.retrievePaymentIntent and
 * stripe.handleNextAction.
 *
 * The card fields live in an iframe from the sandbox's origin; this script only talks to it
 * with postMessage (checking origin and source both ways) and never sees card data.
 * The Payment Element offers the sandbox's test wallet when the PaymentIntent takes cards, as
 * Stripe's offers Apple Pay and Google Pay: pressing it submits the form the Element sits in,
 * so the page's own submit handler confirms, paying with the wallet's card. It runs
 * under a strict page CSP: no inline styles in markup (only CSSOM style properties), no eval,
 * no inline handlers, no images.
 */
(function () {
  'use strict';

  if (window.Stripe && window.Stripe.sandbox === true) { return; } // loaded twice

  var SOURCE = 'stripe-sandbox';
  var SANDBOX_ORIGIN = scriptOrigin();
  var AUTHENTICATION_FAILED = 'We are unable to authenticate your payment method. Please ' +
    'choose a different payment method and try again.';
  var mountedFrames = {};
  var frameCount = 0;
  var requestCount = 0;

  function scriptOrigin() {
    var script = document.currentScript;
    if (!script) {
      var scripts = document.querySelectorAll('script[src]');
      for (var i = 0; i < scripts.length; i += 1) {
        if (/\/v3\/?(\?.*)?$/.test(scripts[i].src)) { script = scripts[i]; }
      }
    }
    return new URL(script.src, window.location.href).origin;
  }

  function integrationError(message) {
    var error = new Error(message);
    error.name = 'IntegrationError';
    return error;
  }

  function connectionError() {
    return { type: 'api_connection_error',
      message: 'We could not reach the payment service. Check your connection and try again.' };
  }

  // CSSOM only: the embedding page's CSP forbids style attributes in markup.
  function setStyles(element, styles) {
    Object.keys(styles).forEach(function (name) { element.style[name] = styles[name]; });
  }

  function intentIdOf(clientSecret) {
    var match = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(String(clientSecret || ''));
    return match ? match[1] : null;
  }

  function requireClientSecret(method, clientSecret) {
    if (!intentIdOf(clientSecret)) {
      throw integrationError('Invalid value for ' + method + ': clientSecret should be a ' +
        'client secret of the form ${id}_secret_${secret}. You specified: ' + clientSecret + '.');
    }
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

  // Form-encoded, key as a parameter: "simple" CORS requests, as Stripe.js makes them.
  function callApi(key, method, path, params) {
    var query = flatten(params, '', new URLSearchParams());
    query.append('key', key);
    var url = SANDBOX_ORIGIN + path;
    var init = { method: method, credentials: 'omit' };
    if (method === 'GET') { url += '?' + query.toString(); } else { init.body = query; }
    return fetch(url, init).then(function (response) {
      return response.json().then(function (payload) {
        return response.ok ? { body: payload } : { error: payload.error };
      });
    }, function () { return { error: connectionError() }; });
  }

  function errorFromIntent(intent) {
    var error = {};
    Object.keys(intent.last_payment_error).forEach(function (name) {
      error[name] = intent.last_payment_error[name];
    });
    if (error.code === 'payment_intent_authentication_failure') {
      error.message = AUTHENTICATION_FAILED;
    }
    error.payment_intent = intent;
    return error;
  }

  function redirectStatus(status) {
    if (status === 'succeeded' || status === 'requires_capture') { return 'succeeded'; }
    return status === 'processing' ? 'processing' : 'failed';
  }

  function navigateToReturnUrl(returnUrl, intent) {
    var url = new URL(returnUrl, window.location.href);
    url.searchParams.set('payment_intent', intent.id);
    url.searchParams.set('payment_intent_client_secret', intent.client_secret);
    url.searchParams.set('redirect_status', redirectStatus(intent.status));
    window.location.assign(url.toString());
    return new Promise(function () {}); // the page is leaving: never settles, like Stripe.js
  }

  // The 3-D Secure challenge: a modal overlay holding the sandbox's challenge page.
  function openChallenge(url) {
    return new Promise(function (resolve) {
      var previousFocus = document.activeElement;
      var overlay = document.createElement('div');
      overlay.setAttribute('role', 'dialog');
      overlay.setAttribute('aria-modal', 'true');
      overlay.setAttribute('aria-label', '3D Secure authentication');
      setStyles(overlay, { position: 'fixed', top: '0', right: '0', bottom: '0', left: '0',
        zIndex: '2147483647', display: 'flex', alignItems: 'center', justifyContent: 'center',
        backgroundColor: 'rgba(0, 0, 0, 0.55)' });
      var frame = document.createElement('iframe');
      frame.name = '__stripeSandboxChallengeFrame';
      frame.title = '3D Secure authentication';
      setStyles(frame, { width: 'min(480px, 94vw)', height: 'min(420px, 90vh)', border: '0',
        borderRadius: '8px', backgroundColor: '#ffffff',
        boxShadow: '0 8px 32px rgba(0, 0, 0, 0.35)' });
      frame.src = url + '#' + new URLSearchParams({ origin: window.location.origin }).toString();
      // The page's own origin (normally the sandbox's): only the frame created here may answer.
      var challengeOrigin = new URL(url, window.location.href).origin;

      function onMessage(event) {
        var data = event.data;
        if (event.origin !== challengeOrigin || event.source !== frame.contentWindow || !data ||
            data.source !== SOURCE || data.type !== 'three-d-secure-complete') { return; }
        window.removeEventListener('message', onMessage);
        overlay.parentNode.removeChild(overlay);
        if (previousFocus && typeof previousFocus.focus === 'function') { previousFocus.focus(); }
        resolve(data.status);
      }

      window.addEventListener('message', onMessage);
      frame.addEventListener('load', function () { frame.focus(); });
      overlay.appendChild(frame);
      document.body.appendChild(overlay);
    });
  }

  // ---------------------------------------------------------------- Element
  function Element(group, type, options) {
    this._group = group;
    this._type = type;
    this._options = options || {};
    this._handlers = {};
    this._frame = null;
    this._ready = false;
    this._queue = [];
    this._pending = {};
    this._destroyed = false;
    this._walletOffered = false;
  }

  Element.prototype.mount = function (target) {
    if (this._destroyed) {
      throw integrationError('This Element has already been destroyed. Please create a new one.');
    }
    if (this._frame) {
      throw integrationError('This Element is already mounted. Use `unmount` to unmount the ' +
        'Element before re-mounting.');
    }
    var container = typeof target === 'string' ? document.querySelector(target) : target;
    if (!container || container.nodeType !== 1) {
      throw integrationError('The selector you specified (' + target + ') applies to no DOM ' +
        'elements that are currently on the page.\nMake sure the element exists on the page ' +
        'before calling mount().');
    }
    frameCount += 1;
    this._frameId = '__privateStripeFrame' + frameCount;
    var frame = document.createElement('iframe');
    frame.name = this._frameId;
    frame.title = 'Secure payment input frame';
    frame.setAttribute('allowtransparency', 'true');
    frame.setAttribute('scrolling', 'no');
    setStyles(frame, { border: '0', width: '100%', display: 'block', overflow: 'hidden',
      height: this._type === 'card' ? '48px' : '150px' });
    frame.src = SANDBOX_ORIGIN + '/v3/elements-inner-card.html#' + new URLSearchParams({
      origin: window.location.origin,
      frameId: this._frameId,
      key: this._group._stripe._key,
      type: this._type
    }).toString();
    this._frame = frame;
    this._ready = false;
    mountedFrames[this._frameId] = this;
    container.appendChild(frame);
    this._walletDecided = this._type === 'payment' ? this._offerWallet() : Promise.resolve();
  };

  // Wallets pay by card: offer the test wallet only if the PaymentIntent takes cards. The
  // Element reports 'ready' only once this is known, so the page's layout (and its Pay button)
  // does not move under the customer's finger when the wallet appears.
  Element.prototype._offerWallet = function () {
    var self = this;
    return this._group._stripe.retrievePaymentIntent(this._group._options.clientSecret)
      .then(function (answer) {
        var types = (answer.paymentIntent && answer.paymentIntent.payment_method_types) || [];
        self._walletOffered = types.indexOf('card') !== -1;
      }, function () { self._walletOffered = false; /* the card fields still work */ });
  };

  Element.prototype.unmount = function () {
    if (!this._frame) { return; }
    delete mountedFrames[this._frameId];
    if (this._frame.parentNode) { this._frame.parentNode.removeChild(this._frame); }
    this._frame = null;
    this._ready = false;
    this._queue = [];
    var pending = this._pending;
    this._pending = {};
    Object.keys(pending).forEach(function (id) {
      pending[id]({ error: { type: 'validation_error', message: 'The Element was unmounted.' } });
    });
  };

  Element.prototype.destroy = function () {
    this.unmount();
    this._destroyed = true;
    delete this._group._elements[this._type];
  };

  Element.prototype.on = function (event, handler) {
    (this._handlers[event] = this._handlers[event] || []).push(handler);
    return this;
  };

  Element.prototype.off = function (event, handler) {
    var handlers = this._handlers[event] || [];
    this._handlers[event] = handler ? handlers.filter(function (h) { return h !== handler; }) : [];
    return this;
  };

  Element.prototype.once = function (event, handler) {
    var self = this;
    function wrapper(payload) { self.off(event, wrapper); handler(payload); }
    return this.on(event, wrapper);
  };

  Element.prototype.focus = function () {
    if (this._frame) { this._frame.focus(); }
    this._send('focus', {});
  };

  Element.prototype.blur = function () { this._send('blur', {}); };
  Element.prototype.clear = function () { this._send('clear', {}); };

  Element.prototype.update = function (options) {
    var self = this;
    Object.keys(options || {}).forEach(function (name) { self._options[name] = options[name]; });
    this._configure();
  };

  Element.prototype._emit = function (event, payload) {
    (this._handlers[event] || []).slice().forEach(function (handler) { handler(payload); });
  };

  Element.prototype._send = function (type, data) {
    var message = { source: SOURCE, frameId: this._frameId, type: type };
    Object.keys(data).forEach(function (name) { message[name] = data[name]; });
    if (this._ready && this._frame) {
      this._frame.contentWindow.postMessage(message, SANDBOX_ORIGIN);
    } else if (this._frame) {
      this._queue.push(message);
    }
  };

  Element.prototype._request = function (type, data) {
    var self = this;
    if (!this._frame) {
      return Promise.reject(integrationError('This Element is not mounted.'));
    }
    requestCount += 1;
    var requestId = 'req' + requestCount;
    return new Promise(function (resolve) {
      self._pending[requestId] = resolve;
      var message = { requestId: requestId };
      Object.keys(data || {}).forEach(function (name) { message[name] = data[name]; });
      self._send(type, message);
    });
  };

  Element.prototype._configure = function () {
    this._send('configure', {
      appearance: this._group._options.appearance || {},
      options: { disabled: Boolean(this._options.disabled) },
      wallet: this._walletOffered
    });
  };

  Element.prototype._becomeReady = function (frame) {
    if (this._frame !== frame) { return; } // unmounted (or mounted again) meanwhile
    this._ready = true;
    this._configure();
    this._queue.splice(0).forEach(function (message) {
      this._frame.contentWindow.postMessage(message, SANDBOX_ORIGIN);
    }, this);
    this._emit('ready', { elementType: this._type });
  };

  Element.prototype._receive = function (data) {
    switch (data.type) {
      case 'ready':
        this._walletDecided.then(this._becomeReady.bind(this, this._frame));
        break;
      case 'change': this._emit('change', data.event); break;
      case 'wallet-submit': this._submitForm(); break;
      case 'focus':
      case 'blur': this._emit(data.type, { elementType: this._type }); break;
      case 'resize':
        if (typeof data.height === 'number' && data.height > 0 && data.height < 2000) {
          this._frame.style.height = Math.ceil(data.height) + 'px';
        }
        break;
      case 'response':
        if (this._pending[data.requestId]) {
          var resolve = this._pending[data.requestId];
          delete this._pending[data.requestId];
          resolve(data.result);
        }
        break;
      default: break;
    }
  };

  // The wallet's payment sheet was approved: pay as the page's own Pay button would.
  Element.prototype._submitForm = function () {
    var form = this._frame && this._frame.closest ? this._frame.closest('form') : null;
    if (form && typeof form.requestSubmit === 'function') { form.requestSubmit(); }
  };

  window.addEventListener('message', function (event) {
    var data = event.data;
    if (event.origin !== SANDBOX_ORIGIN || !data || data.source !== SOURCE ||
        typeof data.frameId !== 'string' ||
        !Object.prototype.hasOwnProperty.call(mountedFrames, data.frameId)) { return; }
    var element = mountedFrames[data.frameId];
    if (!element._frame || event.source !== element._frame.contentWindow) { return; }
    element._receive(data);
  });

  // ---------------------------------------------------------------- Elements
  function Elements(stripe, options) {
    this._stripe = stripe;
    this._options = options || {};
    this._elements = {};
  }

  Elements.prototype.create = function (type, options) {
    if (type !== 'payment' && type !== 'card') {
      throw integrationError('elements.create(): the Stripe sandbox supports the `payment` ' +
        'and `card` Elements, not `' + type + '`.');
    }
    if (this._elements[type]) {
      throw integrationError('Can only create one Element of type ' + type + '.');
    }
    if (type === 'payment' && !this._options.clientSecret) {
      throw integrationError('In order to create a payment element, you must pass a ' +
        'clientSecret when creating the Elements group.');
    }
    this._elements[type] = new Element(this, type, options);
    return this._elements[type];
  };

  Elements.prototype.getElement = function (type) { return this._elements[type] || null; };

  Elements.prototype._cardElement = function () {
    return this._elements.payment || this._elements.card || null;
  };

  Elements.prototype.submit = function () {
    var element = this._cardElement();
    if (!element) { return Promise.reject(integrationError('elements.submit(): no Element.')); }
    return element._request('validate', {});
  };

  Elements.prototype.update = function (options) {
    var self = this;
    Object.keys(options || {}).forEach(function (name) { self._options[name] = options[name]; });
    Object.keys(this._elements).forEach(function (type) { self._elements[type]._configure(); });
  };

  Elements.prototype.fetchUpdates = function () { return Promise.resolve({}); };

  // ---------------------------------------------------------------- Stripe
  function StripeSandbox(key, options) {
    this._key = key;
    this._options = options || {};
  }

  StripeSandbox.prototype.elements = function (options) { return new Elements(this, options); };

  StripeSandbox.prototype.retrievePaymentIntent = function (clientSecret) {
    try { requireClientSecret('stripe.retrievePaymentIntent', clientSecret); }
    catch (error) { return Promise.reject(error); }
    var path = '/v1/payment_intents/' + intentIdOf(clientSecret);
    return callApi(this._key, 'GET', path, { client_secret: clientSecret }).then(function (r) {
      return r.error ? { error: r.error } : { paymentIntent: r.body };
    });
  };

  // After a confirmation: run the 3-D Secure challenge if one is needed, then report.
  StripeSandbox.prototype._handleActions = function (intent, clientSecret) {
    var action = intent.status === 'requires_action' ? intent.next_action : null;
    if (!action) { return Promise.resolve({ paymentIntent: intent }); }
    if (action.type === 'redirect_to_url') {
      window.location.assign(action.redirect_to_url.url);
      return new Promise(function () {});
    }
    if (action.type !== 'use_stripe_sdk') { return Promise.resolve({ paymentIntent: intent }); }
    var self = this;
    return openChallenge(action.use_stripe_sdk.stripe_js).then(function () {
      return self.retrievePaymentIntent(clientSecret);
    }).then(function (answer) {
      if (answer.error) { return answer; }
      var latest = answer.paymentIntent;
      if (latest.status === 'requires_payment_method' && latest.last_payment_error) {
        return { error: errorFromIntent(latest) };
      }
      return { paymentIntent: latest };
    });
  };

  StripeSandbox.prototype.handleNextAction = function (params) {
    var self = this;
    var clientSecret = (params || {}).clientSecret;
    return this.retrievePaymentIntent(clientSecret).then(function (answer) {
      return answer.error ? answer : self._handleActions(answer.paymentIntent, clientSecret);
    });
  };

  StripeSandbox.prototype.confirmPayment = function (params) {
    params = params || {};
    var elements = params.elements;
    var confirmParams = params.confirmParams || {};
    var redirect = params.redirect || 'always';
    if (!(elements instanceof Elements)) {
      return Promise.reject(integrationError('stripe.confirmPayment(): expected `elements`, ' +
        'the Elements instance the Payment Element was created from.'));
    }
    var clientSecret = params.clientSecret || elements._options.clientSecret;
    try { requireClientSecret('stripe.confirmPayment', clientSecret); }
    catch (error) { return Promise.reject(error); }
    if (redirect !== 'always' && redirect !== 'if_required') {
      return Promise.reject(integrationError('stripe.confirmPayment(): `redirect` must be ' +
        '"always" or "if_required".'));
    }
    if (redirect === 'always' && !confirmParams.return_url) {
      return Promise.reject(integrationError('stripe.confirmPayment(): the ' +
        "`confirmParams.return_url` argument is required unless passing `redirect: 'if_required'`"));
    }
    var element = elements._cardElement();
    if (!element || !element._frame) {
      return Promise.reject(integrationError('stripe.confirmPayment(): the Payment Element ' +
        'must be mounted before confirming.'));
    }
    var self = this;
    var paymentMethodData = confirmParams.payment_method_data || {};
    return element._request('confirm', {
      clientSecret: clientSecret,
      returnUrl: confirmParams.return_url || null,
      billingDetails: paymentMethodData.billing_details || null,
      receiptEmail: confirmParams.receipt_email || null
    }).then(function (result) {
      if (result.error) { return { error: result.error }; }
      return self._handleActions(result.paymentIntent, clientSecret);
    }).then(function (outcome) {
      if (outcome.error || redirect !== 'always') { return outcome; }
      return navigateToReturnUrl(confirmParams.return_url, outcome.paymentIntent);
    });
  };

  StripeSandbox.prototype.confirmCardPayment = function (clientSecret, data, options) {
    data = data || {};
    options = options || {};
    try { requireClientSecret('stripe.confirmCardPayment', clientSecret); }
    catch (error) { return Promise.reject(error); }
    var paymentMethod = data.payment_method;
    var attempt;
    if (paymentMethod && typeof paymentMethod === 'object' && paymentMethod.card instanceof Element) {
      attempt = paymentMethod.card._request('confirm', {
        clientSecret: clientSecret,
        returnUrl: data.return_url || null,
        billingDetails: paymentMethod.billing_details || null,
        receiptEmail: data.receipt_email || null
      });
    } else if (paymentMethod === undefined || typeof paymentMethod === 'string') {
      var path = '/v1/payment_intents/' + intentIdOf(clientSecret) + '/confirm';
      attempt = callApi(this._key, 'POST', path, {
        client_secret: clientSecret,
        payment_method: paymentMethod,
        return_url: data.return_url,
        use_stripe_sdk: 'true'
      }).then(function (r) { return r.error ? { error: r.error } : { paymentIntent: r.body }; });
    } else {
      return Promise.reject(integrationError('stripe.confirmCardPayment(): ' +
        '`payment_method.card` must be a mounted card or Payment Element, or pass a ' +
        'PaymentMethod id.'));
    }
    var self = this;
    return attempt.then(function (result) {
      if (result.error || options.handleActions === false) { return result; }
      return self._handleActions(result.paymentIntent, clientSecret);
    });
  };

  function Stripe(key, options) {
    if (typeof key !== 'string' || key === '') {
      throw integrationError('Invalid value for Stripe(): apiKey should be a string. You ' +
        'specified: ' + typeof key + '.');
    }
    if (key.indexOf('sk_') === 0) {
      throw integrationError('You should not use your secret key with Stripe.js.\nPlease ' +
        'pass a publishable key instead.');
    }
    return new StripeSandbox(key, options);
  }

  Stripe.version = 3;
  Stripe.sandbox = true;
  window.Stripe = Stripe;
}());
