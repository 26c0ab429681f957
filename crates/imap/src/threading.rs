//! The pure half of THREAD (RFC 5256): message identifiers, the ORDEREDSUBJECT and REFERENCES
//! threading algorithms (§3) and the `thread-list` syntax of the THREAD
//! response (§4). The session reads the messages; everything here is total
//! and bounded, so that a mailbox of 100,000 hostile messages costs little:
//!
//! - a message keeps hashes, not text: its Message-ID, at most
//!   [`MAX_REFERENCES`] references and its base subject are 64-bit hashes
//!   keyed at random for each command (a collision could only misplace a
//!   message in a thread, and cannot be aimed at);
//! - threads are trees of indices walked with explicit stacks: a chain of
//!   replies as long as the mailbox cannot overflow the stack;
//! - the loop check of REFERENCES step 1 climbs at most [`MAX_CLIMB`]
//!   parents: a link it cannot prove harmless is not made.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use mss_message::sort_keys::base_subject;

/// References kept per message: the first (the start of the thread) and
/// the last ones (the nearest ancestors), as RFC 5322 §3.6.4 suggests
/// trimming a long References field.
const MAX_REFERENCES: usize = 10;
/// Parents climbed to prove that a new link makes no loop.
const MAX_CLIMB: usize = 1000;
/// The msg-ids in a Message-ID, In-Reply-To or References value (RFC 5322
/// §3.6.4), normalised as RFC 5256 §3 requires: without quoting and white
/// space, so `<"a.b"@x>` and `<a.b@x>` are one id. Text outside angle
/// brackets (phrases, comments) is skipped; an id needs a left and a right
/// part around "@".
pub fn message_ids(value: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    value.split(|&b| b == b'<').skip(1).filter_map(|part| {
        let end = part.iter().position(|&b| b == b'>')?;
        let id: Vec<u8> =
            part[..end].iter().copied().filter(|b| !matches!(b, b'"' | b'\\' | b' ' | b'\t' | b'\r' | b'\n')).collect();
        let at = id.iter().position(|&b| b == b'@')?;
        (at > 0 && at + 1 < id.len()).then_some(id)
    })
}

/// The header fields of a message that threading reads, as written.
pub struct Fields<'a> {
    /// Decoded from RFC 2047.
    pub subject: &'a str,
    pub message_id: &'a [u8],
    pub in_reply_to: &'a [u8],
    pub references: &'a [u8],
}

/// A message as the threading algorithms see it. Messages are given in
/// sequence order, which breaks ties between equal dates (RFC 5256 §2.2).
pub struct Message {
    /// What the response shows: the sequence number or the UID.
    number: u32,
    /// The sent date, unix seconds (RFC 5256 §2.2: the Date field, or the
    /// INTERNALDATE without a valid one).
    date: i64,
    /// The base subject, hashed; None when it is empty.
    subject: Option<u64>,
    reply: bool,
    /// The Message-ID, hashed.
    id: Option<u64>,
    /// The ancestors named by References (or without any, the first id of
    /// In-Reply-To), oldest first, hashed.
    references: Box<[u64]>,
}

impl Message {
    /// `keys` hashes the ids and subjects: the same for all the messages of
    /// one command.
    pub fn new(number: u32, date: i64, fields: &Fields<'_>, keys: &RandomState) -> Self {
        let (base, reply) = base_subject(fields.subject);
        let subject = (!base.is_empty()).then(|| keys.hash_one(base.to_ascii_uppercase()));
        let mut references = bounded(message_ids(fields.references).map(|id| keys.hash_one(id)));
        if references.is_empty() {
            references = message_ids(fields.in_reply_to).take(1).map(|id| keys.hash_one(id)).collect();
        }
        let id = message_ids(fields.message_id).next().map(|id| keys.hash_one(id));
        Message { number, date, subject, reply, id, references }
    }
}

/// The first and the last [`MAX_REFERENCES`] - 1 of `ids`.
fn bounded(ids: impl Iterator<Item = u64>) -> Box<[u64]> {
    let mut kept = Vec::with_capacity(MAX_REFERENCES);
    for id in ids {
        if kept.len() == MAX_REFERENCES {
            kept.remove(1);
        }
        kept.push(id);
    }
    kept.into_boxed_slice()
}

