use weir::prelude::*;

#[weir::topology]
fn shout() -> impl Topology {
    let words = 1;
    let _ = words;
    todo!()
}

fn main() {}
