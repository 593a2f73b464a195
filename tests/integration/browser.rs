//! The status page (`functions/ops-api/assets/index.html`) in a real browser: headless
//! chromium driven over WebDriver ([`driver`]). Served by a stand-in API with canned JSON in
//! the contract's shapes ([`fixtures`]), it must show the suite, keep viewers away from the
//! command buttons, send a confirmed command with its reason, route API keys and tokens to
//! their paths, and show nulls and markup from the API as plain text. Then the same page served
//! by ops-api itself over the emulator's state ([`live`]). Screenshots go to `.cache/browser/`.

mod driver;
mod fixtures;
mod live;

use driver::Browser;
use fixtures::{FixtureApi, NULLS_KEY, OPERATOR_JWT, OPERATOR_KEY, VIEWER_KEY};
use serde_json::json;

/// WebDriver's Enter and Tab keys.
const ENTER: &str = "\u{E007}";
const TAB: &str = "\u{E004}";

/// Opens the page of `api`, signs in with `credential` and waits for the first render.
async fn signed_in(api: &FixtureApi, credential: &str) -> Browser {
    let browser = Browser::open().await;
    browser.goto(&format!("{}/", api.url)).await;
    browser.sign_in(credential).await;
    browser
}

/// The `data-action` values of the buttons in the row of `service`.
async fn actions_of(browser: &Browser, service: &str) -> Vec<String> {
    let found = browser
        .js(
            "return [...document.querySelectorAll('#services tr[data-service=\"' + arguments[0] + '\"] button[data-action]')].map(b => b.dataset.action);",
            vec![json!(service)],
        )
        .await;
    serde_json::from_value(found).expect("a list of names")
}

