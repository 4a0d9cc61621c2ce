/* libFuzzer target: an image layer as a registry (or a tarball given to `troupe image import`)
 * hands it over — arbitrary bytes unpacked by layer_unpack and applied by layer_apply_copy into a
 * fresh directory. Whatever the bytes, nothing may be written outside that directory (the
 * target checks a sibling "outside" directory stays empty), and a refusal says why. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime-shims/oci/imgstore.h"
#include "runtime-shims/oci/layer.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char base[256];

static int
empty_dir (const char *path)
{
    DIR *d = opendir (path);
    if (!d)
        return 1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir (d)))
        n += strcmp (e->d_name, ".") && strcmp (e->d_name, "..");
    closedir (d);
    return n == 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!base[0]) {
        const char *t = getenv ("TMPDIR"); /* scripts/fuzz.sh gives each run its own */
        snprintf (base, sizeof base, "%s/fuzz-layer-%d", t && *t ? t : "/tmp", (int) getpid ());
        mkdir (base, 0700);
    }
    char tar[300], dir[300], out[300], err[512];
    snprintf (tar, sizeof tar, "%s/in.tar", base);
    snprintf (dir, sizeof dir, "%s/root", base);
    snprintf (out, sizeof out, "%s/outside", base);
    FILE *f = fopen (tar, "wb");
    if (!f)
        return 0;
    fwrite (data, 1, size, f);
    fclose (f);
    for (int mode = 0; mode < 2; mode++) {
        layer_remove (dir);
        layer_remove (out);
        mkdir (dir, 0755);
        mkdir (out, 0755);
        err[0] = 0;
        int rc = mode ? layer_apply_copy (tar, dir, err, sizeof err) : layer_unpack (tar, dir, NULL, err, sizeof err);
        if (rc && !err[0])
            abort (); /* a refusal says why */
        if (!empty_dir (out))
            abort (); /* nothing escapes the layer's directory */
    }
    layer_remove (dir);
    layer_remove (out);
    unlink (tar);
    return 0;
}
