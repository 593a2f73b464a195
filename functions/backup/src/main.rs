//! backup binary: wires configuration, clients and the handler into the Lambda runtime.

fn main() {}
