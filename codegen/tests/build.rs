//! The build-time entry (`weir_codegen::build`): finds `#[topology]`
//! functions in source trees, also inside inline modules, skips the ones
//! with errors (the macro reports those), and writes descriptions and
//! Mermaid diagrams.

use std::fs;
use std::path::PathBuf;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weir-build-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("src/nested")).unwrap();
    dir
}

#[test]
fn descriptions_and_diagrams_are_written_for_every_valid_topology() {
    let dir = temp_dir("write");
    fs::write(
        dir.join("src/lib.rs"),
        r#"
        #[weir::topology]
        fn shout() -> impl Topology {
            let builder = StreamsBuilder::new();
            builder.stream::<String, String>("words").map_values(|v| v.to_uppercase()).to("shouted");
            builder.build()
        }
        fn not_a_topology() {}
        "#,
    )
    .unwrap();
    fs::write(
        dir.join("src/nested/more.rs"),
        r#"
        mod inner {
            #[topology]
            pub fn split_lines() -> impl Topology {
                let builder = StreamsBuilder::new();
                builder.stream::<(), String>("lines").flat_map_values(|l| vec![l]).to("words");
                builder.build()
            }
            #[weir::topology]
            fn broken() -> impl Topology {
                let builder = StreamsBuilder::new();
                builder.stream("untyped").to("out");
                builder.build()
            }
        }
        "#,
    )
    .unwrap();
    fs::write(
        dir.join("src/nested/notes.txt"),
        "#[weir::topology] not rust",
    )
    .unwrap();

    let out = dir.join("out");
    let written = weir_codegen::build::write(&[dir.join("src")], &out).unwrap();
    let mut names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "shout.mmd",
            "shout.txt",
            "split_lines.mmd",
            "split_lines.txt"
        ]
    );
    let text = fs::read_to_string(out.join("shout.txt")).unwrap();
    assert!(text.contains("Sub-topology: 0"), "{text}");
    assert!(
        text.contains("Source: KSTREAM-SOURCE-0000000000 (topics: [words])"),
        "{text}"
    );
    assert!(
        text.contains("Sink: KSTREAM-SINK-0000000002 (topic: shouted)"),
        "{text}"
    );
    let diagram = fs::read_to_string(out.join("split_lines.mmd")).unwrap();
    assert!(diagram.starts_with("flowchart"), "{diagram}");
    assert!(diagram.contains("lines"), "{diagram}");

    // A second run rewrites nothing that did not change.
    let modified = fs::metadata(out.join("shout.txt"))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    weir_codegen::build::write(&[dir.join("src")], &out).unwrap();
    let again = fs::metadata(out.join("shout.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(modified, again);
    fs::remove_dir_all(&dir).unwrap();
}
