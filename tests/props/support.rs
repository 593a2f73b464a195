//! Strategies shared by the parsers' property tests. Each crate's `tests/*_props.rs` includes
//! this file with `#[path]` (it is no module of the `ops-tests` crate): arbitrary JSON values
//! whose keys are the ones the parsers look for, mutations of the real sample events in
//! `events/` (nested JSON text such as an SNS `Message` or `UserParameters` included), and a
//! one-megabyte string planted at every position of a sample.

#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use serde_json::{Map, Value};

/// Size of the long input every parser must quote only a bounded part of.
pub const MEGABYTE: usize = 1 << 20;

/// The property suite runs in `make test` on two cores: modest case counts, no files written.
pub fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// One megabyte of text with quotes, escapes and multi-byte characters (serde quotes a string
/// with escapes; a cut must land on a character boundary).
pub fn megabyte_string() -> String {
    let unit = "ab\"c\\d é€😀 x\n";
    let mut text = String::with_capacity(MEGABYTE + unit.len());
    while text.len() < MEGABYTE {
        text.push_str(unit);
    }
    text
}

/// A sample event from `events/`.
pub fn sample(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Strings the parsers treat specially, mixed into the arbitrary ones.
const INTERESTING: &[&str] = &[
    "",
    " ",
    "ALARM",
    "OK",
    "INSUFFICIENT_DATA",
    "CloudWatch Alarm State Change",
    "Scheduled Event",
    "aws:sns",
    "decommission",
    "backup",
    "verify",
    "prune",
    "restore",
    "latest",
    "20260301T020000Z-0123abcd",
    "2026-11-23T10:15:30.123+0000",
    "2026-11-23T10:15:30Z",
    "2026-03-05",
    "{\"service\":\"checkout\"}",
    "{\"AlarmName\":\"a\",\"StateChangeTime\":\"x\"}",
    "[{\"name\":\"app\",\"imageUri\":\"r/app:1\"}]",
    "s3",
    "route53",
    "ecs",
    "secret",
    "canary",
    "linear",
    "null",
    "\u{0}",
];

/// An arbitrary string: anything, a short identifier, one the parsers treat specially, or a
/// long one (longer than any error may quote).
pub fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        1 => (2100usize..6000, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n)),
        2 => "[a-zA-Z0-9 _:.@/-]{0,24}",
        3 => proptest::sample::select(INTERESTING).prop_map(str::to_owned),
    ]
}

/// A JSON scalar.
pub fn arb_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => (0u8..=100).prop_map(Value::from),
        4 => arb_string().prop_map(Value::String),
    ]
}

/// An arbitrary JSON value whose object keys are mostly drawn from `keys` (so values reach the
/// parsers' branches), sometimes arbitrary.
pub fn arb_json(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        3 => proptest::sample::select(keys).prop_map(str::to_owned),
        1 => arb_string(),
    ];
    arb_scalar().prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A key of an object.
    Key(String),
    /// An element of an array.
    Index(usize),
}

/// Every node of `value` (the root first), as paths.
pub fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(here.clone());
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    here.push(Step::Key(key.clone()));
                    walk(item, here, out);
                    here.pop();
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    here.push(Step::Index(i));
                    walk(item, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// The node at `path`.
pub fn node_mut<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(value, |node, step| match step {
        Step::Key(key) => &mut node[key.as_str()],
        Step::Index(i) => &mut node[*i],
    })
}

/// What a mutation does to the node it lands on.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Replace the node with another value.
    Replace(Value),
    /// Remove the node from its object or array (the root becomes `null`).
    Remove,
    /// Add a key (objects) or an element (arrays); other nodes are replaced by the value.
    Insert(String, Value),
    /// The node as JSON text (a string where an object was).
    Stringify,
    /// Parse a string node holding JSON (an SNS `Message`, `UserParameters`), mutate that
    /// document with the inner mutation, write it back as text; other nodes are left alone.
    Nested(Index, Box<Mutation>),
    /// Truncate a string node's text to a prefix (not valid JSON inside any more, say).
    Truncate(Index),
}

/// A mutation, its values drawn with keys from `keys`.
pub fn arb_mutation(keys: &'static [&'static str]) -> impl Strategy<Value = Mutation> {
    let leaf = prop_oneof![
        3 => arb_json(keys).prop_map(Mutation::Replace),
        2 => Just(Mutation::Remove),
        2 => (
            prop_oneof![proptest::sample::select(keys).prop_map(str::to_owned), arb_string()],
            arb_json(keys)
        )
            .prop_map(|(key, value)| Mutation::Insert(key, value)),
        1 => Just(Mutation::Stringify),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ];
    leaf.prop_recursive(1, 2, 1, |inner| {
        (any::<Index>(), inner).prop_map(|(at, mutation)| Mutation::Nested(at, Box::new(mutation)))
    })
}

