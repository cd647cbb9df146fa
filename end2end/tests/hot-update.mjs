// Hot updates: a tenant admin uploads a script folder (.zip) on the tenant's own host and follows
// its timeline; a super-admin reviews it in the public console (files, README, diff) and approves
// it; it goes live in that tenant only, without a restart: the tenant's users run the new version
// at once, another tenant neither lists nor opens it. A second version goes live the same way, and
// the tenant admin rolls back to the first from the skill page's versions table.
//
// Every skill here has a slug unique to the run (the server is shared with the other test files).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ACME,
    CONSOLE,
    GLOBEX,
    TEST_TIMEOUT,
    alertLocator,
    browserForFile,
    gotoHydrated,
    openPage,
    signIn,
    suffix,
    tableRows,
    url,
    waitHydrated,
    zipArchive,
} from '../support.mjs';

const browser = browserForFile();

/** How long a run may take to reach a final status (cold debug server, sandboxed Python). */
const RUN_TIMEOUT = 60_000;
const FINAL = ['succeeded', 'failed', 'timed_out', 'cancelled'];

/** A small Python skill; `version` changes its README and the marker its result carries. */
function probeSkill(tag, version) {
    const slug = `hot-probe-${tag}`;
    const name = `Hot probe ${tag}`;
    const marker = `hot-${tag}-v${version}`;
    const readme = [
        `# ${name}`,
        '',
        `Greets whoever you name and says which version answered (release ${version}).`,
        '',
        '## Inputs',
        '',
        '- **Who to greet** (`who`): a name; `world` when left empty.',
        '',
        '## Outputs',
        '',
        `A one-row table with the greeting and the marker \`${marker}\`.`,
        '',
    ].join('\n');
    const manifest = [
        `name = "${name}"`,
        `slug = "${slug}"`,
        `description = "Greets a name and reports which version of the probe ran (${tag})."`,
        'output = "A one-row table: greeting, marker and version."',
        'risk = "low"',
        'timeout_seconds = 30',
        // How a command-line script would take it; the probe itself reads $EXECGOV_INPUTS.
        'args = ["--who", "{who}"]',
        '',
        '[[inputs]]',
        'name = "who"',
        'label = "Who to greet"',
        'type = "string"',
        'required = false',
        'default = "world"',
        'max_length = 80',
        '',
    ].join('\n');
    const main = [
        '"""Hot-update probe: writes a recognisable one-row result."""',
        'import json',
        'import os',
        '',
        `MARKER = "${marker}"`,
        '',
        'with open(os.environ.get("EXECGOV_INPUTS", "inputs.json"), encoding="utf-8") as f:',
        '    inputs = json.load(f)',
        'who = inputs.get("who") or "world"',
        'row = {"greeting": f"hello {who}", "marker": MARKER, "version": ' + JSON.stringify(String(version)) + '}',
        'with open("result.json", "w", encoding="utf-8") as f:',
        '    json.dump([row], f)',
        'print(f"probe {MARKER} greeted {who}")',
        '',
    ].join('\n');
    // Zipped the way `zip -r` zips a folder: one top folder (with its own entry) holding the files.
    const archive = zipArchive({
        [`${slug}/`]: '',
        [`${slug}/README.md`]: readme,
        [`${slug}/skill.toml`]: manifest,
        [`${slug}/main.py`]: main,
    });
    return {
        slug,
        name,
        marker,
        version,
        readmeLine: `release ${version}`,
        file: { name: `${slug}-v${version}.zip`, mimeType: 'application/zip', buffer: archive },
    };
}

const statusBadge = (page) => page.locator('[data-testid=submission-status]').first();

/** The statuses on the submission page's timeline, in order. */
const timeline = (page) =>
    page.locator('ol[data-testid=timeline] > li').evaluateAll((lis) => lis.map((li) => li.dataset.status));