/// Threads: trees whose nodes are messages or dummies (a message that is
/// referenced but not there), linked by indices.
#[derive(Default)]
pub struct Threads {
    nodes: Vec<Node>,
    /// The top of each thread, in order.
    roots: Vec<u32>,
}

/// A node and its links: parent, first child, and the siblings on each side.
#[derive(Clone, Copy, Default)]
struct Node {
    /// An index into the messages; None for a dummy.
    message: Option<u32>,
    parent: Option<u32>,
    first_child: Option<u32>,
    previous: Option<u32>,
    next: Option<u32>,
}

/// RFC 5256 §3 ORDEREDSUBJECT: one thread per base subject, its earliest
/// message at the top and the others as its children; threads in order of
/// their first message.
pub fn ordered_subject(messages: &[Message]) -> Threads {
    let mut order: Vec<u32> = (0..messages.len() as u32).collect();
    order.sort_by_key(|&index| (messages[index as usize].date, index));
    let mut threads = Threads::default();
    let mut tops: HashMap<Option<u64>, u32> = HashMap::new();
    for index in order {
        let node = threads.add(Some(index));
        match tops.get(&messages[index as usize].subject) {
            Some(&top) => threads.link(top, node),
            None => {
                tops.insert(messages[index as usize].subject, node);
                threads.roots.push(node);
            }
        }
    }
    threads.sort(messages);
    threads
}

/// RFC 5256 §3 REFERENCES: messages linked by their Message-ID, References
/// and In-Reply-To fields, then the threads with the same base subject
/// gathered, all siblings in order of sent date.
pub fn references(messages: &[Message]) -> Threads {
    let mut threads = Threads::default();
    threads.link_references(messages);
    // Step 2: the root set.
    threads.roots = (0..threads.nodes.len() as u32).filter(|&id| threads.node(id).parent.is_none()).collect();
    threads.prune_dummies();
    threads.sort(messages);
    threads.gather_subjects(messages);
    threads.sort(messages);
    threads
}

impl Threads {
    fn node(&self, id: u32) -> Node {
        self.nodes[id as usize]
    }

    fn node_mut(&mut self, id: u32) -> &mut Node {
        &mut self.nodes[id as usize]
    }

    fn add(&mut self, message: Option<u32>) -> u32 {
        self.nodes.push(Node { message, ..Node::default() });
        self.nodes.len() as u32 - 1
    }

    fn is_dummy(&self, id: u32) -> bool {
        self.node(id).message.is_none()
    }

    /// Makes `child`, which has no parent, the first child of `parent`.
    fn link(&mut self, parent: u32, child: u32) {
        let first = self.node(parent).first_child;
        if let Some(first) = first {
            self.node_mut(first).previous = Some(child);
        }
        *self.node_mut(child) = Node { parent: Some(parent), previous: None, next: first, ..self.node(child) };
        self.node_mut(parent).first_child = Some(child);
    }

    /// Takes `child` from its parent, if it has one.
    fn unlink(&mut self, child: u32) {
        let Node { parent, previous, next, .. } = self.node(child);
        let Some(parent) = parent else { return };
        match previous {
            Some(previous) => self.node_mut(previous).next = next,
            None => self.node_mut(parent).first_child = next,
        }
        if let Some(next) = next {
            self.node_mut(next).previous = previous;
        }
        *self.node_mut(child) = Node { parent: None, previous: None, next: None, ..self.node(child) };
    }

    /// The children of `id`, in order, into `out` (emptied first).
    fn children_into(&self, id: u32, out: &mut Vec<u32>) {
        out.clear();
        let mut child = self.node(id).first_child;
        while let Some(current) = child {
            out.push(current);
            child = self.node(current).next;
        }
    }

    /// Moves every child of `from` under `to`.
    fn adopt_children(&mut self, to: u32, from: u32) {
        while let Some(child) = self.node(from).first_child {
            self.unlink(child);
            self.link(to, child);
        }
    }

    /// Whether `child` can go under `parent` without making a loop: it is
    /// not `parent` nor one of its ancestors, as far as [`MAX_CLIMB`] shows.
    fn may_link(&self, parent: u32, child: u32) -> bool {
        if self.node(child).first_child.is_none() {
            return parent != child;
        }
        let mut ancestor = Some(parent);
        for _ in 0..MAX_CLIMB {
            match ancestor {
                None => return true,
                Some(id) if id == child => return false,
                Some(id) => ancestor = self.node(id).parent,
            }
        }
        false
    }

