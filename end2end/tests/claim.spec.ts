import { test, expect, Page } from '@playwright/test';

// Each test signs in as its own attendee, so runs never see each other's keys.
function uniqueEmail(tag: string) {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;
}

async function signIn(page: Page, email: string, name: string) {
  await page.goto('/w/demo');
  await page.getByRole('link', { name: 'Demo sign-in' }).click();
  await expect(page).toHaveURL(/\/auth\/dev\?next=/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/w\/demo$/);
  await expect(page.getByTestId('signed-in-as')).toHaveText(email);
}

test('sign in, claim, reload: the same key', async ({ page }) => {
  const email = uniqueEmail('js');
  await signIn(page, email, 'Ada Lovelace');
  // Wait for hydration so the click goes through the enhanced form.
  await expect(page.locator('body[data-hydrated]')).toHaveCount(1);
  await page.getByTestId('claim').click();
  const key = page.getByTestId('api-key');
  await expect(key).toHaveText(/^sk-or-v1-[0-9a-f]{64}$/);
  const first = await key.textContent();

  await page.reload();
  await expect(page.getByTestId('api-key')).toHaveText(first!);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the plain form claims a key', async ({ page }) => {
    await signIn(page, uniqueEmail('nojs'), 'Grace Hopper');
    await page.getByLabel(/hear about future workshops/).check();
    await page.getByTestId('claim').click();
    await expect(page).toHaveURL(/\/w\/demo$/);
    const key = page.getByTestId('api-key');
    await expect(key).toHaveText(/^sk-or-v1-[0-9a-f]{64}$/);
    const first = await key.textContent();
    await page.goto('/w/demo');
    await expect(page.getByTestId('api-key')).toHaveText(first!);
  });
});

test('a workshop that does not exist is a 404', async ({ page }) => {
  const response = await page.goto('/w/no-such-workshop');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
});
