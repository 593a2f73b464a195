//! Property tests of the configuration parser and validator (`config::parse`): arbitrary text,
//! the real `infra/config/suite.yaml` edited as text or mutated as a tree, and long values at
//! every position never panic; every error renders in a few hundred bytes (its path, message and
//! hint are capped) and the list of errors in a bounded number of lines; an accepted
//! configuration written back out reads back as itself.

#[path = "../../../tests/props/support.rs"]
mod support;

use ops_domain::config::{
    bounded, parse, ConfigErrors, MAX_ERROR_HINT, MAX_ERROR_MESSAGE, MAX_ERROR_PATH,
    MAX_LISTED_ERRORS,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;
use support::{arb_mutated, check_bounded, config, megabyte_string, with_long_everywhere};

/// What one capped part can add: `… (1048576 more bytes)`.
const MARK: usize = 24;
/// Most bytes one error renders in: `path: message (hint)`, each part capped.
const MAX_ERROR_BYTES: usize =
    MAX_ERROR_PATH + MAX_ERROR_MESSAGE + MAX_ERROR_HINT + 3 * MARK + ": ".len() + " ()".len();

const KEYS: &[&str] = &[
    "version",
    "notifications",
    "channels",
    "routes",
    "kind",
    "secret",
    "critical",
    "warning",
    "info",
    "services",
    "cluster",
    "strategy",
    "ecs_service",
    "traffic",
    "zone_name",
    "zone_id",
    "record_name",
    "targets",
    "deploy",
    "canary_steps",
    "window",
    "alarms",
    "alarm",
    "rollback",
    "cost",
    "source",
    "dimensions",
    "budgets",
    "windows",
    "start",
    "end",
    "days",
    "backup",
    "plans",
    "schedule",
    "retention",
    "destination",
];

fn suite_text() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/config/suite.yaml");
    std::fs::read_to_string(path).expect("infra/config/suite.yaml")
}

/// The suite config as a tree (JSON values: the YAML has no tags or non-string keys).
fn suite_tree() -> Value {
    serde_yaml_ng::from_str(&suite_text()).expect("suite.yaml is YAML")
}

fn to_yaml(tree: &Value) -> String {
    serde_yaml_ng::to_string(tree).expect("a JSON value is YAML")
}

/// The parser's contract on any text.
fn check(text: &str) -> Result<(), TestCaseError> {
    match parse(text) {
        Ok(config) => {
            // Written back out, an accepted configuration reads back as itself (compared as
            // text: a float may be NaN).
            let written = serde_yaml_ng::to_string(&config).expect("a config serializes");
            let again = parse(&written);
            prop_assert!(again.is_ok(), "written back: {:?}", again.err());
            let rewritten = serde_yaml_ng::to_string(&again.expect("checked")).expect("serializes");
            prop_assert_eq!(written, rewritten);
        }
        Err(errors) => check_errors(&errors)?,
    }
    Ok(())
}

fn check_errors(errors: &ConfigErrors) -> Result<(), TestCaseError> {
    prop_assert!(!errors.0.is_empty(), "an error list is never empty");
    for error in &errors.0 {
        check_bounded("config error", &error.to_string(), MAX_ERROR_BYTES)?;
    }
    let listed = errors.0.len().min(MAX_LISTED_ERRORS);
    check_bounded(
        "config errors",
        &errors.to_string(),
        64 + listed * (MAX_ERROR_BYTES + 3),
    )?;
    Ok(())
}

