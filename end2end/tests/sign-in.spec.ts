import { test, expect } from '@playwright/test';
import { hydrated } from '../support/helpers';

// Google is played by a real OpenID Connect server (oauth2-mock-server, started by
// scripts/test.sh); its control endpoint says who signs in next.
const control = process.env.OIDC_CONTROL_URL;

test('sign in with Google through a real OIDC server, then claim a key', async ({ page, request }) => {
  expect(control, 'OIDC_CONTROL_URL (scripts/test.sh starts the OIDC server)').toBeTruthy();
  const stamp = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const email = `katherine-${stamp}@example.org`;
  const next = await request.post(`${control}/next-user`, {
    data: { sub: `e2e-${stamp}`, email, email_verified: true, name: 'Katherine Johnson' },
  });
  expect(next.status()).toBe(204);

  await page.goto('/w/demo');
  await page.getByRole('link', { name: 'Sign in with Google' }).click();
  await expect(page).toHaveURL(/\/w\/demo$/);
  await expect(page.getByTestId('signed-in-as')).toHaveText(email);

  await hydrated(page);
  await page.getByTestId('claim').click();
  await expect(page.getByTestId('api-key')).toHaveText(/^sk-or-v1-[0-9a-f]{64}$/);
});

test('a refused Google sign-in explains itself and signs nobody in', async ({ page, request }) => {
  expect(control, 'OIDC_CONTROL_URL (scripts/test.sh starts the OIDC server)').toBeTruthy();
  const next = await request.post(`${control}/next-user`, {
    data: { sub: `e2e-unverified-${Date.now()}`, email: 'unverified@example.org', email_verified: false },
  });
  expect(next.status()).toBe(204);

  await page.goto('/w/demo');
  await page.getByRole('link', { name: 'Sign in with Google' }).click();
  await expect(page.getByTestId('sign-in-error')).toContainText('not verified with Google');
  await page.goto('/w/demo');
  await expect(page.getByRole('link', { name: 'Sign in with Google' })).toBeVisible();
});
