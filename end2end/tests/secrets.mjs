// Tenant secrets as an admin handles them: the Secrets page reached through the menu, a value
// saved and never shown again (only its last 4 characters), on a desktop and on a phone; a
// member is not allowed there.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ACME,
    DESKTOP,
    PHONE,
    TEST_TIMEOUT,
    alertLocator,
    browserForFile,
    checkAccessibility,
    currentMenuItem,
    followMenu,
    gotoHydrated,
    openPage,
    sidewaysOverflow,
    signIn,
    suffix,
    tableRows,
    url,
} from '../support.mjs';

const browser = browserForFile();

for (const [label, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    test(`acme-admin saves a secret on the Secrets page and sees only its last 4 characters (${label})`, { timeout: TEST_TIMEOUT }, async () => {
        const s = await openPage(browser());
        const { page } = s;
        await page.setViewportSize(viewport);
        await signIn(page, ACME, 'acme-admin');
        await followMenu(page, 'Secrets');
        await currentMenuItem(page, 'Secrets').waitFor({ state: 'attached' });
        assert.equal(new URL(page.url()).pathname, '/secrets');
        assert.equal((await page.locator('h1').textContent()).trim(), 'Secrets');

        const name = `E2E_${label.toUpperCase()}_${suffix().toUpperCase()}`;
        const value = `e2e-${suffix()}-${suffix()}-Zk7Q`;
        const form = page.locator('main form').filter({ has: page.locator('input[name=value]') });
        // A name that is not an environment variable's is refused with a clear message.
        await form.locator('input[name=name]').fill('not a name');
        await form.locator('input[name=value]').fill(value);
        await form.locator('input[name=name]').evaluate((input) => input.removeAttribute('pattern'));
        await form.getByRole('button', { name: 'Save secret' }).click();
        await alertLocator(page).filter({ hasText: 'is not a secret name' }).waitFor();

        await form.locator('input[name=name]').fill(name);
        await form.locator('input[name=value]').fill(value);
        assert.equal(await form.locator('input[name=value]').getAttribute('type'), 'password');
        await form.getByRole('button', { name: 'Save secret' }).click();
        const saved = page.locator('[data-testid=secret-saved]');
        await saved.waitFor();
        assert.match(await saved.textContent(), new RegExp(`${name} is saved; its value ends in Zk7Q`));
        // The form forgets the value once it is stored.
        assert.equal(await form.locator('input[name=value]').inputValue(), '');
        const row = page.locator(`table[data-testid=secrets] tr[data-secret=${name}]`);
        await row.waitFor();
        const rows = await tableRows(page, 'secrets');
        const mine = rows.find((cells) => cells[0] === name);
        assert.ok(mine, `${name} is listed: ${JSON.stringify(rows)}`);
        assert.equal(mine[1], '…Zk7Q');
        assert.ok(!(await page.content()).includes(value), 'the value is not on the page');

        // Opened again: still only the last 4 characters, in the server's HTML too.
        await gotoHydrated(page, url(ACME, '/secrets'));
        await row.waitFor();
        assert.ok(!(await page.content()).includes(value), 'the value is not on the page after a reload');
        const html = await page.evaluate(async () => (await fetch('/secrets')).text());
        assert.ok(html.includes(name) && !html.includes(value));

        assert.ok((await sidewaysOverflow(page)) <= 0, 'the page fits the screen');
        assert.deepEqual(await checkAccessibility(page), []);

        // Deleted: gone from the list.
        await row.getByRole('button', { name: 'Delete' }).click();
        await row.waitFor({ state: 'detached' });
        await s.close();
    });
}

test('a member has no Secrets page', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    assert.equal(await page.locator('header nav').getByRole('link', { name: 'Secrets', includeHidden: true }).count(), 0);
    await gotoHydrated(page, url(ACME, '/secrets'));
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    await s.close();
});
