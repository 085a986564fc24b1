//! The state machine as a picture: a [`Graph`] of nodes and edges built from the definition (and, for an
//! execution, the path it took), rendered as a Mermaid `flowchart` or a Graphviz DOT digraph. Map iterations
//! (and Parallel branches) are drawn as a subgraph beside their Map state. Pure code: no AWS here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::Serialize;

use crate::asl::{Machine, Via};
use crate::timeline::{Visit, VisitStatus};

/// A node: one state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Unique id: the state's name, prefixed by its Map's id (`CountGrace/GraceReached`).
    pub id: String,
    /// The state's name.
    pub name: String,
    /// The state's type.
    #[serde(rename = "type")]
    pub state_type: String,
    /// The group (Map iteration, Parallel branch) it is drawn in.
    pub group: Option<String>,
    /// Times the execution entered it.
    pub visits: u32,
    /// Retries across those visits.
    pub retries: u32,
    /// The errors that caused the retries, sorted.
    pub retry_errors: Vec<String>,
    /// An error left it through a `Catch`.
    pub caught: bool,
    /// The execution failed here.
    pub failed: bool,
}

/// Why an edge exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// From the start marker to `StartAt`.
    Start,
    /// `Next`.
    Next,
    /// A Choice rule.
    Choice,
    /// A Choice's `Default`.
    Default,
    /// A `Catch`.
    Catch,
    /// From a Map (or Parallel) state into its iteration (or branch).
    Iteration,
}

/// An edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    /// Node id (or `start`).
    pub from: String,
    /// Node id.
    pub to: String,
    /// Why.
    pub kind: EdgeKind,
    /// The rule or the caught errors.
    pub label: Option<String>,
    /// The execution went this way.
    pub taken: bool,
}

/// A group of nodes drawn together: a Map's iteration or a Parallel branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Group id.
    pub id: String,
    /// The Map or Parallel node it belongs to.
    pub owner: String,
    /// Its title.
    pub label: String,
    /// The group it is drawn in, if nested.
    pub parent: Option<String>,
}

/// The whole picture: the `graph` JSON document (schemas/graph.schema.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    /// The execution whose path is marked, if any.
    pub execution_arn: Option<String>,
    /// States.
    pub nodes: Vec<Node>,
    /// Transitions.
    pub edges: Vec<Edge>,
    /// Subgraphs.
    pub groups: Vec<Group>,
}

/// The id of the start marker.
pub const START: &str = "__start__";

fn edge(from: String, to: String, kind: EdgeKind, label: Option<String>) -> Edge {
    Edge { from, to, kind, label, taken: false }
}

impl Graph {
    /// The graph of a definition, nothing marked.
    pub fn of(machine: &Machine) -> Graph {
        let start = edge(START.into(), machine.start_at.clone(), EdgeKind::Start, None);
        let mut g = Graph { execution_arn: None, nodes: Vec::new(), edges: vec![start], groups: Vec::new() };
        g.add(machine, "", None);
        g
    }

    fn add(&mut self, machine: &Machine, prefix: &str, group: Option<&str>) {
        for s in &machine.states {
            let id = format!("{prefix}{}", s.name);
            let (name, state_type) = (s.name.clone(), s.kind.clone());
            self.nodes.push(Node {
                id: id.clone(),
                name,
                state_type,
                group: group.map(str::to_owned),
                ..Node::default()
            });
            for t in &s.transitions {
                let (kind, label) = match &t.via {
                    Via::Next => (EdgeKind::Next, None),
                    Via::Rule(rule) => (EdgeKind::Choice, Some(rule.clone())),
                    Via::Default => (EdgeKind::Default, Some("default".to_owned())),
                    Via::Catch(errors) => (EdgeKind::Catch, Some(errors.join(", "))),
                };
                self.edges.push(edge(id.clone(), format!("{prefix}{}", t.to), kind, label));
            }
            for (i, child) in s.children.iter().enumerate() {
                let (group_id, label, edge_label) = match (s.kind == "Map", s.children.len() > 1) {
                    (true, _) => (id.clone(), format!("{}: each item", s.name), "each item".to_owned()),
                    (_, true) => {
                        (format!("{id}[{i}]"), format!("{} branch {}", s.name, i + 1), format!("branch {}", i + 1))
                    }
                    (_, false) => (id.clone(), format!("{}: branch", s.name), "branch".to_owned()),
                };
                let parent = group.map(str::to_owned);
                self.groups.push(Group { id: group_id.clone(), owner: id.clone(), label, parent });
                let to = format!("{group_id}/{}", child.start_at);
                self.edges.push(edge(id.clone(), to, EdgeKind::Iteration, Some(edge_label)));
                self.add(child, &format!("{group_id}/"), Some(&group_id));
            }
        }
    }

