// The public console: a super-admin provisions tenants, and disables and re-enables them.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    CONSOLE,
    TEST_TIMEOUT,
    alertLocator,
    assertSignedInAs,
    gotoHydrated,
    browserForFile,
    openPage,
    signIn,
    strongPassword,
    suffix,
    tableRows,
    url,
    waitHydrated,
} from '../support.mjs';

// The scenario uses exactly this tenant. The server outlives one run of the suite, so the
// test creates it only when the host is not bound yet, with fixed credentials it can reuse later.
const INITECH = {
    name: 'Initech',
    host: 'initech.localhost',
    admin: 'initech-admin',
    password: 'Initech-Pw-2024-e2e',
};

const browser = browserForFile();

/** Fills in /tenants/new (reached through the "New tenant" link) and submits it. */
async function submitNewTenant(page, t) {
    await gotoHydrated(page, url(CONSOLE, '/tenants'));
    await page.getByRole('link', { name: 'New tenant', exact: true }).click();
    await page.locator('input[name=name]').waitFor();
    assert.equal(new URL(page.url()).pathname, '/tenants/new');
    await page.locator('input[name=name]').fill(t.name);
    await page.locator('input[name=host]').fill(t.host);
    await page.locator('input[name=admin_username]').fill(t.admin);
    await page.locator('input[name=admin_password]').fill(t.password);
    await page.getByRole('button', { name: 'Create tenant', exact: true }).click();
    await page.locator('h1[data-testid=tenant-title]').or(alertLocator(page)).first().waitFor();
}

/** Checks the tenant detail page now shown; returns the tenant number from the address. */
async function assertTenantDetail(page, t, status) {
    const title = page.locator('h1[data-testid=tenant-title]');
    await title.waitFor();
    assert.equal((await title.textContent()).trim(), t.name);
    const match = new URL(page.url()).pathname.match(/^\/tenants\/(\d+)$/);
    assert.ok(match, `detail page address: ${page.url()}`);
    if (status) {
        await page.locator('[data-testid=tenant-status]', { hasText: new RegExp(`^${status}$`, 'i') }).waitFor();
    }
    assert.ok(
        (await page.locator('.host').allTextContents()).map((h) => h.trim()).includes(t.host),
        `the detail page lists host ${t.host}`,
    );
    return Number(match[1]);
}

/** Opens the detail page of the tenant bound to `host` from the /tenants list, if listed. */
async function openTenantByHost(page, host) {
    await gotoHydrated(page, url(CONSOLE, '/tenants'));
    const rows = await tableRows(page, 'tenants');
    const index = rows.findIndex((cells) => cells[4].split(', ').includes(host));
    if (index < 0) return false;
    await page.locator('table[data-testid=tenants] tbody tr').nth(index).locator('a').first().click();
    await page.locator('h1[data-testid=tenant-title]').waitFor();
    await waitHydrated(page);
    return true;
}