/// A text edit of the YAML file.
#[derive(Debug, Clone)]
enum Edit {
    /// Delete the characters between two positions.
    Delete(Index, Index),
    /// Insert text at a position.
    Insert(Index, String),
    /// Repeat a line.
    DuplicateLine(Index),
    /// Replace what follows the first `:` of a line.
    ReplaceValue(Index, String),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    let fragment = prop_oneof![
        support::arb_string(),
        proptest::sample::select(
            &[
                "\n", ":", "- ", "  ", "\t", "{", "}", "[", "]", "&a", "*a", "!!binary", "~", "'",
                "\"", "#", "? ", "|", ">", "---", "...", ".nan", "-1", "1e400", "0x1F", "<<: *a",
            ][..]
        )
        .prop_map(str::to_owned),
        proptest::sample::select(KEYS).prop_map(|key| format!("\n  {key}: x")),
    ];
    prop_oneof![
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Delete(a, b)),
        (any::<Index>(), fragment.clone()).prop_map(|(at, text)| Edit::Insert(at, text)),
        any::<Index>().prop_map(Edit::DuplicateLine),
        (any::<Index>(), fragment).prop_map(|(at, text)| Edit::ReplaceValue(at, text)),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let at = |index: &Index| bounds[index.index(bounds.len())];
    let lines: Vec<&str> = text.lines().collect();
    match edit {
        Edit::Delete(a, b) => {
            let (a, b) = (at(a).min(at(b)), at(a).max(at(b)));
            format!("{}{}", &text[..a], &text[b..])
        }
        Edit::Insert(i, fragment) => {
            let i = at(i);
            format!("{}{fragment}{}", &text[..i], &text[i..])
        }
        Edit::DuplicateLine(i) => {
            let mut lines = lines.clone();
            let i = i.index(lines.len());
            lines.insert(i, lines[i]);
            lines.join("\n")
        }
        Edit::ReplaceValue(i, fragment) => {
            let mut lines: Vec<String> = lines.iter().map(|line| (*line).to_owned()).collect();
            let i = i.index(lines.len());
            if let Some((key, _)) = lines[i].split_once(':') {
                lines[i] = format!("{key}: {fragment}");
            }
            lines.join("\n")
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn arbitrary_text_never_panics_and_errors_are_bounded(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn edited_suite_config_never_panics_and_errors_are_bounded(
        edits in proptest::collection::vec(arb_edit(), 1..=4),
    ) {
        let text = edits.iter().fold(suite_text(), |text, edit| apply(&text, edit));
        check(&text)?;
    }

    #[test]
    fn mutated_suite_config_never_panics_and_errors_are_bounded(
        tree in arb_mutated(vec![suite_tree()], KEYS),
    ) {
        check(&to_yaml(&tree))?;
    }
}

#[test]
fn the_suite_config_is_valid_and_reads_back_as_itself() {
    let config = parse(&suite_text()).expect("suite.yaml is valid");
    let written = serde_yaml_ng::to_string(&config).expect("serializes");
    assert_eq!(parse(&written).expect("written back is valid"), config);
}

/// A long value at any position of the real config (a value, a key, the whole file) is quoted
/// only in part. 4 KB everywhere (longer than every cap), one megabyte where the validator
/// quotes what it read: the whole file, a top-level key, a service name, a field name, an enum
/// value, a glob, a route's service, a channel name.
#[test]
fn long_values_anywhere_give_bounded_errors() {
    let tree = suite_tree();
    let mut errors = 0;
    let mut longest = 0;
    let mut record = |text: &str| {
        if let Err(found) = parse(text) {
            errors += 1;
            for error in &found.0 {
                let shown = error.to_string();
                longest = longest.max(shown.len());
                assert!(
                    shown.len() <= MAX_ERROR_BYTES,
                    "{} bytes: {}…",
                    shown.len(),
                    shown.chars().take(200).collect::<String>()
                );
            }
        }
    };
    // 4 KB at every node: parsing a megabyte of YAML per node would take the whole time
    // budget, and the caps are far below 4 KB.
    let kilobytes: String = megabyte_string().chars().take(4096).collect();
    let checked =
        with_long_everywhere(&tree, &kilobytes, &[], &mut |input| record(&to_yaml(input)));
    assert!(checked > 100, "{checked} inputs");

    let long = megabyte_string().replace(['\n', '"', '\\', ':', '#'], " ");
    let mut plant = |edit: &dyn Fn(&mut Value)| {
        let mut tree = suite_tree();
        edit(&mut tree);
        record(&to_yaml(&tree));
    };
    plant(&|tree| tree[long.as_str()] = Value::Null);
    plant(&|tree| tree["services"][long.as_str()] = tree["services"]["checkout"].clone());
    plant(&|tree| tree["services"]["checkout"][long.as_str()] = Value::Bool(true));
    plant(&|tree| tree["services"]["checkout"]["strategy"] = long.clone().into());
    plant(&|tree| tree["services"]["checkout"]["cluster"] = serde_json::json!([long.clone()]));
    plant(&|tree| tree["version"] = long.clone().into());
    plant(&|tree| tree["alarms"][0]["alarm"] = format!("[{long}").into());
    plant(&|tree| tree["alarms"][0]["services"][0] = long.clone().into());
    plant(&|tree| tree["notifications"]["routes"]["critical"][0] = long.clone().into());
    plant(&|tree| tree["notifications"]["routes"][long.as_str()] = serde_json::json!([]));
    record(&long);
    record(&format!("version: 1\n{long}: 1\n"));
    assert!(errors > 100, "{errors} invalid inputs");
    assert!(longest > 300, "longest error {longest} bytes");
}

/// A file with thousands of errors lists the first [`MAX_LISTED_ERRORS`] and counts the rest.
#[test]
fn thousands_of_errors_are_listed_in_bounded_lines() {
    let text: String = (0..5000).map(|i| format!("unknown_{i}: 1\n")).collect();
    let errors = parse(&format!("version: 1\n{text}")).expect_err("unknown fields");
    assert_eq!(errors.0.len(), 5000);
    let shown = errors.to_string();
    assert_eq!(shown.lines().count(), 1 + MAX_LISTED_ERRORS + 1, "{shown}");
    assert!(shown.ends_with(&format!("… and {} more\n", 5000 - MAX_LISTED_ERRORS)));
}

proptest! {
    #![proptest_config(config(256))]

    /// `bounded` keeps short text as it is, cuts long text at a character boundary within the
    /// limit and says how much it left out.
    #[test]
    fn bounded_cuts_at_a_boundary_and_counts_the_rest(text in any::<String>(), max in 0usize..64) {
        let cut = bounded(&text, max);
        if text.len() <= max {
            prop_assert_eq!(cut, text);
        } else {
            let end = (0..=max).rev().find(|end| text.is_char_boundary(*end)).expect("0 is one");
            let expected = format!("{}… ({} more bytes)", &text[..end], text.len() - end);
            prop_assert_eq!(cut, expected);
        }
    }
}

/// The caps cut only what the file brought: an unknown field or a bad value with a short name,
/// anywhere in the real config, gives a message whose "expected one of" list and hint are whole.
#[test]
fn the_caps_never_cut_the_validators_own_words() {
    let tree = suite_tree();
    let mut checked = 0;
    for path in support::paths(&tree) {
        for plant in [
            Value::Null,
            Value::from("typo"),
            Value::from(-1),
            serde_json::json!([]),
        ] {
            let mut planted = tree.clone();
            match support::node_mut(&mut planted, &path) {
                Value::Object(map) => {
                    map.insert("typo_field".into(), plant);
                }
                node => *node = plant,
            }
            if let Err(errors) = parse(&to_yaml(&planted)) {
                checked += 1;
                for error in &errors.0 {
                    let shown = error.to_string();
                    assert!(!shown.contains("more bytes)"), "cut: {shown}");
                }
            }
        }
    }
    assert!(checked > 100, "{checked} invalid configs");
}
