import { expect, Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';

// Each test signs in as its own attendee, so tests never see each other's keys.
export function uniqueEmail(tag: string) {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;
}

export async function demoSignIn(page: Page, email: string, name: string, slug = 'demo') {
  await page.goto(`/w/${slug}`);
  await page.getByRole('link', { name: 'Demo sign-in' }).click();
  await expect(page).toHaveURL(/\/auth\/dev\?next=/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(new RegExp(`/w/${slug}$`));
  await expect(page.getByTestId('signed-in-as')).toHaveText(email);
}

/** Waits until the WASM has hydrated the page, so clicks go through the enhanced components. */
/// Interactive: the main bundle's islands hydrated, and every lazily loaded island too (they come
/// in chunks of their own; see app/src/ui/lazy.rs).
export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated]')).toHaveCount(1);
  await expect(page.locator('[data-lazy-island]:not([data-ready])')).toHaveCount(0);
}

export async function claim(page: Page) {
  await hydrated(page);
  await page.getByTestId('claim').click();
  await expect(page.getByTestId('api-key')).toHaveText(/^sk-or-v1-[0-9a-f]{64}$/);
  // The page with the key is a new page load: its islands hydrate again.
  await hydrated(page);
  return (await page.getByTestId('api-key').textContent())!;
}

/** One row of the server's SQLite database (scripts/test.sh passes its path), read with Python's sqlite3. */
export function queryDb(sql: string, ...params: string[]): Record<string, unknown>[] {
  const db = process.env.E2E_DATABASE;
  expect(db, 'E2E_DATABASE (scripts/test.sh sets it)').toBeTruthy();
  const script = [
    'import json, sqlite3, sys',
    'con = sqlite3.connect(sys.argv[1]); con.row_factory = sqlite3.Row',
    'print(json.dumps([dict(r) for r in con.execute(sys.argv[2], sys.argv[3:])]))',
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script, db!, sql, ...params]).toString());
}

/** Collects Content-Security-Policy violations the browser reports on `page` (console errors). */
export function cspViolations(page: Page): string[] {
  const found: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) found.push(message.text());
  });
  return found;
}
