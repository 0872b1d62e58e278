// Shared by the browser tests: Debian's Chromium driven by playwright-core, axe-core for
// accessibility, screenshots at phone and display sizes.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');

export const BASE = process.env.MADOGUCHI_URL ?? 'http://127.0.0.1:18090';
export const SHOTS = process.env.SCREENSHOTS ?? '../../target/browser/screenshots';
mkdirSync(SHOTS, { recursive: true });

export const PHONE = { width: 360, height: 740 };
export const DISPLAY = { width: 1920, height: 1080 };

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // Offline machine: no background traffic, no sandbox as root, no GPU.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function open(browser, path, viewport = PHONE) {
  // bypassCSP lets axe-core be injected; the policy itself is checked from the headers.
  const context = await browser.newContext({ viewport, locale: 'ja-JP', bypassCSP: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const response = await page.goto(BASE + path);
  return { context, page, response, errors };
}

/** Runs axe-core (WCAG 2.1 A/AA rules) and fails on any violation. */
export async function checkAccessibility(page, name) {
  await page.addScriptTag({ path: AXE_PATH });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  const summary = result.violations.map((v) =>
    `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(summary, [], `${name}: accessibility violations`);
}

/** No horizontal scroll: the page fits its viewport width. */
export async function checkFits(page, name) {
  const overflow = await page.evaluate(() =>
    document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${name}: ${overflow}px of horizontal scroll`);
}

/** Every link and button is at least 44 × 44 px (or inline text in a sentence). */
export async function checkTapTargets(page, name) {
  const small = await page.evaluate(() => [...document.querySelectorAll('a, button, input, select, textarea')]
    .filter((el) => el.offsetParent !== null && !el.closest('p, li, td, dd, figcaption'))
    .map((el) => ({ el, r: el.getBoundingClientRect() }))
    .filter(({ r }) => r.width < 44 || r.height < 44)
    .map(({ el, r }) => `${el.tagName} "${(el.textContent || el.value || '').trim().slice(0, 30)}" ${Math.round(r.width)}×${Math.round(r.height)}`));
  assert.deepEqual(small, [], `${name}: tap targets under 44 px`);
}

export async function screenshot(page, name) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/** The page's quality bar at one size: fits, tap targets, axe, screenshot. */
export async function checkPage(page, name) {
  await checkFits(page, name);
  await checkTapTargets(page, name);
  await checkAccessibility(page, name);
  await screenshot(page, name);
}

export async function checkHeaders(response, name) {
  const csp = response.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self'/, `${name}: strict CSP`);
  assert.doesNotMatch(csp, /unsafe-inline/, `${name}: no unsafe-inline`);
  assert.equal(response.headers()['x-content-type-options'], 'nosniff');
}

// The messages the test SMTP server (aiosmtpd, started by run.sh) received for an
// address, read with Python's email module: [{ subject, text }]. Waits until at least
// `count` have arrived (the service sends within its poll interval), or fails.
export async function mailTo(address, count = 1, timeoutMs = 15000) {
  const { execFileSync } = await import('node:child_process');
  const script = `
import email, email.policy, json, os, sys
root = sys.argv[1]
files = [os.path.join(root, d, f) for d in ('new', 'cur') if os.path.isdir(os.path.join(root, d))
         for f in os.listdir(os.path.join(root, d))]
out = []
for path in sorted(files, key=os.path.getmtime):
    with open(path, 'rb') as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    if sys.argv[2] in str(msg['to'] or ''):
        body = msg.get_body(preferencelist=('plain',))
        out.append({'subject': str(msg['subject']), 'text': body.get_content() if body else ''})
print(json.dumps(out))
`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = JSON.parse(execFileSync('python3', ['-c', script, process.env.MAILDIR, address]).toString());
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`no e-mail for ${address} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