/** The submission id in the current address (/submissions/<id> or /reviews/<id>). */
function submissionIdOf(page, base) {
    const m = new URL(page.url()).pathname.match(new RegExp(`^/${base}/(\\d+)$`));
    assert.ok(m, `a /${base}/<id> address, got ${page.url()}`);
    return m[1];
}

/**
 * As the signed-in tenant admin: /submissions → "Submit a script" → fills and posts the form.
 * Returns the new submission's id, once its page shows it as submitted.
 */
async function submitFolder(page, skill, { risk = 'low', scenario } = {}) {
    await gotoHydrated(page, url(ACME, '/submissions'));
    await page.getByRole('link', { name: 'Submit a script', exact: true }).click();
    await page.waitForURL(url(ACME, '/submissions/new'));
    const form = page.locator('form[data-testid=submit-form]');
    await form.waitFor();
    await waitHydrated(page);
    assert.equal((await form.getAttribute('method'))?.toLowerCase(), 'post');
    assert.equal((await form.getAttribute('enctype'))?.toLowerCase(), 'multipart/form-data');
    await form.locator('input[type=file][name=archive]').setInputFiles(skill.file);
    await form.locator('textarea[name=scenario]').fill(
        scenario ?? `End-to-end probe ${skill.marker}: checks that hot updates reach acme's users only.`,
    );
    await form.locator('select[name=risk]').selectOption(risk);
    assert.ok(await form.locator('input[name=manual_allowed]').isChecked(), 'manual runs are proposed by default');
    await form.getByRole('button', { name: 'Submit for review', exact: true }).click();
    await page.waitForURL(/\/submissions\/(\d+|new\?error=.*)$/, { timeout: 30_000 });
    await waitHydrated(page);
    const refused = await alertLocator(page).allTextContents();
    assert.deepEqual(refused, [], `submitting ${skill.file.name} was refused`);
    return submissionIdOf(page, 'submissions');
}

/** Checks the tenant admin's view of a submission that waits for review. */
async function assertSubmitted(page, skill, liveVersion) {
    await page.locator('h1', { hasText: `: ${skill.name}` }).waitFor();
    assert.equal(await statusBadge(page).getAttribute('data-status'), 'submitted');
    assert.deepEqual(await timeline(page), ['submitted']);
    const facts = await page.locator('dl.facts').textContent();
    assert.ok(facts.includes(skill.slug), `the facts name the slug: ${facts}`);
    assert.ok(facts.includes(skill.file.name), `the facts name the archive: ${facts}`);
    const live = liveVersion ? `version ${liveVersion}` : 'none (a new skill)';
    assert.ok(facts.includes(live), `live version "${live}": ${facts}`);
    assert.equal(await page.locator('[data-testid=decision]').count(), 0, 'no decision forms on the tenant front');
}

/**
 * As the signed-in super-admin: finds the submission on /reviews, opens it, checks its files and
 * README, and approves it (optionally changing the risk). Returns the review page's timeline.
 */
