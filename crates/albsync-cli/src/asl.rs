//! The state machine definition (Amazon States Language, JSONPath flavour) read as a graph: the states, their
//! types and every transition between them (`Next`, Choice rules and `Default`, `Catch`), with the states of a
//! Map iteration or a Parallel branch as nested machines. Only what the `graph` command draws is read; the
//! definition is not validated beyond that.

use serde_json::Value;

/// A state machine or a nested one (a Map's iteration, a Parallel branch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The first state.
    pub start_at: String,
    /// Every state, in the order a reader follows them: breadth first from `StartAt` along the transitions in
    /// the order they are written, then any unreachable state by name.
    pub states: Vec<State>,
}

/// How one state leads to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// `Next`.
    Next,
    /// A Choice rule, described for people (`$.plan.noop == true`).
    Rule(String),
    /// A Choice's `Default`.
    Default,
    /// A `Catch` on these error names.
    Catch(Vec<String>),
}

/// One transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state it leads to (in the same machine).
    pub to: String,
    /// Why.
    pub via: Via,
}

/// One state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Its name.
    pub name: String,
    /// Its type (`Task`, `Choice`, `Map`, ...), as written.
    pub kind: String,
    /// Where it can go next, in the order the definition lists them.
    pub transitions: Vec<Transition>,
    /// The error names its `Retry` rules cover.
    pub retry_on: Vec<String>,
    /// A Map's iteration (one machine) or a Parallel's branches.
    pub children: Vec<Machine>,
}

/// Why a definition cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state machine definition: {0}")]
pub struct AslError(String);

/// Parses a definition from its JSON text.
pub fn parse(text: &str) -> Result<Machine, AslError> {
    let value: Value = serde_json::from_str(text).map_err(|e| AslError(format!("not JSON: {e}")))?;
    machine(&value, "")
}

fn machine(value: &Value, scope: &str) -> Result<Machine, AslError> {
    let at = |what: &str| if scope.is_empty() { what.to_owned() } else { format!("{scope}: {what}") };
    let start_at = value.get("StartAt").and_then(Value::as_str).ok_or_else(|| AslError(at("no StartAt")))?.to_owned();
    let raw = value.get("States").and_then(Value::as_object).ok_or_else(|| AslError(at("no States object")))?;
    let mut parsed = Vec::with_capacity(raw.len());
    for (name, body) in raw {
        parsed.push(state(name, body, scope)?);
    }
    for s in &parsed {
        for t in &s.transitions {
            if !raw.contains_key(&t.to) {
                return Err(AslError(at(&format!("state {:?} goes to {:?}, which is not a state", s.name, t.to))));
            }
        }
    }
    if !raw.contains_key(&start_at) {
        return Err(AslError(at(&format!("StartAt {start_at:?} is not a state"))));
    }
    Ok(Machine { states: reading_order(&start_at, parsed), start_at })
}

