// Time to interactive of the workshop page on conference wifi, in Chromium: the network throttled
// through the DevTools protocol (1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip), the cache
// empty, an attendee who holds a key. "Interactive" is the moment the islands are hydrated (the
// page marks `body[data-hydrated]`, and each lazily loaded island its `data-ready`). Prints one JSON line: {"runs": [...ms], "median_ms", "bytes"}.
//
//   node bench/tti.mjs http://127.0.0.1:3000 [runs]
// With TTI_COOKIE (a `Cookie` header's value, e.g. the session of an attendee who already holds
// a key, as the bench passes it) the page is measured for that attendee; without it, one signs
// in through the demo form and claims first. Playwright comes from end2end/node_modules
// (scripts/setup.sh installs it).
import { createRequire } from 'node:module';

const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('@playwright/test');

const [base, runsArg] = process.argv.slice(2);

/** The main bundle's islands hydrated, and every lazily loaded one (app/src/ui/lazy.rs). */
function interactive(page, timeout = 30_000) {
  return page.waitForFunction(
    () => document.querySelector('body[data-hydrated]') && !document.querySelector('[data-lazy-island]:not([data-ready])'),
    null,
    { timeout, polling: 20 },
  );
}
const runs = Number(runsArg ?? 5);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext();
const page = await context.newPage();

// An attendee with a key: the one whose session is given, or a new one (demo sign-in, then a
// claim through the page).
if (process.env.TTI_COOKIE) {
  const cookies = process.env.TTI_COOKIE.split(';').map((pair) => {
    const at = pair.indexOf('=');
    return { name: pair.slice(0, at).trim(), value: pair.slice(at + 1).trim(), url: base };
  });
  await context.addCookies(cookies);
  await page.goto(`${base}/w/demo`);
} else {
  await page.goto(`${base}/auth/dev?next=/w/demo`);
  await page.getByLabel('Email').fill(`tti-${Date.now()}@example.org`);
  await page.getByLabel('Name').fill('TTI');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await interactive(page);
  await page.getByTestId('claim').click();
}
await page.waitForSelector('[data-testid="api-key"]');

const cdp = await context.newCDPSession(page);
await cdp.send('Network.enable');
await cdp.send('Network.emulateNetworkConditions', {
  offline: false,
  latency: 150,
  downloadThroughput: (1.6e6 / 8),
  uploadThroughput: (750e3 / 8),
});
let bytes = 0;
cdp.on('Network.loadingFinished', (event) => { bytes += event.encodedDataLength; });

const times = [];
let lastBytes = 0;
for (let i = 0; i < runs; i++) {
  await cdp.send('Network.clearBrowserCache');
  bytes = 0;
  const started = Date.now();
  await page.goto(`${base}/w/demo`, { waitUntil: 'commit' });
  await interactive(page, 120_000);
  times.push(Date.now() - started);
  lastBytes = bytes;
}
await browser.close();
const sorted = [...times].sort((a, b) => a - b);
console.log(JSON.stringify({ runs: times, median_ms: sorted[Math.floor(sorted.length / 2)], bytes: lastBytes }));