async function reviewAndApprove(page, id, skill, { risk, expectDiff = false } = {}) {
    await gotoHydrated(page, url(CONSOLE, '/reviews'));
    const row = page.locator(`table[data-testid=submissions] tr[data-submission="${id}"]`);
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    assert.ok(cells.some((c) => c.trim() === 'Acme'), `the queue names the tenant: ${cells}`);
    assert.ok(cells.some((c) => c.includes(skill.slug)), `the queue names the skill: ${cells}`);
    assert.equal(await row.locator('[data-testid=submission-status]').getAttribute('data-status'), 'submitted');
    await row.locator(`a[href="/reviews/${id}"]`).click();
    await page.waitForURL(url(CONSOLE, `/reviews/${id}`));
    await page.locator('form[data-testid=approve-form]').waitFor();
    await waitHydrated(page);
    assert.equal(await statusBadge(page).getAttribute('data-status'), 'submitted');

    // The files, top folder stripped, each readable with line numbers.
    const files = await page.locator('details.file').evaluateAll((ds) => ds.map((d) => d.dataset.file));
    assert.deepEqual([...files].sort(), ['README.md', 'main.py', 'skill.toml']);
    const main = page.locator('details.file[data-file="main.py"]');
    await main.locator('summary').click();
    const code = main.locator('table.code');
    await code.waitFor({ state: 'visible' });
    assert.ok((await code.textContent()).includes(`MARKER = "${skill.marker}"`), 'main.py is shown with its marker');
    // The command line a run will use, from the manifest's `args`.
    assert.equal((await page.locator('[data-testid=command-line]').textContent()).trim(), 'python main.py --who <who>');

    // The README, rendered.
    const readme = page.locator('[data-testid=readme]');
    await readme.getByRole('heading', { name: skill.name }).waitFor();
    await readme.getByRole('heading', { name: 'Inputs' }).waitFor();
    assert.ok((await readme.textContent()).includes(skill.readmeLine), 'the README text is shown');
    assert.doesNotMatch(await readme.innerHTML(), /## Inputs/, 'the README is rendered, not shown as Markdown');

    // Against a live version, the changes are shown.
    const diff = page.locator('[data-testid=diff]');
    if (expectDiff) {
        await diff.waitFor();
        const text = await diff.textContent();
        assert.match(text, /main\.py\s*modified/, `main.py is listed as modified: ${text}`);
        assert.equal(await diff.locator('tr.added', { hasText: `MARKER = "${skill.marker}"` }).count(), 1, 'the new marker line is added');
        assert.equal(await diff.locator('tr.added', { hasText: skill.readmeLine }).count(), 1, 'the README\'s new line is added');
        assert.equal(await diff.locator('tr.removed', { hasText: 'MARKER = ' }).count(), 1, 'the old marker line is removed');
    } else {
        assert.equal(await diff.count(), 0, 'no diff for a new skill');
    }

    const approve = page.locator('form[data-testid=approve-form]');
    if (risk) await approve.locator('select[name=risk]').selectOption(risk);
    await approve.locator('input[name=note]').fill(`e2e ok ${skill.marker}`);
    await approve.getByRole('button', { name: 'Approve and make live', exact: true }).click();
    await page.waitForFunction(
        () => document.querySelector('[data-testid=submission-status]')?.dataset.status === 'live',
        null,
        { timeout: 30_000, polling: 100 },
    ).catch(async (e) => {
        const status = await statusBadge(page).textContent().catch(() => '?');
        const alerts = await alertLocator(page).allTextContents();
        const reason = await page.locator('[data-testid=submission-reason]').textContent().catch(() => '');
        throw new Error(`the submission did not become live (status ${status}; ${alerts} ${reason})`, { cause: e });
    });
    assert.equal(await page.locator('[data-testid=decision]').count(), 0, 'no decision forms once decided');
    assert.deepEqual(await alertLocator(page).allTextContents(), []);
    // Once live, an update is compared with the version it followed; a new skill with nothing
    // (never with itself: "no file differs").
    assert.doesNotMatch(await page.locator('main').textContent(), /No file differs/);
    if (expectDiff) {
        const after = await diff.textContent();
        assert.match(after, /Changes against version \d+, the one before it/, after);
        assert.match(after, /main\.py\s*modified/, after);
    } else {
        assert.equal(await diff.count(), 0, 'a new skill has no earlier version to compare with');
    }
    return timeline(page);
}

/** Checks the tenant admin's view of a submission that went live as `version`. */
async function assertLive(page, id, skill, version) {
    await gotoHydrated(page, url(ACME, `/submissions/${id}`));
    await page.locator('h1', { hasText: `: ${skill.name}` }).waitFor();
    assert.equal(await statusBadge(page).getAttribute('data-status'), 'live');
    assert.equal((await statusBadge(page).textContent()).trim(), 'Live');
    assert.deepEqual(await timeline(page), ['submitted', 'approved', 'synced', 'registered', 'live']);
    const liveStep = page.locator('ol[data-testid=timeline] > li[data-status=live]');
    assert.match(await liveStep.textContent(), /live in Acme only/);
    const facts = await page.locator('dl.facts').textContent();
    assert.match(facts, new RegExp(`Version\\s*${version}`), `the facts give version ${version}: ${facts}`);
    assert.match(facts, /Reviewed by\s*superadmin/);
    const link = page.getByRole('link', { name: 'open the skill', exact: true });
    assert.equal(new URL(await link.getAttribute('href'), page.url()).pathname, `/skills/${skill.slug}`);
}

/**
 * As a signed-in acme user (`session` from openPage): runs the skill from its page, waits on the
 * execution page (live, without reloading) for the run to finish, and returns its one result row.
 */
async function runProbe(session, skill, who) {
    const { page } = session;
    await gotoHydrated(page, url(ACME, `/skills/${skill.slug}`));
    const form = page.locator('form[data-testid=run-form]');
    await form.waitFor();
    await form.locator('input[name=who]').fill(who);
    await form.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/executions\/\d+$/, { timeout: 30_000 });
    await waitHydrated(page);
    const status = page.locator('[data-testid=execution-status]');
    try {
        await page.waitForFunction(
            (finals) => {
                const w = document.querySelector('[data-testid=execution-status]')?.dataset.status;
                return finals.includes(w);
            },
            FINAL,
            { timeout: RUN_TIMEOUT, polling: 100 },
        );
    } catch (e) {
        // A page error here is usually a hydration panic of the execution page, after which it
        // no longer follows the run.
        const shown = await status.textContent().catch(() => '?');
        throw new Error(
            `${page.url()} never showed the run finished (it shows ${JSON.stringify(shown)}); ` +
                `page errors: ${JSON.stringify(session.errors)}`,
            { cause: e },
        );
    }
    const final = await status.getAttribute('data-status');
    const logs = await page.locator('[data-testid=logs]').textContent().catch(() => '?');
    assert.equal(final, 'succeeded', `the run ended ${JSON.stringify(final)}; logs: ${logs}`);
    const table = page.locator('table[data-testid=result]');
    await table.waitFor();
    const headers = (await table.locator('thead th').allTextContents()).map((h) => h.trim());
    const rows = await tableRows(page, 'result');
    assert.equal(rows.length, 1, `one result row: ${JSON.stringify(rows)}`);
    const row = Object.fromEntries(headers.map((h, i) => [h, rows[0][i]]));
    assert.match(logs, new RegExp(`probe ${row.marker} greeted ${who}`));
    return row;
}

