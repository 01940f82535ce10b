//! ARCHITECTURE.md against the code: each module's `//! Stage: NAME — …` header against the
//! codemap, and the list of steps against `pipeline::build`.

use std::fs;

use crate::support::repo_root;

fn read(rel: &str) -> String {
    fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|err| panic!("{rel}: {err}"))
}

/// The stage a module's first line names, if it names one.
fn header_stage(source: &str) -> Option<String> {
    let rest = source.lines().next()?.strip_prefix("//! Stage: ")?;
    Some(rest.split(" — ").next().unwrap_or(rest).to_owned())
}

#[test]
fn module_headers_name_the_stages_architecture_md_gives_them() {
    let doc = read("ARCHITECTURE.md");
    let mut documented = Vec::new();
    for row in doc.lines().filter(|line| line.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let module = cells[1].trim_matches('`');
        let file =
            if module.ends_with('/') { format!("src/{module}mod.rs") } else { format!("src/{module}") };
        let stage = (cells[2] != "—").then(|| cells[2].to_owned());
        assert_eq!(
            header_stage(&read(&file)),
            stage,
            "`{file}`'s header and ARCHITECTURE.md's codemap disagree"
        );
        documented.push(file);
    }
    // And no module claims a stage the codemap does not list.
    for entry in walkdir::WalkDir::new(repo_root().join("src")) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(repo_root()).unwrap().to_string_lossy().replace('\\', "/");
        if rel.ends_with(".rs") && header_stage(&read(&rel)).is_some() {
            assert!(
                documented.contains(&rel),
                "`{rel}` names a stage, but ARCHITECTURE.md's codemap has no row for it"
            );
        }
    }
}

#[test]
fn the_steps_architecture_md_lists_are_those_of_pipeline_build() {
    let doc = read("ARCHITECTURE.md");
    let steps = &doc[doc.find("## Steps").unwrap()..];
    let steps = &steps[..steps.find("```").unwrap()];
    let listed: Vec<&str> = steps
        .lines()
        .filter_map(|line| {
            let (number, rest) = line.split_once(". `")?;
            number.parse::<u32>().ok()?;
            rest.split('`').next()
        })
        .collect();
    let pipeline = read("src/pipeline.rs");
    let build = &pipeline[pipeline.find("fn build(").unwrap()..];
    let build = &build[..build.find("\n}\n").unwrap()];
    let timed: Vec<&str> = build
        .match_indices("timed(\"")
        .map(|(at, call)| {
            let name = &build[at + call.len()..];
            &name[..name.find('"').unwrap()]
        })
        .collect();
    assert_eq!(listed, timed, "ARCHITECTURE.md's steps and `pipeline::build` disagree");
}
