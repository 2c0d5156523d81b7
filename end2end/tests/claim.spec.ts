import { test, expect } from '@playwright/test';
import { claim, demoSignIn, hydrated, queryDb, uniqueEmail } from '../support/helpers';

test('confirm, claim with visible progress, reload: the same key; consent left unticked is not stored', async ({ page }) => {
  const email = uniqueEmail('js');
  await demoSignIn(page, email, 'Ada Lovelace');
  // The confirmation step: who, what, until when; consent unticked.
  const card = page.locator('section.claim');
  await expect(card).toContainText(email);
  await expect(card).toContainText('signed in with demo sign-in');
  await expect(card).toContainText('$2.00');
  await expect(card).toContainText('Llama 3.1 8B Instruct, Mistral Small 3.2');
  await expect(card.locator('time')).toHaveAttribute('datetime', '2030-12-31T18:00:00+00:00');
  const consent = page.getByLabel(/Email me about future workshops/);
  await expect(consent).not.toBeChecked();

  await hydrated(page);
  await page.getByTestId('claim').click();
  // The simulator answers key creation slowly here (scripts/test.sh): the progress is visible
  // and the button cannot be pressed twice.
  await expect(page.getByTestId('claim')).toBeDisabled();
  await expect(page.getByTestId('claim')).toHaveText('Creating your key…');
  await expect(page.getByRole('status').filter({ hasText: 'Creating your key at OpenRouter' })).toBeVisible();
  const key = page.getByTestId('api-key');
  await expect(key).toHaveText(/^sk-or-v1-[0-9a-f]{64}$/);
  const first = await key.textContent();

  await page.reload();
  await expect(page.getByTestId('api-key')).toHaveText(first!);
  const [row] = queryDb('SELECT marketing_opted_in, marketing_opted_in_at FROM attendees WHERE email = ?', email);
  expect(row).toEqual({ marketing_opted_in: 0, marketing_opted_in_at: null });
});

test('consent ticked on the hydrated form is stored with the claim', async ({ page }) => {
  const email = uniqueEmail('js-consent');
  await demoSignIn(page, email, 'Katherine Johnson');
  await hydrated(page);
  await page.getByLabel(/Email me about future workshops/).check();
  await page.getByTestId('claim').click();
  await expect(page.getByTestId('api-key')).toHaveText(/^sk-or-v1-[0-9a-f]{64}$/);
  const [row] = queryDb('SELECT marketing_opted_in, marketing_opted_in_workshop FROM attendees WHERE email = ?', email);
  expect(row).toEqual({ marketing_opted_in: 1, marketing_opted_in_workshop: 'demo' });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the plain form claims a key and stores the ticked consent with its time and workshop', async ({ page }) => {
    const email = uniqueEmail('nojs');
    await demoSignIn(page, email, 'Grace Hopper');
    const before = Date.now();
    await page.getByLabel(/Email me about future workshops/).check();
    await page.getByTestId('claim').click();
    await expect(page).toHaveURL(/\/w\/demo$/);
    const key = page.getByTestId('api-key');
    await expect(key).toHaveText(/^sk-or-v1-[0-9a-f]{64}$/);
    const first = await key.textContent();
    await page.goto('/w/demo');
    await expect(page.getByTestId('api-key')).toHaveText(first!);

    const [row] = queryDb(
      'SELECT marketing_opted_in, marketing_opted_in_at, marketing_opted_in_workshop FROM attendees WHERE email = ?',
      email,
    );
    expect(row.marketing_opted_in).toBe(1);
    expect(row.marketing_opted_in_workshop).toBe('demo');
    const at = Date.parse(String(row.marketing_opted_in_at));
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1000);
  });

  test('snippet tabs and the key test work without JavaScript', async ({ page }) => {
    await demoSignIn(page, uniqueEmail('nojs-tabs'), 'Hedy Lamarr');
    await page.getByTestId('claim').click();
    await expect(page.getByTestId('api-key')).toBeVisible();
    await page.getByRole('link', { name: 'Python', exact: true }).click();
    await expect(page).toHaveURL(/\?snippet=python#snippets$/);
    const shown = page.getByTestId('snippet-tab').filter({ visible: true });
    await expect(shown).toHaveAttribute('data-kind', 'python');
    await expect(shown).toContainText('from openai import OpenAI');
    await expect(shown.getByTestId('snippet-run')).toHaveText('python main.py');

    await page.getByTestId('test-key').click();
    await expect(page).toHaveURL(/\/w\/demo\?key_test=works#key-test$/);
    await expect(page.getByTestId('key-check')).toHaveText('Your key works: meta-llama/llama-3.1-8b-instruct answered.');
  });
});

test('a workshop that does not exist is a 404', async ({ page }) => {
  const response = await page.goto('/w/no-such-workshop');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
});
