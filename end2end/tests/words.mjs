// The product in people's words: a failed run says why (on its page and in the history), times
// read as "2 minutes ago" with the browser's local time and UTC on hover, audit details as
// "Key: value" with the JSON behind "Technical details", editions and statuses in words, and
// empty lists that explain themselves and lead on. Reached through menus and links.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ACME,
    CONSOLE,
    TEST_TIMEOUT,
    alertLocator,
    browserForFile,
    gotoHydrated,
    openPage,
    signIn,
    strongPassword,
    suffix,
    url,
    waitHydrated,
} from '../support.mjs';

const browser = browserForFile();

const RUN_TIMEOUT = 60_000;

test('a failed run shows why beside its status, and the history says it in a few words', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    await page.locator('header.top nav').getByRole('link', { name: 'Skills', exact: true }).click();
    await page.locator('table[data-testid=skills] tr[data-skill="csv-summary"] a').click();
    const form = page.locator('form[data-testid=run-form]');
    await form.waitFor();
    // Not UTF-8: the script refuses it on stderr and exits 1.
    await form.locator('input[name=data]').setInputFiles({
        name: `latin1-${suffix()}.csv`,
        mimeType: 'text/csv',
        buffer: Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x0a, 0xe9, 0xe8, 0x0a]),
    });
    await form.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/executions\/\d+$/, { timeout: 30_000 });
    await waitHydrated(page);
    const id = new URL(page.url()).pathname.split('/').pop();
    const status = page.locator('[data-testid=execution-status]');
    await page.waitForFunction(
        () => ['failed', 'succeeded', 'timed_out'].includes(document.querySelector('[data-testid=execution-status]')?.dataset.status),
        null,
        { timeout: RUN_TIMEOUT, polling: 200 },
    );
    assert.equal(await status.getAttribute('data-status'), 'failed');
    assert.equal((await status.textContent()).trim(), 'Failed');
    // Beside the status: the reason and the script's last words on stderr.
    assert.match(await page.getByTestId('execution-reason').textContent(), /exit code 1/);
    const tail = page.getByTestId('stderr-tail');
    await tail.waitFor();
    assert.match(await tail.textContent(), /csv-summary: the file is not UTF-8 text/);

    // The history (through the menu) gives the same reason in a few words.
    await page.locator('header.top nav').getByRole('link', { name: 'Executions', exact: true }).click();
    const row = page.locator(`table[data-testid=executions] tr[data-execution="${id}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'failed');
    assert.match(await row.getByTestId('why').textContent(), /^csv-summary: the file is not UTF-8 text/);
    await s.close();
});

test('times read relative and in the browser\'s time zone, with UTC on hover', { timeout: TEST_TIMEOUT }, async () => {
    // A context in another time zone than the server's (UTC): the local time must be Kolkata's.
    const context = await browser().newContext({ timezoneId: 'Asia/Kolkata' });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url(ACME, '/'));
    await page.locator('input[name=username]').fill('acme-admin');
    await page.locator('input[name=password]').fill(process.env.EXECGOV_E2E_PASSWORD || 'e2e-Seed-Password-42');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('[data-testid=who]').waitFor();
    await page.locator('header.top nav').getByRole('link', { name: 'Audit log', exact: true }).click();
    const first = page.locator('table[data-testid=audit] time').first();
    await first.waitFor();
    // Once hydrated (whether the clicks above were handled by the app or by plain page loads),
    // the browser adds its local time after a middle dot.
    await page.waitForFunction(() => document.querySelector('table[data-testid=audit] time')?.textContent.includes(' · '), null, { timeout: 15_000 });
    const { datetime, title, text } = await first.evaluate((t) => ({
        datetime: t.getAttribute('datetime'),
        title: t.getAttribute('title'),
        text: t.textContent,
    }));
    const at = new Date(datetime);
    assert.ok(!Number.isNaN(at.getTime()), `datetime is a time: ${datetime}`);
    assert.equal(title, `${at.toISOString().slice(0, 10)} ${at.toISOString().slice(11, 19)} UTC`);
    const [relative, local] = text.split(' · ');
    assert.match(relative, /^(just now|\d+ (minute|hour|day|month|year)s? ago|yesterday)$/, text);
    const kolkata = at.toLocaleString('sv-SE', { timeZone: 'Asia/Kolkata' }).slice(0, 16);
    assert.equal(local, kolkata, `the local time (Asia/Kolkata) of ${datetime}`);
    assert.deepEqual(errors, []);
    await context.close();
});

test('audit details read as key: value with the JSON behind "Technical details"; editions in words', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, CONSOLE, 'superadmin');
    await page.locator('header.top nav').getByRole('link', { name: 'Tenants', exact: true }).click();
    const tenants = page.locator('table[data-testid=tenants]');
    await tenants.waitFor();
    const text = await tenants.textContent();
    assert.match(text, /Shared SaaS/);
    assert.doesNotMatch(text, /shared_saas/);
    await page.locator('header.top nav').getByRole('link', { name: 'Audit log', exact: true }).click();
    const row = page.locator('table[data-testid=audit] tbody tr', { has: page.getByTestId('detail-fields') }).first();
    await row.waitFor();
    const fields = row.getByTestId('detail-fields');
    const keys = await fields.locator('dt').allTextContents();
    assert.ok(keys.length > 0 && keys.every((k) => /^[A-Z][a-z ]*$/.test(k.trim())), `keys in words: ${keys}`);
    const json = row.locator('details pre');
    assert.equal(await json.isVisible(), false, 'the JSON is folded away');
    await row.locator('details summary', { hasText: 'Technical details' }).click();
    await json.waitFor({ state: 'visible' });
    const raw = JSON.parse(await json.textContent());
    assert.equal(typeof raw, 'object');
    await s.close();
});

test('a new tenant\'s empty lists explain themselves and lead to the next step', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const tag = suffix();
    const t = { name: `Words ${tag}`, host: `words-${tag}.localhost`, admin: `words-admin-${tag}`, password: strongPassword() };
    const consoleSession = await openPage(browser());
    const c = consoleSession.page;
    await signIn(c, CONSOLE, 'superadmin');
    await c.locator('header.top nav').getByRole('link', { name: 'Tenants', exact: true }).click();
    await c.getByRole('link', { name: 'New tenant', exact: true }).click();
    await c.locator('input[name=name]').fill(t.name);
    await c.locator('input[name=host]').fill(t.host);
    await c.locator('input[name=admin_username]').fill(t.admin);
    await c.locator('input[name=admin_password]').fill(t.password);
    await c.getByRole('button', { name: 'Create tenant', exact: true }).click();
    await c.getByTestId('created').waitFor();
    assert.match(await c.getByTestId('created').textContent(), new RegExp(`Tenant ${t.name} created`));
    await consoleSession.close();

    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, t.host, t.admin, t.password);
    const nav = page.locator('header.top nav');
    const empty = page.getByTestId('empty');

    await nav.getByRole('link', { name: 'Skills', exact: true }).click();
    await empty.waitFor();
    assert.match(await empty.textContent(), /No skills yet — submit a script/);
    await empty.getByRole('link', { name: 'submit a script', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/submissions/new');
    await page.locator('form[data-testid=submit-form]').waitFor();

    await nav.getByRole('link', { name: 'Executions', exact: true }).click();
    await empty.waitFor();
    assert.match(await empty.textContent(), /No executions yet/);
    await empty.getByRole('link', { name: 'pick a skill to run', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/skills');

    await nav.getByRole('link', { name: 'Submissions', exact: true }).click();
    await empty.waitFor();
    assert.match(await empty.textContent(), /No submissions yet/);

    await nav.getByRole('link', { name: 'Tokens', exact: true }).click();
    await empty.waitFor();
    assert.match(await empty.textContent(), /No tokens yet/);

    await nav.getByRole('link', { name: 'Assistant', exact: true }).click();
    await empty.waitFor();
    assert.match(await empty.textContent(), /No conversations yet/);
    assert.deepEqual(await alertLocator(page).allTextContents(), []);
    await s.close();
});
