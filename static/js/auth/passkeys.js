/* Passkeys (WebAuthn) on the account page, the second-factor page, the sign-in page and the
 * pages that confirm it is you (re-authentication, removing a passkey).
 *
 * Each form marked data-passkey="register" | "second-factor" | "sign-in" | "confirm" runs one
 * ceremony (a "confirm" form may hold a password field, sent with the passkey's answer):
 * ask the server for options (it keeps the challenge), let the browser and the authenticator
 * do their part, send the answer back and follow the redirect the server gives. The CSRF
 * token travels in a header. Nothing here is shown where the browser cannot make passkeys.
 */
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i += 1) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id), transports: item.transports };
    });
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    return options;
  }

  function asJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      if (response.userHandle) {
        json.response.userHandle = toText(response.userHandle);
      }
    }
    return json;
  }

  function post(form, url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": form.getAttribute("data-csrf")
      },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () {
        return {};
      }).then(function (data) {
        if (!response.ok) {
          var problem = new Error(data.error || "Something went wrong. Try again.");
          problem.redirect = data.redirect;
          throw problem;
        }
        return data;
      });
    });
  }

  function say(form, text) {
    var message = form.querySelector("[data-passkey-message]");
    if (message) {
      message.textContent = text;
      message.hidden = !text;
    }
  }

  function browserProblem(problem) {
    // The person closed the prompt, or it timed out: nothing is wrong with their account.
    if (problem && (problem.name === "NotAllowedError" || problem.name === "AbortError")) {
      return "The passkey was not used. Try again when you are ready.";
    }
    if (problem && problem.name === "InvalidStateError") {
      return "This device already has a passkey for your account.";
    }
    return (problem && problem.message) || "Something went wrong. Try again.";
  }

  var ceremonies = {
    "register": function (form) {
      var name = form.querySelector("input[name=name]");
      if (!name.value.trim()) {
        return Promise.reject(new Error("Give the passkey a name."));
      }
      return post(form, form.getAttribute("data-options-url")).then(function (options) {
        return navigator.credentials.create({ publicKey: creationOptions(options) });
      }).then(function (credential) {
        return post(form, form.getAttribute("data-finish-url"), {
          name: name.value, credential: asJSON(credential)
        });
      });
    },
    "second-factor": signIn,
    "sign-in": signIn,
    "confirm": function (form) {
      var password = form.querySelector("input[type=password]");
      if (password && !password.value) {
        password.focus();
        return Promise.reject(new Error("Enter your password."));
      }
      return signIn(form, password ? password.value : undefined);
    }
  };

  function signIn(form, password) {
    return post(form, form.getAttribute("data-options-url")).then(function (options) {
      return navigator.credentials.get({ publicKey: requestOptions(options) });
    }).then(function (credential) {
      return post(form, form.getAttribute("data-finish-url"), {
        credential: asJSON(credential),
        password: password,
        next: form.getAttribute("data-next") || undefined
      });
    });
  }

  function go(address) {
    var target = new URL(address, window.location.href);
    if (target.pathname === window.location.pathname && target.search === window.location.search) {
      // Only the fragment differs: assigning it would not load the page again.
      window.location.hash = target.hash;
      window.location.reload();
      return;
    }
    window.location.assign(target.href);
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-passkey]"), function (form) {
    var run = ceremonies[form.getAttribute("data-passkey")];
    if (!run) {
      return;
    }
    form.hidden = false;
    var unsupported = document.querySelector("[data-passkey-unsupported]");
    if (unsupported) {
      unsupported.hidden = true;
    }
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      say(form, "");
      button.disabled = true;
      run(form).then(function (done) {
        go(done.redirect);
      }).catch(function (problem) {
        if (problem && problem.redirect) {
          go(problem.redirect);
          return;
        }
        say(form, browserProblem(problem));
        button.disabled = false;
      });
    });
  });
})();