#[tokio::test]
async fn a_viewer_sees_the_suite_and_no_command_buttons() {
    let api = FixtureApi::start().await;
    let browser = signed_in(&api, VIEWER_KEY).await;
    browser.screenshot("fixture-viewer").await;

    // Services, in-flight ones highlighted and summarised.
    let rows = browser
        .js(
            "return [...document.querySelectorAll('#services tbody tr')].map(r => [r.dataset.service, r.classList.contains('inflight')]);",
            vec![],
        )
        .await;
    assert_eq!(
        rows,
        json!([
            ["web", true],
            ["checkout", true],
            ["api", false],
            ["billing", false]
        ])
    );
    let summary = browser.text("#inflight-summary").await;
    assert!(summary.starts_with("2 deployments in flight"), "{summary}");
    let web = browser.text("#services tr[data-service=web]").await;
    for part in [
        "registry.example/web:1.4.2",
        "registry.example/web:1.5.0",
        "canary",
        "step 2 of 5, 25 %, 3m 10s left",
        "in flight",
        "alarm web-5xx-rate went to ALARM",
    ] {
        assert!(web.contains(part), "{part:?} not in the web row: {web}");
    }
    let progress = browser
        .js(
            "const p = document.querySelector('tr[data-service=web] progress'); return [p.value, p.max];",
            vec![],
        )
        .await;
    assert_eq!(progress, json!([2, 5]));
    let weights = browser
        .js(
            "return [...document.querySelectorAll('tr[data-service=web] [data-weight]')].map(w => [w.dataset.weight, w.getAttribute('aria-label')]);",
            vec![],
        )
        .await;
    assert_eq!(
        weights,
        json!([["blue", "blue 75 %"], ["green", "green 25 %"]])
    );
    // The bars are drawn (styles set through the DOM pass the API's CSP; attributes would not).
    let drawn = browser
        .js(
            r#"const fill = w => document.querySelector('tr[data-service=web] [data-weight="' + w + '"] .fill');
               const track = fill('blue').parentElement.getBoundingClientRect().width;
               return [Math.round(100 * fill('blue').getBoundingClientRect().width / track),
                       Math.round(100 * fill('green').getBoundingClientRect().width / track),
                       getComputedStyle(document.querySelector('.swatch.failed')).backgroundColor !== 'rgba(0, 0, 0, 0)'];"#,
            vec![],
        )
        .await;
    assert_eq!(drawn, json!([75, 25, true]));
    let checkout = browser.text("#services tr[data-service=checkout]").await;
    assert!(
        checkout.contains("paused") && checkout.contains("1 command pending"),
        "{checkout}"
    );
    assert!(checkout.contains("step 3 of 4, 50 %"), "{checkout}");

    // No command button anywhere for a viewer, and no actions column.
    assert_eq!(browser.count("button[data-action]").await, 0);
    assert_eq!(browser.count("#services thead th").await, 9);

    // Recent rollbacks, newest first; backups with a text badge; cost with the report link; DORA.
    let rollbacks = browser
        .js(
            "return [...document.querySelectorAll('#rollbacks tbody tr')].map(r => r.dataset.service);",
            vec![],
        )
        .await;
    assert_eq!(rollbacks, json!(["billing", "api", "web"]));
    assert_eq!(
        browser
            .text("#backups tr[data-plan=dns] [data-freshness]")
            .await,
        "✓ fresh"
    );
    assert_eq!(
        browser
            .text("#backups tr[data-plan=assets] [data-freshness]")
            .await,
        "✗ stale"
    );
    assert!(browser
        .text("#backups tr[data-plan=assets]")
        .await
        .contains("never verified"));
    let link = browser
        .js(
            "return document.getElementById('cost-report-link').href;",
            vec![],
        )
        .await;
    assert_eq!(link, json!("https://reports.example/cost/2026-12-05.html"));
    assert_eq!(browser.count("#cost-alerts tbody tr").await, 2);
    let figures = browser.text("#dora-figures").await;
    for part in ["1.30", "21m 0s", "10.3 %", "9m 0s"] {
        assert!(
            figures.contains(part),
            "{part:?} not in the DORA figures: {figures}"
        );
    }
    assert_eq!(browser.count("#dora-chart g[data-day]").await, 30);
    assert_eq!(browser.count("#dora-chart rect.failed").await, 4);

    // Accessible markup: labelled inputs, captioned tables with scoped headers, a live region.
    let checks = browser
        .js(
            r#"return {
                unlabelled: [...document.querySelectorAll('input')].filter(i => !i.labels || !i.labels.length).map(i => i.id),
                uncaptioned: [...document.querySelectorAll('table')].filter(t => !t.caption).map(t => t.id),
                unscoped: [...document.querySelectorAll('th')].filter(th => !th.getAttribute('scope')).length,
                live: document.getElementById('messages').getAttribute('aria-live'),
                external: performance.getEntriesByType('resource').map(r => r.name).filter(n => !n.startsWith(location.origin)),
            };"#,
            vec![],
        )
        .await;
    assert_eq!(
        checks,
        json!({"unlabelled": [], "uncaptioned": [], "unscoped": 0, "live": "polite", "external": []})
    );

    // API keys go to /machine/* in x-api-key, and the page refreshes on its own every 10 s.
    let before = browser.renders().await;
    browser.rendered_after(before).await;
    let seen = api.seen();
    assert!(seen.len() >= 6, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.path.starts_with("/machine/") && s.credential == "x-api-key"),
        "{seen:?}"
    );
    assert!(seen
        .iter()
        .any(|s| s.path == "/machine/reports/dora?days=30"));
    assert!(api.posts().is_empty());

    // The credential lives in sessionStorage until sign out.
    let stored = browser
        .js("return Object.values(sessionStorage);", vec![])
        .await;
    assert_eq!(stored, json!([VIEWER_KEY]));
    browser.click("#signout").await;
    browser
        .until("the sign-in form", "return !document.getElementById('signin').hidden && document.getElementById('dashboard').hidden;")
        .await;
    let stored = browser.js("return sessionStorage.length;", vec![]).await;
    assert_eq!(stored, json!(0));
    browser.close().await;
}