/// Applies `mutation` at the node `at` picks among every node of `value`.
pub fn mutate(value: &mut Value, at: &Index, mutation: &Mutation) {
    let all = paths(value);
    let path = &all[at.index(all.len())];
    match mutation {
        Mutation::Remove => match path.split_last() {
            None => *value = Value::Null,
            Some((last, parent)) => match (node_mut(value, parent), last) {
                (Value::Object(map), Step::Key(key)) => {
                    map.remove(key);
                }
                (Value::Array(items), Step::Index(i)) => {
                    items.remove(*i);
                }
                _ => {}
            },
        },
        Mutation::Replace(new) => *node_mut(value, path) = new.clone(),
        Mutation::Insert(key, new) => match node_mut(value, path) {
            Value::Object(map) => {
                map.insert(key.clone(), new.clone());
            }
            Value::Array(items) => items.push(new.clone()),
            other => *other = new.clone(),
        },
        Mutation::Stringify => {
            let node = node_mut(value, path);
            *node = Value::String(node.to_string());
        }
        Mutation::Truncate(cut) => {
            if let Value::String(text) = node_mut(value, path) {
                let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
                if !bounds.is_empty() {
                    text.truncate(bounds[cut.index(bounds.len())]);
                }
            }
        }
        Mutation::Nested(inner_at, inner) => {
            let node = node_mut(value, path);
            if let Value::String(text) = node {
                if let Ok(mut document) = serde_json::from_str::<Value>(text) {
                    mutate(&mut document, inner_at, inner);
                    *text = document.to_string();
                }
            }
        }
    }
}

/// A sample from `samples` with one to four mutations applied.
pub fn arb_mutated(
    samples: Vec<Value>,
    keys: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(samples),
        proptest::collection::vec((any::<Index>(), arb_mutation(keys)), 1..=4),
    )
        .prop_map(|(mut value, mutations)| {
            for (at, mutation) in &mutations {
                mutate(&mut value, at, mutation);
            }
            value
        })
}

/// Calls `check` with `sample` with a one-megabyte string planted at each node in turn (the
/// node replaced by it, and, for objects, added as a key), inside each string that holds JSON
/// under a key named in `nested` (an SNS `Message`, `UserParameters`: JSON the parser reads
/// again), and as the whole input: every way a long value can reach a parser through a real event.
/// Returns how many inputs were checked.
pub fn with_megabyte_everywhere(
    sample: &Value,
    nested: &[&str],
    check: &mut dyn FnMut(&Value),
) -> usize {
    with_long_everywhere(sample, &megabyte_string(), nested, check)
}

/// [`with_megabyte_everywhere`] with another long string.
pub fn with_long_everywhere(
    sample: &Value,
    long: &str,
    nested: &[&str],
    check: &mut dyn FnMut(&Value),
) -> usize {
    check(&Value::String(long.to_owned()));
    let mut count = 1;
    for path in paths(sample) {
        let mut replaced = sample.clone();
        let node = node_mut(&mut replaced, &path);
        let original = std::mem::replace(node, Value::String(long.to_owned()));
        check(&replaced);
        count += 1;
        if let Value::Object(map) = &original {
            let mut map = map.clone();
            map.insert(long.to_owned(), Value::Null);
            *node_mut(&mut replaced, &path) = Value::Object(map);
            check(&replaced);
            count += 1;
        }
        let parsed_again =
            matches!(path.last(), Some(Step::Key(key)) if nested.contains(&key.as_str()));
        if let (Value::String(text), true) = (&original, parsed_again) {
            let document = serde_json::from_str::<Value>(text)
                .ok()
                .filter(|document| document.is_object() || document.is_array());
            if let Some(document) = document {
                count += with_long_everywhere(&document, long, nested, &mut |inner| {
                    *node_mut(&mut replaced, &path) = Value::String(inner.to_string());
                    check(&replaced);
                });
            }
        }
    }
    count
}

/// Fails the case when `text` (an error's rendering) is longer than `max` bytes.
pub fn check_bounded(what: &str, text: &str, max: usize) -> Result<(), TestCaseError> {
    prop_assert!(
        text.len() <= max,
        "{what} is {} bytes (at most {max}): {}…",
        text.len(),
        text.chars().take(300).collect::<String>()
    );
    Ok(())
}
