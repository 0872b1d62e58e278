// The waiting-room page: polls its status every few seconds (the place token travels in
// its cookie), moves the progress bar, and goes on to slot selection when admitted.
'use strict';

// Joining a room that asks for a proof of work: fetch a challenge and find a nonce such
// that SHA-256("<challenge>:<nonce>") starts with the asked number of zero bits
// (Hashcash), then send the form. A few thousand hashes: well under a second on a phone.
(function () {
  const form = document.getElementById('join');
  if (!form || Number(form.dataset.bits) === 0) return;
  const zeroBits = (bytes, bits) => {
    for (let i = 0; i < bits; i++) {
      if (bytes[i >> 3] & (0x80 >> (i & 7))) return false;
    }
    return true;
  };
  form.addEventListener('submit', async (e) => {
    if (form.elements.proof.value) return;
    e.preventDefault();
    const room = document.getElementById('wait').dataset.room;
    const r = await fetch(`/api/v1/waiting-rooms/${encodeURIComponent(room)}/challenge`, { cache: 'no-store' });
    const { challenge, bits } = await r.json();
    const encoder = new TextEncoder();
    for (let nonce = 0; ; nonce++) {
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(`${challenge}:${nonce}`)));
      if (zeroBits(digest, bits)) {
        form.elements.proof.value = `${challenge}:${nonce}`;
        break;
      }
    }
    form.submit();
  });
})();

(function () {
  const root = document.getElementById('wait');
  const state = document.getElementById('wait-state');
  if (!root || !state) return;
  let first = null;
  async function poll() {
    let s;
    try {
      const r = await fetch(`/api/v1/waiting-rooms/${encodeURIComponent(root.dataset.room)}/status`, { cache: 'no-store' });
      if (!r.ok) return setTimeout(poll, 5000);
      s = await r.json();
    } catch (e) {
      return setTimeout(poll, 5000);
    }
    if (typeof s.ahead === 'number') {
      if (first === null || s.ahead > first) first = s.ahead;
      const ahead = document.getElementById('ahead');
      if (ahead) ahead.textContent = String(s.ahead);
      const progress = document.getElementById('progress');
      progress.value = first > 0 ? Math.round(100 * (first - s.ahead) / first) : 100;
    }
    const eta = document.getElementById('eta');
    if (eta && typeof s.eta_seconds === 'number') eta.textContent = String(Math.floor(s.eta_seconds / 60) + 1);
    if (s.state !== state.dataset.state) {
      // The headline changes with the state: reload once to show it in the page's words.
      window.location.reload();
      return;
    }
    if (s.state === 'admitted') {
      document.getElementById('progress').value = 100;
      window.location.assign(root.dataset.next);
      return;
    }
    if (s.state === 'closed' || s.state === 'expired') return;
    setTimeout(poll, 3000);
  }
  if (state.dataset.state === 'admitted') {
    window.location.assign(root.dataset.next);
  } else if (state.dataset.state === 'waiting') {
    setTimeout(poll, 1000);
  }
})();
