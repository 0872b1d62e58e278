// Every page at a 360-px phone and a 1920×1080 display, in each language where it
// applies: no horizontal scroll, tap targets ≥ 44 px, zero axe violations, strict CSP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, checkPage, checkHeaders, BASE, PHONE, DISPLAY } from './lib.js';

let browser;
let ticketPath;
before(async () => {
  browser = await launch();
  // A ticket to show (taken through the API, as a kiosk would).
  const r = await fetch(`${BASE}/api/v1/offices/north/tickets`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ procedure: 'card_pickup' }),
  });
  assert.equal(r.status, 201, await r.clone().text());
  ticketPath = new URL((await r.json()).status_url, BASE).pathname.replace('/api/v1/tickets/', '/t/');
});
after(async () => { await browser?.close(); });

const PAGES = [
  ['home', '/'],
  ['book-office', '/book/south'],
  ['book-calendar', '/book/south/card_pickup'],
  ['manage', '/manage'],
  ['congestion', '/congestion'],
  ['congestion-office', '/congestion/mall'],
  ['kiosk', '/kiosk/north'],
  ['kiosk-check-in', '/kiosk/north/check-in'],
  ['display', '/display/north'],
  ['staff', '/staff'],
  ['staff-sign-in', '/staff/north/counter/1'],
  ['not-found', '/congestion/nowhere'],
];

for (const [size, viewport] of [['phone', PHONE], ['display', DISPLAY]]) {
  for (const lang of ['ja', 'en', 'easy']) {
    test(`every page at ${size} size in ${lang}`, async () => {
      for (const [name, path] of [...PAGES, ['ticket', ticketPath]]) {
        const { page, response, errors, context } = await open(browser, `${path}?lang=${lang}`, viewport);
        assert.ok([200, 404].includes(response.status()), `${name}: ${response.status()}`);
        await checkHeaders(response, name);
        await checkPage(page, `all-${name}-${size}-${lang}`);
        assert.ok(await page.getByText(/暗証番号|PIN/).count() > 0, `${name}: the PIN warning`);
        assert.deepEqual(errors.filter((e) => !e.includes('404')), [], name);
        await context.close();
      }
    });
  }
}
