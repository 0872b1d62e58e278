// Keyboard shortcuts of the staff console: N call next, R recall, S start, F finish,
// X no-show, P pause/resume. Ignored while typing in a field or with a modifier key.
'use strict';

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
  const target = e.target;
  if (target instanceof HTMLElement && target.closest('input, select, textarea')) return;
  const button = document.querySelector(`button[data-key="${CSS.escape(e.key.toLowerCase())}"]`);
  if (button) {
    e.preventDefault();
    button.click();
  }
});
