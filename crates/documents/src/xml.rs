//! A small XML tree for the documents this crate reads (METADATA.XML, CDA),
//! built with limits: input size, depth and node count are bounded, a
//! document type declaration is refused (no entity of the document's own is
//! ever expanded: no external entities, no "billion laughs"), and only the
//! predefined and character references are resolved. Names are kept without
//! their namespace prefix: the files in the wild use `rim:`, `ns3:` or none
//! for the same elements.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Bounds on what one parse may build.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_nodes: usize,
}

impl Limits {
    /// For METADATA.XML: a few documents' entries.
    pub const METADATA: Limits = Limits { max_bytes: 4 * 1024 * 1024, max_depth: 64, max_nodes: 200_000 };
    /// For a CDA document, whose embedded PDF may weigh tens of megabytes.
    pub const CDA: Limits = Limits { max_bytes: 40 * 1024 * 1024, max_depth: 128, max_nodes: 500_000 };
}

/// Why a text is not XML this crate reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("not UTF-8")]
    NotUtf8,
    #[error("a document type declaration (DOCTYPE) is refused")]
    Doctype,
    #[error("unknown entity &{0};")]
    UnknownEntity(String),
    #[error("nested deeper than {0}")]
    TooDeep(usize),
    #[error("more than {0} nodes")]
    TooManyNodes(usize),
    #[error("no root element")]
    NoRoot,
    #[error("a second root element")]
    AfterRoot,
    #[error("text outside the root element")]
    OutsideRoot,
    #[error("malformed at byte {position}: {message}")]
    Malformed { position: u64, message: String },
}

/// An element: its local name, its attributes (local names) and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    /// The value of the attribute with this local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The child elements named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.name == name)
    }

    /// The first child element named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The element at the end of a path of child names.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |e, name| e.child(name))
    }

    /// Every descendant element named `name`, depth first.
    pub fn descendants<'a>(&'a self, name: &'a str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        let mut stack: Vec<&Element> = self.elements().collect::<Vec<_>>().into_iter().rev().collect();
        while let Some(e) = stack.pop() {
            if e.name == name {
                out.push(e);
            }
            stack.extend(e.elements().collect::<Vec<_>>().into_iter().rev());
        }
        out
    }

    /// The text of the element and its descendants, joined.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut stack: Vec<&Node> = self.children.iter().rev().collect();
        while let Some(node) = stack.pop() {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => stack.extend(e.children.iter().rev()),
            }
        }
        out
    }
}

fn element_of(start: &BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<Element, XmlError> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| malformed(reader, e))?;
        let value = attribute.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| malformed(reader, e))?;
        attributes.push((attribute.key.local_name().as_ref().to_string(), value.into_owned()));
    }
    Ok(Element { name: start.local_name().as_ref().to_string(), attributes, children: Vec::new() })
}

fn malformed(reader: &Reader<&[u8]>, e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed { position: reader.error_position(), message: e.to_string() }
}

/// Parses `bytes` (UTF-8, a BOM allowed) into its root element.
pub fn parse(bytes: &[u8], limits: Limits) -> Result<Element, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge(limits.max_bytes));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut nodes = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| malformed(&reader, e))?;
        let mut count = || {
            nodes += 1;
            if nodes > limits.max_nodes { Err(XmlError::TooManyNodes(limits.max_nodes)) } else { Ok(()) }
        };
        let text = match event {
            Event::Start(start) => {
                count()?;
                if root.is_some() {
                    return Err(XmlError::AfterRoot);
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                stack.push(element_of(&start, &reader)?);
                continue;
            }
            Event::Empty(start) => {
                count()?;
                let element = element_of(&start, &reader)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None if root.is_none() => root = Some(element),
                    None => return Err(XmlError::AfterRoot),
                }
                continue;
            }
            Event::End(_) => {
                let Some(element) = stack.pop() else { return Err(malformed(&reader, "unexpected end tag")) };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => root = Some(element),
                }
                continue;
            }
            Event::Text(t) => t.xml10_content().into_owned(),
            Event::CData(t) => t.xml10_content().into_owned(),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => c.to_string(),
                _ => {
                    let name: &str = &r;
                    match quick_xml::escape::resolve_predefined_entity(name) {
                        Some(resolved) => resolved.to_string(),
                        None => return Err(XmlError::UnknownEntity(name.chars().take(64).collect())),
                    }
                }
            },
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => continue,
        };
        match stack.last_mut() {
            Some(parent) => {
                count()?;
                match parent.children.last_mut() {
                    Some(Node::Text(previous)) => previous.push_str(&text),
                    _ => parent.children.push(Node::Text(text)),
                }
            }
            None if text.trim().is_empty() => {}
            None => return Err(XmlError::OutsideRoot),
        }
    }
    if !stack.is_empty() {
        return Err(malformed(&reader, "unclosed element"));
    }
    root.ok_or(XmlError::NoRoot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_prefix_and_entities_are_the_predefined_ones() {
        let root = parse(
            "\u{feff}<rim:a xmlns:rim=\"x\" rim:k=\"v&amp;w\"><b>1 &lt; 2 &#233;</b><b/></rim:a>".as_bytes(),
            Limits::METADATA,
        )
        .unwrap();
        assert_eq!((root.name.as_str(), root.attr("k")), ("a", Some("v&w")));
        assert_eq!(root.children_named("b").count(), 2);
        assert_eq!(root.text(), "1 < 2 é");
    }

    #[test]
    fn hostile_xml_is_refused() {
        let laughs = "<!DOCTYPE a [<!ENTITY l \"lol\"><!ENTITY l2 \"&l;&l;\">]><a>&l2;</a>";
        assert_eq!(parse(laughs.as_bytes(), Limits::METADATA), Err(XmlError::Doctype));
        let external = "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>";
        assert_eq!(parse(external.as_bytes(), Limits::METADATA), Err(XmlError::Doctype));
        assert_eq!(parse(b"<a>&x;</a>", Limits::METADATA), Err(XmlError::UnknownEntity("x".into())));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(parse(deep.as_bytes(), Limits::METADATA), Err(XmlError::TooDeep(64)));
        let small = Limits { max_bytes: 10, ..Limits::METADATA };
        assert_eq!(parse(b"<a>0123456789</a>", small), Err(XmlError::TooLarge(10)));
        let many = Limits { max_nodes: 5, ..Limits::METADATA };
        let wide = format!("<a>{}</a>", "<b/>".repeat(10));
        assert_eq!(parse(wide.as_bytes(), many), Err(XmlError::TooManyNodes(5)));
        assert_eq!(parse(b"<a/><b/>", Limits::METADATA), Err(XmlError::AfterRoot));
        assert_eq!(parse(b"", Limits::METADATA), Err(XmlError::NoRoot));
        assert_eq!(parse(b"\xff<a/>", Limits::METADATA), Err(XmlError::NotUtf8));
        assert!(parse(b"<a><b></a>", Limits::METADATA).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in "(<[ab]( k=\"[^\"]{0,5}\")?/?>|</[ab]>|[^<]{0,8}|&[a-z#0-9]{0,5};){0,30}") {
            let _ = parse(s.as_bytes(), Limits::METADATA);
        }
    }
}