/** The versions table of the skill page as [{ version, live, canSwitch }], newest first. */
async function versions(page) {
    const table = page.locator('table[data-testid=versions]');
    await table.waitFor();
    return table.locator('tbody tr').evaluateAll((trs) =>
        trs.map((tr) => ({
            version: Number(tr.dataset.version),
            live: tr.classList.contains('live') && !!tr.querySelector('.badge.live'),
            canSwitch: Array.from(tr.querySelectorAll('[data-testid=make-live] summary')).some((b) => b.textContent.trim() === 'Make live'),
        })),
    );
}

// Shared by the tests below (node:test runs a file's tests in order); each test still works alone.
const published = {};

test('acme-admin uploads a script folder; the super-admin reviews and approves it; it is live for acme only', { timeout: TEST_TIMEOUT * 3 }, async (t) => {
    const tag = suffix();
    const skill = probeSkill(tag, 1);
    const started = Date.now();

    // The Acme admin submits the folder and sees it waiting for review.
    const admin = await openPage(browser());
    await signIn(admin.page, ACME, 'acme-admin');
    const id = await submitFolder(admin.page, skill, { risk: 'low' });
    await assertSubmitted(admin.page, skill, null);
    await gotoHydrated(admin.page, url(ACME, '/submissions'));
    const mine = admin.page.locator(`table[data-testid=submissions] tr[data-submission="${id}"]`);
    assert.equal(await mine.locator('[data-testid=submission-status]').getAttribute('data-status'), 'submitted');
    assert.equal((await mine.locator('[data-testid=submission-status]').textContent()).trim(), 'Waiting for review');
    t.diagnostic(`submission ${id} for ${skill.slug} submitted after ${Date.now() - started} ms`);

    // Not live yet: acme's users do not see it.
    const user = await openPage(browser());
    await signIn(user.page, ACME, 'acme-user');
    await gotoHydrated(user.page, url(ACME, '/skills'));
    await user.page.locator('table[data-testid=skills]').waitFor();
    assert.equal(await user.page.locator(`tr[data-skill="${skill.slug}"]`).count(), 0, 'listed before approval');

    // The super-admin reviews it in the console and approves it, raising the risk to medium.
    const reviewer = await openPage(browser());
    await signIn(reviewer.page, CONSOLE, 'superadmin');
    const reviewed = await reviewAndApprove(reviewer.page, id, skill, { risk: 'medium' });
    assert.deepEqual(reviewed, ['submitted', 'approved', 'synced', 'registered', 'live']);
    const approvedStep = await reviewer.page.locator('ol[data-testid=timeline] > li[data-status=approved]').textContent();
    assert.match(approvedStep, /reviewer changed risk low → medium/, `the approval names the change: ${approvedStep}`);
    assert.match(await reviewer.page.locator('[data-testid=decided]').textContent(), /medium risk/);
    await reviewer.close();
    t.diagnostic(`approved and live after ${Date.now() - started} ms`);

    // The Acme admin's timeline now ends at live.
    await assertLive(admin.page, id, skill, 1);
    await gotoHydrated(admin.page, url(ACME, '/submissions'));
    assert.equal(await mine.locator('[data-testid=submission-status]').getAttribute('data-status'), 'live');
    await admin.close();

    // An Acme user finds it in /skills (with the reviewer's risk), opens it, runs it.
    await gotoHydrated(user.page, url(ACME, '/skills'));
    const listed = user.page.locator(`table[data-testid=skills] tr[data-skill="${skill.slug}"]`);
    await listed.waitFor();
    assert.equal(await listed.locator('.badge.risk-medium').count(), 1, 'listed with the approved risk');
    assert.equal((await listed.locator('td').last().textContent()).trim(), '1', 'version 1');
    await listed.locator(`a[href$="/skills/${skill.slug}"]`).click();
    await user.page.waitForURL(url(ACME, `/skills/${skill.slug}`));
    await user.page.locator('form[data-testid=run-form]').waitFor();
    await waitHydrated(user.page);
    assert.equal((await user.page.locator('main h1').first().textContent()).trim(), skill.name);
    assert.ok((await user.page.locator('[data-testid=readme]').textContent()).includes(skill.readmeLine));
    assert.deepEqual(await versions(user.page), [{ version: 1, live: true, canSwitch: false }]);
    const who = `ada-${tag}`;
    const result = await runProbe(user, skill, who);
    assert.deepEqual(result, { greeting: `hello ${who}`, marker: skill.marker, version: '1' });
    await user.close();
    t.diagnostic(`run by acme-user done after ${Date.now() - started} ms`);

    // Globex: its user neither lists nor opens it; its admin cannot see the submission.
    const globex = await openPage(browser());
    await signIn(globex.page, GLOBEX, 'globex-user');
    await gotoHydrated(globex.page, url(GLOBEX, '/skills'));
    await globex.page.locator('table[data-testid=skills]').waitFor();
    assert.equal(await globex.page.locator(`tr[data-skill="${skill.slug}"]`).count(), 0, 'listed on globex');
    assert.doesNotMatch(await globex.page.locator('main').textContent(), new RegExp(skill.name));
    const foreign = await globex.page.goto(url(GLOBEX, `/skills/${skill.slug}`));
    await waitHydrated(globex.page);
    await alertLocator(globex.page).first().waitFor();
    assert.match(await globex.page.locator('main').textContent(), /not found|no skill|no such/i);
    assert.equal(await globex.page.locator('form[data-testid=run-form]').count(), 0, 'a run form on globex');
    assert.equal(await globex.page.locator('[data-testid=readme]').count(), 0, 'the README on globex');
    assert.doesNotMatch(await globex.page.locator('body').textContent(), new RegExp(`${skill.name}|${skill.marker}`));
    assert.equal(foreign.status(), 404, `HTTP status of globex /skills/${skill.slug}`);
    await globex.close();

    const globexAdmin = await openPage(browser());
    await signIn(globexAdmin.page, GLOBEX, 'globex-admin');
    await gotoHydrated(globexAdmin.page, url(GLOBEX, '/submissions'));
    await globexAdmin.page.locator('table[data-testid=submissions]').or(globexAdmin.page.getByTestId('empty')).first().waitFor();
    assert.equal(await globexAdmin.page.locator(`tr[data-submission="${id}"]`).count(), 0, 'acme\'s submission listed on globex');
    const foreignSubmission = await globexAdmin.page.goto(url(GLOBEX, `/submissions/${id}`));
    await waitHydrated(globexAdmin.page);
    await alertLocator(globexAdmin.page).first().waitFor();
    assert.doesNotMatch(await globexAdmin.page.locator('body').textContent(), new RegExp(`${skill.slug}|${skill.marker}`));
    assert.equal(foreignSubmission.status(), 404, `HTTP status of globex /submissions/${id}`);
    await globexAdmin.close();

    published.v1 = skill;
    published.tag = tag;
});

