//! Compile-fail tests: every error the topology compiler reports, and the
//! type errors rustc reports in generated code, must point at the user's
//! tokens with an actionable message. `TRYBUILD=overwrite` regenerates the
//! `.stderr` files; review them like code.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
