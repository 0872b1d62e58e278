// The management link of a confirmation (and of its QR code) carries the reference and
// the secret in the URL's fragment, which the browser never sends: no server or proxy
// log holds the secret. This fills the form from it, drops it from the address bar and
// history, and opens the booking.
'use strict';

(function () {
  const form = document.getElementById('find');
  if (!form || location.hash.length < 2) return;
  const fields = new URLSearchParams(location.hash.slice(1));
  const reference = fields.get('r');
  const secret = fields.get('k');
  history.replaceState(null, '', location.pathname + location.search);
  if (!reference || !secret) return;
  form.elements.reference.value = reference;
  form.elements.secret.value = secret;
  form.requestSubmit();
})();
