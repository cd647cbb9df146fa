// A tenant front (the seeded Acme, with Globex beside it): signing in and out, wrong passwords and
// the login log, and an admin's user management with its audit trail.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ACME,
    GLOBEX,
    PORT,
    TEST_TIMEOUT,
    alertLocator,
    assertSignedOut,
    gotoHydrated,
    browserForFile,
    openPage,
    sessionCookie,
    signIn,
    signInForm,
    strongPassword,
    submitSignIn,
    suffix,
    tableRows,
    url,
} from '../support.mjs';

const browser = browserForFile();

test('acme-admin signs in at acme.localhost and sees "Acme"', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await gotoHydrated(page, url(ACME, '/'));
    assert.equal((await page.locator('[data-testid=place]').textContent()).trim(), 'Acme');
    await assertSignedOut(page);
    await signIn(page, ACME, 'acme-admin');
    const h1 = page.locator('h1[data-testid=tenant-name]');
    assert.equal((await h1.textContent()).trim(), 'Acme');
    assert.match(await page.locator('main').textContent(), /Signed in as\s*acme-admin\s*\(admin\)/);
    for (const name of ['Users', 'Audit log', 'Login log', 'Other tenants']) {
        await page.getByRole('link', { name, exact: true }).waitFor();
    }
    // The session cookie is host-only and not readable by scripts.
    const cookie = await sessionCookie(s.context, ACME);
    assert.ok(cookie, 'a session cookie was set for acme.localhost');
    assert.equal(cookie.domain, ACME, 'host-only cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    await s.close();
});

test('acme-admin sees the whitelisted link to Globex at /my-tenants', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-admin');
    await page.getByRole('link', { name: 'Other tenants', exact: true }).click();
    const link = page.locator('[data-testid=cross-tenant] a', { hasText: 'Globex' });
    await link.waitFor();
    assert.equal(await link.getAttribute('href'), `//${GLOBEX}:${PORT}`);
    await s.close();
});

test('acme-user (a member) is refused the admin pages', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    assert.match(await page.locator('main').textContent(), /\(member\)/);
    assert.equal(await page.getByRole('link', { name: 'Users', exact: true }).count(), 0);
    for (const path of ['/users', '/audit', '/logins']) {
        await gotoHydrated(page, url(ACME, path));
        await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
        assert.equal(await page.locator('table').count(), 0, `no table on ${path}`);
    }
    await s.close();
});

test('a wrong password shows an error, stays signed out, and is logged on acme only', { timeout: TEST_TIMEOUT }, async () => {
    // A name of its own, so that repeated runs never throttle a seeded account.
    const who = `e2e-wrong-${suffix()}`;
    const s = await openPage(browser());
    const { page } = s;
    await gotoHydrated(page, url(ACME, '/'));
    const [response] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/api/login'),
        submitSignIn(page, who, 'not-the-password-123'),
    ]);
    assert.equal(response.status(), 401, 'the login server function answers 401 Unauthorized');
    const alert = alertLocator(page);
    await alert.waitFor();
    assert.equal((await alert.textContent()).trim(), 'Wrong user name or password.');
    await assertSignedOut(page);
    assert.equal(await sessionCookie(s.context, ACME), undefined, 'no session cookie after a failure');
    // Still anonymous after a reload and on an admin page.
    await gotoHydrated(page, url(ACME, '/users'));
    await assertSignedOut(page);
    assert.equal(await page.locator('table[data-testid=users]').count(), 0);
    await s.close();

    // acme's admin sees the failure in acme's login log…
    const acme = await openPage(browser());
    await signIn(acme.page, ACME, 'acme-admin');
    await acme.page.getByRole('link', { name: 'Login log', exact: true }).click();
    const rows = await tableRows(acme.page, 'logins');
    const mine = rows.filter((cells) => cells[1] === who);
    assert.equal(mine.length, 1, `one login-log row for ${who}`);
    assert.equal(mine[0][2], 'Refused');
    assert.equal(mine[0][3], 'Bad credentials');
    assert.ok(mine[0][4], 'the address is recorded');
    assert.match(mine[0][5], /Chrome/, 'the user agent is recorded');
    await acme.close();

    // …and Globex's admin does not see it in Globex's.
    const globex = await openPage(browser());
    await signIn(globex.page, GLOBEX, 'globex-admin');
    await gotoHydrated(globex.page, url(GLOBEX, '/logins'));
    const globexRows = await tableRows(globex.page, 'logins');
    assert.ok(globexRows.length > 0, 'globex has its own login log (at least this sign-in)');
    assert.equal(globexRows.filter((cells) => cells[1] === who).length, 0, 'acme failure leaked to globex');
    await globex.close();
});

