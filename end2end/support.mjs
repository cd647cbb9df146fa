// Shared helpers for the end-to-end tests (no tests in here; importing it has no side effects).
//
// The server is started by scripts/test; these tests only drive Debian's Chromium against it:
//   EXECGOV_E2E_BASE_PORT  port the server listens on (127.0.0.1)
//   EXECGOV_E2E_PASSWORD   password of every seeded demo account
//   CHROMIUM               the browser binary (default /usr/bin/chromium)
// Chromium resolves *.localhost to loopback itself, so every surface is http://<host>.localhost:PORT.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
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
    // Attached, not visible: on a phone the user name is inside the closed header menu.
    await whoLocator(page).or(alertLocator(page)).first().waitFor({ state: 'attached' });
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
    // The user name and Sign out are in the header's menu, which a phone keeps closed.
    const who = whoLocator(page);
    await who.waitFor({ state: 'attached' });
    assert.equal((await who.textContent()).trim(), username);
    await page
        .getByRole('button', { name: 'Sign out', exact: true, includeHidden: true })
        .waitFor({ state: 'attached' });
}

/** Signed out: no user in the header, no Sign out button, and the sign-in form is shown. */
export async function assertSignedOut(page) {
    await signInForm(page).waitFor();
    await page.locator('[data-testid=place]').waitFor();
    assert.equal(await whoLocator(page).count(), 0, 'the header still names a user');
    assert.equal(
        await page.getByRole('button', { name: 'Sign out', exact: true, includeHidden: true }).count(),
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

// --- Phones and accessibility ------------------------------------------------------------------

/** A phone's screen in CSS pixels (the width the product must fit without scrolling sideways). */
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

let axeSource;

/**
 * Runs the axe-core rules (end2end/node_modules/axe-core) on the current page, in the colour
 * scheme the page is shown in, and returns the violations of impact "serious" or "critical" as
 * { id, help, nodes: [CSS selector…] }.
 */
export async function checkAccessibility(page) {
    axeSource ??= readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
    // Evaluated through the DevTools protocol rather than added as a <script>, so that a
    // Content-Security-Policy without inline scripts cannot stop it.
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
    return page.evaluate(async () => {
        const { violations } = await window.axe.run(document, { resultTypes: ['violations'] });
        return violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
    });
}

/** How far the page reaches past the window's right edge, in CSS pixels (≤ 0: no sideways scroll). */
export async function sidewaysOverflow(page) {
    return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** The header's menu: a <details> whose summary is the "Menu" button phones show. */
export const menuLocator = (page) => page.locator('header details.menu');

/**
 * Follows the header's menu item `name` as a person does (on a phone the menu is collapsed: it
 * opens it first) and waits until the router marks that item as the current page.
 */
export async function followMenu(page, name) {
    const menu = menuLocator(page);
    const summary = menu.locator('> summary');
    if ((await summary.isVisible()) && !(await menu.evaluate((d) => d.open))) {
        await summary.click();
    }
    await page.locator('header nav').getByRole('link', { name, exact: true }).click();
    // Attached, not visible: a phone's menu closes when one of its links is followed.
    await currentMenuItem(page, name).waitFor({ state: 'attached' });
}

/** The header's link to `name` while it is marked as the current page. */
export const currentMenuItem = (page, name) =>
    page.locator('header nav a[aria-current=page]').filter({ hasText: new RegExp(`^${name}$`) });

// --- Zip archives (for uploads), written by hand: no npm package, only node:zlib. ----------------

const CRC_TABLE = (() => {
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        table[n] = c >>> 0;
    }
    return table;
})();

/** CRC-32 (as zip uses it) of a Buffer. */
export function crc32(buffer) {
    let c = 0xffffffff;
    for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
}

/**
 * A .zip archive (Buffer) of `entries`: `{ path: contents }` with string or Buffer contents,
 * deflated, in the given order. A path ending in "/" is a folder entry (contents ignored).
 * UTF-8 names, fixed timestamps, Unix permissions 0644 (files) / 0755 (folders).
 */
export function zipArchive(entries) {
    const locals = [];
    const centrals = [];
    let offset = 0;
    // 2024-01-01 12:00:00 in DOS date/time.
    const dosTime = (12 << 11) | (0 << 5) | 0;
    const dosDate = ((2024 - 1980) << 9) | (1 << 5) | 1;
    for (const [path, contents] of Object.entries(entries)) {
        const folder = path.endsWith('/');
        const name = Buffer.from(path, 'utf8');
        const data = folder ? Buffer.alloc(0) : Buffer.from(contents);
        const method = folder ? 0 : 8;
        const packed = folder ? data : deflateRawSync(data);
        const crc = crc32(data);

        const local = Buffer.alloc(30);
        local.writeUInt32LE(0x04034b50, 0);
        local.writeUInt16LE(20, 4); // version needed: 2.0
        local.writeUInt16LE(0x0800, 6); // flags: UTF-8 names
        local.writeUInt16LE(method, 8);
        local.writeUInt16LE(dosTime, 10);
        local.writeUInt16LE(dosDate, 12);
        local.writeUInt32LE(crc, 14);
        local.writeUInt32LE(packed.length, 18);
        local.writeUInt32LE(data.length, 22);
        local.writeUInt16LE(name.length, 26);
        local.writeUInt16LE(0, 28); // extra length
        locals.push(local, name, packed);

        const central = Buffer.alloc(46);
        central.writeUInt32LE(0x02014b50, 0);
        central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
        central.writeUInt16LE(20, 6);
        central.writeUInt16LE(0x0800, 8);
        central.writeUInt16LE(method, 10);
        central.writeUInt16LE(dosTime, 12);
        central.writeUInt16LE(dosDate, 14);
        central.writeUInt32LE(crc, 16);
        central.writeUInt32LE(packed.length, 20);
        central.writeUInt32LE(data.length, 24);
        central.writeUInt16LE(name.length, 28);
        // extra, comment, disk number, internal attributes: 0
        const mode = folder ? 0o040755 : 0o100644;
        central.writeUInt32LE(((mode << 16) | (folder ? 0x10 : 0)) >>> 0, 38);
        central.writeUInt32LE(offset, 42);
        centrals.push(central, name);

        offset += local.length + name.length + packed.length;
    }
    const directory = Buffer.concat(centrals);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    const count = Object.keys(entries).length;
    end.writeUInt16LE(count, 8);
    end.writeUInt16LE(count, 10);
    end.writeUInt32LE(directory.length, 12);
    end.writeUInt32LE(offset, 16);
    return Buffer.concat([...locals, directory, end]);
}

/**
 * A minimal Excel workbook (.xlsx, a Buffer): one sheet named `sheet` holding `rows` (numbers as
 * numbers, anything else as inline text), as real spreadsheet programs and openpyxl read it.
 */
export function xlsxWorkbook(sheet, rows) {
    const escape = (v) => String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
    const cell = (v, r, c) => {
        const ref = `${String.fromCharCode(65 + c)}${r + 1}`;
        return typeof v === 'number'
            ? `<c r="${ref}"><v>${v}</v></c>`
            : `<c r="${ref}" t="inlineStr"><is><t>${escape(v)}</t></is></c>`;
    };
    const data = rows
        .map((row, r) => `<row r="${r + 1}">${row.map((v, c) => cell(v, r, c)).join('')}</row>`)
        .join('');
    const xml = '<?xml version="1.0" encoding="UTF-8"?>';
    const ns = 'http://schemas.openxmlformats.org';
    const rel = (type, target) =>
        `${xml}<Relationships xmlns="${ns}/package/2006/relationships"><Relationship Id="rId1" ` +
        `Type="${ns}/officeDocument/2006/relationships/${type}" Target="${target}"/></Relationships>`;
    const sml = 'application/vnd.openxmlformats-officedocument.spreadsheetml';
    return zipArchive({
        '[Content_Types].xml':
            `${xml}<Types xmlns="${ns}/package/2006/content-types">` +
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
            '<Default Extension="xml" ContentType="application/xml"/>' +
            `<Override PartName="/xl/workbook.xml" ContentType="${sml}.sheet.main+xml"/>` +
            `<Override PartName="/xl/worksheets/sheet1.xml" ContentType="${sml}.worksheet+xml"/></Types>`,
        '_rels/.rels': rel('officeDocument', 'xl/workbook.xml'),
        'xl/workbook.xml':
            `${xml}<workbook xmlns="${ns}/spreadsheetml/2006/main" xmlns:r="${ns}/officeDocument/2006/relationships">` +
            `<sheets><sheet name="${escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>`,
        'xl/_rels/workbook.xml.rels': rel('worksheet', 'worksheets/sheet1.xml'),
        'xl/worksheets/sheet1.xml':
            `${xml}<worksheet xmlns="${ns}/spreadsheetml/2006/main"><sheetData>${data}</sheetData></worksheet>`,
    });
}
