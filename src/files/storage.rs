//! Where stored documents live (`storage.files`), behind one small interface: a local folder
//! by default, or any store the `object_store` crate reaches (an `s3://bucket/prefix` URL, its
//! credentials from the usual `AWS_*` environment). A file is stored under its SHA-256
//! (`sha256/ab/<hash>`), so a file submitted twice is stored once, and only once its bytes are
//! proven: nothing is ever seen under a final name half written or wrong.
//!
//! In the folder a file is written under `.incoming/`, synced, renamed to its final name and
//! the folder synced, so a crash at any point leaves either nothing or the whole file, on disk,
//! under that name. An object store gets a multipart upload completed only when the bytes are
//! proven (5 MiB parts, the least S3 takes), aborted otherwise.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use sha2::Digest;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The folder.
    #[error("document storage: {0}")]
    Io(#[from] std::io::Error),
    /// The object store.
    #[error("document storage: {0}")]
    Object(#[from] object_store::Error),
}

/// The document storage.
#[derive(Debug, Clone)]
pub struct FileStore {
    kind: Kind,
    /// Where it is, as configured (for logs).
    pub location: String,
}

#[derive(Debug, Clone)]
enum Kind {
    Folder(PathBuf),
    Object(Arc<dyn ObjectStore>, ObjectPath),
}

const INCOMING: &str = ".incoming";

impl FileStore {
    /// Opens `storage.files`: a folder (created if missing) or an object-store URL.
    pub fn open(files: &str) -> anyhow::Result<Self> {
        let kind = if files.contains("://") {
            let url = url::Url::parse(files)?;
            let options = std::env::vars().filter_map(|(k, v)| {
                k.strip_prefix("AWS_")
                    .map(|rest| (format!("aws_{}", rest.to_ascii_lowercase()), v))
            });
            let (store, prefix) = object_store::parse_url_opts(&url, options)?;
            Kind::Object(Arc::from(store), prefix)
        } else {
            let root = PathBuf::from(files);
            std::fs::create_dir_all(root.join(INCOMING))?;
            Kind::Folder(root)
        };
        Ok(Self {
            kind,
            location: files.to_owned(),
        })
    }

    fn relative(sha256: &str) -> [&str; 3] {
        ["sha256", sha256.get(..2).unwrap_or("00"), sha256]
    }

    fn object_path(prefix: &ObjectPath, sha256: &str) -> ObjectPath {
        Self::relative(sha256)
            .iter()
            .fold(prefix.clone(), |p, part| p.child(*part))
    }

    fn folder_path(root: &Path, sha256: &str) -> PathBuf {
        Self::relative(sha256)
            .iter()
            .fold(root.to_owned(), |p, part| p.join(part))
    }

    /// The stored size of the file with this hash, if it is stored.
    pub async fn size_of(&self, sha256: &str) -> Result<Option<u64>, StorageError> {
        match &self.kind {
            Kind::Folder(root) => {
                match tokio::fs::metadata(Self::folder_path(root, sha256)).await {
                    Ok(m) => Ok(Some(m.len())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
            Kind::Object(store, prefix) => {
                match store.head(&Self::object_path(prefix, sha256)).await {
                    Ok(meta) => Ok(Some(meta.size)),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Starts writing the file that should hash to `sha256`.
    pub async fn begin(&self, sha256: &str) -> Result<Upload, StorageError> {
        match &self.kind {
            Kind::Folder(root) => {
                let staging = root
                    .join(INCOMING)
                    .join(format!("{sha256}.{:016x}", rand::random::<u64>()));
                let file = tokio::fs::File::create(&staging).await?;
                Ok(Upload::Folder {
                    file: tokio::io::BufWriter::with_capacity(256 << 10, file),
                    staging,
                    target: Self::folder_path(root, sha256),
                })
            }
            Kind::Object(store, prefix) => {
                let upload = store
                    .put_multipart(&Self::object_path(prefix, sha256))
                    .await?;
                Ok(Upload::Object(WriteMultipart::new(upload)))
            }
        }
    }

    /// The bytes of `range` (the whole file when `None`) of the file with this hash, as a
    /// stream.
    pub async fn read(
        &self,
        sha256: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, StorageError>>, StorageError> {
        match &self.kind {
            Kind::Folder(root) => {
                let mut file = tokio::fs::File::open(Self::folder_path(root, sha256)).await?;
                let (start, len) = match range {
                    Some(r) => (r.start, r.end.saturating_sub(r.start)),
                    None => (0, file.metadata().await?.len()),
                };
                file.seek(std::io::SeekFrom::Start(start)).await?;
                let reader = tokio_util::io::ReaderStream::with_capacity(file.take(len), 64 << 10);
                Ok(reader.map(|r| r.map_err(StorageError::Io)).boxed())
            }
            Kind::Object(store, prefix) => {
                let options = GetOptions {
                    range: range.map(GetRange::Bounded),
                    ..GetOptions::default()
                };
                let got = store
                    .get_opts(&Self::object_path(prefix, sha256), options)
                    .await?;
                Ok(got
                    .into_stream()
                    .map(|r| r.map_err(StorageError::Object))
                    .boxed())
            }
        }
    }

    /// The stored file's size and SHA-256 as read now, or `None` when it is missing.
    pub async fn rehash(&self, sha256: &str) -> Result<Option<(u64, String)>, StorageError> {
        if self.size_of(sha256).await?.is_none() {
            return Ok(None);
        }
        let mut stream = self.read(sha256, None).await?;
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok(Some((size, hex::encode(hasher.finalize()))))
    }

    /// Removes what writes cut off by a crash left in the folder's `.incoming/`, older than
    /// `age` (so that no write in progress, here or in another gateway, loses its file); how
    /// many. An object store aborts such uploads by its own lifecycle rules.
    pub async fn sweep_incoming(&self, age: Duration) -> Result<usize, StorageError> {
        let Kind::Folder(root) = &self.kind else {
            return Ok(0);
        };
        let mut removed = 0;
        let mut entries = tokio::fs::read_dir(root.join(INCOMING)).await?;
        while let Some(entry) = entries.next_entry().await? {
            let old = entry
                .metadata()
                .await?
                .modified()?
                .elapsed()
                .is_ok_and(|e| e >= age);
            if old {
                tokio::fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A file being written; dropped without [`Upload::finish`], or aborted, it leaves nothing
/// under the final name.
pub enum Upload {
    /// Into the folder's `.incoming/`.
    Folder {
        /// The staging file.
        file: tokio::io::BufWriter<tokio::fs::File>,
        /// Its path.
        staging: PathBuf,
        /// The final path.
        target: PathBuf,
    },
    /// A multipart upload.
    Object(WriteMultipart),
}

impl Upload {
    /// Adds bytes.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        match self {
            Upload::Folder { file, .. } => file.write_all(bytes).await?,
            Upload::Object(writer) => {
                // One part sent while the next fills: at most two parts held.
                writer.wait_for_capacity(1).await?;
                writer.write(bytes);
            }
        }
        Ok(())
    }

    /// Puts the file under its final name, on disk.
    pub async fn finish(self) -> Result<(), StorageError> {
        match self {
            Upload::Folder {
                mut file,
                staging,
                target,
            } => {
                file.flush().await?;
                file.get_ref().sync_all().await?;
                drop(file);
                let dir = target.parent().map(Path::to_owned).unwrap_or_default();
                tokio::fs::create_dir_all(&dir).await?;
                tokio::fs::rename(&staging, &target).await?;
                // The rename itself is on disk once its folder is synced.
                tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
                    .await
                    .map_err(std::io::Error::other)??;
            }
            Upload::Object(writer) => {
                writer.finish().await?;
            }
        }
        Ok(())
    }

    /// Throws the bytes written away.
    pub async fn abort(self) -> Result<(), StorageError> {
        match self {
            Upload::Folder { file, staging, .. } => {
                drop(file);
                tokio::fs::remove_file(&staging).await?;
            }
            Upload::Object(writer) => writer.abort().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_writes_older_than_the_lease_are_swept_from_incoming() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().to_str().unwrap_or_default().to_owned();
        let store = FileStore::open(&root).unwrap_or_else(|e| panic!("{e}"));
        let incoming = dir.path().join(INCOMING);
        let (old, fresh) = (incoming.join("aa.old"), incoming.join("bb.fresh"));
        for f in [&old, &fresh] {
            std::fs::write(f, b"partial").unwrap_or_else(|e| panic!("{e}"));
        }
        let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .and_then(|f| f.set_modified(hour_ago))
            .unwrap_or_else(|e| panic!("{e}"));
        let swept = store.sweep_incoming(Duration::from_secs(900)).await;
        assert_eq!(swept.ok(), Some(1));
        assert!(
            !old.exists() && fresh.exists(),
            "a write still in its lease is kept"
        );
    }
}
