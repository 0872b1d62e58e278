// The write limit seen by a resident: a client (not the town hall's exempt kiosk) that
// presses the kiosk button too often in a short time gets a page that says what happened
// and how long to wait, in each language — not a JSON error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, checkPage, BASE, PHONE } from './lib.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** A phone behind its own address (the server trusts 127.0.0.1 as a proxy). */
async function fromAddress(address, lang) {
  const context = await browser.newContext({
    viewport: PHONE, locale: 'ja-JP', bypassCSP: true,
    extraHTTPHeaders: { 'X-Forwarded-For': address },
  });
  const page = await context.newPage();
  await page.goto(`${BASE}/kiosk/south?lang=${lang}`);
  return { context, page };
}

for (const [lang, title, wait, address] of [
  ['ja', '操作が続いたため、少しお待ちください', '待ち時間の目安', '203.0.113.11'],
  ['en', 'Too many requests', 'Wait about', '203.0.113.12'],
  // Furigana (<rt>) sit inside the words in easy Japanese: look for kana-only parts.
  ['easy', 'すこし', 'ください', '203.0.113.13'],
]) {
  test(`too many presses get a page that says how long to wait (${lang})`, async () => {
    // Each language from its own address, so each drains its own budget. The server of
    // these tests refills it slowly (tests/browser/run.sh), so a slow machine's presses
    // still outrun it: the burst of 10, then the 11th press is refused.
    const { context, page } = await fromAddress(address, lang);
    let status = 0;
    for (let i = 0; i < 30 && status !== 429; i++) {
      await page.goto(`${BASE}/kiosk/south?lang=${lang}`);
      const [response] = await Promise.all([
        page.waitForNavigation(),
        page.locator('button.choice').first().click(),
      ]);
      status = response.status();
    }
    assert.equal(status, 429, 'the write limit answered');
    const text = await page.locator('main').innerText();
    assert.ok(text.replace(/\s/g, '').includes(title.replace(/\s/g, '')), text);
    assert.ok(text.includes(wait), text);
    assert.match(text, /\d+/, 'the seconds to wait');
    await checkPage(page, `too-many-phone-${lang}`);
    await context.close();
  });
}