    /// Step 1: a node per Message-ID, referenced or present, and each
    /// message under its last reference.
    fn link_references(&mut self, messages: &[Message]) {
        let mut by_id: HashMap<u64, u32> = HashMap::new();
        for (index, message) in messages.iter().enumerate() {
            let own = self.own_node(&mut by_id, index as u32, message.id);
            // Step 1.A: each reference the parent of the next, unless the
            // next already has one.
            let mut previous: Option<u32> = None;
            for id in &message.references {
                let node = match by_id.get(id) {
                    Some(&node) => node,
                    None => {
                        let node = self.add(None);
                        by_id.insert(*id, node);
                        node
                    }
                };
                if let Some(parent) = previous
                    && self.node(node).parent.is_none()
                    && self.may_link(parent, node)
                {
                    self.link(parent, node);
                }
                previous = Some(node);
            }
            // Step 1.B: the message's own references win over what other
            // messages said of it.
            self.unlink(own);
            if let Some(parent) = previous
                && self.may_link(parent, own)
            {
                self.link(parent, own);
            }
        }
    }

    /// The node of a message: the dummy its Message-ID already has, else a
    /// new one. A message without an id or with the id of an earlier
    /// message gets a node no reference reaches (RFC 5256 §3 step 1).
    fn own_node(&mut self, by_id: &mut HashMap<u64, u32>, index: u32, id: Option<u64>) -> u32 {
        let Some(id) = id else { return self.add(Some(index)) };
        match by_id.get(&id) {
            Some(&node) if self.is_dummy(node) => {
                self.node_mut(node).message = Some(index);
                node
            }
            Some(_) => self.add(Some(index)),
            None => {
                let node = self.add(Some(index));
                by_id.insert(id, node);
                node
            }
        }
    }

    /// Every node under the roots, each after all of its descendants.
    fn post_order(&self) -> Vec<u32> {
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack = self.roots.clone();
        while let Some(id) = stack.pop() {
            order.push(id);
            let mut child = self.node(id).first_child;
            while let Some(current) = child {
                stack.push(current);
                child = self.node(current).next;
            }
        }
        order.reverse();
        order
    }

    /// Step 4: a dummy gives its place to its children, and goes. At the
    /// top, a dummy stays when it holds several threads together.
    fn prune_dummies(&mut self) {
        let mut children = Vec::new();
        for id in self.post_order() {
            self.children_into(id, &mut children);
            for &child in &children {
                if self.is_dummy(child) {
                    self.unlink(child);
                    self.adopt_children(id, child);
                }
            }
        }
        let mut roots = Vec::with_capacity(self.roots.len());
        for root in std::mem::take(&mut self.roots) {
            let node = self.node(root);
            match (node.message, node.first_child) {
                (None, None) => {}
                (None, Some(only)) if self.node(only).next.is_none() => {
                    self.unlink(only);
                    roots.push(only);
                }
                _ => roots.push(root),
            }
        }
        self.roots = roots;
    }

    /// Steps 4 and 6 (and the order of ORDEREDSUBJECT): every set of
    /// siblings, the roots included, by sent date and then sequence number;
    /// a dummy goes by its first child.
    fn sort(&mut self, messages: &[Message]) {
        let mut children = Vec::new();
        for id in self.post_order() {
            self.children_into(id, &mut children);
            if children.len() > 1 {
                children.sort_by_key(|&child| self.date_key(child, messages));
                for &child in children.iter().rev() {
                    self.unlink(child);
                    self.link(id, child);
                }
            }
        }
        let mut roots = std::mem::take(&mut self.roots);
        roots.sort_by_key(|&root| self.date_key(root, messages));
        self.roots = roots;
    }

    /// The message a node stands for: its own, or a dummy's first child's.
    fn first_message(&self, mut id: u32) -> Option<u32> {
        loop {
            let node = self.node(id);
            if node.message.is_some() {
                return node.message;
            }
            id = node.first_child?;
        }
    }

    fn date_key(&self, id: u32, messages: &[Message]) -> (i64, u32) {
        self.first_message(id).map_or((i64::MAX, u32::MAX), |index| (messages[index as usize].date, index))
    }

    fn subject_of(&self, id: u32, messages: &[Message]) -> Option<u64> {
        messages[self.first_message(id)? as usize].subject
    }

