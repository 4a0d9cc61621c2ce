/* layer — an image layer (a tar stream: gzip, zstd or plain, told apart by content) unpacked
 * with libarchive, internal to the image store.
 *
 * Both functions refuse entries that would land outside dir: absolute paths, ".." components,
 * writes through a symlink the layer (or a lower one) put there, hard links pointing outside.
 * Owners, modes, xattrs and times are kept; hard links within the layer are made as links.
 *
 * layer_unpack writes the overlayfs form of the OCI whiteouts, for a dir that is used as one
 * lowerdir of an overlay mount: ".wh.NAME" → a 0:0 character device NAME (overlayfs' whiteout),
 * ".wh..wh..opq" in D → xattr trusted.overlay.opaque=y on D.
 * layer_apply_copy applies the layer onto a plain directory holding the layers below it (the
 * fallback where there is no overlayfs): whiteouts delete what they name (first, as the OCI
 * image spec has them apply to lower layers only), then the entries are written over.
 *
 * Both are thread-safe (no chdir: every path is made absolute under the realpath of dir). They
 * return 0 or an img_err_t (IMG_ERR_CORRUPT for a bad or truncated stream or an unsafe path,
 * IMG_ERR_DISK for ENOSPC/EIO) with err naming the entry. A failed call may leave dir half
 * written: the caller unpacks into a temp dir and renames it when done. */
#ifndef TROUPE_LAYER_H
#define TROUPE_LAYER_H

#include <stddef.h>
#include <stdint.h>

/* *bytes (may be NULL): the sum of the regular files' sizes written. */
int layer_unpack (const char *tar_path, const char *dir, uint64_t *bytes, char *err, size_t errlen);
int layer_apply_copy (const char *tar_path, const char *dir, char *err, size_t errlen);
/* The layer's diff id: "sha256:<hex>" of its uncompressed tar stream (what the image config's
 * rootfs.diff_ids lists), into out (at least 72 bytes). 0, or IMG_ERR_CORRUPT with err. */
int layer_diff_id (const char *tar_path, char *out, char *err, size_t errlen);
/* Removes path and what it holds (a layer's tree), never following symlinks or crossing
 * mounts; a missing path is fine. 0 or -1 with errno. */
int layer_remove (const char *path);

#endif
