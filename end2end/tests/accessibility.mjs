// Phones and accessibility on every surface: each page, reached through the header's menu (collapsed
// into a "Menu" button on a phone) and the links on the pages, has no serious or critical axe-core
// violation and does not scroll sideways, at desktop size and at 390 × 844, in the light scheme and
// in the dark one (prefers-color-scheme). Also: the current menu item is marked and follows
// client-side navigation, the skip link moves the keyboard to the content, and the menu works by
// keyboard.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ACME,
    CONSOLE,
    DESKTOP,
    FREE,
    PHONE,
    TEST_TIMEOUT,
    alertLocator,
    assertSignedInAs,
    browserForFile,
    checkAccessibility,
    currentMenuItem,
    followMenu,
    gotoHydrated,
    menuLocator,
    openPage,
    sidewaysOverflow,
    signIn,
    strongPassword,
    suffix,
    url,
} from '../support.mjs';

const browser = browserForFile();

/** Visiting every page of a surface twice (two sizes) with axe on each takes a while. */
const WALK_TIMEOUT = 4 * TEST_TIMEOUT;

const LAYOUTS = [
    ['desktop', DESKTOP, 'light'],
    ['phone', PHONE, 'light'],
    ['phone', PHONE, 'dark'],
    ['desktop', DESKTOP, 'dark'],
];

async function openAt(viewport, colorScheme) {
    const s = await openPage(browser());
    await s.page.setViewportSize(viewport);
    await s.page.emulateMedia({ colorScheme });
    return s;
}

/** A page at `viewport` on which `username` has signed in at `host`. */
async function signedInAt(viewport, colorScheme, host, username, password = undefined) {
    const s = await openAt(viewport, colorScheme);
    await signIn(s.page, host, username, password);
    return s;
}

/** Waits until the page's data has arrived (no "Loading…" left) after a client-side navigation. */
async function settled(page) {
    await page.locator('main h1, main h2').first().waitFor();
    await page.waitForFunction(() => !document.querySelector('main')?.textContent.includes('Loading…'));
}

/** The page as it is now: no serious or critical axe violation, nothing wider than the window. */
async function assertAccessible(page, what) {
    await settled(page);
    assert.deepEqual(await checkAccessibility(page), [], `${what} (${page.url()}): axe violations`);
    const overflow = await sidewaysOverflow(page);
    assert.ok(overflow <= 0, `${what} (${page.url()}) scrolls sideways by ${overflow}px`);
}

/**
 * Follows every menu item in `items` from the current page and checks each page; `then[name]`, if
 * given, runs on that page afterwards (to follow its links to pages of their own).
 */
async function walkMenu(page, items, label, then = {}) {
    await assertAccessible(page, `${label}: home`);
    const menu = menuLocator(page);
    if (await menu.locator('> summary').isVisible()) {
        // A phone: the menu is closed and its links hidden until the button opens it.
        assert.equal(await menu.evaluate((d) => d.open), false, 'the phone menu starts closed');
        assert.equal(await page.locator('header nav').getByRole('link').count(), 0, 'menu links hidden while closed');
        await menu.locator('> summary').click();
        assert.equal(await menu.evaluate((d) => d.open), true, 'the Menu button opens the menu');
        await assertAccessible(page, `${label}: open menu`);
        await menu.locator('> summary').click();
    }
    for (const name of items) {
        await followMenu(page, name);
        await assertAccessible(page, `${label}: ${name}`);
        assert.equal(await page.locator('header nav a[aria-current]').count(), 1, `only ${name} is marked current`);
        if (await menu.locator('> summary').isVisible()) {
            assert.equal(await menu.evaluate((d) => d.open), false, `the menu closes after following ${name}`);
        }
        await then[name]?.();
    }
}

/** Clicks the first link in the page's main part matching `selector`, if any, and checks that page. */
async function followFirst(page, selector, what, label) {
    const link = page.locator('main').locator(selector).first();
    if ((await link.count()) === 0) return false;
    await link.click();
    await assertAccessible(page, `${label}: ${what}`);
    return true;
}

