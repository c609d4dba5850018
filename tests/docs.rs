//! The documents an auditor reads cite the code by path: every `src/...` path that README.md
//! and spec/ name must exist, so that a moved or renamed file cannot leave a document
//! pointing at nothing.
use std::path::Path;

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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut documents = vec![root.join("README.md")];
    for folder in ["spec", "docs"] {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        documents.extend(
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md")),
        );
    }
    let mut cited = 0;
    let mut missing = Vec::new();
    for document in &documents {
        let text = std::fs::read_to_string(document).expect("the document reads");
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
