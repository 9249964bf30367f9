//! `msrp listen --out`: each message saved as a file in a folder, written in place as its
//! pieces arrive (so that a message that comes out of order, or with a gap, holds no memory),
//! under a name the file system takes, found in constant time.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use msrp_session::{BodySink, IncomingFailure, IncomingSink, MessageStart};
use msrp_wire::StatusCode;

use crate::util::{Hasher, is_text_type, keep_first, safe_file_name};

/// The longest file name, in bytes, that common file systems take (`NAME_MAX` on Linux).
const MAX_NAME: usize = 255;
/// The longest extension that a shortened name keeps; a longer "extension" is part of the stem.
const MAX_EXTENSION: usize = 32;
/// Names whose next free suffix is remembered. Past it the memory starts over: a name then
/// costs a few more probes once (see [`Names::create`]), never a scan.
const REMEMBERED_NAMES: usize = 4096;
/// Probes for a free name before giving up (each skips twice as far as the one before).
const MAX_PROBES: u32 = 64;

/// Free file names in a folder: a name, then `stem-1.ext`, `stem-2.ext` …, shortened to what
/// the file system takes.
pub(crate) struct Names {
    dir: PathBuf,
    /// The next suffix to try, by name.
    next: HashMap<String, u64>,
}

impl Names {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            next: HashMap::new(),
        }
    }

    /// Creates a new file for `name`, under the name itself when it is free and short enough,
    /// otherwise under a shortened one, with a suffix when that is taken. The file is created
    /// only if it does not exist (`create_new`), so a file made meanwhile by someone else is
    /// skipped, never overwritten. The suffix that comes next is remembered per name: the files
    /// of one name cost one probe each, not a scan of those before them. Where nothing is
    /// remembered, the probes skip 1, 2, 4 … ahead, a few dozen at most.
    pub(crate) fn create(&mut self, name: &str) -> io::Result<(File, PathBuf)> {
        let (stem, extension) = split_extension(name);
        let base = with_suffix(stem, extension, 0);
        let mut n = self.next.get(&base).copied().unwrap_or(0);
        let mut step = 1u64;
        for _ in 0..MAX_PROBES {
            let path = self.dir.join(with_suffix(stem, extension, n));
            match File::create_new(&path) {
                Ok(file) => {
                    if self.next.len() >= REMEMBERED_NAMES && !self.next.contains_key(&base) {
                        self.next.clear();
                    }
                    self.next.insert(base, n + 1);
                    return Ok((file, path));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    n = n.saturating_add(step);
                    step = step.saturating_mul(2);
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no free name for {base}"),
        ))
    }
}

/// A name's stem and extension (with its dot): `("photo", ".jpg")`. A leading dot starts no
/// extension, and a long one is part of the stem.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_EXTENSION => name.split_at(dot),
        _ => (name, ""),
    }
}

/// `stem-n.ext` (`stem.ext` for 0), the stem shortened so that the whole takes at most
/// [`MAX_NAME`] bytes; bytes count, not characters, and a character is never cut.
fn with_suffix(stem: &str, extension: &str, n: u64) -> String {
    let suffix = if n == 0 {
        String::new()
    } else {
        format!("-{n}")
    };
    let mut room = MAX_NAME.saturating_sub(extension.len() + suffix.len());
    room = room.min(stem.len());
    while !stem.is_char_boundary(room) {
        room -= 1;
    }
    format!("{}{suffix}{extension}", &stem[..room])
}

/// How a message that went to a file ended, for the listener to report.
#[derive(Debug)]
pub(crate) enum Stored {
    /// Complete, in its file. The SHA-256 and first bytes are known when every piece came in
    /// order; otherwise the file is read back for them.
    Saved {
        path: PathBuf,
        digest: Option<(String, Vec<u8>)>,
    },
    /// It could not be stored: why.
    Failed { error: String },
}

/// What the sinks of the listener's sessions share with it: the folder's names, and how the
/// messages they took ended, by Message-ID, until the listener reports them (each entry is
/// taken when the event it goes with comes, so there are no more of them than events queued).
#[derive(Clone)]
pub(crate) struct Folder(Arc<Mutex<Shared>>);

struct Shared {
    names: Names,
    stored: HashMap<String, Stored>,
}