fn state(name: &str, body: &Value, scope: &str) -> Result<State, AslError> {
    let inner_scope = if scope.is_empty() { name.to_owned() } else { format!("{scope}/{name}") };
    let kind = body.get("Type").and_then(Value::as_str).unwrap_or("?").to_owned();
    let next = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let list = |key: &str| body.get(key).and_then(Value::as_array).into_iter().flatten();
    let rule = |r: &Value| Some(Transition { to: next(r, "Next")?, via: Via::Rule(describe_rule(r)) });
    let mut transitions: Vec<Transition> = list("Choices").filter_map(rule).collect();
    transitions.extend(next(body, "Default").map(|to| Transition { to, via: Via::Default }));
    transitions.extend(next(body, "Next").map(|to| Transition { to, via: Via::Next }));
    let catch = |c: &Value| Some(Transition { to: next(c, "Next")?, via: Via::Catch(strings(c.get("ErrorEquals"))) });
    transitions.extend(list("Catch").filter_map(catch));
    let retry_on = list("Retry").flat_map(|r| strings(r.get("ErrorEquals"))).collect();
    let mut children = Vec::new();
    if let Some(iteration) = body.get("ItemProcessor").or_else(|| body.get("Iterator")) {
        children.push(machine(iteration, &inner_scope)?);
    }
    for (i, branch) in body.get("Branches").and_then(Value::as_array).into_iter().flatten().enumerate() {
        children.push(machine(branch, &format!("{inner_scope}[{i}]"))?);
    }
    Ok(State { name: name.to_owned(), kind, transitions, retry_on, children })
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

/// Breadth first from the start along the transitions as written, then the unreachable states by name.
fn reading_order(start_at: &str, mut states: Vec<State>) -> Vec<State> {
    let mut order = vec![start_at.to_owned()];
    let mut i = 0;
    while let Some(name) = order.get(i) {
        let next: Vec<String> = states
            .iter()
            .filter(|s| s.name == *name)
            .flat_map(|s| s.transitions.iter().map(|t| t.to.clone()))
            .collect();
        for to in next {
            if !order.contains(&to) {
                order.push(to);
            }
        }
        i += 1;
    }
    let mut ordered = Vec::with_capacity(states.len());
    for name in &order {
        if let Some(p) = states.iter().position(|s| s.name == *name) {
            ordered.push(states.remove(p));
        }
    }
    states.sort_by(|a, b| a.name.cmp(&b.name));
    ordered.extend(states);
    ordered
}

const COMPARISONS: [(&str, &str); 5] =
    [("GreaterThanEquals", ">="), ("LessThanEquals", "<="), ("GreaterThan", ">"), ("LessThan", "<"), ("Equals", "==")];

/// A Choice rule for people: `$.plan.noop == true`, `$.plan.unconfirmed[0] is present`, `a and b`.
pub fn describe_rule(rule: &Value) -> String {
    if let Some(condition) = rule.get("Condition").and_then(Value::as_str) {
        return condition.to_owned();
    }
    for (key, word) in [("And", " and "), ("Or", " or ")] {
        if let Some(parts) = rule.get(key).and_then(Value::as_array) {
            return parts.iter().map(|p| format!("({})", describe_rule(p))).collect::<Vec<_>>().join(word);
        }
    }
    if let Some(inner) = rule.get("Not") {
        return format!("not ({})", describe_rule(inner));
    }
    let variable = rule.get("Variable").and_then(Value::as_str).unwrap_or("?");
    let Some(obj) = rule.as_object() else { return "?".to_owned() };
    let Some((key, value)) = obj.iter().find(|(k, _)| !matches!(k.as_str(), "Variable" | "Next" | "Comment")) else {
        return variable.to_owned();
    };
    let (test, operand) = match (key.strip_suffix("Path"), value) {
        (Some(test), Value::String(path)) => (test, path.clone()),
        (test, v) => (test.unwrap_or(key), v.to_string()),
    };
    if let Some(what) = test.strip_prefix("Is") {
        let not = if *value == Value::Bool(false) { "not " } else { "" };
        return format!("{variable} is {not}{}", what.to_ascii_lowercase());
    }
    if test.ends_with("Matches") {
        return format!("{variable} matches {operand}");
    }
    match COMPARISONS.iter().find(|(suffix, _)| test.ends_with(suffix)) {
        Some((_, op)) => format!("{variable} {op} {operand}"),
        None => format!("{variable} {key} {operand}"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The state machine albsync deploys.
    pub(crate) const DEFINITION: &str = include_str!("../../../statemachine/albsync.asl.json");

    #[test]
    fn the_albsync_definition_reads_in_workflow_order() {
        let m = parse(DEFINITION).expect("parses");
        let names: Vec<&str> = m.states.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(&names[..2], ["Resolve", "Diff"]);
        assert!(names.iter().position(|n| *n == "Decide") < names.iter().position(|n| *n == "CountGrace"), "{names:?}");
        assert_eq!(names.len(), 27);
        let count = m.states.iter().find(|s| s.name == "CountGrace").expect("map");
        assert_eq!(count.kind, "Map");
        let inner: Vec<&str> = count.children[0].states.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(inner, ["GraceReached", "Expire", "KeepCounting"]);
    }

    #[test]
    fn choice_rules_and_catches_become_labelled_transitions() {
        let m = parse(DEFINITION).expect("parses");
        let decide = m.states.iter().find(|s| s.name == "Decide").expect("decide");
        let vias: Vec<&Via> = decide.transitions.iter().map(|t| &t.via).collect();
        assert_eq!(
            vias,
            [
                &Via::Rule("$.plan.noop == true".into()),
                &Via::Rule(
                    "($.plan.unconfirmed[0] is present) and ($.resolved.resolution.mayLookAgain == true)".into()
                ),
                &Via::Rule("$.plan.slotCounted == true".into()),
                &Via::Rule("$.plan.missing[0] is present".into()),
                &Via::Default
            ]
        );
        let diff = m.states.iter().find(|s| s.name == "Diff").expect("diff");
        assert!(diff.transitions.iter().any(|t| t.via == Via::Catch(vec!["Albsync.StateDocumentInvalid".into()])));
        assert!(diff.retry_on.contains(&"Albsync.Throttled".to_owned()));
        let grace = &m.states.iter().find(|s| s.name == "CountGrace").expect("map").children[0].states[0];
        assert_eq!(
            grace.transitions[0].via,
            Via::Rule("($.misses >= $.graceRuns) and ($.firstMissedAt <= $.cutoff)".into())
        );
    }

    #[test]
    fn compound_and_negated_rules_are_described() {
        let rule: Value = json!({"And": [
            {"Variable": "$.a", "NumericLessThan": 3},
            {"Not": {"Variable": "$.b", "IsNull": true}}
        ], "Next": "X"});
        assert_eq!(describe_rule(&rule), "($.a < 3) and (not ($.b is null))");
        let rule = json!({"Variable": "$.s", "StringMatches": "a*"});
        assert_eq!(describe_rule(&rule), "$.s matches \"a*\"");
    }

    #[test]
    fn a_transition_to_a_missing_state_is_an_error_naming_both() {
        let err = parse(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}"#).expect_err("dangling");
        assert!(err.to_string().contains("\"A\" goes to \"B\""), "{err}");
        assert!(parse("[").is_err());
        assert!(parse(r#"{"StartAt":"Z","States":{"A":{"Type":"Pass","End":true}}}"#).is_err());
    }

    #[test]
    fn unreachable_states_come_last_by_name() {
        let m = parse(
            r#"{"StartAt":"A","States":{"Z":{"Type":"Pass","End":true},"A":{"Type":"Succeed"},"B":{"Type":"Fail"}}}"#,
        )
        .expect("parses");
        let names: Vec<&str> = m.states.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "Z"]);
    }
}
