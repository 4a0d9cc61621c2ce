/* certdir: a directory of CURVE certificates read incrementally — every certificate known after
 * each scan, exactly the new or changed ones parsed, a replaced certificate's old key and a
 * removed one's forgotten, secrets, dotfiles and broken files skipped, an unchanged directory not
 * read again unless forced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/certdir.h"
#include "tests/unit/dir_fixture.h"

/* Writes a new certificate (public part) as dir/file with name and role; its key into key. */
static void
write_cert (const char *file, const char *name, const char *role, char key[41])
{
    zcert_t *c = zcert_new ();
    assert_non_null (c);
    zcert_set_meta (c, "name", "%s", name);
    if (role)
        zcert_set_meta (c, "role", "%s", role);
    char path[512], tmp[520];
    snprintf (path, sizeof path, "%s/%s", fixture_dir, file);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal (zcert_save_public (c, tmp), 0);
    assert_int_equal (rename (tmp, path), 0); /* replaced as the join replaces one: a new inode */
    snprintf (key, 41, "%s", zcert_public_txt (c));
    zcert_destroy (&c);
}

static void
write_file (const char *file, const char *text)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", fixture_dir, file);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

/* Makes the directory's time move past the last scan's (filesystems with coarse timestamps). */
static void
tick (void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep (&ts, NULL);
}

static void
scans (void **state)
{
    (void) state;
    char ka[41], kb[41], kc[41], ka2[41], path[512];
    write_cert ("node-a.cert", "a", "node", ka);
    write_cert ("node-b.cert", "b", "node", kb);
    write_cert ("admin.cert", "admin", "admin", kc);
    write_file ("admin.cert_secret", "not read");
    write_file (".join-x.tmp", "not read");
    write_file ("broken.cert", "this is not a certificate");
    certdir_t *d = certdir_new (fixture_dir);
    assert_non_null (d);
    assert_int_equal (certdir_scan (d, 0), 3);
    assert_int_equal (certdir_size (d), 3);
    const certdir_cert_t *c = certdir_lookup (d, kb);
    assert_non_null (c);
    assert_string_equal (c->name, "b");
    assert_string_equal (c->role, "node");
    assert_string_equal (certdir_lookup (d, kc)->role, "admin");
    assert_null (certdir_lookup (d, "no such key"));
    assert_null (certdir_lookup (d, NULL));
    /* nothing changed: not read again; forced: read again, nothing parsed */
    assert_int_equal (certdir_scan (d, 0), 0);
    assert_int_equal (certdir_scan (d, 1), 0);
    /* one added among many: only it is parsed */
    char keys[50][41];
    tick ();
    for (int i = 0; i < 50; i++) {
        char f[64], n[32];
        snprintf (f, sizeof f, "node-n%d.cert", i);
        snprintf (n, sizeof n, "n%d", i);
        write_cert (f, n, "node", keys[i]);
    }
    assert_int_equal (certdir_scan (d, 0), 50);
    assert_int_equal (certdir_size (d), 53);
    tick ();
    char kd[41];
    write_cert ("node-d.cert", "d", "node", kd);
    assert_int_equal (certdir_scan (d, 0), 1);
    assert_string_equal (certdir_lookup (d, kd)->name, "d");
    /* one added right after a scan, maybe within the same tick of the directory's time (ext4's
     * are coarse): still seen without forcing */
    char ke[41];
    write_cert ("node-e.cert", "e", "node", ke);
    assert_int_equal (certdir_scan (d, 0), 1);
    assert_string_equal (certdir_lookup (d, ke)->name, "e");
    tick ();
    snprintf (path, sizeof path, "%s/node-e.cert", fixture_dir);
    assert_int_equal (unlink (path), 0);
    assert_int_equal (certdir_scan (d, 0), 1);
    assert_null (certdir_lookup (d, ke));
    assert_string_equal (certdir_lookup (d, keys[49])->name, "n49");
    /* a certificate replaced (a name taken over with a new key): the old key is nobody */
    tick ();
    write_cert ("node-a.cert", "a", "node", ka2);
    assert_int_equal (certdir_scan (d, 0), 1);
    assert_null (certdir_lookup (d, ka));
    assert_string_equal (certdir_lookup (d, ka2)->name, "a");
    /* one removed: forgotten */
    tick ();
    snprintf (path, sizeof path, "%s/node-b.cert", fixture_dir);
    assert_int_equal (unlink (path), 0);
    assert_int_equal (certdir_scan (d, 0), 1);
    assert_null (certdir_lookup (d, kb));
    assert_int_equal (certdir_size (d), 53);
    /* one rewritten in place (the directory's time does not move): seen by a forced scan */
    char kn[41];
    zcert_t *nc = zcert_new ();
    zcert_set_meta (nc, "name", "d");
    zcert_set_meta (nc, "role", "admin");
    snprintf (path, sizeof path, "%s/node-d.cert", fixture_dir);
    assert_int_equal (zcert_save_public (nc, path), 0);
    snprintf (kn, sizeof kn, "%s", zcert_public_txt (nc));
    zcert_destroy (&nc);
    assert_int_equal (certdir_scan (d, 1), 1);
    assert_null (certdir_lookup (d, kd));
    assert_string_equal (certdir_lookup (d, kn)->role, "admin");
    /* a certificate that became unreadable is forgotten */
    tick ();
    write_file ("node-n0.cert", "garbage");
    assert_int_equal (certdir_scan (d, 1), 1);
    assert_null (certdir_lookup (d, keys[0]));
    assert_int_equal (certdir_size (d), 52);
    /* iteration walks every certificate once */
    size_t n = 0;
    for (c = certdir_first (d); c; c = certdir_next (d))
        n++;
    assert_int_equal (n, 52);
    certdir_destroy (&d);
    assert_null (d);
    /* a directory that cannot be read */
    d = certdir_new ("/nonexistent/troupe-certdir");
    assert_int_equal (certdir_scan (d, 1), -1);
    assert_int_equal (certdir_size (d), 0);
    certdir_destroy (&d);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (scans, dir_fixture_setup, dir_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
