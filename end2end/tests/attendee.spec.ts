import { test, expect, Browser } from '@playwright/test';
import { claim, demoSignIn, hydrated, uniqueEmail } from '../support/helpers';

const control = process.env.OIDC_CONTROL_URL;

test.describe('before claims open', () => {
  // The viewer is in New York; the workshop file is written in UTC+01:00.
  test.use({ timezoneId: 'America/New_York', locale: 'en-US' });

  test('a live countdown, and the opening time in the viewer’s time zone', async ({ page }) => {
    // demo-upcoming opens at 2031-03-02T09:30:00+01:00 = 08:30 UTC = 03:30 in New York.
    const opensAt = Date.parse('2031-03-02T08:30:00Z');
    await page.goto('/w/demo-upcoming');
    const state = page.getByTestId('window-state');
    await expect(state).toContainText('Opens soon');
    await hydrated(page);
    await expect(state.locator('time')).toContainText(/03:30\sAM/);
    await expect(state.locator('time')).toContainText('EST');

    const timer = state.getByRole('timer');
    const read = async () => {
      const [, d, h] = (await timer.textContent())!.match(/^(\d+) d (\d+) h$/)!;
      return Number(d) * 24 + Number(h);
    };
    const hoursLeft = Math.floor((opensAt - Date.now()) / 3_600_000);
    expect(Math.abs((await read()) - hoursLeft)).toBeLessThanOrEqual(1);
    await expect(page.getByTestId('claim')).toHaveCount(0);
  });

  test('claiming early is refused with the local opening time', async ({ page }) => {
    await demoSignIn(page, uniqueEmail('early'), 'Early Bird', 'demo-upcoming');
    await expect(page.getByTestId('claim')).toBeDisabled();
    // Without the disabled button, the server refuses too (a plain form post).
    const action = (await page.locator('section.claim form').getAttribute('action'))!;
    const response = await page.request.post(action, {
      form: { slug: 'demo-upcoming' },
      headers: { Accept: 'text/html' },
      maxRedirects: 0,
    });
    expect(response.status()).toBe(302);
    expect(response.headers()['location']).toBe('/w/demo-upcoming?error=not-open');
    await page.goto('/w/demo-upcoming?error=not-open');
    await hydrated(page);
    await expect(page.getByTestId('claim-error')).toContainText(/Claims open at .*03:30\sAM/);
  });
});

test('the countdown runs on the server’s clock and ticks every second', async ({ page }) => {
  // A key's expiry countdown: on a fake browser clock moved forward by 2 h, 2 h less is left.
  await page.clock.install();
  await demoSignIn(page, uniqueEmail('tick'), 'Tick Tock');
  await claim(page);
  const timer = page.locator('section.your-key').getByRole('timer');
  const hours = async () => {
    const [, d, h] = (await timer.textContent())!.match(/^(\d+) d (\d+) h$/)!;
    return Number(d) * 24 + Number(h);
  };
  // Stop the browser's clock so that only the jump moves it: running freely, a countdown read a
  // moment before a whole hour would lose three hours to a two-hour jump (seen once in CI).
  const browserNow = await page.evaluate(() => Date.now());
  await page.clock.pauseAt(browserNow + 1_000);
  const before = await hours();
  await page.clock.fastForward('02:00:00');
  await expect.poll(hours).toBe(before - 2);
});

test('copy button copies the key and says so', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await demoSignIn(page, uniqueEmail('copy'), 'Copy Cat');
  const key = await claim(page);
  const copy = page.getByRole('button', { name: 'Copy key' });
  await copy.click();
  await expect(copy).toHaveText('Copied ✓');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
  await expect(copy).toHaveText('Copy', { timeout: 5000 });
});

