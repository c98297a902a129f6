//! A YAML document as a tree of keys with their lines, for naming what a LiteLLM config holds
//! (`file:line: key: …`) and finding keys given twice. Built from the parser's events
//! (`granit_parser`, the parser serde-saphyr uses), so it reads exactly what the typed load
//! reads; aliases are expanded and merge keys (`<<: *base`) merged, as PyYAML does for LiteLLM.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, StructureStyle};
use std::collections::HashMap;

/// A node of the document.
#[derive(Debug, Clone)]
pub enum Node {
    /// A scalar: its text, and whether it is a plain `null`/`~`/empty value.
    Scalar { text: String, null: bool },
    /// A sequence, its items in order.
    Seq(Vec<Item>),
    /// A mapping, its entries in document order (a key given twice appears twice), and whether
    /// it is written in block style (not `{…}`).
    Map { entries: Vec<Entry>, block: bool },
}

/// A sequence item and the line it starts on (1-based).
#[derive(Debug, Clone)]
pub struct Item {
    /// Where the item starts (1-based).
    pub line: usize,
    /// The item itself.
    pub node: Node,
}

/// A mapping entry: its key, the line it is on (1-based) and its value.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key's text.
    pub key: String,
    /// The key's line (1-based).
    pub line: usize,
    /// The value.
    pub value: Node,
    /// Brought in by a merge key (`<<: *anchor`), on the merge's line.
    pub merged: bool,
}

impl Node {
    /// The entries when this is a mapping (none otherwise).
    pub fn entries(&self) -> &[Entry] {
        match self {
            Node::Map { entries, .. } => entries,
            _ => &[],
        }
    }

    /// The items when this is a sequence (none otherwise).
    pub fn items(&self) -> &[Item] {
        match self {
            Node::Seq(items) => items,
            _ => &[],
        }
    }

    /// The value of the last entry `key` (the one that counts: the last wins).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    /// The text of a scalar that is not null.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { text, null: false } => Some(text),
            _ => None,
        }
    }

    /// Whether this is a null scalar (`~`, `null`, or nothing).
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { null: true, .. })
    }
}

/// Parses `text`; `None` when it is not YAML the tree can read (the typed load then reports
/// the error, located) or is empty.
pub fn parse(text: &str) -> Option<Node> {
    let mut b = Builder::default();
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.ok()?;
        let line = span.start.line();
        match ev {
            Event::Scalar(v, style, anchor, _) => {
                let null = style == ScalarStyle::Plain
                    && matches!(&*v, "" | "~" | "null" | "Null" | "NULL");
                b.value(
                    Node::Scalar {
                        text: v.into_owned(),
                        null,
                    },
                    anchor,
                    line,
                );
            }
            Event::SequenceStart(_, anchor, _) => b.open(Open::Seq(Vec::new()), anchor, line),
            Event::MappingStart(style, anchor, _) => b.open(
                Open::Map {
                    entries: Vec::new(),
                    key: None,
                    block: style == StructureStyle::Block,
                },
                anchor,
                line,
            ),
            Event::SequenceEnd | Event::MappingEnd => b.close(),
            Event::Alias(id) => {
                let node = b.anchors.get(&id)?.clone();
                b.value(node, 0, line);
            }
            Event::DocumentEnd => break,
            _ => {}
        }
    }
    b.root
}

enum Open {
    Seq(Vec<Item>),
    Map {
        entries: Vec<Entry>,
        /// The key read, waiting for its value: text and line.
        key: Option<(String, usize)>,
        block: bool,
    },
}

#[derive(Default)]
struct Builder {
    /// Open collections with their anchor id and start line.
    stack: Vec<(Open, usize, usize)>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
}

impl Builder {
    fn open(&mut self, o: Open, anchor: usize, line: usize) {
        self.stack.push((o, anchor, line));
    }

    fn close(&mut self) {
        let Some((o, anchor, line)) = self.stack.pop() else {
            return;
        };
        let node = match o {
            Open::Seq(items) => Node::Seq(items),
            Open::Map { entries, block, .. } => Node::Map { entries, block },
        };
        self.value(node, anchor, line);
    }

    /// Places a finished node: as a key, a value, an item or the root.
    fn value(&mut self, node: Node, anchor: usize, line: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some((top, _, _)) = self.stack.last_mut() else {
            self.root = Some(node);
            return;
        };
        match top {
            Open::Seq(items) => items.push(Item { line, node }),
            Open::Map { entries, key, .. } => match key.take() {
                None => {
                    let text = match &node {
                        Node::Scalar { text, .. } => text.clone(),
                        _ => String::from("?"),
                    };
                    *key = Some((text, line));
                }
                Some((k, kline)) if k == "<<" => {
                    // A merge key: the merged mapping's entries, unless given here explicitly
                    // (checked by the reader: an explicit key later in the mapping wins).
                    let merged: Vec<Entry> = match node {
                        Node::Map { entries: m, .. } => m,
                        Node::Seq(items) => items
                            .into_iter()
                            .flat_map(|i| match i.node {
                                Node::Map { entries: m, .. } => m,
                                _ => Vec::new(),
                            })
                            .collect(),
                        Node::Scalar { .. } => Vec::new(),
                    };
                    entries.extend(merged.into_iter().map(|e| Entry {
                        line: kline,
                        merged: true,
                        ..e
                    }));
                }
                Some((k, kline)) => entries.push(Entry {
                    key: k,
                    line: kline,
                    value: node,
                    merged: false,
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_lines_and_aliases_merge() {
        let t = parse(
            "a: 1\nbase: &b\n  x: 1\n  y: 2\nlist:\n  - <<: *b\n    y: 3\n  - q\nnone:\na: 2\n",
        )
        .unwrap();
        let keys: Vec<(&str, usize)> = t
            .entries()
            .iter()
            .map(|e| (e.key.as_str(), e.line))
            .collect();
        assert_eq!(
            keys,
            [("a", 1), ("base", 2), ("list", 5), ("none", 9), ("a", 10)]
        );
        assert_eq!(
            t.get("a").and_then(Node::as_str),
            Some("2"),
            "the last wins"
        );
        assert!(t.get("none").unwrap().is_null());
        let items = t.get("list").unwrap().items();
        assert_eq!(items.len(), 2);
        let merged: Vec<(&str, usize)> = items[0]
            .node
            .entries()
            .iter()
            .map(|e| (e.key.as_str(), e.line))
            .collect();
        assert_eq!(merged, [("x", 6), ("y", 6), ("y", 7)]);
        assert_eq!(items[0].node.get("y").and_then(Node::as_str), Some("3"));
        assert_eq!(items[1].line, 8);
        assert!(parse("a: [1\n").is_none());
    }
}
