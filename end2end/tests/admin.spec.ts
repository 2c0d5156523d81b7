import { test, expect, Browser, Page } from '@playwright/test';
import { claim, demoSignIn, hydrated, queryDb, uniqueEmail } from '../support/helpers';

// scripts/e2e.sh starts the server with ADMIN_EMAILS=admin@example.org.
const ADMIN = 'admin@example.org';

/** An attendee with a key, in a browser context of their own. */
async function attendee(browser: Browser, tag: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const email = uniqueEmail(tag);
  await demoSignIn(page, email, `Attendee ${tag}`);
  const key = await claim(page);
  return { page, email, key };
}

/** The admin page of the demo workshop, filtered down to `email`'s row. */
async function adminRow(page: Page, email: string) {
  await demoSignIn(page, ADMIN, 'Admin');
  await page.goto('/admin/w/demo');
  await hydrated(page);
  await page.bringToFront(); // the table polls only while its tab is visible
  await page.getByTestId('admin-filter').fill(email);
  const rows = page.getByTestId('admin-row');
  await expect(rows).toHaveCount(1);
  return rows.first();
}

async function testMyKey(page: Page) {
  await page.reload();
  await hydrated(page);
  await page.getByTestId('test-key').click();
  return page.getByTestId('key-check');
}

test('a signed-in attendee gets a plain 404 from every admin page', async ({ page }) => {
  await demoSignIn(page, uniqueEmail('nosy'), 'Nosy');
  await expect(page.getByRole('link', { name: 'Admin' })).toHaveCount(0);
  for (const path of ['/admin', '/admin/w/demo', '/admin/w/demo-small', '/admin/w/demo/leads.csv']) {
    const response = await page.goto(path);
    expect(response!.status(), path).toBe(404);
    await expect(page.locator('body')).toContainText('Not found');
    await expect(page.getByTestId('admin-table')).toHaveCount(0);
  }
});

test('filter as you type; the table polls usage in place after the simulator charges a key', async ({ page, browser }) => {
  const ada = await attendee(browser, 'ada-filter');
  const bob = await attendee(browser, 'bob-filter');
  await demoSignIn(page, ADMIN, 'Admin');
  await page.getByRole('link', { name: 'Admin' }).click();
  await expect(page.getByTestId('overview-demo')).toBeVisible();
  await page.getByTestId('overview-demo').getByRole('link').click();
  await hydrated(page);

  // Filtering happens in the browser: no request while typing.
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  const filter = page.getByTestId('admin-filter');
  const rows = page.getByTestId('admin-row');
  await filter.pressSequentially(ada.email.slice(0, 12), { delay: 20 });
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(ada.email);
  expect(requests.filter((u) => !u.includes('/api/poll_admin_workshop')), 'only the poll').toEqual([]);
  await filter.fill(bob.email);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(bob.email);
  await expect(page.getByTestId('admin-totals')).toContainText(/Totals: 1 of \d+ rows/);

  // The simulator charges Bob's whole budget; the server's sync stores it; the page's poll
  // shows it in place: same document, filter kept.
  await page.evaluate(() => ((window as any).__sameDocument = true));
  // The poll pauses in a hidden tab; the attendees' pages were opened after this one.
  await page.bringToFront();
  const charged = await bob.page.request.post('/demo/key-fault', { form: { slug: 'demo', fault: 'over-budget' }, maxRedirects: 0 });
  expect(charged.status()).toBe(303);
  await expect(rows.first().getByTestId('row-usage')).toHaveText('$2.00 of $2.00', { timeout: 15_000 });
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  await expect(filter).toHaveValue(bob.email);
  await expect(page.getByTestId('admin-totals')).toContainText('$2.00 of $2.00');

  // Sorting by usage puts the spender first among several rows.
  await filter.fill('-filter-');
  await page.getByRole('button', { name: /^Usage/ }).click(); // ascending
  await page.getByRole('button', { name: /^Usage/ }).click(); // descending
  await expect(rows.first()).toContainText(bob.email);
  await ada.page.context().close();
  await bob.page.context().close();
});

test('retry binding binds an unbound row', async ({ page, browser }) => {
  const eve = await attendee(browser, 'unbound');
  const unbound = await eve.page.request.post('/demo/key-fault', { form: { slug: 'demo', fault: 'unbound' }, maxRedirects: 0 });
  expect(unbound.status(), await unbound.text()).toBe(303);
  const row = await adminRow(page, eve.email);
  await expect(row).toHaveAttribute('data-state', 'unbound');
  await row.getByRole('button', { name: 'Retry binding' }).click();
  await expect(page.getByTestId('admin-notice')).toHaveText('Key bound to the guardrail.');
  await expect(page.getByTestId('admin-row').first()).toHaveAttribute('data-state', 'bound');
  const stored = queryDb(
    `SELECT guardrail_attached_at FROM workshop_attendance w JOIN attendees a USING (user_id) WHERE a.email = ?`,
    eve.email,
  );
  expect(stored[0].guardrail_attached_at).toBeTruthy();
  await eve.page.context().close();
});

