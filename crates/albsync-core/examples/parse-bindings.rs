//! Contract check for the CDK app (cdk/test/contract.test.ts): reads a JSON array of execution inputs on stdin,
//! parses each with the binding parser the functions use, and prints one verdict per input as a JSON array:
//! `{"ok": true}` or `{"ok": false, "error": "..."}`. Exits 2 when stdin is not a JSON array.

use std::io::Read as _;

use albsync_core::Binding;
use serde_json::{Value, json};

fn main() -> std::process::ExitCode {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("parse-bindings: cannot read stdin: {e}");
        return std::process::ExitCode::from(2);
    }
    let inputs: Vec<Value> = match serde_json::from_str(&text) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("parse-bindings: stdin is not a JSON array of execution inputs: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let verdicts: Vec<Value> = inputs
        .iter()
        .map(|input| match Binding::from_json(&input.to_string()) {
            Ok(_) => json!({ "ok": true }),
            Err(e) => json!({ "ok": false, "error": e }),
        })
        .collect();
    println!("{}", Value::Array(verdicts));
    std::process::ExitCode::SUCCESS
}