test('super-admin creates tenant Initech at initech.localhost; its admin signs in there and sees "Initech"', { timeout: TEST_TIMEOUT }, async () => {
    const console_ = await openPage(browser());
    const { page } = console_;
    await signIn(page, CONSOLE, 'superadmin');
    assert.equal((await page.locator('[data-testid=place]').textContent()).trim(), 'Public console');

    // Create it unless an earlier run on this server already did.
    const probe = await page.context().newPage();
    const probed = await probe.goto(url(INITECH.host, '/'));
    const bound = probed.status() !== 404;
    await probe.close();

    let created = false;
    if (!bound) {
        await submitNewTenant(page, INITECH);
        const alerts = await alertLocator(page).allTextContents();
        if (alerts.length === 0) {
            created = true;
        } else {
            // Only acceptable if someone else bound it meanwhile.
            assert.match(alerts.join(' '), /already (bound|exists)/, 'creating Initech failed');
        }
    }
    if (created) {
        await waitHydrated(page);
        await assertTenantDetail(page, INITECH, 'active');
        // The console says it worked, in words.
        assert.equal(
            (await page.getByTestId('created').textContent()).trim(),
            `Tenant ${INITECH.name} created. Its admin can sign in at ${INITECH.host} now.`,
        );
        assert.match(await page.locator('dl.facts', { hasText: 'Schema' }).textContent(), /Edition\s*Shared SaaS/);
    } else {
        assert.ok(await openTenantByHost(page, INITECH.host), 'Initech is listed on /tenants');
        await assertTenantDetail(page, INITECH);
        if ((await page.locator('[data-testid=tenant-status]').getAttribute('data-status')) !== 'active') {
            await page.getByRole('button', { name: 'Enable tenant', exact: true }).click();
            await page.locator('[data-testid=tenant-status]', { hasText: /^active$/i }).waitFor();
        }
    }
    const facts = await page.locator('dl.facts', { hasText: 'Schema' }).textContent();
    assert.match(facts, new RegExp(INITECH.admin), 'the initial admin is listed');
    await console_.close();

    // The new tenant's own front: anonymous first, then its admin.
    const front = await openPage(browser());
    const response = await gotoHydrated(front.page, url(INITECH.host, '/'));
    assert.equal(response.status(), 200);
    assert.equal((await front.page.locator('h1[data-testid=tenant-name]').textContent()).trim(), 'Initech');
    await signIn(front.page, INITECH.host, INITECH.admin, INITECH.password);
    const h1 = front.page.locator('h1[data-testid=tenant-name]');
    await h1.waitFor();
    assert.equal((await h1.textContent()).trim(), 'Initech');
    assert.equal((await front.page.locator('[data-testid=place]').textContent()).trim(), 'Initech');
    // It is a tenant admin there: the admin navigation is shown.
    await front.page.getByRole('link', { name: 'Users', exact: true }).waitFor();
    await front.close();
});

test('super-admin disables a fresh tenant: its host shows the suspended page; re-enabled, it works again', { timeout: TEST_TIMEOUT }, async () => {
    const id = suffix();
    const t = {
        name: `Hooli ${id}`,
        host: `hooli-${id}.localhost`,
        admin: `hooli-admin-${id}`,
        password: strongPassword(),
    };
    const admin = await openPage(browser());
    const { page } = admin;
    await signIn(page, CONSOLE, 'superadmin');
    await submitNewTenant(page, t);
    assert.deepEqual(await alertLocator(page).allTextContents(), [], 'creating the tenant failed');
    await waitHydrated(page);
    const number = await assertTenantDetail(page, t, 'active');

    // Its front works and its admin can sign in before anything else happens.
    const front = await openPage(browser());
    await signIn(front.page, t.host, t.admin, t.password);
    assert.equal((await front.page.locator('h1[data-testid=tenant-name]').textContent()).trim(), t.name);

    // Disable.
    await page.getByRole('button', { name: 'Disable tenant', exact: true }).click();
    await page.locator('[data-testid=tenant-status]', { hasText: /^disabled$/i }).waitFor();
    await page.getByRole('button', { name: 'Enable tenant', exact: true }).waitFor();
    await gotoHydrated(page, url(CONSOLE, '/tenants'));
    const listed = (await tableRows(page, 'tenants')).find((cells) => cells[0] === t.name);
    assert.ok(listed, 'the tenant is listed on /tenants');
    assert.equal(listed[3], 'Disabled', 'status column on /tenants, in words');
    assert.equal(listed[4], t.host, 'hosts column on /tenants');

    for (const path of ['/', '/users', '/login']) {
        const r = await front.page.goto(url(t.host, path));
        assert.equal(r.status(), 403, `status of ${t.host}${path} while suspended`);
        const body = await front.page.locator('body').textContent();
        assert.match(body, /suspended/i, `${t.host}${path} says the tenant is suspended`);
        assert.ok(body.includes(t.name), 'the suspended page names the tenant');
        assert.equal(await front.page.locator('input[name=password]').count(), 0, 'no sign-in form while suspended');
        assert.equal(await front.page.locator('[data-testid=who]').count(), 0, 'nobody is signed in while suspended');
    }

    // Re-enable from the detail page.
    await gotoHydrated(page, url(CONSOLE, `/tenants/${number}`));
    await page.getByRole('button', { name: 'Enable tenant', exact: true }).click();
    await page.locator('[data-testid=tenant-status]', { hasText: /^active$/i }).waitFor();
    await page.getByRole('button', { name: 'Disable tenant', exact: true }).waitFor();
    await admin.close();

    // Its home works again, and signing in does too (in a fresh browser context).
    const again = await openPage(browser());
    const r = await gotoHydrated(again.page, url(t.host, '/'));
    assert.equal(r.status(), 200);
    assert.equal((await again.page.locator('h1[data-testid=tenant-name]').textContent()).trim(), t.name);
    await signIn(again.page, t.host, t.admin, t.password);
    await assertSignedInAs(again.page, t.admin);
    await again.close();
    await front.close();
});

