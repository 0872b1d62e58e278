// Live updates of the ticket page and the waiting-room display, from the office's
// server-sent events (the same JSON as GET /api/v1/offices/{office}/congestion).
// No framework, no inline script: the CSP allows only this file.
'use strict';

(function () {
  const root = document.querySelector('[data-page]');
  if (!root) return;
  const lang = root.dataset.lang;
  const en = lang === 'en';
  const minutes = (m) => (en ? `${m} min` : `${m}分`);
  const people = (n) => (en ? (n === 1 ? '1 person' : `${n} people`) : `${n}人`);
  const place = (n) => (en ? `No. ${n}` : `${n}番目`);
  const text = (t) => (t ? (en ? t.en : t.ja) : '');
  const wait = (w) => {
    if (!w) return root.dataset.tUnknown;
    return w.p50_minutes === w.p90_minutes
      ? minutes(w.p50_minutes)
      : `${minutes(w.p50_minutes)}${en ? '–' : '〜'}${minutes(w.p90_minutes)}`;
  };
  const set = (id, value) => {
    const el = document.getElementById(id);
    if (el && el.textContent !== value) el.textContent = value;
  };

  const source = new EventSource(`/api/v1/offices/${encodeURIComponent(root.dataset.office)}/congestion/stream`);
  const pages = { ticket: ticketPage, display: displayPage, staff: () => updateLines };
  const onFigures = pages[root.dataset.page]();
  source.addEventListener('congestion', (e) => onFigures(JSON.parse(e.data)));

  // People waiting, wait and level per line (display and staff console).
  function updateLines(c) {
    for (const l of c.lines) {
      const li = document.querySelector(`[data-line="${CSS.escape(l.prefix)}"]`);
      if (!li) continue;
      li.querySelector('.line-waiting').textContent = `${l.waiting} ${root.dataset.tPeople}`;
      li.querySelector('.line-wait').textContent = wait(l.estimated_wait);
      li.querySelector('.line-level').textContent = `${{ circle: '○', triangle: '△', cross: '×' }[l.icon] ?? ''} ${text(l.label)}`;
    }
  }

  // The ticket page: refetch the ticket (at most once a second) when the office changes.
  function ticketPage() {
    const id = root.dataset.ticket;
    let pending = false;
    let last = 0;
    async function refresh() {
      pending = false;
      last = Date.now();
      const r = await fetch(`/api/v1/tickets/${encodeURIComponent(id)}${en ? '?lang=en' : ''}`, { cache: 'no-store' });
      if (!r.ok) return;
      const t = await r.json();
      const status = document.getElementById('status');
      if (status.dataset.status !== t.status) {
        status.dataset.status = t.status;
        status.textContent = root.dataset[`t${t.status.charAt(0).toUpperCase()}${t.status.slice(1)}`] ?? t.status;
      }
      set('place', t.position ? place(t.position) : '—');
      set('ahead', t.ahead !== undefined ? people(t.ahead) : '—');
      set('wait', t.status === 'waiting' ? wait(t.estimated_wait) : '—');
      const call = document.getElementById('call');
      if (t.status === 'called' && t.counter) {
        const message = `${text(t.counter.name)} ${root.dataset.tGoTo}`;
        if (call.hidden || call.textContent.trim() !== message) {
          call.textContent = message;
          call.hidden = false;
          if (navigator.vibrate) navigator.vibrate([300, 100, 300]);
        }
      } else {
        call.hidden = true;
      }
      if (['done', 'no_show', 'cancelled'].includes(t.status)) source.close();
    }
    return () => {
      if (pending) return;
      pending = true;
      setTimeout(refresh, Math.max(0, 1000 - (Date.now() - last)));
    };
  }

  // The display: numbers per counter, recent calls, lines; a chime and a spoken call.
  function displayPage() {
    let seen = null; // calls already announced: "number@called_at"
    let sound = false;
    let audio = null;
    const button = document.getElementById('sound');
    button.addEventListener('click', () => {
      sound = !sound;
      button.setAttribute('aria-pressed', String(sound));
      if (sound && !audio && window.AudioContext) audio = new AudioContext();
    });
    function chime() {
      if (!audio) return;
      [659, 523].forEach((f, i) => {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.frequency.value = f;
        g.gain.setValueAtTime(0.2, audio.currentTime + i * 0.45);
        g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + i * 0.45 + 0.4);
        o.connect(g).connect(audio.destination);
        o.start(audio.currentTime + i * 0.45);
        o.stop(audio.currentTime + i * 0.45 + 0.45);
      });
    }
    function speak(number, counter) {
      if (!window.speechSynthesis) return;
      const spoken = number.replace('-', ' ');
      const u = new SpeechSynthesisUtterance(en
        ? `Number ${spoken}, please come to ${counter}.`
        : `${spoken}番の方、${counter}へお越しください。`);
      u.lang = en ? 'en-US' : 'ja-JP';
      window.speechSynthesis.speak(u);
    }
    return (c) => {
      const names = {};
      for (const k of c.counters) {
        names[k.counter_id] = text(k.name);
        const li = document.querySelector(`[data-counter="${CSS.escape(k.counter_id)}"]`);
        if (!li) continue;
        li.classList.toggle('paused', k.paused);
        li.querySelector('.called-number').textContent = k.number ?? (k.paused ? root.dataset.tPaused : '—');
      }
      const recent = document.getElementById('recent');
      const items = c.recent_calls.map((r) => {
        const li = document.createElement('li');
        li.textContent = r.number;
        return li;
      });
      recent.replaceChildren(...items);
      updateLines(c);
      const updated = new Date(c.updated_at);
      set('updated', updated.toLocaleTimeString('ja-JP', { timeZone: 'Asia/Tokyo', hour12: false }));
      const keys = c.recent_calls.map((r) => `${r.number}@${r.called_at}`);
      if (seen !== null) {
        const fresh = c.recent_calls.filter((r, i) => !seen.has(keys[i])).reverse();
        for (const r of fresh) {
          const counter = names[r.counter_id] ?? r.counter_id;
          document.getElementById('announce').textContent = en
            ? `Number ${r.number}, ${counter}`
            : `${r.number}番の方、${counter}へお越しください`;
          if (sound) { chime(); speak(r.number, counter); }
        }
      }
      seen = new Set(keys);
    };
  }
})();