    fn is_reply(&self, id: u32, messages: &[Message]) -> bool {
        self.first_message(id).is_some_and(|index| messages[index as usize].reply)
    }

    /// Step 5: threads with the same base subject come together.
    fn gather_subjects(&mut self, messages: &[Message]) {
        // 5.B: which thread each subject gathers around: a dummy if there
        // is one, else the first thread that is not a reply or forward.
        let mut table: HashMap<u64, u32> = HashMap::new();
        for &root in &self.roots {
            let Some(subject) = self.subject_of(root, messages) else { continue };
            let replaces = |kept: u32| {
                !self.is_dummy(kept)
                    && (self.is_dummy(root) || (self.is_reply(kept, messages) && !self.is_reply(root, messages)))
            };
            if table.get(&subject).is_none_or(|&kept| replaces(kept)) {
                table.insert(subject, root);
            }
        }
        // 5.C: the other threads join it.
        let mut roots = Vec::with_capacity(self.roots.len());
        for root in std::mem::take(&mut self.roots) {
            let kept = self.subject_of(root, messages).and_then(|subject| table.get(&subject).copied());
            match kept {
                Some(kept) if kept != root => self.join(kept, root, messages),
                _ => roots.push(root),
            }
        }
        self.roots = roots;
    }

    /// Step 5.C for one thread: `root` goes under `kept`, or beside it
    /// under a new dummy that takes `kept`'s place.
    fn join(&mut self, kept: u32, root: u32, messages: &[Message]) {
        if self.is_dummy(kept) && self.is_dummy(root) {
            self.adopt_children(kept, root);
        } else if self.is_dummy(kept) || (self.is_reply(root, messages) && !self.is_reply(kept, messages)) {
            self.link(kept, root);
        } else {
            // `kept` becomes the dummy, so that its place at the top and in
            // the table holds; its message moves down with its children.
            let moved = self.add(self.node(kept).message);
            self.adopt_children(moved, kept);
            self.node_mut(kept).message = None;
            self.link(kept, moved);
            self.link(kept, root);
        }
    }

    /// Appends the threads as RFC 5256 §4 writes them, each `thread-list`
    /// after a space: ` (1)(2 3)((4)(5))`; nothing when there are none.
    pub fn write(&self, out: &mut Vec<u8>, messages: &[Message]) {
        if !self.roots.is_empty() {
            out.push(b' ');
        }
        let mut stack: Vec<Step> = self.roots.iter().rev().map(|&root| Step::Open(root)).collect();
        while let Some(step) = stack.pop() {
            match step {
                Step::Open(id) => {
                    out.push(b'(');
                    stack.push(Step::Close);
                    self.write_members(out, id, messages, &mut stack);
                }
                Step::Close => out.push(b')'),
            }
        }
    }

    /// The inside of a `thread-list`: the numbers down the chain of only
    /// children, then (pushed on `stack`) a list for each child of the
    /// first node with several.
    fn write_members(&self, out: &mut Vec<u8>, mut id: u32, messages: &[Message], stack: &mut Vec<Step>) {
        let mut written = false;
        loop {
            let node = self.node(id);
            if let Some(index) = node.message {
                if written {
                    out.push(b' ');
                }
                out.extend_from_slice(messages[index as usize].number.to_string().as_bytes());
                written = true;
            }
            let Some(first) = node.first_child else { return };
            if self.node(first).next.is_none() {
                id = first;
                continue;
            }
            if written {
                out.push(b' ');
            }
            let start = stack.len();
            let mut child = Some(first);
            while let Some(current) = child {
                stack.push(Step::Open(current));
                child = self.node(current).next;
            }
            stack[start..].reverse();
            return;
        }
    }
}

/// What remains to write of the threads.
enum Step {
    Open(u32),
    Close,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_normalised() {
        let ids: Vec<Vec<u8>> = message_ids(b"<\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>").collect();
        assert_eq!(ids, [b"01KF8JCEOCBS0045PS@xxx.yyy.com".to_vec()]);
        let ids: Vec<Vec<u8>> = message_ids(b"your note of <a@x> (comment <b@y>) <no-at> <@x> <<c@z> <d@w").collect();
        assert_eq!(ids, [b"a@x".to_vec(), b"b@y".to_vec(), b"c@z".to_vec()]);
    }