test('a second version goes live the same way; acme-admin rolls back to version 1 from the skill page', { timeout: TEST_TIMEOUT * 3 }, async (t) => {
    const started = Date.now();
    const admin = await openPage(browser());
    await signIn(admin.page, ACME, 'acme-admin');
    const reviewer = await openPage(browser());
    await signIn(reviewer.page, CONSOLE, 'superadmin');

    // Version 1 from the first test, or published here when this test runs alone.
    let v1 = published.v1;
    const tag = published.tag ?? suffix();
    if (!v1) {
        v1 = probeSkill(tag, 1);
        const id1 = await submitFolder(admin.page, v1);
        await reviewAndApprove(reviewer.page, id1, v1);
        t.diagnostic(`published version 1 of ${v1.slug} (submission ${id1}) here`);
    }
    const v2 = probeSkill(tag, 2);
    assert.equal(v2.slug, v1.slug);

    // Version 2: submitted against live version 1, reviewed with its diff, approved.
    const id2 = await submitFolder(admin.page, v2);
    await assertSubmitted(admin.page, v2, 1);
    await reviewAndApprove(reviewer.page, id2, v2, { expectDiff: true });
    await reviewer.close();
    await assertLive(admin.page, id2, v2, 2);
    t.diagnostic(`version 2 (submission ${id2}) live after ${Date.now() - started} ms`);

    // Acme's users get version 2 at once.
    const user = await openPage(browser());
    await signIn(user.page, ACME, 'acme-user');
    let result = await runProbe(user, v2, `bob-${tag}`);
    assert.deepEqual(result, { greeting: `hello bob-${tag}`, marker: v2.marker, version: '2' });

    // The admin's skill page lists both versions, 2 live, 1 with "Make live"; rolls back.
    await gotoHydrated(admin.page, url(ACME, `/skills/${v1.slug}`));
    assert.match(await admin.page.locator('main .title-row').textContent(), /version\s*2/);
    assert.deepEqual(await versions(admin.page), [
        { version: 2, live: true, canSwitch: false },
        { version: 1, live: false, canSwitch: true },
    ]);
    const row1 = admin.page.locator('table[data-testid=versions] tr[data-version="1"]');
    const versionRows = await tableRows(admin.page, 'versions');
    assert.ok(versionRows.every((cells) => cells[1] === 'acme-admin' && cells[2] === 'superadmin'), `submitted and approved by: ${JSON.stringify(versionRows)}`);
    // "Make live" asks first, readable (not white on white); Cancel changes nothing.
    const makeLive = row1.locator('[data-testid=make-live] summary');
    const colours = await makeLive.evaluate((el) => {
        const style = getComputedStyle(el);
        return { color: style.color, background: style.backgroundColor };
    });
    const onWhite = ['rgba(0, 0, 0, 0)', 'rgb(255, 255, 255)'].includes(colours.background);
    assert.ok(colours.color !== colours.background && !(onWhite && colours.color === 'rgb(255, 255, 255)'),
        `Make live is readable, not white on the white card: ${JSON.stringify(colours)}`);
    await makeLive.click();
    const question = row1.getByText('Make version 1 live for all Acme users?', { exact: true });
    await question.waitFor();
    await row1.getByRole('button', { name: 'Cancel', exact: true }).click();
    await question.waitFor({ state: 'hidden' });
    assert.deepEqual((await versions(admin.page)).map((v) => [v.version, v.live]), [[2, true], [1, false]], 'Cancel changed nothing');
    await gotoHydrated(admin.page, url(ACME, `/skills/${v1.slug}`));
    assert.deepEqual((await versions(admin.page)).map((v) => [v.version, v.live]), [[2, true], [1, false]], 'nor on the server');
    await makeLive.click();
    await question.waitFor();
    await row1.getByRole('button', { name: 'Make version 1 live', exact: true }).click();
    await admin.page.locator('table[data-testid=versions] tr[data-version="1"] .badge.live').waitFor();
    assert.deepEqual(await alertLocator(admin.page).allTextContents(), []);
    assert.deepEqual(await versions(admin.page), [
        { version: 2, live: false, canSwitch: true },
        { version: 1, live: true, canSwitch: false },
    ]);
    await admin.page.locator('main .title-row', { hasText: /version\s*1/ }).waitFor();
    // Still so when the page is loaded anew.
    await gotoHydrated(admin.page, url(ACME, `/skills/${v1.slug}`));
    assert.deepEqual((await versions(admin.page)).map((v) => [v.version, v.live]), [[2, false], [1, true]]);
    assert.ok((await admin.page.locator('[data-testid=readme]').textContent()).includes(v1.readmeLine), 'version 1\'s README');
    t.diagnostic(`rolled back after ${Date.now() - started} ms`);

    // The users run version 1 again, and the list says so.
    result = await runProbe(user, v1, `cy-${tag}`);
    assert.deepEqual(result, { greeting: `hello cy-${tag}`, marker: v1.marker, version: '1' });
    await gotoHydrated(user.page, url(ACME, '/skills'));
    const listed = user.page.locator(`table[data-testid=skills] tr[data-skill="${v1.slug}"]`);
    assert.equal((await listed.locator('td').last().textContent()).trim(), '1');
    await user.close();

    // Submitting exactly what is live is refused with a message, back on the form.
    await gotoHydrated(admin.page, url(ACME, '/submissions/new'));
    const form = admin.page.locator('form[data-testid=submit-form]');
    await form.locator('input[type=file][name=archive]').setInputFiles(v1.file);
    await form.locator('textarea[name=scenario]').fill('The same folder again.');
    await form.locator('select[name=risk]').selectOption('medium');
    await form.locator('input[name=ai_callable]').check();
    await form.getByRole('button', { name: 'Submit for review', exact: true }).click();
    await admin.page.waitForURL((u) => u.pathname === '/submissions/new' && u.searchParams.has('error'));
    await waitHydrated(admin.page);
    const refusal = admin.page.locator('[data-testid=submit-error]');
    await refusal.waitFor();
    assert.match(await refusal.textContent(), new RegExp(`exactly what version 1 of ${v1.slug} already runs`));
    // What was typed is still there (all but the archive, which a browser never pre-fills).
    assert.equal(await form.locator('textarea[name=scenario]').inputValue(), 'The same folder again.');
    assert.equal(await form.locator('select[name=risk]').inputValue(), 'medium');
    assert.ok(await form.locator('input[name=ai_callable]').isChecked(), 'the ticked box stays ticked');
    assert.ok(await form.locator('input[name=manual_allowed]').isChecked());
    assert.ok(!(await form.locator('input[name=requires_confirmation]').isChecked()));
    await admin.close();
    t.diagnostic(`done after ${Date.now() - started} ms`);
});

