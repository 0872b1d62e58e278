// The public congestion pages: every office, one office with its typical week, the widget.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, checkPage, checkHeaders, PHONE, DISPLAY } from './lib.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the congestion list shows every office with a level in words and a symbol', async () => {
  for (const [size, viewport] of [['phone', PHONE], ['display', DISPLAY]]) {
    const { page, response, errors, context } = await open(browser, '/congestion', viewport);
    assert.equal(response.status(), 200);
    await checkHeaders(response, 'congestion');
    const cards = page.locator('.cards > li');
    assert.equal(await cards.count(), 4, 'the sample city has four offices');
    const level = (await cards.first().locator('.level').innerText()).trim();
    assert.match(level, /[○△×]/, 'a symbol, not colour alone');
    assert.match(level, /空いている|やや混雑|混雑/);
    await assert.doesNotReject(page.getByText('暗証番号').first().waitFor());
    await checkPage(page, `congestion-${size}`);
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test('one office shows its lines, the typical week and the open data', async () => {
  const { page, response, errors, context } = await open(browser, '/congestion/main?lang=en', PHONE);
  assert.equal(response.status(), 200);
  await page.getByRole('heading', { name: 'Typical congestion by weekday and hour' }).waitFor();
  assert.ok(await page.locator('table.lines tbody tr').count() >= 1);
  const heatmap = page.locator('svg.heatmap');
  assert.equal(await heatmap.count(), 1, 'the heatmap is drawn from the seeded history');
  assert.ok(await heatmap.locator('rect').count() > 20);
  assert.ok(await page.locator('ol.best li').count() >= 1, 'best times this week');
  assert.equal(await page.getByRole('link', { name: 'CSV' }).getAttribute('href'),
    '/api/v1/congestion/history.csv?office_id=main');
  await checkPage(page, 'congestion-office-phone');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the language switch offers やさしい日本語 with furigana and remembers the choice', async () => {
  const { page, context } = await open(browser, '/congestion?lang=easy', PHONE);
  assert.ok(await page.locator('h1 ruby').count() >= 1, 'furigana in the heading');
  await page.goto(`${process.env.MADOGUCHI_URL ?? 'http://127.0.0.1:18090'}/congestion/main`);
  assert.equal(await page.locator('nav.langs a[aria-current]').innerText(), 'やさしい日本語');
  await context.close();
});

test('the widget can be framed by a homepage and the pages cannot', async () => {
  const { page, response, context } = await open(browser, '/congestion/main/widget', { width: 320, height: 240 });
  assert.match(response.headers()['content-security-policy'], /frame-ancestors \*/);
  assert.equal(response.headers()['x-frame-options'], undefined);
  await checkPage(page, 'congestion-widget');
  const other = await page.goto(`${process.env.MADOGUCHI_URL ?? 'http://127.0.0.1:18090'}/congestion`);
  assert.equal(other.headers()['x-frame-options'], 'DENY');
  await context.close();
});
