// Shared helpers for the end-to-end tests (no tests in here; importing it has no side effects).
//
// The server is started by scripts/test; these tests only drive Debian's Chromium against it:
//   EXECGOV_E2E_BASE_PORT  port the server listens on (127.0.0.1)
//   EXECGOV_E2E_PASSWORD   password of every seeded demo account
//   CHROMIUM               the browser binary (default /usr/bin/chromium)
// Chromium resolves *.localhost to loopback itself, so every surface is http://<host>.localhost:PORT.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

export const PORT = Number(process.env.EXECGOV_E2E_BASE_PORT || 3210);
export const PASSWORD = process.env.EXECGOV_E2E_PASSWORD || 'e2e-Seed-Password-42';
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const CONSOLE = 'admin.localhost';
export const ACME = 'acme.localhost';
export const GLOBEX = 'globex.localhost';
export const FREE = 'free.localhost';

/** Per-test budget for node:test (a cold debug server can be slow on the first argon2 hashes). */
export const TEST_TIMEOUT = 90_000;
/** Playwright's budget for one wait or action. */
const ACTION_TIMEOUT = 20_000;

export const url = (host, path = '/') => `http://${host}:${PORT}${path}`;

/** A short random lowercase suffix for names that must be unique on the shared server. */
export const suffix = () => randomBytes(4).toString('hex');

/** A password the product accepts (≥ 12 chars, letters and digits) that contains no user name. */
export const strongPassword = () => `Pw-${randomBytes(6).toString('hex')}-9x`;

/** One browser for the calling test file: launched before its tests, closed after them.
 *  Returns a getter, since the browser exists only once `before` has run. */
export function browserForFile() {
    let browser;
    before(async () => {
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
    });
    return () => browser;
}

export async function launchBrowser() {
    return chromium.launch({
        executablePath: CHROMIUM,
        args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
        ],
    });
}

// Marks the document as hydrated: the hydration script instantiates the WASM bundle and calls
// `hydrate()` in the promise chain right after; a macrotask after instantiation runs after it.
function markHydration() {
    const flag = () => setTimeout(() => { window.__execgovHydrated = true; }, 0);
    const wrap = (original) => function (...args) {
        const result = original.apply(this, args);
        Promise.resolve(result).then(flag, () => {});
        return result;
    };
    if (WebAssembly.instantiateStreaming) {
        WebAssembly.instantiateStreaming = wrap(WebAssembly.instantiateStreaming);
    }
    WebAssembly.instantiate = wrap(WebAssembly.instantiate);
}

/**
 * A fresh context (own cookie jar) and page. Uncaught page errors (e.g. a panic during
 * hydration) are collected; `close()` fails the test if there were any.
 */
export async function openPage(browser) {
    const context = await browser.newContext();
    context.setDefaultTimeout(ACTION_TIMEOUT);
    await context.addInitScript(markHydration);
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
    return {
        context,
        page,
        errors,
        async close() {
            await context.close();
            assert.deepEqual(errors, [], 'uncaught errors in the page');
        },
    };
}

/** Waits until the current document's WASM bundle has hydrated the server-rendered page. */
export async function waitHydrated(page) {
    await page.waitForFunction(() => window.__execgovHydrated === true, null, {
        timeout: ACTION_TIMEOUT,
    });
}

/** Opens an application page and waits for hydration; returns the main response. */
export async function gotoHydrated(page, address) {
    const response = await page.goto(address);
    assert.ok(response, `no response for ${address}`);
    assert.equal(response.status(), 200, `status of ${address}`);
    await waitHydrated(page);
    return response;
}

export const whoLocator = (page) => page.locator('[data-testid=who]');
export const alertLocator = (page) => page.locator('[role=alert]');
export const signInForm = (page) =>
    page
        .locator('form')
        .filter({ has: page.locator('input[name=username]') })
        .filter({ has: page.locator('input[name=password]') })
        .filter({ has: page.getByRole('button', { name: 'Sign in', exact: true }) });

/** Fills and submits the (hydrated) sign-in form; waits for either the user name or an error. */
export async function submitSignIn(page, username, password) {
    const form = signInForm(page);
    await form.locator('input[name=username]').fill(username);
    await form.locator('input[name=password]').fill(password);
    await form.getByRole('button', { name: 'Sign in', exact: true }).click();
    await whoLocator(page).or(alertLocator(page)).first().waitFor();
}

/** Opens `host`'s home, signs in and checks the header names the user. */
export async function signIn(page, host, username, password = PASSWORD) {
    await gotoHydrated(page, url(host, '/'));
    await submitSignIn(page, username, password);
    const alerts = await alertLocator(page).allTextContents();
    assert.deepEqual(alerts, [], `signing in as ${username} at ${host} failed`);
    await assertSignedInAs(page, username);
}

export async function assertSignedInAs(page, username) {
    const who = whoLocator(page);
    await who.waitFor();
    assert.equal((await who.textContent()).trim(), username);
    await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
}

/** Signed out: no user in the header, no Sign out button, and the sign-in form is shown. */
export async function assertSignedOut(page) {
    await signInForm(page).waitFor();
    await page.locator('[data-testid=place]').waitFor();
    assert.equal(await whoLocator(page).count(), 0, 'the header still names a user');
    assert.equal(
        await page.getByRole('button', { name: 'Sign out', exact: true }).count(),
        0,
        'a Sign out button is shown',
    );
}

/** The text of every row of a `table[data-testid=…]` as arrays of trimmed cell texts. */
export async function tableRows(page, testid) {
    const table = page.locator(`table[data-testid=${testid}]`);
    await table.waitFor();
    return table.locator('tbody tr').evaluateAll((rows) =>
        rows.map((r) => Array.from(r.querySelectorAll('td'), (td) => td.textContent.trim())),
    );
}

/** The session cookie the server set for `host`, if any. */
export async function sessionCookie(context, host) {
    const cookies = await context.cookies(url(host, '/'));
    return cookies.find((c) => c.name === 'execgov_session' && c.value !== '');
}

/**
 * Fetches `path` from inside the page (same origin, the page's cookies), as the browser would.
 * Node cannot resolve *.localhost, so Playwright's own `page.request` cannot reach the hosts.
 * Returns the status, the Content-Disposition header and the body as text (skip reading it with
 * `readBody: false`, e.g. for an event stream that would not end).
 */
export async function fetchInPage(page, path, { readBody = true } = {}) {
    return page.evaluate(async ([p, read]) => {
        const r = await fetch(p, { credentials: 'same-origin', redirect: 'follow' });
        const text = read ? await r.text() : '';
        if (!read) r.body?.cancel();
        return { status: r.status, disposition: r.headers.get('content-disposition') ?? '', text };
    }, [path, readBody]);
}