test('snippet tabs show the workshop’s model ids', async ({ page }) => {
  await demoSignIn(page, uniqueEmail('tabs'), 'Tab Tester');
  const key = await claim(page);
  // Every tab is in the page; the one shown is the selected one.
  const snippet = page.getByTestId('snippet-tab').filter({ visible: true });
  const expected: Record<string, string[]> = {
    '.env': [`OPENROUTER_API_KEY=${key}`, 'OPENROUTER_MODEL=meta-llama/llama-3.1-8b-instruct'],
    Python: ['model="meta-llama/llama-3.1-8b-instruct"', 'load_dotenv()', 'pip install openai python-dotenv', 'python main.py'],
    Notebook: ['%pip install --quiet openai', 'getpass("OpenRouter key: ")', 'model="meta-llama/llama-3.1-8b-instruct"'],
    'JavaScript (Node)': ['model: "meta-llama/llama-3.1-8b-instruct"', 'npm install openai', 'node --env-file=.env main.mjs'],
    curl: ['"model": "meta-llama/llama-3.1-8b-instruct"', 'Bearer $OPENROUTER_API_KEY', 'bash hello.sh'],
  };
  for (const [tab, needles] of Object.entries(expected)) {
    await page.getByRole('link', { name: tab, exact: true }).click();
    await expect(page.getByRole('link', { name: tab, exact: true })).toHaveAttribute('aria-current', 'true');
    for (const needle of needles) await expect(snippet).toContainText(needle);
    await expect(snippet).toContainText('Also allowed: mistralai/mistral-small-3.2-24b-instruct');
  }
  // Switching tabs is client-side: the key is still on the page without a reload.
  await expect(page.getByTestId('api-key')).toHaveText(key);
});

test('test my key: a real answer, then each way a key fails, explained', async ({ page }) => {
  await demoSignIn(page, uniqueEmail('test-key'), 'Key Tester');
  // The code that sends the test comes in a WASM chunk of its own, with the first click.
  const chunks: string[] = [];
  page.on('request', (request) => {
    if (/\/pkg\/split_test_key_[^/]+\.wasm$/.test(request.url())) chunks.push(request.url());
  });
  await claim(page);
  expect(chunks).toEqual([]);
  const button = page.getByTestId('test-key');
  const result = page.getByTestId('key-check');
  await button.click();
  await expect(result).toHaveAttribute('data-outcome', 'works');
  // Answered in place: the page was not posted (that lands on `?key_test=works`).
  await expect(page).not.toHaveURL(/key_test=/);
  expect(chunks).toHaveLength(1);
  await expect(result).toContainText('Your key works: meta-llama/llama-3.1-8b-instruct answered.');
  await expect(result.locator('blockquote')).toContainText('Hello from the OpenRouter simulator');

  // Faults from the least to the most decisive (the API checks disabled, expiry, models, budget).
  const faults: [string, RegExp][] = [
    ['over-budget', /used up its budget/],
    ['model-not-allowed', /may not use meta-llama\/llama-3.1-8b-instruct[\s\S]*OpenRouter answered:[\s\S]*Model meta-llama\/llama-3.1-8b-instruct is not allowed by the guardrail of this API key/],
    ['expired', /has expired/],
    ['revoked', /switched off by an organiser/],
  ];
  for (const [fault, message] of faults) {
    const broke = await page.request.post('/demo/key-fault', { form: { slug: 'demo', fault }, maxRedirects: 0 });
    expect(broke.status(), fault).toBe(303);
    await button.click();
    await expect(result).toHaveAttribute('data-outcome', fault);
    await expect(result).toContainText(message);
  }

  // The budget bar shows stored usage: the server's own sync (every second here) brings in
  // the spend OpenRouter reports, the whole budget after "over-budget".
  await expect
    .poll(async () => {
      await page.reload();
      return page.getByTestId('usage').textContent();
    }, { timeout: 15_000 })
    .toContain('$2.00 of $2.00 used · $0.00 left · as of');
});

