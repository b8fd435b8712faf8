//! Propagation demo.
fn main() {}