test('the super-admin withdraws a version on the console; the tenant admin sees why and cannot make it live; the audit chains check out', { timeout: TEST_TIMEOUT * 3 }, async (t) => {
    const tag = suffix();
    const admin = await openPage(browser());
    await signIn(admin.page, ACME, 'acme-admin');
    const reviewer = await openPage(browser());
    await signIn(reviewer.page, CONSOLE, 'superadmin');
    const v1 = probeSkill(tag, 1);
    const v2 = probeSkill(tag, 2);
    for (const skill of [v1, v2]) {
        const id = await submitFolder(admin.page, skill);
        await reviewAndApprove(reviewer.page, id, skill, { expectDiff: skill === v2 });
    }

    // Console → Tenants → Acme: withdraw the live version 2 with a reason.
    const why = `leaks the probe ${tag}`;
    await gotoHydrated(reviewer.page, url(CONSOLE, '/tenants'));
    await reviewer.page.getByTestId('tenants').getByRole('link', { name: 'Acme', exact: true }).click();
    await reviewer.page.waitForURL(/\/tenants\/\d+$/);
    await waitHydrated(reviewer.page);
    const row2 = reviewer.page.locator(`table[data-testid=versions][data-skill="${v1.slug}"] tr[data-version="2"]`);
    const withdraw = row2.locator('form[data-testid=withdraw-form]');
    await withdraw.waitFor();
    await withdraw.locator('input[name=reason]').fill(why);
    await withdraw.getByRole('button', { name: 'Withdraw', exact: true }).click();
    await row2.locator('[data-testid=withdrawn]').waitFor({ timeout: 30_000 });
    assert.deepEqual(await alertLocator(reviewer.page).allTextContents(), []);
    await reviewer.page
        .locator(`table[data-testid=versions][data-skill="${v1.slug}"] tr[data-version="1"] .badge.live`)
        .waitFor();

    // The tenant admin's skill page: version 1 live, version 2 withdrawn with the reason, no button.
    await gotoHydrated(admin.page, url(ACME, `/skills/${v1.slug}`));
    assert.deepEqual(await versions(admin.page), [
        { version: 2, live: false, canSwitch: false },
        { version: 1, live: true, canSwitch: false },
    ]);
    const shown = admin.page.locator('table[data-testid=versions] tr[data-version="2"]');
    assert.ok((await shown.textContent()).includes(why), 'the reason is shown');
    await admin.close();

    // The console's audit chain check: every log intact.
    await gotoHydrated(reviewer.page, url(CONSOLE, '/audit/verify'));
    const checks = await tableRows(reviewer.page, 'audit-check');
    assert.ok(checks.length >= 3, `the platform's log and the tenants': ${JSON.stringify(checks)}`);
    assert.ok(checks.every((cells) => cells[2] === 'OK'), JSON.stringify(checks));
    await reviewer.close();
    t.diagnostic(`withdrew version 2 of ${v1.slug}`);
});
