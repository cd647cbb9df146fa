// What a browser meets before any page works: a tenant page's first load with a cold cache (the
// bundle brotli-compressed, under names that carry its hash and cached as immutable; its time and
// size printed), and the security headers (a Content-Security-Policy that hydration obeys).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ACME,
    PASSWORD,
    TEST_TIMEOUT,
    assertSignedInAs,
    browserForFile,
    gotoHydrated,
    openPage,
    submitSignIn,
    url,
} from '../support.mjs';

const browser = browserForFile();

const HASHED = /\/pkg\/execgov\.[0-9a-f]{16,}\.(js|wasm)$/;

test('a tenant page loads cold with a brotli bundle under hashed, immutable names', { timeout: TEST_TIMEOUT }, async () => {
    // A new context: an empty cache, as on a first visit.
    const s = await openPage(browser());
    const { page } = s;
    const bundle = [];
    let stylesheet;
    page.on('response', (response) => {
        const path = new URL(response.url()).pathname;
        if (HASHED.test(path)) {
            bundle.push(response);
        } else if (path === '/pkg/execgov.css') {
            stylesheet = response;
        }
    });
    const started = Date.now();
    await gotoHydrated(page, url(ACME, '/'));
    const hydrated = Date.now() - started;

    assert.deepEqual(
        bundle.map((r) => new URL(r.url()).pathname.split('.').pop()).sort(),
        ['js', 'wasm'],
        'the page loads one hashed JavaScript file and one hashed WebAssembly file',
    );
    let transferred = 0;
    for (const response of bundle) {
        const name = new URL(response.url()).pathname;
        const headers = await response.allHeaders();
        assert.equal(response.status(), 200, name);
        assert.equal(headers['content-encoding'], 'br', `${name} is served brotli-compressed`);
        assert.match(headers['cache-control'], /max-age=31536000.*immutable/, `${name} is cached as immutable`);
        transferred += (await response.body()).length;
    }
    const wasm = bundle.find((r) => r.url().endsWith('.wasm'));
    assert.equal((await wasm.allHeaders())['content-type'], 'application/wasm');
    // What was sent over the wire, compressed (the body above is decoded).
    const sizes = await page.evaluate(() =>
        performance.getEntriesByType('resource')
            .filter((e) => /\/pkg\/execgov\.[0-9a-f]+\.(js|wasm)$/.test(new URL(e.name).pathname))
            .map((e) => e.encodedBodySize));
    const sent = sizes.reduce((a, b) => a + b, 0);
    assert.ok(sent > 0 && sent < transferred, `compressed on the wire (${sent} of ${transferred} bytes)`);
    // Its budget is checked where the bundle is built (scripts/lib.sh report_bundle_size).

    // The stylesheet keeps its name, so browsers check it again each time.
    assert.ok(stylesheet, 'the page loads /pkg/execgov.css');
    assert.equal((await stylesheet.allHeaders())['cache-control'], 'no-cache');
    console.log(
        `first load of ${url(ACME, '/')} (cold cache, loopback): hydrated after ${hydrated} ms; ` +
        `bundle ${Math.round(sent / 1000)} KB brotli (${Math.round(transferred / 1000)} KB decoded)`,
    );
    await s.close();
});

test('a page runs under a Content-Security-Policy that hydration obeys', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page, context } = s;
    const violations = [];
    page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) {
            violations.push(message.text());
        }
    });
    await context.addInitScript(() => {
        window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => {
            window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
        });
    });
    const response = await gotoHydrated(page, url(ACME, '/'));
    const headers = await response.allHeaders();
    const policy = headers['content-security-policy'] ?? '';
    const nonce = /'nonce-([^']+)'/.exec(policy)?.[1];
    assert.ok(nonce, `the page's policy has a script nonce: ${policy}`);
    assert.match(policy, /script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval'/);
    assert.match(policy, /frame-ancestors 'none'/);
    assert.doesNotMatch(policy, /'unsafe-inline'|'unsafe-eval'/);
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['referrer-policy'], 'same-origin');
    // Every inline script carries this response's nonce (the browser hides it from the DOM).
    const inline = await page.locator('script:not([src])').count();
    assert.ok(inline > 0, 'the hydration script is inline');

    // Signing in through the hydrated form stays on this document (no page load): the click was
    // the application's, not a plain form post.
    await page.evaluate(() => { window.__sameDocument = true; });
    await submitSignIn(page, 'acme-user', PASSWORD);
    await assertSignedInAs(page, 'acme-user');
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'signing in reloaded the page');
    await page.getByRole('link', { name: 'Skills', exact: true }).first().click();
    await page.locator('table[data-testid=skills]').waitFor();
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'following a menu link reloaded the page');

    assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], 'CSP violations reported to the page');
    assert.deepEqual(violations, [], 'CSP violations in the console');
    await s.close();
});
