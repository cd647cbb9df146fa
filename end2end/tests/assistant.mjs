// The assistant (intelligent brain) in the browser: a request in plain words with a CSV attached,
// ranked recommendations with risk badges and why they match, another pick, the plan's form filled
// from the request, a run and its result inline; a high-risk skill that shows exactly what will run
// and waits for the confirmation; conversations that stay their user's and their tenant's; and the
// same page in the free console.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ACME,
    FREE,
    GLOBEX,
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

/** How long a run may take to reach a final status (cold debug server, sandboxed Python). */
const RUN_TIMEOUT = 60_000;
const FINAL = ['succeeded', 'failed', 'timed_out', 'cancelled'];

const statusLocator = (page) => page.locator('[data-testid=execution-status]');

/** A CSV whose column names are unique to this run. */
function salesCsv() {
    const tag = suffix();
    const columns = [`region_${tag}`, `units_${tag}`];
    const text = [columns.join(','), 'north,12', 'south,7', 'north,3'].join('\n') + '\n';
    return { columns, file: { name: `sales-${tag}.csv`, mimeType: 'text/csv', buffer: Buffer.from(text) } };
}

/** Orders with dates: two before 2024-01-01, two on or after it. */
function ordersCsv() {
    const tag = suffix();
    const dateColumn = `ordered_${tag}`;
    const text = [
        `id,${dateColumn},amount`,
        '1,2023-01-05,10',
        '2,2023-06-01,20',
        '3,2024-02-01,30',
        '4,2024-07-15,40',
    ].join('\n') + '\n';
    return { dateColumn, file: { name: `orders-${tag}.csv`, mimeType: 'text/csv', buffer: Buffer.from(text) } };
}

