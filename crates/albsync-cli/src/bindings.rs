//! Finding the binding a command is about: by name in a bindings file (a JSON array of execution inputs), or
//! given whole with `--input JSON|@FILE`. Either way it is validated by `albsync_core::Binding`, the same code
//! the functions use, so a binding the CLI accepts is one the state machine accepts.

use std::path::Path;

use albsync_core::Binding;
use serde_json::Value;

use crate::cli::BindingArgs;
use crate::error::CliError;

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
}

/// The binding the arguments select.
pub fn select(args: &BindingArgs) -> Result<Binding, CliError> {
    if let Some(input) = &args.input {
        let (text, origin) = match input.strip_prefix('@') {
            Some(path) => (read(Path::new(path))?, path.to_owned()),
            None => (input.clone(), "--input".to_owned()),
        };
        return Binding::from_json(&text).map_err(|e| CliError::Usage(format!("{origin}: invalid binding: {e}")));
    }
    let Some(path) = &args.bindings_file else {
        return Err(CliError::Usage(
            "which binding? give --bindings-file FILE (with --binding NAME) or --input JSON|@FILE".to_owned(),
        ));
    };
    let text = read(path)?;
    from_file_text(&text, &path.display().to_string(), args.binding.as_deref())
}

/// Picks `name` (or the only binding) from a bindings file's text.
pub fn from_file_text(text: &str, origin: &str, name: Option<&str>) -> Result<Binding, CliError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| CliError::Usage(format!("{origin}: not JSON: {e}")))?;
    let list = (doc.as_array().or_else(|| doc.get("bindings")?.as_array()))
        .ok_or_else(|| CliError::Usage(format!("{origin}: expected a JSON array of bindings")))?;
    let names: Vec<&str> = list.iter().map(|b| b.get("name").and_then(Value::as_str).unwrap_or("?")).collect();
    let index = match name {
        Some(wanted) => names.iter().position(|n| *n == wanted).ok_or_else(|| {
            CliError::Usage(format!(
                "unknown binding {wanted:?}: {origin} has {}",
                if names.is_empty() { "no bindings".to_owned() } else { names.join(", ") }
            ))
        })?,
        None if list.len() == 1 => 0,
        None => {
            return Err(CliError::Usage(format!(
                "{origin} has {} bindings ({}): choose one with --binding NAME",
                list.len(),
                names.join(", ")
            )));
        }
    };
    let entry = list[index].to_string();
    Binding::from_json(&entry)
        .map_err(|e| CliError::Usage(format!("{origin}: binding {:?} is invalid: {e}", names[index])))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef";

    fn entry(name: &str) -> String {
        format!(r#"{{"name":"{name}","dnsName":"alb.test","port":443,"targetGroupArn":"{ARN}","vpcCidrs":[]}}"#)
    }

    #[test]
    fn a_binding_is_found_by_name_in_an_array_or_an_object() {
        let text = format!("[{},{}]", entry("web"), entry("api"));
        assert_eq!(from_file_text(&text, "f", Some("api")).expect("found").name, "api");
        let text = format!(r#"{{"bindings":[{}]}}"#, entry("web"));
        assert_eq!(from_file_text(&text, "f", None).expect("the only one").name, "web");
    }

    #[test]
    fn an_unknown_binding_lists_the_known_ones() {
        let text = format!("[{},{}]", entry("web"), entry("api"));
        let err = from_file_text(&text, "bindings.json", Some("db")).expect_err("unknown");
        assert_eq!(err.to_string(), "unknown binding \"db\": bindings.json has web, api");
        assert_eq!(err.exit_code(), 2);
        let err = from_file_text(&text, "bindings.json", None).expect_err("ambiguous");
        assert!(err.to_string().contains("choose one with --binding"), "{err}");
    }

    #[test]
    fn an_invalid_binding_names_the_field() {
        let text = format!("[{}]", entry("web").replace("443", "0"));
        let err = from_file_text(&text, "f", Some("web")).expect_err("invalid");
        assert!(err.to_string().contains("`port`"), "{err}");
    }

    #[test]
    fn inline_input_is_validated_too() {
        let args = BindingArgs { binding: None, bindings_file: None, input: Some(entry("web")) };
        assert_eq!(select(&args).expect("valid").port, 443);
        let args = BindingArgs { binding: None, bindings_file: None, input: Some("{".into()) };
        assert!(select(&args).is_err());
        let args = BindingArgs { binding: None, bindings_file: None, input: Some("@/nonexistent/b.json".into()) };
        assert!(select(&args).expect_err("missing").to_string().starts_with("cannot read /nonexistent/b.json"));
    }
}