#[tokio::test]
async fn an_operator_aborts_through_the_confirmation_dialog() {
    let api = FixtureApi::start().await;
    let browser = signed_in(&api, OPERATOR_KEY).await;
    browser.screenshot("fixture-operator").await;
    assert_eq!(
        actions_of(&browser, "web").await,
        ["pause", "promote", "abort"]
    );
    assert_eq!(
        actions_of(&browser, "checkout").await,
        ["resume", "promote", "abort"]
    );
    assert!(actions_of(&browser, "api").await.is_empty());
    assert!(actions_of(&browser, "billing").await.is_empty());

    // Cancel sends nothing.
    browser
        .click("#services button[data-service=web][data-action=abort]")
        .await;
    browser
        .until(
            "the dialog",
            "return document.getElementById('confirm').open;",
        )
        .await;
    assert_eq!(
        browser.text("#confirm-title").await,
        "Abort the deployment of web?"
    );
    browser.click("#confirm-cancel").await;
    browser
        .until(
            "the dialog to close",
            "return !document.getElementById('confirm').open;",
        )
        .await;
    // Focus goes back to the button that opened the dialog (keyboard users keep their place).
    let focused = browser
        .js(
            "return document.activeElement.dataset.focusKey || null;",
            vec![],
        )
        .await;
    assert_eq!(focused, json!("abort:web"));
    assert!(api.posts().is_empty(), "{:?}", api.posts());

    // Confirm with a reason, by keyboard only: Enter on the focused button opens the dialog
    // with the reason field focused, Tab reaches Cancel then Confirm with a visible focus ring,
    // Enter confirms. One POST with the reason, the result announced, the page refreshed.
    browser.type_into(":focus", ENTER).await;
    browser
        .until(
            "the dialog",
            "return document.getElementById('confirm').open && document.activeElement.id === 'confirm-reason';",
        )
        .await;
    browser.type_into(":focus", "bad canary").await;
    browser.screenshot("fixture-abort-dialog").await;
    for expected in ["confirm-cancel", "confirm-ok"] {
        browser.type_into(":focus", TAB).await;
        let focus = browser
            .js(
                "const e = document.activeElement; return [e.id, getComputedStyle(e).outlineStyle];",
                vec![],
            )
            .await;
        assert_eq!(focus, json!([expected, "solid"]));
    }
    let renders = browser.renders().await;
    browser.type_into(":focus", ENTER).await;
    browser.rendered_after(renders).await;
    let posts = api.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].path, "/machine/services/web/abort");
    assert_eq!(posts[0].credential, "x-api-key");
    assert_eq!(posts[0].body, json!({"reason": "bad canary"}));
    let said = browser.text("#messages").await;
    assert!(said.contains("Abort web: stored"), "{said}");
    assert!(!browser
        .js("return document.getElementById('confirm').open;", vec![])
        .await
        .as_bool()
        .unwrap_or(true));
    browser.screenshot("fixture-after-abort").await;
    browser.close().await;
}

#[tokio::test]
async fn a_token_is_sent_as_a_bearer_on_the_unprefixed_paths() {
    let api = FixtureApi::start().await;
    let browser = signed_in(&api, OPERATOR_JWT).await;
    assert!(browser
        .text("#who")
        .await
        .starts_with("alice · operator (jwt)"));
    let seen = api.seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|s| !s.path.starts_with("/machine") && s.credential == "bearer"),
        "{seen:?}"
    );
    browser
        .click("#services button[data-service=checkout][data-action=resume]")
        .await;
    browser
        .until(
            "the dialog",
            "return document.getElementById('confirm').open;",
        )
        .await;
    let renders = browser.renders().await;
    browser.click("#confirm-ok").await;
    browser.rendered_after(renders).await;
    let posts = api.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].path, "/services/checkout/resume");
    // No reason typed: the body carries none.
    assert_eq!(posts[0].body, json!({}));
    browser.close().await;
}

#[tokio::test]
async fn nulls_and_markup_from_the_api_are_shown_as_plain_text() {
    let api = FixtureApi::start().await;
    let browser = signed_in(&api, NULLS_KEY).await;
    browser.screenshot("fixture-nulls").await;
    let injected = browser
        .js(
            "return [document.body.dataset.injected || null, document.querySelectorAll('#injected, #services img, #services script').length];",
            vec![],
        )
        .await;
    assert_eq!(injected, json!([null, 0]));
    let services = browser.text("#services").await;
    assert!(services.contains("<img src=x id=injected"), "{services}");
    assert!(services.contains("step 1 of 3"), "{services}");
    assert!(browser
        .text("#rollbacks")
        .await
        .contains("<script>document.body.dataset.injected='yes'</script>"));
    assert!(browser.text("#backups").await.contains("no snapshot yet"));
    assert!(browser
        .text("#cost-body")
        .await
        .contains("No cost report yet."));
    assert!(browser
        .text("#dora-body")
        .await
        .contains("No daily figures."));
    browser.close().await;
}

#[tokio::test]
async fn a_refused_credential_returns_to_the_form_and_is_not_kept() {
    let api = FixtureApi::start().await;
    let browser = Browser::open().await;
    browser.goto(&format!("{}/", api.url)).await;
    browser
        .until(
            "the sign-in form",
            "return !document.getElementById('signin').hidden;",
        )
        .await;
    browser.type_into("#credential", "not-a-key").await;
    browser.click("#signin-submit").await;
    browser
        .until(
            "the refusal",
            "return document.getElementById('errors').textContent.includes('401');",
        )
        .await;
    browser.screenshot("fixture-refused").await;
    let state = browser
        .js(
            "return [document.getElementById('signin').hidden, document.getElementById('dashboard').hidden, sessionStorage.length];",
            vec![],
        )
        .await;
    assert_eq!(state, json!([false, true, 0]));
    assert_eq!(browser.count("button[data-action]").await, 0);
    browser.close().await;
}