test('the console refuses a weak initial admin password and binds nothing', { timeout: TEST_TIMEOUT }, async () => {
    const id = suffix();
    // Long enough for the form's own checks, but without digits: the server must refuse it.
    const t = { name: `Weak ${id}`, host: `weak-${id}.localhost`, admin: `weak-admin-${id}`, password: 'lettersonlyxx' };
    const s = await openPage(browser());
    await signIn(s.page, CONSOLE, 'superadmin');
    await submitNewTenant(s.page, t);
    assert.match((await alertLocator(s.page).allTextContents()).join(' '), /too weak/i);
    assert.equal(new URL(s.page.url()).pathname, '/tenants/new');
    // What was typed is still there, to correct rather than retype.
    for (const [field, value] of [['name', t.name], ['host', t.host], ['admin_username', t.admin]]) {
        assert.equal(await s.page.locator(`input[name=${field}]`).inputValue(), value, `${field} kept`);
    }
    const probe = await s.page.goto(url(t.host, '/'));
    assert.equal(probe.status(), 404, 'the host was not bound');
    await s.close();
});

test('super-admin reads each tenant\'s storage under Tenants and sets one tenant\'s limits on its page', { timeout: TEST_TIMEOUT }, async () => {
    const id = suffix();
    const t = { name: `Storage ${id}`, host: `storage-${id}.localhost`, admin: `storage-admin-${id}`, password: strongPassword() };
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, CONSOLE, 'superadmin');
    await submitNewTenant(page, t);
    assert.deepEqual(await alertLocator(page).allTextContents(), [], 'creating the tenant failed');
    await waitHydrated(page);
    const number = await assertTenantDetail(page, t, 'active');

    // Through the menu: the storage table lists the new tenant, empty, with the defaults.
    await page.getByRole('navigation').getByRole('link', { name: 'Tenants', exact: true }).click();
    await page.locator(`tr[data-testid=storage-${number}]`).waitFor();
    const row = (await tableRows(page, 'storage')).find((cells) => cells[0] === t.name);
    assert.ok(row, 'the storage table lists the tenant');
    assert.deepEqual(row.slice(1, 6), ['0 B', '0 B', '0 B', '0 B', '0 B'], `an empty tenant uses nothing: ${row}`);
    assert.equal(row[6], '0 B of 10.0 GiB');
    assert.equal(row[7], '90 days');

    // Its page: the storage card, then new limits.
    await page.locator(`tr[data-testid=storage-${number}] a`).click();
    const card = page.locator('[data-testid=tenant-storage]');
    await card.waitFor();
    assert.match(await card.textContent(), /The server's defaults apply\./);
    await card.locator('input[name=tenant_quota_mib]').fill('2048');
    await card.locator('input[name=retention_days]').fill('30');
    await card.getByRole('button', { name: 'Set limits', exact: true }).click();
    await card.locator('dd', { hasText: /^30 days$/ }).waitFor();
    assert.match(await card.textContent(), /Limits set for this tenant/);
    assert.match(await card.locator('dd', { hasText: / of / }).textContent(), /^0 B of 2\.0 GiB$/);

    // Kept: the table says so on a fresh load, and Acme's row is untouched.
    await gotoHydrated(page, url(CONSOLE, '/tenants'));
    const rows = await tableRows(page, 'storage');
    const again = rows.find((cells) => cells[0] === t.name);
    assert.equal(again[6], '0 B of 2.0 GiB');
    assert.equal(again[7], '30 days');
    const acme = rows.find((cells) => cells[0] === 'Acme');
    assert.equal(acme[7], '90 days', 'another tenant keeps the defaults');
    await s.close();
});