/** Types a request and attaches `files` in the ask form, asks, and waits for the conversation. */
async function ask(page, request, files) {
    const form = page.locator('form[data-testid=ask-form]');
    await form.locator('textarea[name=request]').fill(request);
    if (files.length) await form.locator('input[name=files]').setInputFiles(files);
    await form.getByRole('button', { name: 'Ask', exact: true }).click();
    await page.waitForURL(/\/assistant\/\d+#turn-\d+$/);
    await waitHydrated(page);
    const m = new URL(page.url()).pathname.match(/^\/assistant\/(\d+)$/);
    return m[1];
}

/** The last turn's section. */
const lastTurn = (page) => page.locator('section[data-testid=turn]').last();

/** The recommendations of a turn: slug, text, and whether a badge says it needs confirmation. */
async function recommendations(turn) {
    const items = turn.locator('ol[data-testid=recommendations] li');
    await items.first().waitFor();
    return items.evaluateAll((lis) =>
        lis.map((li) => ({
            slug: li.dataset.skill,
            text: li.textContent,
            why: li.querySelector('[data-testid=why]')?.textContent.trim() ?? '',
        })),
    );
}

async function waitStatus(page, wanted, timeout = RUN_TIMEOUT) {
    await page.waitForFunction(
        (w) => {
            const s = document.querySelector('[data-testid=execution-status]');
            return s && w.includes(s.dataset.status);
        },
        wanted,
        { timeout },
    );
}

async function waitSucceeded(page) {
    await waitStatus(page, FINAL);
    const status = await statusLocator(page).getAttribute('data-status');
    const reason = await page.locator('[data-testid=execution-reason]').allTextContents();
    assert.equal(status, 'succeeded', `the run ended ${status}: ${reason}`);
}

test('a request with a CSV gets ranked recommendations, a filled plan, a run and its result', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const csv = salesCsv();
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    await page.locator('header nav a[href="/assistant"]').click();
    await page.waitForURL(url(ACME, '/assistant'));
    await waitHydrated(page);

    const id = await ask(page, `Summarise the columns of ${csv.file.name}`, [csv.file]);
    const turn = lastTurn(page);
    assert.equal((await turn.locator('[data-testid=request]').textContent()).trim(), `Summarise the columns of ${csv.file.name}`);
    assert.ok((await page.locator('[data-testid=attachments]').textContent()).includes(csv.file.name));
    const recs = await recommendations(turn);
    assert.equal(recs[0].slug, 'csv-summary', `best first: ${JSON.stringify(recs)}`);
    assert.match(recs[0].text, /low risk/);
    assert.ok(recs.every((r) => r.why.length > 0), `each says why: ${JSON.stringify(recs)}`);
    assert.equal((await turn.locator('[data-testid=plan-skill]').textContent()).trim(), 'CSV summariser');
    assert.equal(await turn.locator('select[name=data]').inputValue(), csv.file.name, 'the attachment fills the file input');

    // Picking another recommendation plans it instead; picking the first again plans it back.
    assert.ok(recs.length > 1, `more than one recommendation: ${JSON.stringify(recs)}`);
    const other = turn.locator(`li[data-skill="${recs[1].slug}"]`);
    await other.getByRole('button', { name: 'Use this instead' }).click();
    await turn.locator(`li[data-skill="${recs[1].slug}"] .badge.live`).waitFor();
    assert.notEqual((await turn.locator('[data-testid=plan-skill]').textContent()).trim(), 'CSV summariser');
    await turn.locator('li[data-skill="csv-summary"]').getByRole('button', { name: 'Use this instead' }).click();
    await turn.locator('li[data-skill="csv-summary"] .badge.live').waitFor();
    assert.equal((await turn.locator('[data-testid=plan-skill]').textContent()).trim(), 'CSV summariser');

    // Edit an input and run: no confirmation needed, the result shows inline.
    await turn.locator('input[name=top_values]').fill('2');
    await turn.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(url(ACME, `/assistant/${id}#turn-${await turn.getAttribute('data-turn')}`));
    await waitHydrated(page);
    await waitSucceeded(page);
    const result = page.locator('table[data-testid=result]');
    await result.waitFor();
    const cells = await result.locator('tbody td').allTextContents();
    for (const column of csv.columns) assert.ok(cells.includes(column), `the result lists ${column}: ${cells}`);
    assert.equal(await page.locator('form[data-testid=plan-form]').count(), 0, 'no plan form once it ran');
    assert.ok((await page.locator('a[data-testid=artifact]').allTextContents()).some((a) => a.includes('report.md')));

    // The conversation is listed.
    await gotoHydrated(page, url(ACME, '/assistant'));
    await page.locator(`table[data-testid=conversations] tr[data-conversation="${id}"]`).waitFor();
    await s.close();
});

test('a high-risk skill shows exactly what will run and waits for the confirmation', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const orders = ordersCsv();
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    await gotoHydrated(page, url(ACME, '/assistant'));
    await ask(page, `Remove the rows of ${orders.file.name} dated before 2024-01-01`, [orders.file]);
    const turn = lastTurn(page);
    const recs = await recommendations(turn);
    assert.equal(recs[0].slug, 'purge-old-rows', JSON.stringify(recs));
    assert.match(recs[0].text, /high risk/);
    assert.match(recs[0].text, /needs confirmation/);

    // The plan: the file and the date filled from the request, the date column asked for.
    assert.equal(await turn.locator('select[name=data]').inputValue(), orders.file.name);
    assert.equal(await turn.locator('input[name=cutoff]').inputValue(), '2024-01-01');
    assert.equal(await turn.locator('[data-missing=true] input[name=date_column]').count(), 1, 'the date column is marked missing');
    assert.match(await turn.locator('[data-testid=plan-missing]').textContent(), /Date column/);
    await turn.locator('input[name=date_column]').fill(orders.dateColumn);
    await turn.getByRole('button', { name: 'Prepare run', exact: true }).click();
    await page.waitForURL(/#turn-\d+$/);
    await waitHydrated(page);

    // Exactly what will run, and nothing runs until confirmed.
    const summary = page.locator('[data-testid=confirm-summary]');
    await summary.waitFor();
    const said = await summary.textContent();
    for (const shown of [orders.dateColumn, '2024-01-01', orders.file.name, 'Purge old rows']) {
        assert.ok(said.includes(shown), `the confirmation shows ${shown}: ${said}`);
    }
    assert.equal(await statusLocator(page).getAttribute('data-status'), 'awaiting_confirmation');
    await page.waitForTimeout(1500);
    assert.equal(await statusLocator(page).getAttribute('data-status'), 'awaiting_confirmation');

    // Confirmed on the hydrated page: the status follows live to the result, without a reload.
    await page.evaluate(() => { window.__sameDocument = true; });
    await page.getByRole('button', { name: 'Confirm and run', exact: true }).click();
    await waitSucceeded(page);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
    assert.equal(await summary.count(), 0);
    assert.match(await page.locator('dl.facts').textContent(), /Confirmed by\s*acme-user/);
    const result = page.locator('table[data-testid=result]');
    await result.waitFor();
    const headers = (await result.locator('thead th').allTextContents()).map((h) => h.trim());
    const row = (await result.locator('tbody tr').first().locator('td').allTextContents()).map((c) => c.trim());
    assert.equal(row[headers.findIndex((h) => /rows.removed/i.test(h))], '2');
    assert.equal(row[headers.findIndex((h) => /rows.kept/i.test(h))], '2');
    await s.close();
});

