//! Writes the description and Mermaid diagram of every `#[weir::topology]` in
//! the examples to `target/<profile>/weir-topologies/`, with the same compiler
//! phases the macro runs.

fn main() {
    if let Err(e) = weir_codegen::build::run(&["examples"]) {
        println!("cargo:warning=weir: could not describe topologies: {e}");
    }
}
