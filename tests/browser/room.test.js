// The waiting room in a real browser: join, be admitted, go on to slot selection by
// itself, and book with the admission the page carried; without it, the booking form
// says where to go.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, checkPage, checkHeaders, BASE, PHONE, DISPLAY } from './lib.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('join the waiting room, be admitted, and book through it', async () => {
  const { page, response, errors, context } = await open(browser, '/wait/feb-mall', PHONE);
  assert.equal(response.status(), 200);
  await checkHeaders(response, 'wait');
  await checkPage(page, 'wait-join-phone');
  await page.getByRole('button', { name: '順番待ちに並ぶ' }).click();
  // Admitted at once (plenty of seats): the page moves on to slot selection itself.
  await page.waitForURL(/\/book\/mall\/card_pickup\?from=2027-02-20/, { timeout: 15000 });
  await page.locator('a.slot').first().click();
  await page.waitForURL(/\/form\?start=2027-02-2/);
  await page.getByLabel('お名前').fill('佐藤 花子');
  await page.getByLabel('交付通知書の番号').fill('AB12345678');
  await page.getByLabel('生年月日').fill('1985-06-15');
  await page.getByRole('button', { name: '予約する' }).click();
  await page.getByRole('heading', { name: '予約が完了しました' }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('without an admission the booking form points to the waiting room', async () => {
  const { page, errors, context } = await open(browser, '/book/mall/card_pickup?from=2027-02-22', PHONE);
  await page.locator('a.slot').first().click();
  await page.getByLabel('お名前').fill('鈴木 一郎');
  await page.getByLabel('交付通知書の番号').fill('CD98765432');
  await page.getByLabel('生年月日').fill('1979-01-02');
  await page.getByRole('button', { name: '予約する' }).click();
  await page.getByRole('alert').filter({ hasText: '待合室' }).waitFor();
  await checkPage(page, 'wait-required-phone');
  errors.length = 0;
  const wait = await open(browser, '/wait/feb-mall?lang=easy', DISPLAY);
  await checkPage(wait.page, 'wait-join-display-easy');
  await Promise.all([context.close(), wait.context.close()]);
});