    /// A message numbered `number`, sent at `date`.
    fn message(keys: &RandomState, number: u32, date: i64, subject: &str, id: &str, references: &str) -> Message {
        let fields = Fields { subject, message_id: id.as_bytes(), in_reply_to: b"", references: references.as_bytes() };
        Message::new(number, date, &fields, keys)
    }

    fn render(threads: &Threads, messages: &[Message]) -> String {
        let mut out = Vec::new();
        threads.write(&mut out, messages);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn references_thread_around_a_missing_parent() {
        let keys = RandomState::new();
        let messages = [
            message(&keys, 1, 100, "Ordonnance", "<a@x>", ""),
            // <b@x> was never received: its replies still hang under <a@x>.
            message(&keys, 2, 300, "Re: Ordonnance", "<c@x>", "<a@x> <b@x>"),
            message(&keys, 3, 200, "Re: Ordonnance", "<d@x>", "<a@x> <b@x>"),
            // Replies to a message that is not there at all: a dummy holds them.
            message(&keys, 4, 400, "Re: Facture", "<e@x>", "<gone@x>"),
            message(&keys, 5, 500, "Re: Facture", "<f@x>", "<gone@x>"),
            // Alone under a missing parent: no dummy for a single child.
            message(&keys, 6, 50, "Re: Compte rendu", "<g@x>", "<lost@x>"),
            message(&keys, 7, 600, "Re: Re: Ordonnance", "<h@x>", "<a@x> <b@x> <c@x>"),
        ];
        let threads = references(&messages);
        assert_eq!(render(&threads, &messages), " (6)(1 (3)(2 7))((4)(5))");
    }

    #[test]
    fn references_gather_by_subject_and_use_in_reply_to() {
        let keys = RandomState::new();
        let with_in_reply_to =
            Fields { subject: "Re: Planning", message_id: b"<r2@x>", in_reply_to: b"<p@x> <other@x>", references: b"" };
        let messages = [
            message(&keys, 1, 10, "Re: Garde", "<r@x>", ""),
            message(&keys, 2, 20, "Garde", "<g@x>", ""),
            message(&keys, 3, 30, "Planning", "<p@x>", ""),
            message(&keys, 4, 40, "Garde", "<g2@x>", ""),
            Message::new(5, 50, &with_in_reply_to, &keys),
            // A duplicate Message-ID counts as none.
            message(&keys, 6, 60, "Autre", "<p@x>", ""),
            // Each names the other as its parent: the first link made
            // stands, the one that would close the loop is not made.
            message(&keys, 7, 70, "Boucle", "<l1@x>", "<l2@x>"),
            message(&keys, 8, 80, "Re: Boucle", "<l2@x>", "<l1@x>"),
        ];
        let threads = references(&messages);
        // The reply 1 goes under 2, the first original; 4, another original,
        // goes beside 2 under a dummy.
        assert_eq!(render(&threads, &messages), " ((2 1)(4))(3 5)(6)(8 7)");
    }

    #[test]
    fn ordered_subject_groups_by_base_subject() {
        let keys = RandomState::new();
        let messages = [
            message(&keys, 1, 30, "Re: Garde", "", ""),
            message(&keys, 2, 10, "Garde", "", ""),
            message(&keys, 3, 20, "Planning", "", ""),
            message(&keys, 4, 40, "garde", "", ""),
            message(&keys, 5, 20, "Fwd: Planning", "", ""),
        ];
        let threads = ordered_subject(&messages);
        assert_eq!(render(&threads, &messages), " (2 (1)(4))(3 5)");
        assert_eq!(render(&ordered_subject(&[]), &[]), "");
    }

    #[test]
    fn a_chain_as_long_as_a_mailbox_fits_a_small_stack() {
        let worker = std::thread::Builder::new().stack_size(256 * 1024).spawn(|| {
            let keys = RandomState::new();
            let count = 100_000u32;
            let messages: Vec<Message> = (1..=count)
                .rev()
                .map(|n| message(&keys, n, i64::from(n), "Re: chain", &format!("<{n}@x>"), &format!("<{}@x>", n - 1)))
                .collect();
            let rendered = render(&references(&messages), &messages);
            let expected: Vec<String> = (1..=count).map(|n| n.to_string()).collect();
            assert_eq!(rendered, format!(" ({})", expected.join(" ")));
            assert!(render(&ordered_subject(&messages), &messages).starts_with(" (1 (2)(3)"));
        });
        assert!(worker.unwrap().join().is_ok());
    }
}