/** Runs Acme's csv-summary on a small CSV from its page, so that an execution page exists. */
async function runCsvSummary(page, label) {
    await page.locator('main table a[href="/skills/csv-summary"]').click();
    await page.waitForURL(url(ACME, '/skills/csv-summary'));
    await assertAccessible(page, `${label}: a skill`);
    const form = page.locator('form[data-testid=run-form]');
    await form.locator('input[name=data][type=file]').setInputFiles({
        name: 'a11y.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from('region,units\nnorth,3\nsouth,4\n'),
    });
    await form.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/executions\/\d+$/, { timeout: 30_000 });
    await page.locator('[data-testid=execution-status]').waitFor();
    await assertAccessible(page, `${label}: an execution`);
}

/** The free-edition account the first free-console test signs up; later ones sign in with it. */
let freeAccount = null;

for (const [size, viewport, scheme] of LAYOUTS) {
    const label = `${size}, ${scheme}`;

    test(`console pages as superadmin (${label})`, { timeout: WALK_TIMEOUT }, async () => {
        const s = await signedInAt(viewport, scheme, CONSOLE, 'superadmin');
        const { page } = s;
        await walkMenu(page, ['Tenants', 'Reviews', 'Audit log', 'Login log'], label, {
            Tenants: async () => {
                await followFirst(page, 'table a[href^="/tenants/"]', 'a tenant', label);
                await followMenu(page, 'Tenants');
                await followFirst(page, 'a[href="/tenants/new"]', 'new tenant', label);
            },
            Reviews: () => followFirst(page, 'table a[href^="/reviews/"]', 'a review', label),
        });
        await page.getByRole('link', { name: 'ExecGov', exact: true }).click();
        if (!(await followFirst(page, 'a[href="/audit/verify"]', 'audit chain check', label))) {
            await gotoHydrated(page, url(CONSOLE, '/audit/verify'));
            await assertAccessible(page, `${label}: audit chain check`);
        }
        await s.close();
    });

    test(`tenant front pages as acme-admin (${label})`, { timeout: WALK_TIMEOUT }, async () => {
        const s = await signedInAt(viewport, scheme, ACME, 'acme-admin');
        const { page } = s;
        const items = ['Assistant', 'Skills', 'Executions', 'Submissions', 'Users', 'Tokens', 'Secrets', 'Agents',
            'Audit log', 'Login log', 'Other tenants'];
        await walkMenu(page, items, label, {
            Assistant: () => followFirst(page, 'table a[href^="/assistant/"]', 'a conversation', label),
            Skills: async () => {
                if (size === 'desktop' && scheme === 'light') await runCsvSummary(page, label);
                else await followFirst(page, 'table a[href^="/skills/"]', 'a skill', label);
            },
            Executions: () => followFirst(page, 'table a[href^="/executions/"]', 'an execution', label),
            Submissions: async () => {
                await followFirst(page, 'table a[href^="/submissions/"]', 'a submission', label);
                await followMenu(page, 'Submissions');
                assert.ok(await followFirst(page, 'a[href="/submissions/new"]', 'new submission', label),
                    'the submissions page links to the submission form');
            },
        });
        await s.close();
    });

    test(`tenant front pages as acme-user, a member (${label})`, { timeout: WALK_TIMEOUT }, async () => {
        const s = await signedInAt(viewport, scheme, ACME, 'acme-user');
        const { page } = s;
        await walkMenu(page, ['Assistant', 'Skills', 'Executions', 'Tokens'], label, {
            Skills: () => followFirst(page, 'table a[href^="/skills/"]', 'a skill', label),
            Executions: () => followFirst(page, 'table a[href^="/executions/"]', 'an execution', label),
        });
        await s.close();
    });

    test(`free console after a sign-up (${label})`, { timeout: WALK_TIMEOUT }, async () => {
        if (freeAccount) {
            // Signed up already (at another size): sign-ups per client address are limited.
            const s = await signedInAt(viewport, scheme, FREE, freeAccount.name, freeAccount.password);
            await walkMenu(s.page, ['Assistant'], label);
            await s.close();
            return;
        }
        const s = await openAt(viewport, scheme);
        const { page } = s;
        await gotoHydrated(page, url(FREE, '/'));
        await assertAccessible(page, `${label}: free home, signed out`);
        if (!(await followFirst(page, 'a[href="/signup"]', 'sign-up', label))) {
            await gotoHydrated(page, url(FREE, '/signup'));
            await assertAccessible(page, `${label}: sign-up`);
        }
        const account = { name: `a11y-${suffix()}`, password: strongPassword() };
        await page.locator('input[name=username]').fill(account.name);
        await page.locator('input[name=password]').fill(account.password);
        await page.getByRole('button', { name: 'Sign up', exact: true }).click();
        await page.locator('[data-testid=who]').or(alertLocator(page)).first().waitFor({ state: 'attached' });
        assert.deepEqual(await alertLocator(page).allTextContents(), [], 'sign-up failed');
        await assertSignedInAs(page, account.name);
        freeAccount = account;
        await walkMenu(page, ['Assistant'], label);
        await s.close();
    });

    test(`signed-out pages and the experience page (${label})`, { timeout: WALK_TIMEOUT }, async () => {
        const s = await openAt(viewport, scheme);
        const { page } = s;
        const pages = [[ACME, '/'], [ACME, '/login'], [CONSOLE, '/'], [FREE, '/'], [FREE, '/signup'], ['localhost', '/']];
        for (const [host, path] of pages) {
            await gotoHydrated(page, url(host, path));
            await assertAccessible(page, `${label}: ${host}${path}`);
        }
        await s.close();
    });
}

