//! What `dropgen` prints for editors and shells: `schema`.

use crate::support::{repo_root, run_in};

/// `docs/` holds the schemas as `dropgen schema` prints them (`DROPGEN_BLESS=1` rewrites).
#[test]
fn docs_hold_the_schemas_dropgen_prints() {
    for (which, file) in [("site", "docs/dropgen.schema.json"), ("drop", "docs/drop.schema.json")] {
        let run = run_in(&repo_root(), &["schema", which]);
        run.success();
        let schema: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        crate::support::assert_matches_file(&run.stdout(), &repo_root().join(file));
    }
    let run = run_in(&repo_root(), &["schema", "theme"]);
    run.failure(2);
}