impl Folder {
    pub(crate) fn new(dir: &Path) -> Self {
        Self(Arc::new(Mutex::new(Shared {
            names: Names::new(dir),
            stored: HashMap::new(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A sink that panicked cannot have left the names or the outcomes half changed.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A sink for one session, keeping the first `show` bytes of text messages.
    pub(crate) fn sink(&self, show: usize) -> FolderSink {
        FolderSink {
            folder: self.clone(),
            show,
        }
    }

    /// How the message `message_id` ended, once.
    pub(crate) fn take(&self, message_id: &str) -> Option<Stored> {
        self.lock().stored.remove(message_id)
    }

    fn put(&self, message_id: String, stored: Stored) {
        self.lock().stored.insert(message_id, stored);
    }
}

/// Saves each message of a session as a file in the folder.
pub(crate) struct FolderSink {
    folder: Folder,
    show: usize,
}

impl IncomingSink for FolderSink {
    fn start(&mut self, message: &MessageStart) -> Result<Option<Box<dyn BodySink>>, StatusCode> {
        let message_id = message.message_id.to_string();
        let head = &message.head;
        let wanted = head
            .content_disposition()
            .ok()
            .flatten()
            .and_then(|d| d.filename().and_then(safe_file_name));
        let fallback = format!("{message_id}.msg");
        let created = {
            let names = &mut self.folder.lock().names;
            // A name the file system refuses (too long, or invalid there) gives way to the
            // Message-ID's.
            match &wanted {
                Some(name) => names.create(name).or_else(|_| names.create(&fallback)),
                None => names.create(&fallback),
            }
        };
        let (file, path) = match created {
            Ok(created) => created,
            Err(e) => {
                let dir = self.folder.lock().names.dir.clone();
                let error = format!("cannot create a file in {}: {e}", dir.display());
                self.folder.put(message_id, Stored::Failed { error });
                // RFC 4975 §10.5: "A 413 response indicates that the receiver wishes the
                // sender to stop sending the particular message."
                return Err(StatusCode::MESSAGE_TOO_LARGE);
            }
        };
        let text = head
            .content_type_str()
            .ok()
            .flatten()
            .is_some_and(is_text_type);
        Ok(Some(Box::new(FileBody {
            file,
            path,
            message_id,
            folder: self.folder.clone(),
            hasher: Hasher::default(),
            in_order: true,
            text: Vec::new(),
            show: if text { self.show } else { 0 },
            error: None,
        })))
    }
}

/// One message's file, written at each piece's offset. While the pieces come in order it is
/// hashed as it goes; otherwise the listener reads the file back when it is complete.
struct FileBody {
    file: File,
    path: PathBuf,
    message_id: String,
    folder: Folder,
    /// The hash of the bytes from the start, while every piece came at the end of the last.
    hasher: Hasher,
    in_order: bool,
    /// The first bytes of a text message.
    text: Vec<u8>,
    show: usize,
    /// Why a write failed.
    error: Option<String>,
}

impl BodySink for FileBody {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if let Err(e) = self.file.write_all_at(data, offset) {
            self.error = Some(format!("cannot write {}: {e}", self.path.display()));
            return Err(e);
        }
        if self.in_order && offset == self.hasher.len {
            self.hasher.update(data);
            keep_first(&mut self.text, self.show, data);
        } else {
            self.in_order = false;
        }
        Ok(())
    }

    fn finish(self: Box<Self>, result: Result<u64, IncomingFailure>) -> io::Result<()> {
        let FileBody {
            file,
            path,
            message_id,
            folder,
            hasher,
            in_order,
            text,
            error,
            ..
        } = *self;
        let outcome = match result {
            // Whatever was written past the end that the last chunk set is not the message's.
            Ok(size) => file.set_len(size).map(|()| size).map_err(|e| {
                let error = format!("cannot write {}: {e}", path.display());
                (io::Error::new(e.kind(), error), IncomingFailure::Sink)
            }),
            Err(why) => Err((io::Error::other("given up"), why)),
        };
        drop(file);
        match outcome {
            Ok(size) => {
                let digest = (in_order && hasher.len == size).then(|| (hasher.hex(), text));
                folder.put(message_id, Stored::Saved { path, digest });
                Ok(())
            }
            Err((e, why)) => {
                // What was received of a message given up is not kept.
                let _ = fs::remove_file(&path);
                if why == IncomingFailure::Sink {
                    let error = error.unwrap_or_else(|| e.to_string());
                    folder.put(message_id, Stored::Failed { error });
                }
                Err(e)
            }
        }
    }
}

/// Reads a saved file back for its SHA-256 and its first `show` bytes.
pub(crate) fn read_back(path: &Path, show: usize) -> io::Result<(String, Vec<u8>)> {
    let mut file = File::open(path)?;
    let mut hasher = Hasher::default();
    let mut text = Vec::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        keep_first(&mut text, show, &buf[..n]);
    }
    Ok((hasher.hex(), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of its own under the temporary directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("msrp-store-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn file_name(path: &Path) -> String {
        path.file_name().unwrap().to_string_lossy().into_owned()
    }

    #[test]
    fn names_are_shortened_in_bytes_and_keep_their_extension() {
        assert_eq!(with_suffix("photo", ".jpg", 0), "photo.jpg");
        assert_eq!(with_suffix("photo", ".jpg", 12), "photo-12.jpg");
        let long = with_suffix(&"a".repeat(296), ".txt", 0);
        assert_eq!((long.len(), &long[251..]), (255, ".txt"));
        let long = with_suffix(&"a".repeat(296), ".txt", 7);
        assert_eq!((long.len(), &long[249..]), (255, "-7.txt"));
        // Two-byte characters are never cut in half.
        let wide = with_suffix(&"é".repeat(200), ".txt", 0);
        assert_eq!(wide.len(), 251 - 1 + 4);
        assert!(wide.ends_with("é.txt"));
        assert_eq!(split_extension(".profile"), (".profile", ""));
        assert_eq!(split_extension("archive.tar.gz"), ("archive.tar", ".gz"));
        let odd = format!("x.{}", "y".repeat(40));
        assert_eq!(split_extension(&odd), (odd.as_str(), ""));
    }

    #[test]
    fn a_name_the_file_system_refuses_is_shortened() {
        let dir = TempDir::new("long");
        let mut names = Names::new(&dir.0);
        let name = format!("{}.txt", "a".repeat(296));
        let (_, first) = names.create(&name).unwrap();
        let (_, second) = names.create(&name).unwrap();
        assert_eq!(file_name(&first).len(), 255);
        assert!(file_name(&first).ends_with("aaa.txt"));
        assert!(file_name(&second).ends_with("-1.txt"));
        assert!(first.exists() && second.exists());
    }

    /// Files made behind the names' back are skipped, not overwritten; where nothing is
    /// remembered (another run of the listener made them), the probes skip ahead.
    #[test]
    fn existing_files_are_skipped_and_never_overwritten() {
        let dir = TempDir::new("taken");
        for n in 0..100 {
            fs::write(dir.0.join(with_suffix("same", ".txt", n)), b"old").unwrap();
        }
        let mut names = Names::new(&dir.0);
        let (_, path) = names.create("same.txt").unwrap();
        assert!(!["same.txt", "same-1.txt"].contains(&file_name(&path).as_str()));
        let (_, next) = names.create("same.txt").unwrap();
        assert_ne!(path, next);
        for n in 0..100 {
            assert_eq!(
                fs::read(dir.0.join(with_suffix("same", ".txt", n))).unwrap(),
                b"old"
            );
        }
        // Someone takes the name that comes next: it is skipped.
        let (_, mine) = names.create("other.txt").unwrap();
        fs::write(dir.0.join("other-1.txt"), b"theirs").unwrap();
        let (_, after) = names.create("other.txt").unwrap();
        assert_eq!(file_name(&mine), "other.txt");
        assert_eq!(file_name(&after), "other-2.txt");
        assert_eq!(fs::read(dir.0.join("other-1.txt")).unwrap(), b"theirs");
    }

    /// The names whose next suffix is remembered are bounded (a peer chooses them); a name
    /// forgotten still gets a free name, never an existing file.
    #[test]
    fn the_names_remembered_are_bounded() {
        let dir = TempDir::new("remembered");
        let mut names = Names::new(&dir.0);
        for i in 0..=REMEMBERED_NAMES {
            names.create(&format!("n{i}")).unwrap();
            assert!(names.next.len() <= REMEMBERED_NAMES);
        }
        assert_eq!(names.next.len(), 1, "the memory started over");
        let (_, path) = names.create("n0").unwrap();
        assert_eq!(file_name(&path), "n0-1");
    }

    /// Many files of one name: the next suffix is remembered, so each costs one probe rather
    /// than a scan of the files before it.
    #[test]
    fn many_files_of_one_name_each_take_one_probe() {
        let dir = TempDir::new("many");
        let mut names = Names::new(&dir.0);
        for n in 0..2000u64 {
            let (_, path) = names.create("same.txt").unwrap();
            assert_eq!(file_name(&path), with_suffix("same", ".txt", n));
            assert_eq!(names.next.get("same.txt"), Some(&(n + 1)));
        }
        assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 2000);
    }
}
