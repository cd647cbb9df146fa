// Every page reached as a person reaches it: through the header menu and the links and buttons
// on the pages, in the hydrated app (client-side navigation, so each page's server functions are
// called by the browser, not rendered by the server). Each page shows its heading, no error, has
// its own title, and no request answers 5xx.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ACME,
    CONSOLE,
    FREE,
    TEST_TIMEOUT,
    alertLocator,
    assertSignedInAs,
    browserForFile,
    gotoHydrated,
    openPage,
    signIn,
    strongPassword,
    suffix,
    url,
} from '../support.mjs';

const browser = browserForFile();

/** Collects every response of 500 or more the page receives. */
function watchServerErrors(page) {
    const failures = [];
    page.on('response', (r) => {
        if (r.status() >= 500) failures.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    });
    return failures;
}

/** Clicks the link named `name` inside `scope` and checks the page it leads to. */
async function follow(page, scope, name, { path, heading }) {
    const mark = await page.evaluate(() => (window.__navMark = Math.random()));
    await scope.getByRole('link', { name, exact: true }).first().click();
    await page.waitForURL((u) => u.pathname === path || (path instanceof RegExp && path.test(u.pathname)));
    await assertPage(page, heading);
    // Client-side navigation: the same document, never a reload.
    assert.equal(await page.evaluate(() => window.__navMark), mark, `${name}: the page was reloaded`);
}

/** The page shows `heading` as its h1, no error, and a title of its own. */
async function assertPage(page, heading) {
    const h1 = page.locator('main h1').first();
    await h1.waitFor();
    await page.waitForFunction(
        ([pattern, text]) => {
            const h = document.querySelector('main h1');
            if (!h) return false;
            return pattern ? new RegExp(pattern).test(h.textContent.trim()) : h.textContent.trim() === text;
        },
        heading instanceof RegExp ? [heading.source, null] : [null, heading],
        { timeout: 10_000 },
    ).catch(async () => {
        assert.fail(`${page.url()}: heading ${JSON.stringify(await h1.textContent())}, wanted ${heading}`);
    });
    assert.deepEqual(await alertLocator(page).allTextContents(), [], `${page.url()} shows an error`);
    const title = await page.title();
    assert.match(title, / · ExecGov$/, `${page.url()} has its own title (got ${JSON.stringify(title)})`);
}

const header = (page) => page.locator('header.top nav');

test('superadmin reaches every console page through the menu and the pages\' links', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    const failures = watchServerErrors(page);
    await signIn(page, CONSOLE, 'superadmin');
    await follow(page, header(page), 'Tenants', { path: '/tenants', heading: 'Tenants' });
    await follow(page, page.locator('main'), 'New tenant', { path: '/tenants/new', heading: 'New tenant' });
    await follow(page, header(page), 'Tenants', { path: '/tenants', heading: 'Tenants' });
    await follow(page, page.locator('table[data-testid=tenants]'), 'Acme', { path: /^\/tenants\/\d+$/, heading: 'Acme' });
    await follow(page, header(page), 'Reviews', { path: '/reviews', heading: 'Script reviews' });
    await follow(page, header(page), 'Audit log', { path: '/audit', heading: 'Audit log' });
    await follow(page, header(page), 'Login log', { path: '/logins', heading: 'Login log' });
    await page.locator('a.brand').click();
    await page.waitForURL((u) => u.pathname === '/');
    await follow(page, page.locator('main'), 'Check every audit log\'s hash chain', { path: '/audit/verify', heading: 'Audit chain check' });
    assert.deepEqual(failures, [], 'requests answered 5xx');
    await s.close();
});

