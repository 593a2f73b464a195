//! Architecture checks that need no emulator: no crate has an import circle between its modules.
//!
//! Every module of every crate (nested ones too, test modules excepted) is a node; a `crate::a::b`
//! or `super::c` path outside comments is an edge to the deepest module it names. Edges between a
//! module and its own parent or child are not counted (a parent declares its children). Written
//! by hand because no maintained crate answers "does this crate's module graph have a cycle"
//! from source without compiling it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every `.rs` file under `src` as its module path (`a/b.rs` and `a/b/mod.rs` → `[a, b]`).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<Module, PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, src, out);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap_or(&path).with_extension("");
            let mut parts: Module = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            if parts.last().map(String::as_str) == Some("tests") {
                continue;
            }
            out.insert(parts, path);
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

/// The source without comments and without an inline `#[cfg(test)] mod tests { … }` tail.
fn code_of(text: &str) -> String {
    let text = text
        .find("#[cfg(test)]\nmod tests {")
        .map_or(text, |at| &text[..at]);
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths after each `prefix` (`crate::`, `super::`) in `code`, split at `::`.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let parts: Vec<String> = path
            .split("::")
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if !parts.is_empty() {
            found.push(parts);
        }
    }
    found
}

/// The module graph's cycles, as `a → b → a`.
fn cycles(crate_dir: &Path) -> Vec<String> {
    let mods = modules(&crate_dir.join("src"));
    let resolve = |parts: &[String]| -> Module {
        (1..=parts.len())
            .rev()
            .map(|n| parts[..n].to_vec())
            .find(|candidate| mods.contains_key(candidate))
            .unwrap_or_default()
    };
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, path) in &mods {
        if module.is_empty() {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(path).unwrap_or_default());
        let parent = module[..module.len() - 1].to_vec();
        let mut targets = paths_after(&code, "crate::");
        for path in paths_after(&code, "super::") {
            targets.push(parent.iter().cloned().chain(path).collect());
        }
        for target in targets {
            let target = resolve(&target);
            let related = target.is_empty()
                || module.starts_with(&target)
                || target.starts_with(module.as_slice());
            if !related {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    let mut state: BTreeMap<Module, u8> = BTreeMap::new();
    let mut found = Vec::new();
    fn visit(
        node: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
        found: &mut Vec<String>,
    ) {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let start = stack.iter().position(|m| m == next).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[start..].iter().map(|m| m.join("::")).collect();
                    cycle.push(next.join("::"));
                    found.push(cycle.join(" → "));
                }
                Some(_) => {}
                None => visit(next, edges, state, stack, found),
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
    }
    let nodes: Vec<Module> = edges.keys().cloned().collect();
    for node in nodes {
        if !state.contains_key(&node) {
            visit(&node, &edges, &mut state, &mut Vec::new(), &mut found);
        }
    }
    found
}

#[test]
fn no_crate_has_an_import_circle() {
    let root = ops_tests::workspace_root();
    let mut crates = Vec::new();
    for group in ["functions", "shared"] {
        for entry in std::fs::read_dir(root.join(group))
            .expect("crate folder")
            .flatten()
        {
            if entry.path().join("src").is_dir() {
                crates.push(entry.path());
            }
        }
    }
    crates.push(root.join("tests"));
    assert!(crates.len() >= 9, "crates found: {crates:?}");
    let mut circles = Vec::new();
    for dir in &crates {
        for cycle in cycles(dir) {
            circles.push(format!("{}: {cycle}", dir.display()));
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_check_finds_circles_through_crate_and_super_paths() {
    let dir = std::env::temp_dir().join(ops_tests::unique("circle"));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a")).expect("dir");
    let files = [
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a/mod.rs", "pub mod c;\npub mod d;\n"),
        ("a/c.rs", "use crate::b::Other;\nuse super::d::Y;\n"),
        ("a/d.rs", "use super::c::Z;\n"),
        (
            "b.rs",
            "// crate::a::d in a comment is no edge\nuse crate::a::c::X;\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(src.join(name), text).expect("write");
    }
    let found = cycles(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        found,
        ["a::c → a::d → a::c", "a::c → b → a::c"],
        "{found:?}"
    );
}
