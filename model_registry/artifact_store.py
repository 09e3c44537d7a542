"""A content-addressed blob store: every blob is named by its sha256 and checked on read.

Local folders by default; any fsspec URL (`s3://bucket/prefix`) for shared storage.
Writes go to a temporary name and are renamed into place, so a reader never sees a
partial blob, and identical content is stored once.

On S3 (`pip install 'practica[s3]'`) the "rename" is a server-side copy of the verified
staging object followed by its deletion. S3 makes an object visible only once it is
complete, so the final key holds either nothing or the whole verified blob. A writer that
dies between the two steps leaves an unreferenced object under `<prefix>/tmp/`, which no
reader looks at (an expiry rule on that prefix reclaims it). The endpoint, credentials and
region come from botocore's standard environment (`AWS_ENDPOINT_URL_S3`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, or a profile), the same
as every AWS tool, so MinIO and other S3-compatible stores need no setting of ours.
"""

import hashlib
import re
import uuid

import fsspec

from model_registry.errors import ArtifactIntegrityError, ArtifactMissingError
from model_registry.versions import FileRef

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ContentStore:
    """Blobs under `<root>/sha256/<first two hex>/<sha256>`."""

    def __init__(self, uri: str) -> None:
        self._fs, root = fsspec.core.url_to_fs(uri)
        self._root = root.rstrip("/")
        # On S3 this also creates the bucket when it is missing (and the credentials allow).
        self._fs.makedirs(f"{self._root}/tmp", exist_ok=True)

    def _path(self, sha256: str) -> str:
        if not _SHA256.fullmatch(sha256):
            raise ArtifactMissingError(f"not a sha256 digest: {sha256!r}")
        return f"{self._root}/sha256/{sha256[:2]}/{sha256}"

    def put(self, data: bytes) -> FileRef:
        """Store `data`, verify what landed, and return its reference."""
        digest = sha256_hex(data)
        final = self._path(digest)
        if self._fs.exists(final) and self._is_intact(final, digest):
            return FileRef(sha256=digest, size=len(data))
        staging = f"{self._root}/tmp/{uuid.uuid4().hex}"
        self._fs.pipe_file(staging, data)
        if not self._is_intact(staging, digest):
            self._fs.rm(staging)
            raise ArtifactIntegrityError(f"blob {digest} was corrupted while being written")
        self._fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        self._fs.mv(staging, final)
        return FileRef(sha256=digest, size=len(data))

    def get(self, ref: FileRef) -> bytes:
        """The blob's bytes, refused if they do not hash to what the metadata recorded."""
        path = self._path(ref.sha256)
        try:
            data: bytes = self._fs.cat_file(path)
        except FileNotFoundError:
            raise ArtifactMissingError(f"artifact blob {ref.sha256} is missing") from None
        if sha256_hex(data) != ref.sha256:
            raise ArtifactIntegrityError(
                f"artifact blob {ref.sha256} failed its sha256 check: it was modified after "
                "publishing; re-publish the version or restore the blob from a bundle"
            )
        return data

    def _is_intact(self, path: str, digest: str) -> bool:
        # The blob may vanish between `exists` and this read (an operator's clean-up, or an
        # object store's cached listing that is out of date): then it is simply written again.
        try:
            return sha256_hex(self._fs.cat_file(path)) == digest
        except FileNotFoundError:
            return False
