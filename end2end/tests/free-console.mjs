// The free console: self-signup, and signing in again later.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    FREE,
    TEST_TIMEOUT,
    alertLocator,
    assertSignedInAs,
    assertSignedOut,
    gotoHydrated,
    browserForFile,
    openPage,
    signIn,
    strongPassword,
    suffix,
    url,
} from '../support.mjs';

const browser = browserForFile();

async function signUp(page, username, password) {
    await gotoHydrated(page, url(FREE, '/signup'));
    await page.getByRole('heading', { name: 'Create a free account' }).waitFor();
    await page.locator('input[name=username]').fill(username);
    await page.locator('input[name=password]').fill(password);
    await page.getByRole('button', { name: 'Sign up', exact: true }).click();
    await page.locator('[data-testid=who]').or(alertLocator(page)).first().waitFor();
}

test('signing up at free.localhost/signup signs you in', { timeout: TEST_TIMEOUT }, async () => {
    const name = `free-${suffix()}`;
    const password = strongPassword();
    const s = await openPage(browser());
    const { page } = s;
    await signUp(page, name, password);
    assert.deepEqual(await alertLocator(page).allTextContents(), [], 'sign-up failed');
    await assertSignedInAs(page, name);
    assert.equal((await page.locator('[data-testid=place]').textContent()).trim(), 'Free edition');
    await page.waitForURL(url(FREE, '/'));
    await page.getByRole('heading', { name: 'Your free space' }).waitFor();

    // Signed out and in again with the same account, in a fresh context.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await assertSignedOut(page);
    await s.close();
    const again = await openPage(browser());
    await signIn(again.page, FREE, name, password);
    await again.page.getByRole('heading', { name: 'Your free space' }).waitFor();
    await again.close();
});

test('signing up with a name already taken fails and signs nobody in', { timeout: TEST_TIMEOUT }, async () => {
    const name = `free-${suffix()}`;
    const first = await openPage(browser());
    await signUp(first.page, name, strongPassword());
    await assertSignedInAs(first.page, name);
    await first.close();

    const second = await openPage(browser());
    await signUp(second.page, name, strongPassword());
    const alert = alertLocator(second.page);
    await alert.waitFor();
    assert.match(await alert.textContent(), /already exists/);
    assert.equal(await second.page.locator('[data-testid=who]').count(), 0);
    await second.close();
});
