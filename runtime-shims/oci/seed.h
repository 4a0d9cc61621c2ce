/* seed — a busybox image made on the node from Debian's busybox-static, so that a single-node
 * cluster (`troupe up`, `make up`) runs the examples with real containers and no registry.
 * The image is an OCI image layout tarball (one uncompressed layer: /bin/busybox, a link per
 * applet, /etc/passwd and /etc/group, /tmp, /root; Cmd ["sh"]), named
 * docker.io/library/busybox:latest, imported like any other (`troupe image import`). Its layer
 * has fixed times and owners, so the same busybox gives the same digest. */
#ifndef TROUPE_SEED_H
#define TROUPE_SEED_H

#include <stddef.h>

/* Writes the layout tarball built from the busybox binary at busybox ("/bin/busybox") to out_tar. */
int seed_busybox_layout (const char *busybox, const char *out_tar, char *err, size_t errlen);

#endif