    /// Marks the path of an execution: visited states, the transitions taken, retries with their errors, and
    /// where it failed.
    pub fn mark(&mut self, execution_arn: &str, visits: &[Visit]) {
        self.execution_arn = Some(execution_arn.to_owned());
        let index: HashMap<String, usize> = self.nodes.iter().enumerate().map(|(i, n)| (n.id.clone(), i)).collect();
        // The states entered in each thread (the top level, each Map iteration), in order.
        let mut threads: BTreeMap<Vec<(String, i32)>, Vec<String>> = BTreeMap::new();
        for v in visits {
            let id: String = v.iteration.iter().map(|it| format!("{}/", it.map)).chain([v.name.clone()]).collect();
            let thread = v.iteration.iter().map(|it| (it.map.clone(), it.index)).collect();
            threads.entry(thread).or_default().push(id.clone());
            let Some(&i) = index.get(&id) else { continue };
            let n = &mut self.nodes[i];
            n.visits += 1;
            n.retries += v.retries;
            n.caught |= v.status == VisitStatus::Caught;
            n.failed |= v.status == VisitStatus::Failed;
            n.retry_errors.extend(v.attempts.iter().rev().skip(1).filter_map(|a| a.error.clone()));
        }
        for n in &mut self.nodes {
            n.retry_errors.sort();
            n.retry_errors.dedup();
        }
        let mut taken: BTreeSet<(String, String)> = BTreeSet::new();
        for (thread, ids) in threads {
            // A thread starts at the start marker, or (an iteration) at its Map state.
            let from = match thread.is_empty() {
                true => START.to_owned(),
                false => thread.iter().map(|(map, _)| map.as_str()).collect::<Vec<_>>().join("/"),
            };
            let path: Vec<String> = std::iter::once(from).chain(ids).collect();
            taken.extend(path.windows(2).map(|p| (p[0].clone(), p[1].clone())));
        }
        for e in &mut self.edges {
            e.taken = taken.contains(&(e.from.clone(), e.to.clone()));
        }
    }

    fn node_label(n: &Node) -> Vec<String> {
        let mut lines = vec![n.name.clone()];
        if n.retries > 0 {
            lines.push(format!("retried {}x: {}", n.retries, n.retry_errors.join(", ")));
        } else if n.visits > 1 {
            lines.push(format!("{} visits", n.visits));
        }
        lines
    }
}

const GREEN: &str = "#2e7d32";
const GREEN_FILL: &str = "#d3f0d8";
const ORANGE: &str = "#ef6c00";
const ORANGE_FILL: &str = "#ffe0b2";
const RED: &str = "#c62828";
const RED_FILL: &str = "#fbd5d5";

/// Safe identifiers for the renderers, derived from the node ids and unique.
fn identifiers(g: &Graph, prefix: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut used = BTreeSet::new();
    for (i, id) in g.nodes.iter().map(|n| &n.id).chain(g.groups.iter().map(|g| &g.id)).enumerate() {
        if out.contains_key(id) {
            continue;
        }
        let clean: String = id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let mut candidate = format!("{prefix}{clean}");
        if used.contains(&candidate) {
            candidate = format!("{candidate}_{i}");
        }
        used.insert(candidate.clone());
        out.insert(id.clone(), candidate);
    }
    out.insert(START.to_owned(), format!("{prefix}_start"));
    out
}

/// The node shapes per state type: Mermaid's brackets, DOT's shape and style (the last row: any other type).
const SHAPES: [(&str, (&str, &str), &str, &str); 7] = [
    ("Choice", ("{", "}"), "diamond", ""),
    ("Map", ("[[", "]]"), "box3d", ""),
    ("Parallel", ("[[", "]]"), "box3d", ""),
    ("Pass", ("(", ")"), "box", "rounded"),
    ("Wait", ("[/", "/]"), "parallelogram", ""),
    ("Succeed", ("([", "])"), "oval", "bold"),
    ("Fail", ("{{", "}}"), "octagon", ""),
];

/// Which nodes a Mermaid class marks.
type Pick = fn(&Node) -> bool;

