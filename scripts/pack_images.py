"""Pack a folder of class folders into one reproducible `.npz` of the files' own bytes.

    python scripts/pack_images.py ../shared/data/cifar10_test data/cifar10/cifar10_test.npz

The source layout is `<root>/<class>/<file>`. Nothing is decoded or re-encoded: every
packed image can be checked against the source's `SHA256SUMS` (see
`training.data.image_sets.pack_images` for the archive's arrays). Packing the same
folder twice gives the same bytes.
"""

import hashlib
import sys
from pathlib import Path

from training.data.image_sets import checksums, pack_images, read_image_folder, unpack_images


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(__doc__ or "")
        return 2
    root, target = Path(argv[0]), Path(argv[1])
    files = read_image_folder(root)
    content = pack_images(files)
    if checksums(unpack_images(content)) != checksums(files):
        raise RuntimeError("the packed archive does not give back the files' bytes")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    sys.stdout.write(
        f"{len(files):,} images in {len(files.classes)} classes -> {target} "
        f"({len(content):,} B, sha256 {hashlib.sha256(content).hexdigest()})\n"
        f"sha256 of the files' listing (sha256sum format): "
        f"{hashlib.sha256(checksums(files)).hexdigest()}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
