//! The build-time entry: for `build.rs`. Finds the `#[topology]` functions of
//! a crate's sources and writes each one's description (`<name>.txt`) and
//! Mermaid diagram (`<name>.mmd`), running the same phases as the macro.
//!
//! ```no_run
//! // build.rs: `fn main() {` ..
//! weir_codegen::build::run(&["src", "examples"]).expect("describe topologies");
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// A topology found in the sources.
pub struct Found {
    /// The function name.
    pub name: String,
    /// The file it is in.
    pub file: PathBuf,
    /// Its description text.
    pub description: String,
    /// Its Mermaid diagram.
    pub mermaid: String,
}

fn is_topology_attr(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "topology")
}

fn collect(items: &[syn::Item], file: &Path, out: &mut Vec<Found>) {
    for item in items {
        match item {
            syn::Item::Fn(f) if f.attrs.iter().any(is_topology_attr) => {
                let mut f = f.clone();
                f.attrs.retain(|a| !is_topology_attr(a));
                // Topologies with errors are skipped: the macro reports them.
                if let Ok(c) = crate::compile(f.clone()) {
                    out.push(Found {
                        name: f.sig.ident.to_string(),
                        file: file.to_owned(),
                        description: c.description.text(),
                        mermaid: c.description.mermaid(),
                    });
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect(items, file, out);
                }
            }
            _ => {}
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let path = e.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Finds and compiles every `#[topology]` function under `dirs`.
pub fn find(dirs: &[impl AsRef<Path>]) -> io::Result<Vec<Found>> {
    let mut files = Vec::new();
    for d in dirs {
        rust_files(d.as_ref(), &mut files)?;
    }
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        if !text.contains("topology") {
            continue;
        }
        if let Ok(parsed) = syn::parse_file(&text) {
            collect(&parsed.items, &file, &mut found);
        }
    }
    Ok(found)
}

/// Writes `<name>.txt` and `<name>.mmd` for every topology under `dirs`
/// into `out`, returning the files written.
pub fn write(dirs: &[impl AsRef<Path>], out: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    for t in find(dirs)? {
        for (ext, text) in [("txt", &t.description), ("mmd", &t.mermaid)] {
            let path = out.join(format!("{}.{ext}", t.name));
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&path, text)?;
            }
            written.push(path);
        }
    }
    Ok(written)
}

/// For `build.rs`: describes the topologies under `dirs` (relative to the
/// package) into `target/<profile>/weir-topologies/`, next to the binaries,
/// and asks Cargo to rerun when the sources change.
pub fn run(dirs: &[&str]) -> io::Result<Vec<PathBuf>> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out_dir = PathBuf::from(
        std::env::var_os("OUT_DIR")
            .ok_or_else(|| io::Error::other("OUT_DIR is not set: call from build.rs"))?,
    );
    // OUT_DIR is target/<profile>/build/<pkg>-<hash>/out.
    let profile_dir = out_dir
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or(out_dir);
    let dirs: Vec<PathBuf> = dirs.iter().map(|d| manifest.join(d)).collect();
    for d in &dirs {
        println!("cargo:rerun-if-changed={}", d.display());
    }
    write(&dirs, &profile_dir.join("weir-topologies"))
}
