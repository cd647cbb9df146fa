// The host layer in a real browser: unbound hosts, pages of other surfaces, and sessions that never
// cross from one host to another, not even with the cookie copied over by hand.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ACME,
    CONSOLE,
    FREE,
    GLOBEX,
    TEST_TIMEOUT,
    assertSignedInAs,
    assertSignedOut,
    gotoHydrated,
    browserForFile,
    openPage,
    sessionCookie,
    signIn,
    suffix,
    url,
} from '../support.mjs';

const browser = browserForFile();

test('an unknown host shows the 404 "not bound" page', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    const host = `nobody-${suffix()}.localhost`;
    for (const path of ['/', '/login', '/users', '/tenants']) {
        const response = await page.goto(url(host, path));
        assert.equal(response.status(), 404, `status of ${host}${path}`);
        assert.equal((await page.locator('h1').textContent()).trim(), 'This address is not bound');
        assert.match(await page.locator('body').textContent(), /This address is not bound/);
        // Never a fallback to some tenant: no application, no sign-in form.
        assert.equal(await page.locator('input[name=password]').count(), 0);
        assert.equal(await page.locator('[data-testid=place]').count(), 0);
    }
    await s.close();
});

test('a page of another surface is "Page not found" (404) on a tenant front', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    for (const path of ['/tenants', '/signup', '/no-such-page']) {
        const response = await page.goto(url(ACME, path));
        assert.equal(response.status(), 404, `status of ${ACME}${path}`);
        await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    }
    await s.close();
});

test('the experience page at localhost needs no sign-in', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await gotoHydrated(page, url('localhost', '/'));
    assert.equal((await page.locator('[data-testid=place]').textContent()).trim(), 'Experience');
    assert.equal((await page.locator('main h1').textContent()).trim(), 'ExecGov');
    assert.equal(await page.locator('input[name=password]').count(), 0);
    assert.equal(await page.locator('[data-testid=who]').count(), 0);
    await s.close();
});

test('a session on acme is not a session on globex, not even with the cookie copied over', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page, context } = s;
    await signIn(page, ACME, 'acme-admin');
    const acmeCookie = await sessionCookie(context, ACME);
    assert.ok(acmeCookie, 'signed in at acme with a session cookie');

    // Simply visiting globex: the cookie is host-only, so globex sees an anonymous visitor.
    await gotoHydrated(page, url(GLOBEX, '/'));
    assert.equal((await page.locator('[data-testid=place]').textContent()).trim(), 'Globex');
    assert.equal((await page.locator('h1[data-testid=tenant-name]').textContent()).trim(), 'Globex');
    await assertSignedOut(page);
    assert.equal(await sessionCookie(context, GLOBEX), undefined);

    // The same token planted on globex.localhost (and on the consoles) is sent, but worthless there.
    const gated = { [GLOBEX]: ['/', '/users', '/logins'], [CONSOLE]: ['/', '/tenants'], [FREE]: ['/'] };
    for (const [host, paths] of Object.entries(gated)) {
        await context.addCookies([{ ...acmeCookie, domain: host }]);
        for (const path of paths) {
            const response = await gotoHydrated(page, url(host, path));
            const cookieHeader = (await response.request().allHeaders()).cookie ?? '';
            assert.ok(
                cookieHeader.includes(`execgov_session=${acmeCookie.value}`),
                `the copied cookie was sent to ${host}${path}`,
            );
            await assertSignedOut(page);
            assert.equal(await page.locator('table').count(), 0, `no data on ${host}${path}`);
        }
    }

    // Back on acme the original session still works.
    await gotoHydrated(page, url(ACME, '/'));
    await assertSignedInAs(page, 'acme-admin');
    await s.close();
});
