//! Bounds on a mailbox's folders: depth, name lengths and count. A CREATE
//! or RENAME makes the missing parents of its name too, so without them one
//! command could make thousands of folders. What goes past a bound is
//! refused whole with `NO [LIMIT]` (RFC 5530 §3) and changes nothing.

use mss_store::Folder;

use super::Reply;

/// Levels of a folder name (`a/b/c` has 3).
pub const MAX_DEPTH: usize = 16;
/// Bytes of one level of a name.
pub const MAX_LEVEL_BYTES: usize = 255;
/// Bytes of a whole name.
pub const MAX_NAME_BYTES: usize = 1000;
/// Folders in one mailbox.
pub const MAX_FOLDERS: usize = 1000;

fn limit(text: String) -> Reply {
    Reply::no(text).with_code("LIMIT")
}

/// The refusal of `name` as a folder name, when it passes a bound.
pub fn check_name(name: &str) -> Result<(), Reply> {
    if name.len() > MAX_NAME_BYTES {
        return Err(limit(format!("A folder name has at most {MAX_NAME_BYTES} bytes")));
    }
    let levels: Vec<&str> = name.split('/').collect();
    if levels.len() > MAX_DEPTH {
        return Err(limit(format!("Folders nest at most {MAX_DEPTH} levels deep")));
    }
    if levels.iter().any(|level| level.len() > MAX_LEVEL_BYTES) {
        return Err(limit(format!("A folder name level has at most {MAX_LEVEL_BYTES} bytes")));
    }
    Ok(())
}

/// The refusal when the missing parents of `name`, and `name` itself when
/// `counts_itself` (a new folder rather than a renamed one), would pass
/// [`MAX_FOLDERS`].
pub fn check_count(existing: &[Folder], name: &str, counts_itself: bool) -> Result<(), Reply> {
    let missing_parents = name
        .match_indices('/')
        .map(|(i, _)| &name[..i])
        .filter(|parent| !existing.iter().any(|f| f.name == *parent))
        .count();
    if existing.len() + missing_parents + usize::from(counts_itself) > MAX_FOLDERS {
        return Err(limit(format!("A mailbox has at most {MAX_FOLDERS} folders")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_in_depth_and_length() {
        assert!(check_name(&vec!["a"; MAX_DEPTH].join("/")).is_ok());
        assert!(check_name(&vec!["a"; MAX_DEPTH + 1].join("/")).is_err());
        assert!(check_name(&"é".repeat(MAX_LEVEL_BYTES / 2)).is_ok());
        assert!(check_name(&"a".repeat(MAX_LEVEL_BYTES + 1)).is_err());
        let long = vec!["a".repeat(200); 6].join("/");
        assert!(check_name(&long).is_err_and(|r| r.code.as_deref() == Some("LIMIT")));
    }
}