test('conversations stay their user\'s, and Globex is never offered Acme\'s skills', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    await gotoHydrated(page, url(ACME, '/assistant'));
    const id = await ask(page, 'purge old rows before 2024-01-01', []);

    // Another user of Acme, and Globex's user, get "not found" for it.
    const admin = await openPage(browser());
    await signIn(admin.page, ACME, 'acme-admin');
    let response = await admin.page.goto(url(ACME, `/assistant/${id}`));
    assert.equal(response.status(), 404);
    await admin.close();
    const globex = await openPage(browser());
    await signIn(globex.page, GLOBEX, 'globex-user');
    response = await globex.page.goto(url(GLOBEX, `/assistant/${id}`));
    assert.equal(response.status(), 404);

    // Globex's user names Acme's skills: none of them is offered.
    await gotoHydrated(globex.page, url(GLOBEX, '/assistant'));
    await ask(globex.page, 'Run purge-old-rows (Purge old rows) and the CSV summariser csv-summary', []);
    const turn = lastTurn(globex.page);
    const slugs = await turn.locator('ol[data-testid=recommendations] li').evaluateAll((lis) => lis.map((li) => li.dataset.skill));
    for (const acmeOnly of ['purge-old-rows', 'csv-summary', 'text-report']) {
        assert.ok(!slugs.includes(acmeOnly), `Globex was offered ${acmeOnly}: ${slugs}`);
    }
    assert.equal(await alertLocator(globex.page).count(), 0);
    await globex.close();
    await s.close();
});

test('the free console has the assistant too, offering nothing it does not have', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await gotoHydrated(page, url(FREE, '/signup'));
    await page.locator('input[name=username]').fill(`free-${suffix()}`);
    await page.locator('input[name=password]').fill(strongPassword());
    await page.getByRole('button', { name: 'Sign up', exact: true }).click();
    await page.locator('[data-testid=who]').waitFor();
    await page.locator('header nav a[href="/assistant"]').click();
    await page.waitForURL(url(FREE, '/assistant'));
    await waitHydrated(page);
    const csv = salesCsv();
    await ask(page, 'Run the CSV summariser csv-summary on this file', [csv.file]);
    const turn = lastTurn(page);
    await turn.locator('[data-testid=no-recommendation]').waitFor();
    assert.equal(await turn.locator('ol[data-testid=recommendations] li').count(), 0);
    assert.equal(await turn.locator('form[data-testid=plan-form]').count(), 0);
    assert.ok((await page.locator('[data-testid=attachments]').textContent()).includes(csv.file.name));
    await s.close();
});
