//! The documents an auditor reads cite the code by path and by rule: every `src/...` path
//! that README.md, CHANGELOG.md, spec/ and docs/ name must exist, so that a moved or renamed
//! file cannot leave a document pointing at nothing; and every rule id the code cites (`H2`,
//! `P1a`, `SN3` ...) must have its row in spec/rules.md, whose every named test exists.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` (recursively) whose name ends with `extension`.
fn files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        if path.is_dir() {
            found.extend(files(&path, extension));
        } else if path.extension().is_some_and(|x| x == extension) {
            found.push(path);
        }
    }
    found.sort();
    found
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `src/...` path in `text`, with a `{a,b}` alternative expanded into each path.
fn cited_paths(text: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("src/") {
        let start = &rest[at..];
        let end = start
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_/.{},-".contains(c)))
            .unwrap_or(start.len());
        let path = start[..end].trim_end_matches(['.', ',', '-']);
        rest = &start[end..];
        match (path.find('{'), path.find('}')) {
            (Some(open), Some(close)) if open < close => {
                for choice in path[open + 1..close].split(',') {
                    paths.push(format!("{}{choice}{}", &path[..open], &path[close + 1..]));
                }
            }
            _ => paths.push(path.to_owned()),
        }
    }
    paths
}

#[test]
fn every_src_path_the_documents_cite_exists() {
    let root = root();
    let mut documents = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    for folder in ["spec", "docs"] {
        documents.extend(files(&root.join(folder), "md"));
    }
    let mut cited = 0;
    let mut missing = Vec::new();
    for document in &documents {
        let text = read(document);
        for path in cited_paths(&text) {
            cited += 1;
            if !root.join(&path).exists() {
                missing.push(format!("{}: {path}", document.display()));
            }
        }
    }
    assert!(cited > 20, "only {cited} paths found: is the scan broken?");
    assert!(
        missing.is_empty(),
        "cited paths that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_cited_path_is_found_and_its_alternatives_expanded() {
    assert_eq!(
        cited_paths("see `src/model/{paxos,multi_paxos}.rs`, then src/runtime/wal.rs."),
        [
            "src/model/paxos.rs",
            "src/model/multi_paxos.rs",
            "src/runtime/wal.rs"
        ]
    );
}

/// Every rule id in `text`: a word of one or two capitals, digits, and at most one lowercase
/// letter (`H2`, `P1a`, `SN3`), not a path segment such as `SocketAddr::V4`.
fn rule_ids(text: &str) -> BTreeSet<String> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut ids = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find(is_word) {
        let preceding = rest[..start].chars().next_back().unwrap_or(' ');
        let word_and_after = &rest[start..];
        let end = word_and_after
            .find(|c: char| !is_word(c))
            .unwrap_or(word_and_after.len());
        let word = &word_and_after[..end];
        let capitals = word.chars().take_while(char::is_ascii_uppercase).count();
        let digits = word[capitals..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        let tail = &word[capitals + digits..];
        if (1..=2).contains(&capitals)
            && digits > 0
            && (tail.is_empty()
                || tail.len() == 1 && tail.starts_with(|c: char| c.is_ascii_lowercase()))
            && preceding != ':'
        {
            ids.insert(word.to_owned());
        }
        rest = &word_and_after[end..];
    }
    ids
}

/// The rows of spec/rules.md: each table row's rule id (its first cell, without a
/// parenthesised family such as "(runtime)") and its last cell, the tests.
fn rule_rows(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| rule "))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let id = cells.first()?.split(' ').next()?;
            (cells.len() == 4 && rule_ids(id).contains(id))
                .then(|| (id.to_owned(), cells[3].to_owned()))
        })
        .collect()
}

/// The names in backquotes of `cell` that read as a Rust function's (`snake_case_words`).
fn test_names(cell: &str) -> Vec<&str> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| {
            name.contains('_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

#[test]
fn every_rule_the_code_cites_is_in_spec_rules_with_a_test_that_exists() {
    let root = root();
    let code: Vec<(PathBuf, String)> = ["src", "tests"]
        .iter()
        .flat_map(|folder| files(&root.join(folder), "rs"))
        .map(|path| {
            let text = read(&path);
            (path, text)
        })
        .collect();
    let rows = rule_rows(&read(&root.join("spec/rules.md")));
    let listed: BTreeSet<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    let mut cited = BTreeSet::new();
    let mut unlisted = Vec::new();
    for (path, text) in code.iter().filter(|(p, _)| p.starts_with(root.join("src"))) {
        for id in rule_ids(text) {
            if !listed.contains(id.as_str()) {
                unlisted.push(format!("{id} (cited in {})", path.display()));
            }
            cited.insert(id);
        }
    }
    assert!(
        cited.len() > 20,
        "only {cited:?} found: is the scan broken?"
    );
    assert!(
        unlisted.is_empty(),
        "rule ids the code cites with no row in spec/rules.md:\n{}",
        unlisted.join("\n")
    );
    let mut untested = Vec::new();
    for (id, tests) in &rows {
        let names = test_names(tests);
        if names.is_empty() {
            untested.push(format!("{id}: names no test"));
        }
        for name in names {
            let declaration = format!("fn {name}(");
            if !code.iter().any(|(_, text)| text.contains(&declaration)) {
                untested.push(format!("{id}: no `fn {name}` in src/ or tests/"));
            }
        }
    }
    assert!(
        untested.is_empty(),
        "spec/rules.md:\n{}",
        untested.join("\n")
    );
}

#[test]
fn rule_ids_are_found_and_path_segments_are_not() {
    let ids = rule_ids("// H1, W2-W4 (SN3): SocketAddr::V4(a) and P2c(b), not PXM1, Ab1 or V4x2.");
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        ["H1", "P2c", "SN3", "W2", "W4"]
    );
    let rows = rule_rows(
        "| rule | meaning | code | test |\n|---|---|---|---|\n\
         | R1 (runtime) | a | `src/x.rs` | `a_test`, `P1a` |\n| not a rule | a | b | c |",
    );
    assert_eq!(rows, [("R1".to_owned(), "`a_test`, `P1a`".to_owned())]);
    assert_eq!(test_names("`a_test`, `P1a`, `models/x.toml`"), ["a_test"]);
}

/// Every folder and file under `dir`, recursively, as (whether it is a folder, its name).
fn tree(dir: &Path) -> Vec<(bool, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            found.push((true, name));
            found.extend(tree(&path));
        } else {
            found.push((false, name));
        }
    }
    found
}

/// The README's layout is the tree as it is: every folder under `src/` is named in it, and so
/// is every file (`mod.rs` aside), by its name or, inside a protocol's folder, by its stem.
#[test]
fn the_readme_layout_names_every_folder_and_file_of_src() {
    let readme = read(&root().join("README.md"));
    let layout: String = readme
        .split("## Layout")
        .nth(1)
        .and_then(|rest| rest.split("```").nth(1))
        .expect("README.md has a \"## Layout\" section with a code block")
        .to_owned();
    let words: BTreeSet<&str> = layout
        .split(|c: char| c.is_whitespace() || ",:()".contains(c))
        .collect();
    let missing: Vec<String> = tree(&root().join("src"))
        .into_iter()
        .filter(|(folder, name)| {
            if *folder {
                !words.contains(format!("{name}/").as_str())
            } else {
                name != "mod.rs"
                    && !words.contains(name.as_str())
                    && !words.contains(name.trim_end_matches(".rs"))
            }
        })
        .map(|(_, name)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "README.md's layout does not name: {missing:?}"
    );
}
