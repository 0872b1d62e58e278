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

/** A free counter that calls from `line`. */
async function counterFor(line) {
  const congestion = await api('/api/v1/offices/main/congestion');
  const counter = congestion.counters.find((c) => c.lines.includes(line) && !c.number);
  assert.ok(counter, `a free counter for line ${line}`);
  return counter;
}

/** Opens the staff console of a counter and signs in with the staff token. */
async function staffConsole(counter) {
  const staff = await open(browser, `/staff/main/counter/${counter.counter_id}`, DISPLAY);
  await staff.page.getByRole('heading', { name: '職員サインイン' }).waitFor();
  await checkPage(staff.page, 'staff-sign-in');
  await staff.page.getByLabel('職員用トークン').fill(process.env.STAFF_TOKEN);
  await staff.page.getByRole('button', { name: '職員サインイン' }).click();
  await staff.page.getByRole('button', { name: /次の方を呼ぶ/ }).waitFor();
  assert.doesNotMatch(staff.page.url(), /token|staff_token/i, 'the token is never in a URL');
  return staff;
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
  const ticketId = statusUrl.match(/\/t\/([A-Za-z0-9_-]{43})/)[1];
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

  // Staff call it from the console with the keyboard: both pages change without a reload.
  const ticket = await api(`/api/v1/tickets/${ticketId}`);
  const counter = await counterFor(ticket.line_id);
  const staff = await staffConsole(counter);
  await checkPage(staff.page, 'staff-console-idle');
  await staff.page.keyboard.press('n');
  await staff.page.locator('#current-number', { hasText: number }).waitFor();
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
  await checkPage(staff.page, 'staff-console-called');

  // The resident arrives, is served, and the ticket page says so.
  await staff.page.getByRole('button', { name: /対応開始/ }).click();
  await staff.page.locator('[data-status="serving"]').waitFor();
  await staff.page.getByRole('button', { name: /対応終了/ }).click();
  await staff.page.getByText('呼び出し中の方はいません。').waitFor();
  await phone.page.waitForFunction(() => document.getElementById('status').dataset.status === 'done');
  assert.equal(await phone.page.locator('#call').isHidden(), true);
  // Reception without the reference: today's bookings by name (none on this morning).
  await staff.page.locator('#reception-q').fill('やまだ');
  await staff.page.getByRole('button', { name: '本日の予約を探す' }).click();
  await staff.page.locator('#found-none').waitFor();
  assert.equal(await staff.page.locator('#reception-q').inputValue(), 'やまだ', 'the query stays');
  assert.equal(await staff.page.locator('#current-number').count() <= 1, true);
  await checkPage(staff.page, 'staff-reception-find-display');
  for (const p of [kiosk, phone, display, staff]) assert.deepEqual(p.errors, []);
  await Promise.all([kiosk, phone, display, staff].map((p) => p.context.close()));
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
  const staff = await open(browser, '/staff/main/counter/1?lang=en', PHONE);
  await staff.page.getByLabel('Staff token').fill('not-a-token');
  await staff.page.getByRole('button', { name: 'Staff sign-in' }).click();
  await staff.page.getByRole('alert').filter({ hasText: 'The token is wrong' }).waitFor();
  await Promise.all([context.close(), kiosk.context.close(), staff.context.close()]);
});

test('a booked resident finds the check-in at the kiosk, and a scan or a typo is answered there', async () => {
  const { page, errors, context } = await open(browser, '/kiosk/main', DISPLAY);
  await page.getByRole('link', { name: '予約の方はこちら' }).click();
  await page.getByRole('heading', { name: /予約の方はこちら/ }).waitFor();
  // The field has the focus: a keyboard-wedge scanner types into it at once.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'code');
  await checkPage(page, 'kiosk-check-in-display');
  // A scanned confirmation link whose booking is not here: told, and the field kept.
  await page.keyboard.type('http://madoguchi.example/manage?lang=ja#r=K7MQ-X2P4S&k=ABCDEFGHIJKLMNOPQRSTUVWXYZ');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: '予約が見つかりません' }).waitFor();
  // One symbol mistyped: caught by the check symbol, before any lookup.
  await page.getByLabel(/予約番号/).fill('K7MQ-X2P4T');
  await page.getByRole('button', { name: '受付する' }).click();
  await page.getByRole('alert').filter({ hasText: '入力まちがい' }).waitFor();
  await page.getByRole('link', { name: '最初の画面に戻る' }).click();
  await page.getByRole('link', { name: '予約の方はこちら' }).waitFor();
  assert.deepEqual(errors.filter((e) => !/40[49]|422/.test(e)), []);
  await context.close();
});

