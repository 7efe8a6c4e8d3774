#[weir::topology]
struct NotAFunction;

fn main() {}
