// Booking in a real browser: pick an office, a procedure and a slot, fill the form
// (errors are announced and linked), book, see the confirmation, then find the booking
// with its link, or with the reference and the birth date, and cancel it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, checkPage, checkHeaders, mailTo, BASE, PHONE, DISPLAY } from './lib.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('book a slot, see it on the manage page, cancel it', async () => {
  const { page, response, errors, context } = await open(browser, '/', PHONE);
  assert.equal(response.status(), 200);
  await checkHeaders(response, 'home');
  await checkPage(page, 'home-phone');
  await page.locator('.cards a').first().click();
  await page.waitForURL(/\/book\/main/);
  await checkPage(page, 'book-office-phone');
  await page.locator('a.procedure-link[href*="cert_renewal"]').click();
  await page.waitForURL(/\/book\/main\/cert_renewal/);
  assert.ok(await page.locator('a.slot').count() > 5, 'free slots with remaining seats');
  assert.match(await page.locator('a.slot').first().innerText(), /残り\d/);
  await checkPage(page, 'book-calendar-phone');

  await page.locator('a.slot').first().click();
  await page.waitForURL(/\/form\?start=/);
  assert.equal(await page.locator('input[name*="pin" i], input[id*="pin" i]').count(), 0, 'no PIN field');
  await page.getByText('暗証番号の入力は不要です').waitFor();
  await checkPage(page, 'book-form-phone');

  // Nothing filled in: the errors are listed, announced, and the fields marked.
  await page.getByRole('button', { name: '予約する' }).click();
  await page.locator('#form-errors').waitFor();
  assert.equal(await page.getByRole('alert').count(), 1);
  assert.equal(await page.locator('#f-resident-name').getAttribute('aria-invalid'), 'true');
  await checkPage(page, 'book-form-errors-phone');
  errors.length = 0; // the browser logs the deliberate 400 answer itself

  const start = await page.locator('input[name="start"]').inputValue();
  const expiry = new Date(`${start.slice(0, 10)}T00:00:00Z`);
  expiry.setUTCDate(expiry.getUTCDate() + 30);
  await page.getByLabel('お名前').fill('山田 花子');
  await page.getByLabel('生年月日').fill('1962-11-03');
  await page.getByLabel('メールアドレス').fill('hanako@example.jp');
  await page.getByLabel('電子証明書の有効期限').fill(expiry.toISOString().slice(0, 10));
  await page.getByRole('button', { name: '予約する' }).click();
  await page.getByRole('heading', { name: '予約が完了しました' }).waitFor();
  const reference = (await page.locator('#reference').innerText()).trim();
  // The secret stays folded away: the QR code and the link carry it.
  const secret = (await page.locator('#secret').textContent()).trim();
  assert.match(reference, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{5}$/);
  assert.ok(secret.length >= 8);
  assert.equal(await page.locator('#secret').isVisible(), false);
  const link = await page.locator('#manage-link').getAttribute('href');
  assert.ok(link.endsWith(`#r=${reference}&k=${secret}`), 'the secret travels in the fragment only');
  assert.ok(await page.getByRole('img', { name: /QRコード/ }).isVisible());
  const ics = await page.getByRole('link', { name: /カレンダーに追加/ }).getAttribute('href');
  const calendar = Buffer.from(ics.split(',')[1], 'base64').toString('utf8');
  assert.match(calendar, /BEGIN:VEVENT[\s\S]*DTSTART:\d{8}T\d{6}Z/);
  assert.doesNotMatch(calendar, /山田|hanako/, 'no personal data in the .ics');
  await page.getByText('暗証番号(パスワード)をお聞きすることはありません').first().waitFor();
  await checkPage(page, 'book-done-phone');
  assert.ok(!page.url().includes(secret), 'the secret is never in a URL');

  // The confirmation e-mail carries the same link: open the booking from the e-mail.
  const [mail] = await mailTo('hanako@example.jp');
  assert.match(mail.subject, /予約を受け付けました/);
  assert.ok(mail.text.includes(reference), 'the reference in the e-mail');
  const mailed = mail.text.split('\n').find((line) => line.includes('/manage?'));
  assert.equal(new URL(mailed.trim()).hash, new URL(link, BASE).hash, 'the e-mail has the link');
  // Manage: the link (or its QR code) opens the booking; then move it and cancel.
  await page.goto(mailed.trim());
  await page.locator('#booking-status', { hasText: '予約済み' }).waitFor();
  assert.ok(!page.url().includes(secret) && !page.url().includes('#'), 'the fragment is dropped');
  assert.ok(await page.locator('#moves button[name="start"]').count() > 0, 'other slots to move to');
  assert.equal(await page.locator('#move-expiry').count(), 0, 'the expiry is not asked again');
  await checkPage(page, 'manage-phone');
  const before = await page.locator('#booking-when').innerText();
  // Two weeks on, like the booking calendar, then a time about three weeks ahead.
  const firstSpan = await page.locator('#move-span').innerText();
  await page.locator('#later').click();
  await page.waitForFunction((shown) => document.querySelector('#move-span')?.innerText !== shown, firstSpan);
  await checkPage(page, 'manage-later-phone');
  const later = page.locator('#moves details').nth(6);
  const day = (await later.locator('summary .day').innerText()).trim();
  await later.locator('summary').click();
  await later.locator('button').first().click();
  await page.getByText('日時を変更しました。').waitFor();
  const after = await page.locator('#booking-when').innerText();
  assert.notEqual(after, before, 'moved');
  assert.ok(after.startsWith(day), `moved to ${day}: ${after}`);
  assert.match(await page.locator('#change-until').innerText(), /\d+月\d+日\(.\)まで/);
  // Cancel asks first; the answer "keep it" changes nothing.
  await page.getByRole('button', { name: '予約を取り消す' }).click();
  await page.getByRole('alertdialog', { name: 'この予約を取り消しますか?' }).waitFor();
  await checkPage(page, 'manage-cancel-ask-phone');
  await page.getByRole('button', { name: '取り消さない' }).click();
  await page.locator('#booking-status', { hasText: '予約済み' }).waitFor();
  await page.getByRole('button', { name: '予約を取り消す' }).click();
  await page.getByRole('button', { name: '取り消す', exact: true }).click();
  await page.locator('#booking-status', { hasText: '取消済み' }).waitFor();
  const api = await fetch(`${BASE}/api/v1/reservations/${reference}`, { headers: { 'x-reservation-secret': secret } });
  assert.equal((await api.json()).status, 'cancelled');
  // Each change was told by e-mail: the move, then the cancellation.
  const told = await mailTo('hanako@example.jp', 3);
  assert.match(told[1].subject, /予約の日時が変わりました/);
  assert.match(told[2].subject, /予約を取り消しました/);
  // The office's administrators see what was sent, the management link masked.
  const admin = await open(browser, '/staff/main/outbox', DISPLAY);
  await admin.page.getByLabel('職員用トークン').fill(process.env.ADMIN_TOKEN);
  await admin.page.getByRole('button', { name: '職員サインイン' }).click();
  await admin.page.getByRole('heading', { name: /送信メール/ }).waitFor();
  assert.ok(await admin.page.getByText('送信済み').first().isVisible());
  await admin.page.locator('#messages details summary').first().click();
  assert.ok(!(await admin.page.content()).includes(secret), 'the secret is not shown to staff');
  await checkPage(admin.page, 'staff-outbox-display');
  await admin.context.close();
  assert.deepEqual(errors, []);
  await context.close();
});