test('disable makes OpenRouter refuse the key; rotate gives a new one that works', async ({ page, browser }) => {
  const eve = await attendee(browser, 'rotate');
  let row = await adminRow(page, eve.email);

  await row.getByRole('button', { name: 'Disable key' }).click();
  await expect(row).toContainText('Disable this key?');
  await row.getByRole('button', { name: 'Yes' }).click();
  await expect(page.getByTestId('admin-notice')).toHaveText('Key disabled.');
  await expect(page.getByTestId('admin-row').first()).toHaveAttribute('data-state', 'disabled');
  let result = await testMyKey(eve.page);
  await expect(result).toHaveAttribute('data-outcome', 'revoked');
  await expect(eve.page.getByTestId('key-disabled')).toBeVisible();

  row = page.getByTestId('admin-row').first();
  await row.getByRole('button', { name: 'Rotate key' }).click();
  await row.getByRole('button', { name: 'Cancel' }).click();
  await expect(row.getByRole('button', { name: 'Rotate key' })).toBeVisible();
  await row.getByRole('button', { name: 'Rotate key' }).click();
  await row.getByRole('button', { name: 'Yes' }).click();
  await expect(page.getByTestId('admin-notice')).toContainText('Key rotated');
  await expect(page.getByTestId('admin-row').first()).toHaveAttribute('data-state', 'bound');

  result = await testMyKey(eve.page);
  const newKey = await eve.page.getByTestId('api-key').textContent();
  expect(newKey).not.toEqual(eve.key);
  await expect(result).toHaveAttribute('data-outcome', 'works');
  // (That the old key stays refused is asserted in-process: app/tests/admin_flow.rs.)
  await eve.page.context().close();
});

test('pause claims: stored, shown on the attendee page, refused on the server', async ({ page, browser }) => {
  await demoSignIn(page, ADMIN, 'Admin');
  await page.goto('/admin/w/demo');
  await hydrated(page);
  const pause = page.getByTestId('pause-claims');
  await pause.click();
  await expect(pause).toHaveText('Resume claims');
  try {
    const context = await browser.newContext();
    const visitor = await context.newPage();
    await demoSignIn(visitor, uniqueEmail('paused'), 'Paused');
    await expect(visitor.getByTestId('window-state')).toContainText('Claims are paused by the organisers');
    await hydrated(visitor);
    await visitor.getByTestId('claim').click();
    await expect(visitor.getByRole('alert')).toContainText('paused claims');
    await expect(visitor.getByTestId('api-key')).toHaveCount(0);
    expect(queryDb(`SELECT claims_paused_by FROM workshop_controls WHERE workshop_slug = 'demo'`)[0].claims_paused_by).toBe(ADMIN);
    await context.close();
  } finally {
    await pause.click();
    await expect(pause).toHaveText('Pause claims');
  }
});

test('mint for someone shows the key once with a QR code, in a normal row', async ({ page }) => {
  await demoSignIn(page, ADMIN, 'Admin');
  await page.goto('/admin/w/demo');
  await hydrated(page);
  const email = uniqueEmail('desk');
  await page.getByText('Mint a key for someone without Google or GitHub').click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Name').fill('Desk Visitor');
  await page.getByRole('button', { name: 'Mint key' }).click();
  const handed = page.getByTestId('handed-key');
  await expect(handed).toContainText('Shown once');
  await expect(page.getByTestId('handed-key-value')).toHaveText(/^sk-or-v1-[0-9a-f]{64}$/);
  expect((await handed.locator('.qr svg').boundingBox())!.width).toBeGreaterThan(100);
  await page.getByTestId('admin-filter').fill(email);
  await expect(page.getByTestId('admin-row')).toHaveCount(1);
  await expect(page.getByTestId('admin-row').first()).toContainText('handed out by an organiser');
  await page.getByRole('button', { name: 'Done, hide it' }).click();
  await expect(handed).toHaveCount(0);
});

test('sync now and the CSV exports', async ({ page, browser }) => {
  const eve = await attendee(browser, 'export');
  await adminRow(page, eve.email);
  await page.getByRole('button', { name: 'Sync now' }).click();
  await expect(page.getByTestId('admin-notice')).toContainText(/Synced: \d+ keys read in \d+ list calls/);
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export attendance (CSV)' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('demo-attendance.csv');
  const csv = await page.request.get('/admin/w/demo/attendance.csv');
  expect(await csv.text()).toContain(eve.email);
  await eve.page.context().close();
});