test('the projector shows a QR code of the page and a live counter', async ({ page, browser }) => {
  await page.goto('/w/demo/projector');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Build with LLMs: demo workshop');
  const qr = page.getByRole('img', { name: /QR code for http:\/\/127\.0\.0\.1:\d+\/w\/demo$/ });
  await expect(qr.locator('svg')).toBeVisible();
  const box = (await qr.boundingBox())!;
  expect(box.width).toBeGreaterThan(300);
  await hydrated(page);
  const count = page.getByTestId('claimed-count');
  const before = Number(await count.textContent());

  // Someone claims on another device: the projector counts it without a reload.
  await claimAs(browser, uniqueEmail('projector'));
  await expect(count).toHaveText(String(before + 1), { timeout: 12_000 });
});

test('the last key goes to one person; the next sees that the workshop is full', async ({ page, browser }) => {
  // demo-small has max_keys: 2. This attendee opens the page while keys are left…
  await demoSignIn(page, uniqueEmail('late'), 'Late Comer', 'demo-small');
  await hydrated(page);
  await expect(page.getByTestId('window-state')).toContainText(/Open — [12] of 2 keys left/);
  // …then two others take them.
  const left = Number((await page.getByTestId('window-state').textContent())!.match(/(\d) of 2/)![1]);
  for (let i = 0; i < left; i++) await claimAs(browser, uniqueEmail(`quick${i}`), 'demo-small');

  await page.getByTestId('claim').click();
  await expect(page.getByTestId('claim-error')).toHaveText('The workshop is full: every key has been handed out.');
  await expect(page.getByTestId('window-state')).toContainText('Sold out');
  await expect(page.getByTestId('api-key')).toHaveCount(0);
});

test('the same person with another sign-in (a gmail variant) is told where their key is', async ({ page, request }) => {
  expect(control, 'OIDC_CONTROL_URL (scripts/test.sh starts the OIDC server)').toBeTruthy();
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  await demoSignIn(page, `ada.lovelace.${stamp}@gmail.com`, 'Ada (demo)');
  await claim(page);
  await page.getByRole('button', { name: 'Sign out' }).click();

  // Google says: the same mailbox, written with dots moved and a +tag.
  const next = await request.post(`${control}/next-user`, {
    data: { sub: `variant-${stamp}`, email: `adalovelace${stamp}+workshop@gmail.com`, email_verified: true, name: 'Ada' },
  });
  expect(next.status()).toBe(204);
  await page.goto('/w/demo');
  await page.getByRole('link', { name: 'Sign in with Google' }).click();
  await expect(page.getByTestId('signed-in-as')).toHaveText(`adalovelace${stamp}+workshop@gmail.com`);
  await hydrated(page);
  await page.getByTestId('claim').click();
  await expect(page.getByTestId('claim-error')).toContainText(
    'You already claimed a key for this workshop with another sign-in (demo sign-in)',
  );
  await expect(page.getByTestId('api-key')).toHaveCount(0);
});

/** Signs in and claims in a separate browser context (another person, another device). */
async function claimAs(browser: Browser, email: string, slug = 'demo') {
  const context = await browser.newContext();
  const page = await context.newPage();
  await demoSignIn(page, email, 'Someone Else', slug);
  await claim(page);
  await context.close();
}

test('the usage bar follows the spend without a reload', async ({ page }) => {
  await demoSignIn(page, uniqueEmail('usage'), 'Usage Watcher');
  await claim(page);
  const usage = page.getByTestId('usage');
  await expect(usage).toContainText('$0.00 of $2.00 used');
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  // The simulator charges the whole budget; the server syncs every second in these tests, and the
  // bar asks for the stored usage on its own.
  const spent = await page.request.post('/demo/key-fault', { form: { slug: 'demo', fault: 'over-budget' }, maxRedirects: 0 });
  expect(spent.status()).toBe(303);
  await expect(usage).toContainText('$2.00 of $2.00 used', { timeout: 20_000 });
  await expect(page.getByTestId('usage-as-of')).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
});
