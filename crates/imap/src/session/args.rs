//! A small reader for the few commands imap-codec does not parse (ACL,
//! extended LIST): atoms, quoted strings, literals and parentheses.

/// A cursor over the bytes of a command.
pub struct Tokens<'a> {
    pub rest: &'a [u8],
}

impl<'a> Tokens<'a> {
    pub fn new(message: &'a [u8]) -> Self {
        Self { rest: message }
    }

    pub fn skip_spaces(&mut self) {
        while let [b' ', rest @ ..] = self.rest {
            self.rest = rest;
        }
    }

    pub fn atom(&mut self) -> Option<&'a [u8]> {
        self.skip_spaces();
        let end =
            self.rest.iter().position(|b| !b.is_ascii_graphic() || b"(){%*\"\\".contains(b)).unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (atom, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(atom)
    }

    /// An atom, a quoted string or a literal.
    pub fn astring(&mut self) -> Option<Vec<u8>> {
        self.skip_spaces();
        match self.rest.first()? {
            b'"' => {
                let mut out = Vec::new();
                let mut i = 1;
                while i < self.rest.len() {
                    match self.rest[i] {
                        b'\\' if i + 1 < self.rest.len() => {
                            out.push(self.rest[i + 1]);
                            i += 2;
                        }
                        b'"' => {
                            self.rest = &self.rest[i + 1..];
                            return Some(out);
                        }
                        b'\r' | b'\n' => return None,
                        b => {
                            out.push(b);
                            i += 1;
                        }
                    }
                }
                None
            }
            b'{' => {
                let close = self.rest.iter().position(|&b| b == b'}')?;
                let size: usize = std::str::from_utf8(&self.rest[1..close]).ok()?.trim_end_matches('+').parse().ok()?;
                let after = self.rest.get(close + 1..)?;
                let after = after.strip_prefix(b"\r\n").or_else(|| after.strip_prefix(b"\n"))?;
                let data = after.get(..size)?.to_vec();
                self.rest = &after[size..];
                Some(data)
            }
            _ => self.atom().map(<[u8]>::to_vec),
        }
    }
}

impl Tokens<'_> {
    /// Consumes `byte` (after spaces) if it comes next.
    pub fn eat(&mut self, byte: u8) -> bool {
        self.skip_spaces();
        match self.rest.split_first() {
            Some((&b, rest)) if b == byte => {
                self.rest = rest;
                true
            }
            _ => false,
        }
    }

    /// A parenthesised list of atoms: `(A B C)`.
    pub fn atom_list(&mut self) -> Option<Vec<String>> {
        if !self.eat(b'(') {
            return None;
        }
        let mut out = Vec::new();
        loop {
            if self.eat(b')') {
                return Some(out);
            }
            out.push(String::from_utf8_lossy(self.atom()?).to_ascii_uppercase());
        }
    }

    /// Whether only the line end is left.
    pub fn at_end(&self) -> bool {
        self.rest.trim_ascii().is_empty()
    }
}
