//! The source tree keeps its layers apart: no source file imports, directly or through
//! others, a file that imports it back (a parent module only declares its children and
//! re-exports them; children share types through siblings), and no source file is longer
//! than 1,000 lines before its tests. A file found in a cycle is named with the cycle.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most lines a source file has before its `#[cfg(test)] mod tests`.
const MOST_LINES: usize = 1_000;

/// A module's path from the crate root (`["model", "checked"]`), the key of its file.
type Module = Vec<String>;

/// Every `.rs` file under `src/`, by the module it defines.
fn modules() -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, root: &Path, found: &mut BTreeMap<Module, PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            if path.is_dir() {
                walk(&path, root, found);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let relative = path
                    .strip_prefix(root)
                    .expect("under src/")
                    .with_extension("");
                let mut module: Module = (relative.iter())
                    .map(|s| s.to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    module.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    module.pop();
                }
                found.insert(module, path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    walk(&root, &root, &mut found);
    found
}

/// A source file's text before its `#[cfg(test)] mod tests`, if it has one.
fn before_tests(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at])
}

/// `text` without comments, string contents and its tests module: the code that imports.
fn code(text: &str) -> String {
    let text = before_tests(text);
    // A quote in a character literal opens no string.
    let text = text.replace("'\"'", "' '").replace("'\\\"'", "' '");
    let (mut out, mut chars) = (String::new(), text.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                chars.by_ref().find(|c| *c == '\n');
                out.push('\n');
            }
            ('/', Some('*')) => {
                let mut last = ' ';
                chars
                    .by_ref()
                    .find(|c| std::mem::replace(&mut last, *c) == '*' && *c == '/');
            }
            ('"', _) => {
                let mut escaped = false;
                chars.by_ref().find(|c| {
                    let end = *c == '"' && !escaped;
                    escaped = *c == '\\' && !escaped;
                    end
                });
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// The paths a `use` tree names: `a::{b, c::{d, self}}` is `a::b`, `a::c::d`, `a::c`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        return vec![path.to_owned()];
    };
    let (prefix, inner) = (&tree[..open], &tree[open + 1..tree.len() - 1]);
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    let parts = parts.into_iter().filter(|p| !p.trim().is_empty());
    (parts.flat_map(expand))
        .map(|p| match p.as_str() {
            "self" => prefix.trim_end_matches("::").to_owned(),
            _ => format!("{prefix}{p}"),
        })
        .collect()
}

/// Every path in `code` that may name a module of the crate: its `use` trees, and the
/// `crate::`, `super::`, `self::` and `child::` paths written inline.
fn paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(end) = rest.find(';') {
            paths.extend(expand(&rest[..end]));
        }
    }
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    for token in code.split(|c: char| !word(c)) {
        if token.contains("::") {
            paths.push(token.to_owned());
        }
    }
    paths
}

/// The file-defining module that `path`, written in `module`, names, if any.
fn resolve(modules: &BTreeMap<Module, PathBuf>, module: &Module, path: &str) -> Option<Module> {
    let mut segments = path.split("::").filter(|s| !s.is_empty()).peekable();
    let mut full: Module = match *segments.peek()? {
        "crate" => {
            segments.next();
            Vec::new()
        }
        "super" | "self" => {
            let mut base = module.clone();
            while let Some(s) = segments.next_if(|s| *s == "super" || *s == "self") {
                if s == "super" {
                    base.pop();
                }
            }
            base
        }
        child if modules.contains_key(&[module.as_slice(), &[child.to_owned()]].concat()) => {
            module.clone()
        }
        _ => return None,
    };
    full.extend(segments.map(str::to_owned));
    (0..=full.len())
        .rev()
        .map(|k| full[..k].to_vec())
        .find(|m| modules.contains_key(m))
}

/// Each module's imports of other modules.
fn imports(modules: &BTreeMap<Module, PathBuf>) -> BTreeMap<Module, BTreeSet<Module>> {
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    (modules.iter())
        .map(|(module, path)| {
            let code = code(&read(path));
            let targets = paths(&code)
                .iter()
                .filter_map(|p| resolve(modules, module, p))
                .filter(|m| m != module)
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

/// A path of imports from `from` back to `to`, if there is one.
fn path_back(
    graph: &BTreeMap<Module, BTreeSet<Module>>,
    from: &Module,
    to: &Module,
    seen: &mut BTreeSet<Module>,
) -> Option<Vec<Module>> {
    if from == to {
        return Some(vec![to.clone()]);
    }
    if !seen.insert(from.clone()) {
        return None;
    }
    graph[from].iter().find_map(|next| {
        let mut rest = path_back(graph, next, to, seen)?;
        rest.insert(0, from.clone());
        Some(rest)
    })
}

#[test]
fn no_source_file_imports_a_file_that_imports_it_back() {
    let modules = modules();
    let graph = imports(&modules);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = |m: &Module| {
        let path = &modules[m];
        path.strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let mut cycles = BTreeSet::new();
    for (module, targets) in &graph {
        for target in targets {
            if let Some(back) = path_back(&graph, target, module, &mut BTreeSet::new()) {
                // Each cycle once, from its first file in order.
                let mut cycle: Vec<String> = back.iter().map(name).collect();
                let first = (0..cycle.len()).min_by_key(|i| &cycle[*i]).unwrap_or(0);
                cycle.rotate_left(first);
                cycle.push(cycle[0].clone());
                cycles.insert(cycle.join(" -> "));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles:\n{}",
        Vec::from_iter(cycles).join("\n")
    );
}

#[test]
fn no_source_file_is_over_a_thousand_lines_before_its_tests() {
    let long: Vec<String> = (modules().values())
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            let lines = before_tests(&text).lines().count();
            (lines > MOST_LINES).then(|| format!("{}: {lines} lines", path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "over {MOST_LINES} lines before the tests: {long:?}"
    );
}

/// The finder sees through grouped imports, `self`, `super`, children, comments and strings.
#[test]
fn imports_are_found_in_use_trees_and_inline_paths_but_not_in_comments() {
    let modules: BTreeMap<Module, PathBuf> = [
        vec![],
        vec!["a".to_owned()],
        vec!["a".to_owned(), "b".to_owned()],
        vec!["a".to_owned(), "c".to_owned()],
        vec!["d".to_owned()],
    ]
    .into_iter()
    .map(|m| (m, PathBuf::new()))
    .collect();
    let here = vec!["a".to_owned(), "b".to_owned()];
    let found = |text: &str| -> BTreeSet<Module> {
        paths(&code(text))
            .iter()
            .filter_map(|p| resolve(&modules, &here, p))
            .collect()
    };
    let a_c = vec!["a".to_owned(), "c".to_owned()];
    assert_eq!(
        found("use super::{c::X, self};"),
        [vec!["a".to_owned()], a_c.clone()].into()
    );
    assert_eq!(
        found("fn f() { crate::d::g(); }"),
        [vec!["d".to_owned()]].into()
    );
    assert_eq!(
        found("// use crate::d::X;\nlet s = \"crate::d\";"),
        BTreeSet::new()
    );
    assert_eq!(
        found("/* crate::d */ let q = '\"'; // \"crate::d"),
        BTreeSet::new()
    );
    assert_eq!(
        expand("x::{y as z, w::{self, v}}"),
        ["x::y", "x::w", "x::w::v"]
    );
}
