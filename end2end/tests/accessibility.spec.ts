import { test, expect, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { claim, cspViolations, demoSignIn, hydrated, uniqueEmail } from '../support/helpers';

// Every page, on a phone and a laptop, in light and dark: axe-core finds nothing.
const viewports = [
  { name: '360px', width: 360, height: 740 },
  { name: '1280px', width: 1280, height: 800 },
];
const schemes = ['light', 'dark'] as const;

async function expectNoViolations(page: Page, what: string, app = true) {
  if (app) await hydrated(page); // plain pages (sign-in forms and errors) have no WASM
  const results = await new AxeBuilder({ page }).analyze();
  const found = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`,
  );
  expect(found, `${what}: axe violations`).toEqual([]);
}

for (const viewport of viewports) {
  for (const colorScheme of schemes) {
    test(`axe: every page at ${viewport.name}, ${colorScheme}`, async ({ page }) => {
      // The same walk also proves the pages hydrate and work under their Content-Security-Policy.
      const violations = cspViolations(page);
      await page.setViewportSize({ width: viewport.width, height: viewport.height });
      await page.emulateMedia({ colorScheme });
      const pages: [string, string, number, boolean][] = [
        ['home', '/', 200, true],
        ['workshop, signed out', '/w/demo', 200, true],
        ['workshop before opening', '/w/demo-upcoming', 200, true],
        ['workshop with closed claims', '/w/demo-closed', 200, true],
        ['projector', '/w/demo/projector', 200, true],
        ['not found', '/w/no-such-workshop', 404, true],
        ['demo sign-in form', '/auth/dev?next=/w/demo', 200, false],
        ['sign-in refused', '/auth/callback/google?state=forged&code=x', 400, false],
      ];
      for (const [what, path, status, app] of pages) {
        const response = await page.goto(path);
        expect(response?.status(), what).toBe(status);
        await expectNoViolations(page, what, app);
      }

      await demoSignIn(page, uniqueEmail(`axe-${viewport.name}-${colorScheme}`), 'Axe Tester');
      await expectNoViolations(page, 'confirmation step');
      await claim(page);
      await page.getByTestId('test-key').click();
      await expect(page.getByTestId('key-check')).toBeVisible();
      await expectNoViolations(page, 'your key, tested');
      await page.getByRole('link', { name: 'Python', exact: true }).click();
      await expectNoViolations(page, 'your key, Python snippet');

      // The admin pages (scripts/e2e.sh makes admin@example.org an admin).
      await page.context().clearCookies();
      await demoSignIn(page, 'admin@example.org', 'Admin');
      await page.goto('/admin');
      await expectNoViolations(page, 'admin overview');
      await page.goto('/admin/w/demo');
      await expectNoViolations(page, 'admin table');
      await page.getByText('Mint a key for someone without Google or GitHub').click();
      await page.getByLabel('Email').fill(uniqueEmail(`axe-desk-${viewport.name}-${colorScheme}`));
      await page.getByLabel('Name').fill('Desk Visitor');
      await page.getByRole('button', { name: 'Mint key' }).click();
      await expect(page.getByTestId('handed-key')).toBeVisible();
      await page.getByRole('button', { name: 'Rotate key' }).first().click();
      await expectNoViolations(page, 'admin: handed-over key and a confirmation');
      expect(violations, 'Content-Security-Policy violations').toEqual([]);
    });
  }
}