test('acme-admin reaches every tenant page through the menu and the pages\' links', { timeout: TEST_TIMEOUT * 3 }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    const failures = watchServerErrors(page);
    await signIn(page, ACME, 'acme-admin');
    const menu = [
        ['Assistant', '/assistant', 'Assistant'],
        ['Skills', '/skills', 'Skills'],
        ['Executions', '/executions', 'Executions'],
        ['Submissions', '/submissions', 'Script submissions'],
        ['Users', '/users', 'Users'],
        ['Tokens', '/tokens', 'Access tokens'],
        ['Secrets', '/secrets', 'Secrets'],
        ['Agents', '/agents', 'Agents'],
        ['Audit log', '/audit', 'Audit log'],
        ['Login log', '/logins', 'Login log'],
        ['Other tenants', '/my-tenants', 'Other tenants'],
    ];
    for (const [name, path, heading] of menu) {
        await follow(page, header(page), name, { path, heading });
    }
    // The pages' own links and buttons.
    await follow(page, header(page), 'Submissions', { path: '/submissions', heading: 'Script submissions' });
    await follow(page, page.locator('main'), 'Submit a script', { path: '/submissions/new', heading: 'Submit a script' });
    await follow(page, header(page), 'Skills', { path: '/skills', heading: 'Skills' });
    const skill = page.locator('table[data-testid=skills] tbody tr a').first();
    const skillName = (await skill.textContent()).trim();
    await follow(page, page.locator('table[data-testid=skills]'), skillName, { path: /^\/skills\/[^/]+$/, heading: skillName });
    assert.equal(await page.title(), `${skillName} · Acme · ExecGov`);
    await follow(page, header(page), 'Executions', { path: '/executions', heading: 'Executions' });
    assert.equal(await page.title(), 'Executions · Acme · ExecGov');
    const firstRun = page.locator('table[data-testid=executions] tbody tr a').first();
    if (await firstRun.count()) {
        const id = (await firstRun.textContent()).trim();
        await follow(page, page.locator('table[data-testid=executions]'), id, { path: `/executions/${id}`, heading: new RegExp(`^Execution ${id}: `) });
    }
    assert.deepEqual(failures, [], 'requests answered 5xx');
    await s.close();
});

test('acme-user (a member) reaches every page of their menu', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    const failures = watchServerErrors(page);
    await signIn(page, ACME, 'acme-user');
    const links = await header(page).getByRole('link').allTextContents();
    assert.deepEqual(links.map((l) => l.trim()), ['Assistant', 'Skills', 'Executions', 'Tokens']);
    for (const [name, path, heading] of [
        ['Assistant', '/assistant', 'Assistant'],
        ['Skills', '/skills', 'Skills'],
        ['Executions', '/executions', 'Executions'],
        ['Tokens', '/tokens', 'Access tokens'],
    ]) {
        await follow(page, header(page), name, { path, heading });
    }
    assert.deepEqual(failures, [], 'requests answered 5xx');
    await s.close();
});

test('a free sign-up reaches their pages; the experience page has its heading', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    const failures = watchServerErrors(page);
    await gotoHydrated(page, url(FREE, '/'));
    await follow(page, page.locator('main'), 'Create a free account', { path: '/signup', heading: 'Create a free account' });
    const name = `nav-${suffix()}`;
    await page.locator('input[name=username]').fill(name);
    await page.locator('input[name=password]').fill(strongPassword());
    await page.getByRole('button', { name: 'Sign up', exact: true }).click();
    await assertSignedInAs(page, name);
    await follow(page, header(page), 'Assistant', { path: '/assistant', heading: 'Assistant' });
    await page.locator('a.brand').click();
    await page.waitForURL((u) => u.pathname === '/');
    await page.locator('main h1').waitFor();
    assert.deepEqual(await alertLocator(page).allTextContents(), []);

    await gotoHydrated(page, url('localhost', '/'));
    assert.equal((await page.locator('main h1').first().textContent()).trim(), 'ExecGov');
    assert.deepEqual(await alertLocator(page).allTextContents(), []);
    assert.deepEqual(failures, [], 'requests answered 5xx');
    await s.close();
});