test('acme-admin creates and disables a user; the user can no longer sign in; the audit log shows it', { timeout: TEST_TIMEOUT }, async () => {
    const name = `e2e-user-${suffix()}`;
    const password = strongPassword();
    const admin = await openPage(browser());
    const { page } = admin;
    await signIn(page, ACME, 'acme-admin');
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.locator('table[data-testid=users]').waitFor();
    assert.equal(await page.locator(`tr[data-user="${name}"]`).count(), 0);

    // Create.
    await page.locator('input[name=username]').fill(name);
    await page.locator('input[name=password]').fill(password);
    await page.locator('select[name=role]').selectOption('member');
    await page.getByRole('button', { name: 'Create user', exact: true }).click();
    const row = page.locator(`table[data-testid=users] tr[data-user="${name}"]`);
    await row.waitFor();
    assert.deepEqual(await alertLocator(page).allTextContents(), []);
    // The form says so.
    assert.equal((await page.getByTestId('created').textContent()).trim(), `User ${name} created. They can sign in now.`);
    let cells = (await row.locator('td').allTextContents()).map((c) => c.trim());
    assert.equal(cells[1], 'member');
    assert.equal(cells[2], 'active');

    // The new user can sign in (in a browser of their own).
    const user = await openPage(browser());
    await signIn(user.page, ACME, name, password);
    assert.match(await user.page.locator('main').textContent(), /\(member\)/);

    // Disable.
    await row.getByRole('button', { name: 'Disable', exact: true }).click();
    await row.getByRole('button', { name: 'Enable', exact: true }).waitFor();
    cells = (await row.locator('td').allTextContents()).map((c) => c.trim());
    assert.equal(cells[2], 'disabled');
    assert.deepEqual(await alertLocator(page).allTextContents(), []);

    // Disabling ended the user's open session…
    await gotoHydrated(user.page, url(ACME, '/'));
    await assertSignedOut(user.page);
    // …and the right password no longer signs them in.
    await submitSignIn(user.page, name, password);
    const alert = alertLocator(user.page);
    await alert.waitFor();
    assert.match(await alert.textContent(), /disabled/);
    await assertSignedOut(user.page);
    await user.close();

    // The audit log shows what happened, by whom.
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    const audit = await tableRows(page, 'audit');
    const about = audit.filter((cells) => cells[3] === name);
    const find = (action) => about.find((cells) => cells[2] === action);
    assert.ok(find('User create'), 'user.create is audited');
    assert.equal(find('User create')[1], 'acme-admin');
    assert.ok(find('User disable'), 'user.disable is audited');
    assert.equal(find('User disable')[1], 'acme-admin');
    assert.ok(find('Login success'), 'the user\'s sign-in is audited');
    assert.ok(find('Login failure'), 'the refused sign-in is audited');
    assert.match(find('Login failure')[6], /disabled/);
    await admin.close();
});

test('an admin cannot disable their own account', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-admin');
    await gotoHydrated(page, url(ACME, '/users'));
    const me = page.locator('table[data-testid=users] tr[data-user="acme-admin"]');
    await me.getByRole('button', { name: 'Disable', exact: true }).click();
    await alertLocator(page).waitFor();
    assert.match(await alertLocator(page).textContent(), /own account/);
    assert.equal((await me.locator('td').nth(2).textContent()).trim(), 'active');
    await s.close();
});

test('sign out ends the session: no user in the header and /users asks to sign in', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page, context } = s;
    await signIn(page, ACME, 'acme-admin');
    const cookie = await sessionCookie(context, ACME);
    assert.ok(cookie);
    await gotoHydrated(page, url(ACME, '/users'));
    await page.locator('table[data-testid=users]').waitFor();

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(url(ACME, '/'));
    await assertSignedOut(page);
    assert.equal(await sessionCookie(context, ACME), undefined, 'the session cookie was cleared');

    await gotoHydrated(page, url(ACME, '/users'));
    await assertSignedOut(page);
    assert.equal(await page.locator('table[data-testid=users]').count(), 0);

    // The old token was ended on the server too: replaying it leaves you anonymous.
    await context.addCookies([cookie]);
    await gotoHydrated(page, url(ACME, '/users'));
    await assertSignedOut(page);
    assert.equal(await page.locator('table[data-testid=users]').count(), 0);
    assert.ok(await signInForm(page).isVisible());
    await s.close();
});
