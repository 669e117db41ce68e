//! The real documents the fuzzer starts from: every file under `examples/`
//! (the GitOps layout included), the documents the crds tests build, a few
//! combinations that reach the selection and sync rules, and the small
//! files of the fuzz corpus.

use std::path::{Path, PathBuf};

use crate::common::yaml::{HEAD, SPEC, valid_documents_json, valid_documents_yaml};

/// A seed: where it came from, its bytes, and whether it loads as it is.
pub struct Seed {
    pub name: String,
    pub bytes: Vec<u8>,
    pub loads: bool,
}

impl Seed {
    fn new(name: String, bytes: Vec<u8>) -> Seed {
        let loads = turnout_crds::load::Documents::parse_bytes(Path::new("seed"), &bytes).is_ok();
        Seed { name, bytes, loads }
    }
}

/// Corpus files larger than this are regression inputs, not seeds: a
/// mutation of an 8 MB file would only measure the loader's size check.
const MAX_CORPUS_SEED: u64 = 64 * 1024;

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn corpus_dir() -> PathBuf {
    crate_dir().join("tests/fuzz-corpus")
}

/// Every seed, in a fixed order (so a seed and an index name one input).
pub fn seeds() -> std::io::Result<Vec<Seed>> {
    let examples = crate_dir().join("../examples");
    let mut files = Vec::new();
    walk(&examples, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for f in &files {
        let name = f.strip_prefix(&examples).unwrap_or(f).display().to_string();
        out.push(Seed::new(format!("examples/{name}"), std::fs::read(f)?));
    }
    let read = |rel: &str| std::fs::read_to_string(examples.join(rel));
    let sync = "apiVersion: turnout.dev/v1alpha1\nkind: DataSync\nmetadata:\n  name: future-to-dao\nspec:\n  planRef: three-versions\n  from: future\n  to: dao\n  backup: true\n";
    let fixtures = [
        ("fixture/load_errors", format!("{HEAD}{SPEC}")),
        (
            "fixture/load_errors-two-documents",
            format!(
                "{HEAD}{SPEC}---\n{}",
                format!("{HEAD}{SPEC}").replace("name: p", "name: q")
            ),
        ),
        ("fixture/builders", valid_documents_yaml()),
        (
            "fixture/plan-selection-sync",
            format!(
                "{}---\n{}---\n{sync}",
                read("three-versions.yaml")?,
                read("version-selection.yaml")?
            ),
        ),
    ];
    for (name, text) in fixtures {
        out.push(Seed::new(name.to_string(), text.into_bytes()));
    }
    for (i, json) in valid_documents_json().into_iter().enumerate() {
        out.push(Seed::new(
            format!("fixture/builders-json-{i}"),
            json.into_bytes(),
        ));
    }
    for (name, bytes) in corpus()? {
        if bytes.len() as u64 <= MAX_CORPUS_SEED {
            out.push(Seed::new(format!("corpus/{name}"), bytes));
        }
    }
    Ok(out)
}

/// Every file of the fuzz corpus, by name, sorted.
pub fn corpus() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    walk(&corpus_dir(), &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Ok((name, std::fs::read(&f)?))
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
