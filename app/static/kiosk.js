// The kiosk's ticket screen returns to the start by itself, so the next resident finds
// the buttons; the countdown is shown on the button (no silent redirect).
'use strict';

(function () {
  const back = document.getElementById('back');
  if (!back) return;
  let left = Number(back.dataset.returnAfter || 60);
  const label = back.textContent;
  const tick = () => {
    back.textContent = `${label} (${left})`;
    if (left-- <= 0) window.location.assign(back.href);
    else setTimeout(tick, 1000);
  };
  tick();
})();
