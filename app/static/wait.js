// The waiting-room page: polls its status every few seconds (the place token travels in
// its cookie), moves the progress bar, and goes on to slot selection when admitted.
'use strict';

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