test('the current menu item follows client-side navigation and is marked visibly', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-admin');
    assert.equal(await page.locator('header nav a[aria-current]').count(), 0, 'no item is current on the home page');
    const mark = `m-${suffix()}`;
    await page.evaluate((m) => { window.__a11yMark = m; }, mark);
    await followMenu(page, 'Skills');
    const style = (name) => page.locator('header nav').getByRole('link', { name, exact: true })
        .evaluate((a) => `${getComputedStyle(a).fontWeight} ${getComputedStyle(a).textDecorationLine}`);
    const current = await style('Skills');
    const other = await style('Tokens');
    assert.notEqual(current, other, 'the current item looks different from the others');
    await followMenu(page, 'Tokens');
    assert.equal(await currentMenuItem(page, 'Skills').count(), 0, 'Skills is no longer current');
    assert.equal(await page.evaluate(() => window.__a11yMark), mark, 'the menu navigated without reloading');
    // A page below a menu item marks that item.
    await gotoHydrated(page, url(ACME, '/skills/csv-summary'));
    await currentMenuItem(page, 'Skills').waitFor();
    await s.close();
});

test('by keyboard: the skip link, a visible focus, and the phone menu', { timeout: TEST_TIMEOUT }, async () => {
    const s = await signedInAt(PHONE, 'light', ACME, 'acme-user');
    const { page } = s;
    await gotoHydrated(page, url(ACME, '/'));
    // The first Tab reaches the skip link, which shows itself and moves the focus to the content.
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    assert.equal(await skip.evaluate((a) => a === document.activeElement), true, 'the first Tab reaches the skip link');
    const box = await skip.boundingBox();
    assert.ok(box && box.width > 20 && box.height > 10, 'the focused skip link is visible');
    const outline = await skip.evaluate((a) => getComputedStyle(a).outlineStyle);
    assert.notEqual(outline, 'none', 'the focused skip link has a focus outline');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'content', 'Enter moves the focus to the content');

    // The menu opens with the keyboard, and its links are reachable with Tab.
    await gotoHydrated(page, url(ACME, '/'));
    const summary = menuLocator(page).locator('> summary');
    await summary.focus();
    await page.keyboard.press('Enter');
    assert.equal(await menuLocator(page).evaluate((d) => d.open), true, 'Enter opens the menu');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement?.textContent.trim());
    assert.equal(focused, 'Assistant', 'Tab reaches the first menu item');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await currentMenuItem(page, 'Skills').waitFor({ state: 'attached' });
    await settled(page);
    await s.close();
});