test('staff book for a caller at the phone desk, read the reference back, then find and cancel it', async () => {
  const staff = await staffConsole({ counter_id: '1' });
  const { page } = staff;
  await page.locator('#phone-desk').click();
  await page.getByRole('heading', { name: /電話予約の代行/ }).waitFor();
  // A week ahead: choose the procedure and the day, then a free time.
  const today = await page.locator('#date').inputValue();
  const day = new Date(`${today}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + 7);
  await page.getByLabel('手続き').selectOption('cert_renewal');
  await page.locator('#date').fill(day.toISOString().slice(0, 10));
  await page.getByRole('button', { name: '空き時間を表示' }).click();
  await page.locator('#times a.slot').first().click();
  await page.waitForURL(/\/phone\/cert_renewal\/form\?start=/);
  const start = await page.locator('input[name="start"]').inputValue();
  const expiry = new Date(`${start.slice(0, 10)}T00:00:00Z`);
  expiry.setUTCDate(expiry.getUTCDate() + 30);
  await page.getByLabel('お名前').fill('電話 トメ');
  await page.getByLabel('生年月日').fill('1941-09-09');
  await page.getByLabel('電話番号').fill('03-3333-4444');
  await page.getByLabel('電子証明書の有効期限').fill(expiry.toISOString().slice(0, 10));
  // Without the caller's consent nothing is booked.
  await page.getByRole('button', { name: '予約する' }).click();
  await page.locator('#e-consent').waitFor();
  staff.errors.length = 0; // the browser logs the deliberate 422 answer itself
  await page.getByLabel(/同意をいただきました/).check();
  await page.getByRole('button', { name: '予約する' }).click();
  await page.getByText('予約しました。予約番号を読み上げて').waitFor();
  const reference = (await page.locator('#reference').innerText()).trim();
  assert.match(reference, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{5}$/);
  assert.equal(await page.locator('#spelled li').count(), 9);
  assert.match(await page.locator('#mail-note').innerText(), /メールアドレスがありません/);
  await checkPage(page, 'staff-phone-done-display');

  // The caller phones again: found by the reference they read out, and cancelled.
  await page.getByRole('link', { name: '次のお電話へ' }).click();
  await page.locator('#reference').fill(reference.toLowerCase().replace('-', ' '));
  await page.getByRole('button', { name: '探す' }).first().click();
  assert.equal((await page.locator('#booking-name').innerText()).trim(), '電話 トメ');
  await checkPage(page, 'staff-phone-booking-display');
  await page.getByRole('button', { name: '予約を取り消す' }).click();
  await page.getByRole('button', { name: '取り消す', exact: true }).click();
  await page.locator('#desk-done').filter({ hasText: '取り消しました' }).waitFor();
  // The desk in the three languages, at display and phone size, a day's free times listed.
  for (const lang of ['ja', 'en', 'easy']) {
    for (const [size, viewport] of [['display', DISPLAY], ['phone', PHONE]]) {
      await page.setViewportSize(viewport);
      await page.goto(`${BASE}/staff/main/phone?lang=${lang}&procedure=cert_renewal&date=${day.toISOString().slice(0, 10)}`);
      assert.ok(await page.locator('#times a.slot').count() > 0);
      await checkPage(page, `staff-phone-desk-${lang}-${size}`);
    }
  }
  assert.deepEqual(staff.errors, []);
  await staff.context.close();
});