const LEGEND: &str = "green = taken, orange border = retried, orange = error caught, red = failed";

fn mermaid_text(text: &str) -> String {
    text.replace('#', "#35;").replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
}

fn dot_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Renders Mermaid `flowchart TD` source.
pub fn mermaid(g: &Graph) -> String {
    render(g, true)
}

/// Renders a Graphviz DOT digraph.
pub fn dot(g: &Graph) -> String {
    render(g, false)
}

/// One walk for both formats: the header, each group's own states then its sub-groups (depth first), the edges,
/// then (Mermaid) the highlight classes or (DOT) the closing brace.
fn render(g: &Graph, mermaid: bool) -> String {
    let (ids, groups) = (identifiers(g, "s_"), identifiers(g, if mermaid { "g_" } else { "cluster_" }));
    let esc = |text: &str| if mermaid { mermaid_text(text) } else { dot_text(text) };
    let id = |k: &str| match mermaid {
        true => ids.get(k).cloned().unwrap_or_else(|| k.to_owned()),
        false => format!("\"{}\"", dot_text(k)),
    };
    let legend = g.execution_arn.as_ref().map(|arn| format!("path of {arn}: {LEGEND}"));
    let mut out = if mermaid {
        let legend = legend.map(|l| format!(" | {l}")).unwrap_or_default();
        format!("flowchart TD\n    %% albsync state machine{legend}\n    {}((start))\n", id(START))
    } else {
        let legend = legend.map(|l| format!("    // {l}\n")).unwrap_or_default();
        format!(
            "digraph albsync {{\n{legend}    rankdir=TB;\n    graph [fontname=\"Helvetica\", fontsize=11];\n    node \
             [fontname=\"Helvetica\", fontsize=11];\n    edge [fontname=\"Helvetica\", fontsize=9];\n    \"{START}\" \
             [shape=circle, label=\"\", width=0.2, style=filled, fillcolor=black];\n"
        )
    };
    let node = |n: &Node| {
        let label: Vec<String> = Graph::node_label(n).iter().map(|l| esc(l)).collect();
        let shape = SHAPES.iter().find(|s| s.0 == n.state_type).map_or((("[", "]"), "box", ""), |s| (s.1, s.2, s.3));
        if mermaid {
            let ((open, close), label) = (shape.0, label.join("<br/>"));
            return format!("{}{open}\"{label}\"{close}\n", id(&n.id));
        }
        let mut attrs = vec![format!("label=\"{}\"", label.join("\\n")), format!("shape={}", shape.1)];
        let mut style: Vec<&str> = [shape.2].into_iter().filter(|s| !s.is_empty()).collect();
        let fill = [(n.failed, RED_FILL), (n.caught, ORANGE_FILL), (n.visits > 0, GREEN_FILL)];
        if let Some((_, fill)) = fill.iter().find(|f| f.0) {
            style.push("filled");
            attrs.push(format!("fillcolor=\"{fill}\""));
        }
        let strokes = [(n.retries > 0, ORANGE, 4), (n.failed, RED, 2), (n.caught, ORANGE, 2), (n.visits > 0, GREEN, 2)];
        if let Some((_, color, width)) = strokes.iter().find(|s| s.0) {
            attrs.extend([format!("color=\"{color}\""), format!("penwidth={width}")]);
        }
        if !style.is_empty() {
            attrs.push(format!("style=\"{}\"", style.join(",")));
        }
        format!("{} [{}];\n", id(&n.id), attrs.join(", "))
    };
    let group = |gr: &Group, indent: &str| {
        let (name, label) = (groups.get(&gr.id).cloned().unwrap_or_default(), esc(&gr.label));
        match mermaid {
            true => {
                (format!("{indent}subgraph {name} [\"{label}\"]\n{indent}    direction TB\n"), format!("{indent}end\n"))
            }
            false => (
                format!("{indent}subgraph {name} {{\n{indent}    label=\"{label}\";\n{indent}    style=dashed;\n"),
                format!("{indent}}}\n"),
            ),
        }
    };
    walk(&mut out, g, None, 1, &node, &group);
    let mut taken = Vec::new();
    for (i, e) in g.edges.iter().enumerate() {
        let dashed = matches!(e.kind, EdgeKind::Catch | EdgeKind::Iteration);
        let (from, to) = (id(&e.from), id(&e.to));
        if mermaid {
            let arrow = if dashed { "-.->" } else { "-->" };
            let label = e.label.as_ref().map(|l| format!("|\"{}\"|", esc(l))).unwrap_or_default();
            out.push_str(&format!("    {from} {arrow}{label} {to}\n"));
            if e.taken {
                taken.push(i.to_string());
            }
            continue;
        }
        let mut attrs: Vec<String> = e.label.iter().map(|l| format!("label=\"{}\"", esc(l))).collect();
        attrs.extend(dashed.then(|| "style=dashed".to_owned()));
        if e.taken {
            attrs.extend([format!("color=\"{GREEN}\""), "penwidth=3".to_owned()]);
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        out.push_str(&format!("    {from} -> {to}{attrs};\n"));
    }
    if !mermaid {
        out.push_str("}\n");
    } else if g.execution_arn.is_some() {
        let classes: [(&str, String, Pick); 4] = [
            ("visited", format!("fill:{GREEN_FILL},stroke:{GREEN},stroke-width:2px"), |n| n.visits > 0),
            ("caught", format!("fill:{ORANGE_FILL},stroke:{ORANGE},stroke-width:2px"), |n| n.caught),
            ("retried", format!("stroke:{ORANGE},stroke-width:4px"), |n| n.retries > 0),
            ("failed", format!("fill:{RED_FILL},stroke:{RED},stroke-width:3px"), |n| n.failed),
        ];
        for (name, style, _) in &classes {
            out.push_str(&format!("    classDef {name} {style}\n"));
        }
        for (name, _, pick) in &classes {
            let members: Vec<String> = g.nodes.iter().filter(|n| pick(n)).map(|n| id(&n.id)).collect();
            if !members.is_empty() {
                out.push_str(&format!("    class {} {name}\n", members.join(",")));
            }
        }
        if !taken.is_empty() {
            out.push_str(&format!("    linkStyle {} stroke:{GREEN},stroke-width:3px\n", taken.join(",")));
        }
    }
    out
}

/// A group's own states, then its sub-groups (opened and closed by `group`), depth first.
fn walk(
    out: &mut String,
    g: &Graph,
    parent: Option<&str>,
    depth: usize,
    node: &dyn Fn(&Node) -> String,
    group: &dyn Fn(&Group, &str) -> (String, String),
) {
    let indent = "    ".repeat(depth);
    for n in g.nodes.iter().filter(|n| n.group.as_deref() == parent) {
        out.push_str(&indent);
        out.push_str(&node(n));
    }
    for sub in g.groups.iter().filter(|gr| gr.parent.as_deref() == parent) {
        let (open, close) = group(sub, &indent);
        out.push_str(&open);
        walk(out, g, Some(&sub.id), depth + 1, node, group);
        out.push_str(&close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asl::parse;
    use crate::asl::tests::DEFINITION;
    use crate::timeline::Timeline;
    use crate::timeline::tests::{info, retried_run};

    fn albsync() -> Graph {
        Graph::of(&parse(DEFINITION).expect("definition"))
    }

    const SMALL: &str = r#"{"StartAt":"Resolve","States":{
        "Resolve":{"Type":"Task","Resource":"x","Next":"CountGrace",
                   "Retry":[{"ErrorEquals":["Albsync.DnsUnavailable"]}],
                   "Catch":[{"ErrorEquals":["States.ALL"],"Next":"Failed"}]},
        "CountGrace":{"Type":"Map","Next":"Synced","ItemProcessor":{"StartAt":"GraceReached","States":{
            "GraceReached":{"Type":"Choice","Choices":[{"Variable":"$.misses","NumericGreaterThanEqualsPath":"$.graceRuns","Next":"Expire"}],"Default":"KeepCounting"},
            "Expire":{"Type":"Pass","End":true},
            "KeepCounting":{"Type":"Pass","End":true}}}},
        "Synced":{"Type":"Succeed"},
        "Failed":{"Type":"Fail","Error":"E"}}}"#;

    fn small_marked() -> Graph {
        let mut g = Graph::of(&parse(SMALL).expect("small"));
        let t = Timeline::build(&info("SUCCEEDED"), &retried_run());
        g.mark(&t.execution_arn, &t.states);
        g
    }

    #[test]
    fn every_state_of_the_definition_is_a_node_and_iteration_states_are_grouped() {
        let g = albsync();
        assert_eq!(g.nodes.len(), 27 + 3);
        let grace = g.nodes.iter().find(|n| n.id == "CountGrace/GraceReached").expect("iteration node");
        assert_eq!(grace.group.as_deref(), Some("CountGrace"));
        assert_eq!(g.groups.len(), 1);
        assert!(g.edges.iter().any(|e| e.kind == EdgeKind::Iteration && e.to == "CountGrace/GraceReached"));
        assert!(
            g.edges.iter().any(|e| e.kind == EdgeKind::Catch && e.from == "Deregister" && e.to == "SafetyRailTripped")
        );
    }

    #[test]
    fn marking_highlights_the_path_the_retries_and_nothing_else() {
        let g = small_marked();
        let taken: Vec<(&str, &str)> =
            g.edges.iter().filter(|e| e.taken).map(|e| (e.from.as_str(), e.to.as_str())).collect();
        assert_eq!(
            taken,
            [
                ("__start__", "Resolve"),
                ("Resolve", "CountGrace"),
                ("CountGrace", "Synced"),
                ("CountGrace", "CountGrace/GraceReached"),
                ("CountGrace/GraceReached", "CountGrace/Expire"),
                ("CountGrace/GraceReached", "CountGrace/KeepCounting"),
            ]
        );
        let resolve = &g.nodes[0];
        assert_eq!(
            (resolve.retries, resolve.retry_errors.as_slice()),
            (2, ["Albsync.DnsUnavailable".to_owned()].as_slice())
        );
        let grace = g.nodes.iter().find(|n| n.name == "GraceReached").expect("node");
        assert_eq!(grace.visits, 2);
        assert_eq!(g.nodes.iter().find(|n| n.name == "Failed").map(|n| n.visits), Some(0));
    }

    #[test]
    fn mermaid_has_shapes_a_subgraph_labels_and_highlights() {
        let text = mermaid(&small_marked());
        assert!(text.starts_with("flowchart TD\n    %% albsync state machine | path of arn:aws:states:"), "{text}");
        for needle in [
            "flowchart TD\n",
            "    s__start((start))\n",
            "    s_Resolve[\"Resolve<br/>retried 2x: Albsync.DnsUnavailable\"]\n",
            "    s_Synced([\"Synced\"])\n",
            "    s_Failed{{\"Failed\"}}\n",
            "    s_CountGrace[[\"CountGrace\"]]\n",
            "    subgraph g_CountGrace [\"CountGrace: each item\"]\n",
            "        s_CountGrace_GraceReached{\"GraceReached<br/>2 visits\"}\n",
            "    s_Resolve -.->|\"States.ALL\"| s_Failed\n",
            "    s_CountGrace_GraceReached -->|\"$.misses #gt;= $.graceRuns\"| s_CountGrace_Expire\n",
            "    s_CountGrace -.->|\"each item\"| s_CountGrace_GraceReached\n",
            "    class s_Resolve retried\n",
            "    linkStyle 0,1,3,4,5,6 stroke:#2e7d32,stroke-width:3px\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("class s_Failed"), "{text}");
    }

    #[test]
    fn an_unmarked_graph_has_no_styles() {
        let text = mermaid(&albsync());
        assert!(!text.contains("classDef") && !text.contains("linkStyle"), "{text}");
        assert!(text.contains("s_Decide -->|\"($.plan.unconfirmed[0] is present) and ($.resolved.resolution.mayLookAgain == true)\"| s_LookAgain"), "{text}");
    }

    #[test]
    fn dot_has_a_cluster_escaped_labels_and_highlights() {
        let text = dot(&small_marked());
        for needle in [
            "digraph albsync {\n",
            "    subgraph cluster_CountGrace {\n        label=\"CountGrace: each item\";\n",
            "\"CountGrace/GraceReached\" [label=\"GraceReached\\n2 visits\", shape=diamond,",
            "\"Resolve\" [label=\"Resolve\\nretried 2x: Albsync.DnsUnavailable\", shape=box, fillcolor=\"#d3f0d8\", color=\"#ef6c00\", penwidth=4, style=\"filled\"];",
            "    \"Resolve\" -> \"Failed\" [label=\"States.ALL\", style=dashed];\n",
            "    \"__start__\" -> \"Resolve\" [color=\"#2e7d32\", penwidth=3];\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(text.ends_with("}\n"));
        assert_eq!(dot_text(r#"a "b" \c"#), r#"a \"b\" \\c"#);
    }

    #[test]
    fn mermaid_escapes_quotes_and_angle_brackets() {
        assert_eq!(mermaid_text(r#"say "hi" <b> #1"#), "say #quot;hi#quot; #lt;b#gt; #35;1");
    }
}
