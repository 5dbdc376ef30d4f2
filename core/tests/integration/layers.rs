//! The layering of `core/src`, checked on the source (see
//! `docs/architecture.md`): each top-level module imports only the layers
//! below it, nothing imports back from `lib.rs` (the facade), and the files
//! of the parser do not import each other in a circle.
//!
//! Imports are read as written: every `crate::a::...` path, and every
//! `super::x` path of the parser's files. Test code (`tests.rs` files and
//! `#[cfg(test)] mod tests` blocks) may reach anywhere and is not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers and what each may import. Operators (window, rolling) depend
/// on plumbing (exec), aggregation and the contract (spec), never on each
/// other.
const LAYERS: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("bytes", &[]),
    ("spec", &["error"]),
    ("exec", &["error", "spec", "bytes"]),
    ("agg", &["error", "spec", "exec"]),
    ("window", &["error", "spec", "exec", "agg"]),
    ("rolling", &["error", "spec", "exec", "agg"]),
    ("parse", &["error", "spec", "exec", "bytes"]),
    ("reference", &["error", "spec"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && path.file_name().unwrap() != "tests.rs" {
            out.push(path);
        }
    }
}

/// The file's code without its test module.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The first segment after each occurrence of `prefix` in code (comments skipped).
fn segments_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap();
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            let before_ok = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric() && rest.as_bytes()[at - 1] != b'_';
            rest = &rest[at + prefix.len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if before_ok && !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The top-level module a file belongs to.
fn layer_of(path: &Path) -> String {
    let relative = path.strip_prefix(src()).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_str().unwrap();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn each_layer_imports_only_the_layers_below_it_and_nothing_from_lib_rs() {
    let allowed: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut problems = Vec::new();
    let mut seen_layers = BTreeSet::new();
    for path in &files {
        let layer = layer_of(path);
        if layer == "lib" {
            continue;
        }
        seen_layers.insert(layer.clone());
        let Some(may) = allowed.get(layer.as_str()) else {
            problems.push(format!("{}: module '{layer}' has no place in LAYERS", path.display()));
            continue;
        };
        for target in segments_after(&code_of(path), "crate::") {
            if target == layer || may.contains(&target.as_str()) {
                continue;
            }
            if allowed.contains_key(target.as_str()) {
                problems.push(format!("{}: layer '{layer}' imports layer '{target}'", path.display()));
            } else {
                problems.push(format!("{}: imports '{target}' from lib.rs (the facade only re-exports)", path.display()));
            }
        }
    }
    assert!(problems.is_empty(), "layering broken:\n{}", problems.join("\n"));
    let declared: BTreeSet<String> = LAYERS.iter().map(|(l, _)| l.to_string()).collect();
    assert_eq!(seen_layers, declared, "every layer in LAYERS exists and every module is a layer");
}

#[test]
fn the_parser_files_import_each_other_without_circles() {
    let parse = src().join("parse");
    let mut files = Vec::new();
    rust_files(&parse, &mut files);
    // Nodes: the parser's files and folders below its API (mod.rs).
    let node_of = |path: &Path| -> Option<String> {
        let relative = path.strip_prefix(&parse).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs").to_string();
        (first != "mod").then_some(first)
    };
    let nodes: BTreeSet<String> = files.iter().filter_map(|p| node_of(p)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let Some(node) = node_of(path) else { continue };
        let code = code_of(path);
        let mut targets = segments_after(&code, "crate::parse::");
        if path.parent() == Some(parse.as_path()) {
            targets.extend(segments_after(&code, "super::"));
        }
        let targets: Vec<String> = targets.into_iter().filter(|t| nodes.contains(t) && *t != node).collect();
        edges.entry(node).or_default().extend(targets);
    }
    // Depth-first search for a back edge.
    fn visit(n: &str, edges: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) {
        if let Some(at) = path.iter().position(|p| p == n) {
            panic!("import circle in parse/: {} -> {n}", path[at..].join(" -> "));
        }
        if done.contains(n) {
            return;
        }
        path.push(n.to_string());
        for next in edges.get(n).into_iter().flatten() {
            visit(next, edges, path, done);
        }
        path.pop();
        done.insert(n.to_string());
    }
    let mut done = BTreeSet::new();
    for node in &nodes {
        visit(node, &edges, &mut Vec::new(), &mut done);
    }
}
