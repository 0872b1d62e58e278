// The walk-in flow in a real browser: take a number at the kiosk, follow it on a phone,
// watch the waiting-room display; staff call it and both pages update live (SSE).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, checkPage, checkHeaders, BASE, PHONE, DISPLAY } from './lib.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function api(path, init = {}) {
  const r = await fetch(BASE + path, init);
  assert.ok(r.ok, `${path}: ${r.status} ${await r.clone().text()}`);
  return r.status === 204 ? null : r.json();
}

/** Staff call the next resident at a counter that serves `line`. */
async function callNext(line) {
  const congestion = await api('/api/v1/offices/main/congestion');
  const counter = congestion.counters.find((c) => c.lines.includes(line) && !c.number);
  assert.ok(counter, `a free counter for line ${line}`);
  const called = await api(`/api/v1/offices/main/counters/${counter.counter_id}/call-next`, {
    method: 'POST', headers: { authorization: `Bearer ${process.env.STAFF_TOKEN}` },
  });
  return { called, counter };
}

test('a number from the kiosk is followed live on the phone and called on the display', async () => {
  // The kiosk: big buttons; pressing one shows the ticket with its QR code.
  const kiosk = await open(browser, '/kiosk/main', DISPLAY);
  assert.equal(kiosk.response.status(), 200);
  await checkHeaders(kiosk.response, 'kiosk');
  await checkPage(kiosk.page, 'kiosk-display');
  const buttons = kiosk.page.locator('button.choice');
  assert.ok(await buttons.count() >= 3, 'a button per walk-in procedure');
  await kiosk.page.getByRole('button', { name: /交付・受け取り|受け取り/ }).first().click();
  await kiosk.page.waitForURL(/\/kiosk\/main\/ticket\//);
  const number = (await kiosk.page.locator('.ticket-number').innerText()).trim();
  assert.match(number, /^[A-Z]-\d{3}$/);
  assert.equal(await kiosk.page.locator('.qr img').count(), 1, 'a QR code');
  await checkPage(kiosk.page, 'kiosk-ticket-display');
  const statusUrl = await kiosk.page.getByRole('link', { name: '状況ページを開く' }).getAttribute('href');
  const ticketId = statusUrl.match(/\/t\/([0-9a-f-]{36})/)[1];
  // A reload of the ticket screen does not print a second number.
  await kiosk.page.reload();
  assert.equal((await kiosk.page.locator('.ticket-number').innerText()).trim(), number);

  // The resident's phone and the waiting-room display.
  const phone = await open(browser, `/t/${ticketId}`, PHONE);
  assert.equal(phone.response.status(), 200);
  assert.equal((await phone.page.locator('.ticket-number').innerText()).trim(), number);
  assert.equal(await phone.page.locator('#status').getAttribute('data-status'), 'waiting');
  assert.equal(await phone.page.locator('#call').isHidden(), true);
  await checkPage(phone.page, 'ticket-phone');
  const display = await open(browser, '/display/main', DISPLAY);
  await checkPage(display.page, 'display-before');

  // Staff call it: both pages change without a reload.
  const ticket = await api(`/api/v1/tickets/${ticketId}`);
  const { counter } = await callNext(ticket.line_id);
  await phone.page.locator('#call').waitFor({ state: 'visible', timeout: 10000 })
    .catch((e) => { throw new Error(`${e.message}; page errors: ${phone.errors.join(' | ')}`); });
  assert.match(await phone.page.locator('#call').innerText(), new RegExp(counter.name.ja));
  await phone.page.waitForFunction(() => document.getElementById('status').dataset.status === 'called');
  await display.page.locator(`[data-counter="${counter.counter_id}"] .called-number`, { hasText: number })
    .waitFor({ timeout: 10000 });
  await display.page.waitForFunction((n) => document.getElementById('announce').textContent.includes(n), number);
  assert.match(await display.page.locator('#recent').innerText(), new RegExp(number));
  await checkPage(display.page, 'display-called');
  await checkPage(phone.page, 'ticket-called-phone');
  for (const p of [kiosk, phone, display]) assert.deepEqual(p.errors, []);
  await Promise.all([kiosk.context.close(), phone.context.close(), display.context.close()]);
});

test('the kiosk refuses a form without its token, and the display fits a phone too', async () => {
  const r = await fetch(`${BASE}/kiosk/main`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'csrf=forged&procedure=card_pickup',
  });
  assert.equal(r.status, 403);
  const { page, context } = await open(browser, '/display/main?lang=en', PHONE);
  await checkPage(page, 'display-phone');
  const kiosk = await open(browser, '/kiosk/main?lang=easy', PHONE);
  await checkPage(kiosk.page, 'kiosk-phone-easy');
  await Promise.all([context.close(), kiosk.context.close()]);
});