// The confirmation in the other two languages: the reference, the QR code and the link,
// when to come, and the secret folded away (checked by axe and looked at in screenshots).
for (const [lang, book, done, link] of [
  ['en', 'Book', 'You are booked', 'View, change or cancel the booking'],
  ['easy', 'よやくする', 'よやくができました', /よやくを.*見.*る・かえる・やめる/],
]) {
  test(`the confirmation reads in ${lang}`, async () => {
    const { page, context } = await open(browser, `/book/south/card_pickup?lang=${lang}`, PHONE);
    await page.locator('a.slot').nth(2).click();
    await page.waitForURL(/\/form\?start=/);
    await page.locator('input[name="name"]').fill(lang === 'en' ? 'Hanako Yamada' : 'やまだ はなこ');
    // Whatever identifies a resident for this procedure (a pickup: the postcard).
    const values = { email: `confirm-${lang}@example.jp`, notice_number: lang === 'en' ? '123456789012' : '210987654321', birth_date: '1950-04-01' };
    for (const [field, value] of Object.entries(values)) {
      const input = page.locator(`input[name="${field}"]`);
      if (await input.count()) await input.fill(value);
    }
    await page.getByRole('button', { name: book }).click();
    await page.getByRole('heading', { name: done }).waitFor();
    const reference = (await page.locator('#reference').innerText()).trim();
    assert.match(reference, /^[0-9A-Z]{4}-[0-9A-Z]{5}$/);
    assert.ok(await page.getByRole('link', { name: link }).isVisible());
    assert.ok((await page.locator('#arrival').innerText()).length > 10, 'when to come');
    assert.equal(await page.locator('#secret').isVisible(), false);
    await checkPage(page, `book-done-phone-${lang}`);
    // Without the link: the reference as read aloud (lower case, a space) and the birth date.
    await page.goto(`${BASE}/manage?lang=${lang}`);
    await checkPage(page, `manage-find-phone-${lang}`);
    await page.locator('#reference').fill(reference.toLowerCase().replace('-', ' '));
    await page.locator('#birth_date').fill('1950-04-01');
    await page.locator('#find button[type="submit"]').click();
    await page.locator('#booking-status').waitFor();
    assert.equal((await page.locator('dd.code').innerText()).trim(), reference);
    await checkPage(page, `manage-by-birth-date-phone-${lang}`);
    await context.close();
  });
}

test('the booking pages fit a large screen and speak English', async () => {
  const { page, context } = await open(browser, '/book/main/cert_renewal?lang=en', DISPLAY);
  await page.getByText('Pick a time.').waitFor();
  await checkPage(page, 'book-calendar-display-en');
  const wrong = await open(browser, '/manage?lang=en', PHONE);
  // Well formed (its check symbol fits) but nobody's.
  await wrong.page.getByLabel('Booking reference').fill('k7mq x2p4s');
  await wrong.page.getByLabel('Contact given when booking').fill('someone@example.jp');
  await wrong.page.getByRole('button', { name: 'Show the booking' }).click();
  await wrong.page.getByRole('alert').waitFor();
  await checkPage(wrong.page, 'manage-not-found-en');
  await Promise.all([context.close(), wrong.context.close()]);
});
