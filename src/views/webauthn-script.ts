// /assets/webauthn.js: the browser half of passkeys. A form marked data-webauthn="create"
// (add a passkey) or "get" (sign in with one) asks its data-options URL for the ceremony's
// options, hands them to navigator.credentials, and posts the result to its data-verify URL;
// the answer says where to go next. Its fields (csrf_token, next, name) ride along in both
// JSON bodies. The base64url <-> ArrayBuffer glue is written out here (WebAuthn speaks
// ArrayBuffers, JSON speaks strings). Without WebAuthn the forms stay hidden. Served as a file
// because the CSP forbids inline scripts. The form carries the script's messages in the page's
// language (data-msg-failed, -none, -cancelled, -broken: views/factors.ts); English when missing.
export const WEBAUTHN_SCRIPT = `'use strict';
(function () {
  function toBuffer(value) {
    var s = value.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  }
  function creationOptions(o) {
    o.challenge = toBuffer(o.challenge);
    o.user.id = toBuffer(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return o;
  }
  function requestOptions(o) {
    o.challenge = toBuffer(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return o;
  }
  function registrationJSON(cred) {
    var r = cred.response;
    return {
      id: cred.id, rawId: toText(cred.rawId), type: cred.type,
      response: { clientDataJSON: toText(r.clientDataJSON), attestationObject: toText(r.attestationObject), transports: r.getTransports ? r.getTransports() : [] },
      clientExtensionResults: cred.getClientExtensionResults(), authenticatorAttachment: cred.authenticatorAttachment || undefined
    };
  }
  function authenticationJSON(cred) {
    var r = cred.response;
    return {
      id: cred.id, rawId: toText(cred.rawId), type: cred.type,
      response: { clientDataJSON: toText(r.clientDataJSON), authenticatorData: toText(r.authenticatorData), signature: toText(r.signature), userHandle: r.userHandle ? toText(r.userHandle) : undefined },
      clientExtensionResults: cred.getClientExtensionResults(), authenticatorAttachment: cred.authenticatorAttachment || undefined
    };
  }
  function message(form, name, english) {
    return form.getAttribute('data-msg-' + name) || english;
  }
  function post(form, url, body) {
    var failed = message(form, 'failed', 'Something went wrong. Reload the page and try again.');
    return fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) })
      .then(function (res) {
        return res.json().catch(function () { return { error: failed }; }).then(function (json) {
          if (json.redirect && json.error) { window.location.assign(json.redirect); throw new Error(json.error); }
          if (!res.ok || json.error) throw new Error(json.error || failed);
          return json;
        });
      });
  }
  function fields(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) { if (el.name) out[el.name] = el.value; });
    return out;
  }
  var forms = document.querySelectorAll('form[data-webauthn]');
  Array.prototype.forEach.call(forms, function (form) {
    if (!window.PublicKeyCredential || !navigator.credentials) return;
    form.hidden = false;
    var status = form.querySelector('[data-webauthn-status]');
    var button = form.querySelector('button');
    function show(message) {
      if (!status) return;
      status.textContent = message;
      status.hidden = message === '';
    }
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var create = form.getAttribute('data-webauthn') === 'create';
      var body = fields(form);
      show('');
      if (button) button.disabled = true;
      post(form, form.getAttribute('data-options'), body)
        .then(function (options) {
          return create ? navigator.credentials.create({ publicKey: creationOptions(options) }) : navigator.credentials.get({ publicKey: requestOptions(options) });
        })
        .then(function (cred) {
          if (!cred) throw new Error(message(form, 'none', 'No passkey was chosen.'));
          body.response = create ? registrationJSON(cred) : authenticationJSON(cred);
          return post(form, form.getAttribute('data-verify'), body);
        })
        .then(function (result) {
          var follow = result.submit ? document.getElementById(result.submit) : null;
          if (follow) follow.submit();
          else window.location.assign(result.redirect);
        })
        .catch(function (err) {
          if (button) button.disabled = false;
          show(err && err.name === 'NotAllowedError' ? message(form, 'cancelled', 'The passkey request was cancelled or timed out.') : (err && err.message) || message(form, 'broken', 'The passkey did not work.'));
        });
    });
  });
})();
`;
