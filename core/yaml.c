/* yaml — YAML ⇄ json_t with libyaml's event API. See yaml.h for the contract. */
#include "core/yaml.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Deepest json_t tr_yaml_dump walks; it recurses, and a cyclic tree must not overflow the stack. */
#define DUMP_MAX_DEPTH 1000

/* ---- plain scalar resolution (YAML 1.2 core schema), shared by load and dump ---------------- */

static int
is_digit (char c)
{
    return c >= '0' && c <= '9';
}

static int
hex_value (char c)
{
    if (is_digit (c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 1 with *out set if s is a core-schema integer that fits int64, 0 if s is not an integer,
 * -1 if it is one that does not fit. */
static int
parse_int (const char *s, json_int_t *out)
{
    unsigned base = 10;
    int neg = 0;
    const char *p = s;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) {
        base = p[1] == 'x' ? 16 : 8;
        p += 2;
    } else if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (!*p)
        return 0;
    uint64_t limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    uint64_t v = 0;
    int overflow = 0;
    for (; *p; p++) {
        int d = base == 16 ? hex_value (*p) : is_digit (*p) ? *p - '0' : -1;
        if (d < 0 || (unsigned) d >= base)
            return 0;
        if (v > (limit - (unsigned) d) / base)
            overflow = 1;
        else
            v = v * base + (unsigned) d;
    }
    if (overflow)
        return -1;
    *out = neg ? (json_int_t) (0 - v) : (json_int_t) v;
    return 1;
}

/* 1 if s matches the core-schema float pattern [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int
float_syntax (const char *s)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    int digits = 0;
    while (is_digit (*p))
        p++, digits++;
    if (*p == '.') {
        p++;
        while (is_digit (*p))
            p++, digits++;
    }
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!is_digit (*p))
            return 0;
        while (is_digit (*p))
            p++;
    }
    return *p == 0;
}

static int
one_of (const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp (s, *list))
            return 1;
    return 0;
}

static const char *const null_words[] = {"~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", NULL};
static const char *const false_words[] = {"false", "False", "FALSE", NULL};
static const char *const special_floats[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF", "-.inf",
                                             "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN",  NULL};
/* Words YAML 1.1 readers (Go's yaml.v2 under kubectl, PyYAML) take for booleans. */
static const char *const yaml11_bools[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no",  "No", "NO",
                                           "on", "On", "ON",  "off", "Off", "OFF", NULL};

/* The json type the plain scalar s (NUL-terminated, len bytes) resolves to; *i or *d receive
 * the number. */
static json_type
plain_resolve (const char *s, size_t len, json_int_t *i, double *d)
{
    if (len == 0 || one_of (s, null_words))
        return JSON_NULL;
    if (one_of (s, true_words))
        return JSON_TRUE;
    if (one_of (s, false_words))
        return JSON_FALSE;
    if (strlen (s) != len)
        return JSON_STRING;
    int r = parse_int (s, i);
    if (r == 1)
        return JSON_INTEGER;
    if (float_syntax (s)) { /* also a decimal integer past int64 */
        *d = strtod (s, NULL);
        if (isfinite (*d))
            return JSON_REAL;
    }
    return JSON_STRING;
}

/* ---- loading -------------------------------------------------------------------------------- */

typedef struct {
    yaml_parser_t parser;
    const char *text;
    size_t len;
    char *err;
    size_t errlen;
    size_t nodes;    /* over the stream, aliases at their expanded size */
    json_t *anchors; /* this document's: name → [value, size, height, key text or null] */
} loader_t;

/* What a loaded node costs: its node count and its height (0 for a scalar). */
typedef struct {
    size_t size;
    int height;
} cost_t;

static int
fail_at (loader_t *L, size_t line0, size_t col0, const char *what)
{
    snprintf (L->err, L->errlen, "yaml: line %zu column %zu: %s", line0 + 1, col0 + 1, what);
    return -1;
}

static int
fail (loader_t *L, const yaml_mark_t *m, const char *what)
{
    return fail_at (L, m->line, m->column, what);
}

/* 0-based line and column (in characters) of byte offset off. */
static void
offset_position (const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
    *line = 0;
    *col = 0;
    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c == '\n' || (c == '\r' && (i + 1 >= len || text[i + 1] != '\n'))) {
            (*line)++;
            *col = 0;
        } else if (c != '\r' && (c & 0xC0) != 0x80)
            (*col)++;
    }
}

static int
parser_error (loader_t *L)
{
    yaml_parser_t *p = &L->parser;
    char what[512];
    if (p->error == YAML_MEMORY_ERROR) {
        snprintf (L->err, L->errlen, "yaml: out of memory");
        return -1;
    }
    if (p->error == YAML_READER_ERROR) {
        size_t line, col;
        offset_position (L->text, L->len, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            snprintf (what, sizeof what, "%s 0x%02x (the input must be UTF-8)", p->problem ? p->problem : "unreadable input",
                      (unsigned) p->problem_value);
        else
            snprintf (what, sizeof what, "%s", p->problem ? p->problem : "unreadable input");
        return fail_at (L, line, col, what);
    }
    if (p->context)
        snprintf (what, sizeof what, "%s (%s that started at line %zu column %zu)", p->problem ? p->problem : "syntax error",
                  p->context, p->context_mark.line + 1, p->context_mark.column + 1);
    else
        snprintf (what, sizeof what, "%s", p->problem ? p->problem : "syntax error");
    return fail (L, &p->problem_mark, what);
}

static int
next_event (loader_t *L, yaml_event_t *ev)
{
    if (!yaml_parser_parse (&L->parser, ev))
        return parser_error (L);
    return 0;
}

static int
count_nodes (loader_t *L, const yaml_mark_t *m, size_t n)
{
    L->nodes += n;
    if (L->nodes > TR_YAML_MAX_NODES) {
        char what[160];
        snprintf (what, sizeof what, "too many nodes: the stream expands to more than %d (aliases counted in full)",
                  TR_YAML_MAX_NODES);
        return fail (L, m, what);
    }
    return 0;
}

static int
too_deep (loader_t *L, const yaml_mark_t *m)
{
    char what[80];
    snprintf (what, sizeof what, "nesting deeper than %d levels", TR_YAML_MAX_DEPTH);
    return fail (L, m, what);
}

static int
remember_anchor (loader_t *L, const char *anchor, const json_t *v, cost_t c, const char *key_text)
{
    if (!anchor)
        return 0;
    json_t *rec = json_pack ("[O,I,i,s?]", v, (json_int_t) c.size, c.height, key_text);
    if (!rec || json_object_set_new (L->anchors, anchor, rec)) {
        snprintf (L->err, L->errlen, "yaml: out of memory");
        return -1;
    }
    return 0;
}

static const char *
tag_short (const char *tag)
{
    static const char prefix[] = "tag:yaml.org,2002:";
    return tag && !strncmp (tag, prefix, sizeof prefix - 1) ? tag + sizeof prefix - 1 : NULL;
}

/* The value of a scalar event (not consumed). Returns 0 with *out a new reference, or -1. */
static int
scalar_value (loader_t *L, const yaml_event_t *ev, json_t **out)
{
    const char *s = (const char *) ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    const char *tag = (const char *) ev->data.scalar.tag;
    const char *core = tag_short (tag);
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (memchr (s, 0, len))
        return fail (L, &ev->start_mark, "a NUL character (\\0) is not allowed in a string");
    json_int_t i = 0;
    double d = 0;
    json_type t;
    char what[200];
    if (core && (!strcmp (core, "int") || !strcmp (core, "float") || !strcmp (core, "bool") || !strcmp (core, "null"))) {
        t = plain_resolve (s, len, &i, &d);
        int ok = (!strcmp (core, "int") && t == JSON_INTEGER) || (!strcmp (core, "float") && (t == JSON_REAL || t == JSON_INTEGER)) ||
                 (!strcmp (core, "bool") && (t == JSON_TRUE || t == JSON_FALSE)) || (!strcmp (core, "null") && t == JSON_NULL);
        if (!ok) {
            snprintf (what, sizeof what, "cannot read \"%.60s\" as !!%s", s, core);
            return fail (L, &ev->start_mark, what);
        }
        if (!strcmp (core, "float") && t == JSON_INTEGER) {
            t = JSON_REAL;
            d = (double) i;
        }
    } else if (plain && !tag)
        t = plain_resolve (s, len, &i, &d);
    else
        t = JSON_STRING; /* quoted, block, !!str, "!" or a tag we do not know */
    switch (t) {
    case JSON_NULL: *out = json_null (); break;
    case JSON_TRUE: *out = json_true (); break;
    case JSON_FALSE: *out = json_false (); break;
    case JSON_INTEGER: *out = json_integer (i); break;
    case JSON_REAL: *out = json_real (d); break;
    default: *out = json_stringn (s, len); break;
    }
    if (!*out) {
        snprintf (L->err, L->errlen, "yaml: out of memory");
        return -1;
    }
    return 0;
}

static int load_node (loader_t *L, yaml_event_t *ev, int depth, json_t **out, cost_t *cost);

/* Expands an alias event (not consumed) found at depth. */
static int
load_alias (loader_t *L, const yaml_event_t *ev, int depth, json_t **out, cost_t *cost)
{
    json_t *rec = json_object_get (L->anchors, (const char *) ev->data.alias.anchor);
    if (!rec) {
        char what[200];
        snprintf (what, sizeof what, "unknown anchor \"%.100s\" (an alias must follow its anchor, in the same document)",
                  (const char *) ev->data.alias.anchor);
        return fail (L, &ev->start_mark, what);
    }
    cost->size = (size_t) json_integer_value (json_array_get (rec, 1));
    cost->height = (int) json_integer_value (json_array_get (rec, 2));
    if (cost->height > 0 && depth + cost->height - 1 > TR_YAML_MAX_DEPTH)
        return too_deep (L, &ev->start_mark);
    if (count_nodes (L, &ev->start_mark, cost->size))
        return -1;
    *out = json_deep_copy (json_array_get (rec, 0));
    if (!*out) {
        snprintf (L->err, L->errlen, "yaml: out of memory");
        return -1;
    }
    return 0;
}

static int
load_sequence (loader_t *L, const yaml_event_t *start, int depth, json_t **out, cost_t *cost)
{
    json_t *seq = json_array ();
    if (!seq) {
        snprintf (L->err, L->errlen, "yaml: out of memory");
        return -1;
    }
    for (;;) {
        yaml_event_t ev;
        if (next_event (L, &ev))
            goto fail;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete (&ev);
            break;
        }
        json_t *item;
        cost_t c;
        if (load_node (L, &ev, depth + 1, &item, &c))
            goto fail;
        cost->size += c.size;
        if (c.height + 1 > cost->height)
            cost->height = c.height + 1;
        if (json_array_append_new (seq, item)) {
            snprintf (L->err, L->errlen, "yaml: out of memory");
            goto fail;
        }
    }
    (void) start;
    *out = seq;
    return 0;
fail:
    json_decref (seq);
    return -1;
}

/* Copies into map the keys of src it does not hold yet, recording them in merged. */
static int
merge_into (json_t *map, json_t *merged, json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach (src, k, v) {
        if (json_object_get (map, k))
            continue;
        if (json_object_set (map, k, v) || json_object_set_new (merged, k, json_true ()))
            return -1;
    }
    return 0;
}

/* Reads a mapping key from ev (consumed). *key is malloc'd; *merge is set for a plain "<<". */
static int
load_key (loader_t *L, yaml_event_t *ev, char **key, int *merge)
{
    int rc = -1;
    *key = NULL;
    *merge = 0;
    if (ev->type == YAML_SCALAR_EVENT) {
        json_t *v = NULL;
        if (count_nodes (L, &ev->start_mark, 1) || scalar_value (L, ev, &v))
            goto out;
        const char *s = (const char *) ev->data.scalar.value;
        *key = strdup (s);
        *merge = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag && !strcmp (s, "<<");
        rc = *key ? remember_anchor (L, (const char *) ev->data.scalar.anchor, v, (cost_t){1, 0}, s) : -1;
        json_decref (v);
        if (!*key)
            snprintf (L->err, L->errlen, "yaml: out of memory");
    } else if (ev->type == YAML_ALIAS_EVENT) {
        json_t *rec = json_object_get (L->anchors, (const char *) ev->data.alias.anchor);
        const char *text = json_string_value (json_array_get (rec, 3));
        if (!rec)
            rc = fail (L, &ev->start_mark, "unknown anchor used as a key");
        else if (!text)
            rc = fail (L, &ev->start_mark, "a map key must be a string, not an alias to a map or list");
        else if (!count_nodes (L, &ev->start_mark, 1)) {
            *key = strdup (text);
            rc = *key ? 0 : -1;
        }
    } else
        rc = fail (L, &ev->start_mark, "a map key must be a string, not a map or list");
out:
    yaml_event_delete (ev);
    if (rc) {
        free (*key);
        *key = NULL;
    }
    return rc;
}

static int
load_mapping (loader_t *L, int depth, json_t **out, cost_t *cost)
{
    json_t *map = json_object (), *merged = json_object ();
    char *key = NULL;
    if (!map || !merged) {
        snprintf (L->err, L->errlen, "yaml: out of memory");
        goto fail;
    }
    for (;;) {
        yaml_event_t kev, vev;
        if (next_event (L, &kev))
            goto fail;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete (&kev);
            break;
        }
        yaml_mark_t kmark = kev.start_mark;
        int merge;
        if (load_key (L, &kev, &key, &merge) || next_event (L, &vev))
            goto fail;
        yaml_mark_t vmark = vev.start_mark;
        json_t *val;
        cost_t c;
        if (load_node (L, &vev, depth + 1, &val, &c))
            goto fail;
        cost->size += 1 + c.size;
        if (c.height + 1 > cost->height)
            cost->height = c.height + 1;
        if (merge) {
            int ok = json_is_object (val);
            size_t i;
            json_t *m;
            if (json_is_array (val)) {
                ok = 1;
                json_array_foreach (val, i, m) ok &= json_is_object (m);
            }
            if (!ok) {
                json_decref (val);
                fail (L, &vmark, "the value of the merge key << must be a map or a list of maps");
                goto fail;
            }
            int rc = 0;
            if (json_is_object (val))
                rc = merge_into (map, merged, val);
            else
                json_array_foreach (val, i, m) rc |= merge_into (map, merged, m);
            json_decref (val);
            if (rc) {
                snprintf (L->err, L->errlen, "yaml: out of memory");
                goto fail;
            }
        } else {
            if (json_object_get (map, key)) {
                if (!json_object_get (merged, key)) {
                    char what[200];
                    snprintf (what, sizeof what, "duplicate key \"%.150s\"", key);
                    json_decref (val);
                    fail (L, &kmark, what);
                    goto fail;
                }
                json_object_del (merged, key); /* an explicit key overrides a merged one */
            }
            if (json_object_set_new (map, key, val)) {
                snprintf (L->err, L->errlen, "yaml: out of memory");
                goto fail;
            }
        }
        free (key);
        key = NULL;
    }
    json_decref (merged);
    *out = map;
    return 0;
fail:
    free (key);
    json_decref (map);
    json_decref (merged);
    return -1;
}

/* Loads the node whose first event is ev (consumed, whatever happens) at nesting depth: the
 * document's root is at 1, a collection's items one deeper; only collections count against
 * TR_YAML_MAX_DEPTH. cost->height is the number of nested collections below and including it. */
static int
load_node (loader_t *L, yaml_event_t *ev, int depth, json_t **out, cost_t *cost)
{
    int rc = -1;
    char *anchor = NULL;
    *out = NULL;
    *cost = (cost_t){1, 0};
    if ((ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) && depth > TR_YAML_MAX_DEPTH) {
        too_deep (L, &ev->start_mark);
        goto done;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        rc = load_alias (L, ev, depth, out, cost);
        break;
    case YAML_SCALAR_EVENT:
        if (count_nodes (L, &ev->start_mark, 1) || scalar_value (L, ev, out))
            break;
        rc = remember_anchor (L, (const char *) ev->data.scalar.anchor, *out, *cost, (const char *) ev->data.scalar.value);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int seq = ev->type == YAML_SEQUENCE_START_EVENT;
        yaml_char_t *a = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
        if (a && !(anchor = strdup ((const char *) a))) {
            snprintf (L->err, L->errlen, "yaml: out of memory");
            break;
        }
        if (count_nodes (L, &ev->start_mark, 1))
            break;
        cost->height = 1;
        if (seq ? load_sequence (L, ev, depth, out, cost) : load_mapping (L, depth, out, cost))
            break;
        rc = remember_anchor (L, anchor, *out, *cost, NULL);
        break;
    }
    default:
        fail (L, &ev->start_mark, "unexpected event");
        break;
    }
done:
    free (anchor);
    yaml_event_delete (ev);
    if (rc) {
        json_decref (*out);
        *out = NULL;
    }
    return rc;
}

/* A document with no content: libyaml reports it as an empty plain scalar without tag or anchor. */
static int
is_empty_document (const yaml_event_t *root)
{
    return root->type == YAML_SCALAR_EVENT && root->data.scalar.length == 0 &&
           root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !root->data.scalar.tag && !root->data.scalar.anchor;
}

json_t *
tr_yaml_load (const char *text, size_t len, char *err, size_t errlen)
{
    char dummy[8];
    loader_t L;
    memset (&L, 0, sizeof L);
    L.err = err && errlen ? err : dummy;
    L.errlen = err && errlen ? errlen : sizeof dummy;
    L.err[0] = 0;
    L.text = text ? text : "";
    L.len = text ? len : 0;
    const char *nul = memchr (L.text, 0, L.len);
    if (nul) {
        size_t line, col;
        offset_position (L.text, L.len, (size_t) (nul - L.text), &line, &col);
        fail_at (&L, line, col, "a NUL byte is not allowed in YAML text");
        return NULL;
    }
    json_t *docs = json_array ();
    if (!docs || !yaml_parser_initialize (&L.parser)) {
        json_decref (docs);
        snprintf (L.err, L.errlen, "yaml: out of memory");
        return NULL;
    }
    yaml_parser_set_input_string (&L.parser, (const unsigned char *) L.text, L.len);
    yaml_parser_set_encoding (&L.parser, YAML_UTF8_ENCODING);
    int ok = 0;
    for (;;) {
        yaml_event_t ev;
        if (next_event (&L, &ev))
            break;
        yaml_event_type_t type = ev.type;
        yaml_event_delete (&ev);
        if (type == YAML_STREAM_END_EVENT) {
            ok = 1;
            break;
        }
        if (type != YAML_DOCUMENT_START_EVENT)
            continue; /* STREAM_START */
        yaml_event_t root, end;
        if (next_event (&L, &root))
            break;
        json_t *doc = NULL;
        int empty = is_empty_document (&root);
        if (empty)
            yaml_event_delete (&root);
        else {
            cost_t c;
            if (!(L.anchors = json_object ())) {
                yaml_event_delete (&root);
                snprintf (L.err, L.errlen, "yaml: out of memory");
                break;
            }
            int rc = load_node (&L, &root, 1, &doc, &c);
            json_decref (L.anchors);
            L.anchors = NULL;
            if (rc)
                break;
        }
        if (next_event (&L, &end)) { /* DOCUMENT_END */
            json_decref (doc);
            break;
        }
        yaml_event_delete (&end);
        if (!empty && json_array_append_new (docs, doc)) {
            snprintf (L.err, L.errlen, "yaml: out of memory");
            break;
        }
    }
    yaml_parser_delete (&L.parser);
    if (!ok) {
        json_decref (docs);
        return NULL;
    }
    return docs;
}

/* ---- dumping -------------------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} sbuf_t;

static int
sbuf_write (void *data, unsigned char *bytes, size_t size)
{
    sbuf_t *b = data;
    if (b->len + size + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + size + 1)
            cap *= 2;
        char *n = realloc (b->buf, cap);
        if (!n) {
            b->failed = 1;
            return 0;
        }
        b->buf = n;
        b->cap = cap;
    }
    memcpy (b->buf + b->len, bytes, size);
    b->len += size;
    b->buf[b->len] = 0;
    return 1;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one (overlong forms,
 * surrogates and code points past U+10FFFF are not). */
static size_t
utf8_seq (const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t w;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        w = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        w = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        w = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (w > n)
        return 0;
    for (size_t i = 1; i < w; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return w;
}

/* s with every byte that is not part of valid UTF-8 replaced by U+FFFD, malloc'd; NULL on
 * allocation failure. *outlen receives the length. */
static char *
utf8_repair (const char *s, size_t len, size_t *outlen)
{
    char *o = malloc (len * 3 + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < len;) {
        size_t w = utf8_seq ((const unsigned char *) s + i, len - i);
        if (w) {
            memcpy (o + j, s + i, w);
            j += w;
            i += w;
        } else {
            memcpy (o + j, "\xEF\xBF\xBD", 3);
            j += 3;
            i++;
        }
    }
    o[j] = 0;
    *outlen = j;
    return o;
}

static int
valid_utf8 (const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t w = utf8_seq ((const unsigned char *) s + i, len - i);
        if (!w)
            return 0;
        i += w;
    }
    return 1;
}

/* True if other YAML readers would take plain s for a number: it starts like one ([0-9], or
 * [-+.] then [0-9]) and holds only characters of YAML 1.1 numbers (0777, 1_000, 0b1, 1:30, 1e3). */
static int
looks_numeric (const char *s)
{
    const char *p = s;
    if (*p == '-' || *p == '+' || *p == '.')
        p++;
    if (!is_digit (*p))
        return 0;
    return strspn (s, "0123456789abcdefABCDEFxXoObB_.:+-") == strlen (s);
}

/* True if the string must be quoted to read back as the same string, here or in YAML 1.1 tools. */
static int
needs_quotes (const char *s, size_t len)
{
    json_int_t i;
    double d;
    if (plain_resolve (s, len, &i, &d) != JSON_STRING)
        return 1;
    return !strcmp (s, "<<") || !strcmp (s, "=") || one_of (s, special_floats) || one_of (s, yaml11_bools) ||
           looks_numeric (s);
}

static int
emit_scalar (yaml_emitter_t *e, const char *s, size_t len, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize (&ev, NULL, NULL, (yaml_char_t *) s, (int) len, 1, 1, style))
        return 0;
    return yaml_emitter_emit (e, &ev);
}

static int
emit_string (yaml_emitter_t *e, const char *s, size_t len, int is_key)
{
    char *fixed = NULL;
    if (len > INT32_MAX)
        return 0;
    if (!valid_utf8 (s, len)) {
        if (!(fixed = utf8_repair (s, len, &len)))
            return 0;
        s = fixed;
    }
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    if (memchr (s, 0, len) || needs_quotes (s, len))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    else if (!is_key && memchr (s, '\n', len))
        style = YAML_LITERAL_SCALAR_STYLE; /* libyaml falls back to double quotes when | cannot be exact */
    int ok = emit_scalar (e, s, len, style);
    free (fixed);
    return ok;
}

static int
emit_real (yaml_emitter_t *e, double d)
{
    char num[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf (num, sizeof num, "%.*g", prec, d);
        if (strtod (num, NULL) == d)
            break;
    }
    if (!strpbrk (num, ".eEn")) /* "inf"/"nan" cannot occur: jansson holds finite reals only */
        strcat (num, ".0");
    return emit_scalar (e, num, strlen (num), YAML_PLAIN_SCALAR_STYLE);
}

static int
emit_value (yaml_emitter_t *e, const json_t *v, int depth)
{
    yaml_event_t ev;
    if (depth > DUMP_MAX_DEPTH)
        return 0;
    switch (json_typeof (v)) {
    case JSON_OBJECT: {
        if (!yaml_mapping_start_event_initialize (&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit (e, &ev))
            return 0;
        const char *k;
        json_t *x;
        json_object_foreach ((json_t *) v, k, x) {
            if (!emit_string (e, k, strlen (k), 1) || !emit_value (e, x, depth + 1))
                return 0;
        }
        yaml_mapping_end_event_initialize (&ev);
        return yaml_emitter_emit (e, &ev);
    }
    case JSON_ARRAY: {
        if (!yaml_sequence_start_event_initialize (&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit (e, &ev))
            return 0;
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x) {
            if (!emit_value (e, x, depth + 1))
                return 0;
        }
        yaml_sequence_end_event_initialize (&ev);
        return yaml_emitter_emit (e, &ev);
    }
    case JSON_STRING:
        return emit_string (e, json_string_value (v), json_string_length (v), 0);
    case JSON_INTEGER: {
        char num[32];
        snprintf (num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value (v));
        return emit_scalar (e, num, strlen (num), YAML_PLAIN_SCALAR_STYLE);
    }
    case JSON_REAL:
        return emit_real (e, json_real_value (v));
    case JSON_TRUE:
        return emit_scalar (e, "true", 4, YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return emit_scalar (e, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    case JSON_NULL:
        return emit_scalar (e, "null", 4, YAML_PLAIN_SCALAR_STYLE);
    }
    return 0;
}

char *
tr_yaml_dump (const json_t *v)
{
    if (!v)
        return NULL;
    yaml_emitter_t e;
    sbuf_t b = {0};
    if (!yaml_emitter_initialize (&e))
        return NULL;
    yaml_emitter_set_output (&e, sbuf_write, &b);
    yaml_emitter_set_unicode (&e, 1);
    yaml_emitter_set_width (&e, -1);
    yaml_emitter_set_indent (&e, 2);
    yaml_emitter_set_break (&e, YAML_LN_BREAK);
    yaml_event_t ev;
    int ok = yaml_stream_start_event_initialize (&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit (&e, &ev);
    ok = ok && yaml_document_start_event_initialize (&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit (&e, &ev);
    ok = ok && emit_value (&e, v, 0);
    ok = ok && yaml_document_end_event_initialize (&ev, 1) && yaml_emitter_emit (&e, &ev);
    ok = ok && yaml_stream_end_event_initialize (&ev) && yaml_emitter_emit (&e, &ev);
    ok = ok && yaml_emitter_flush (&e);
    yaml_emitter_delete (&e);
    if (!ok || b.failed) {
        free (b.buf);
        return NULL;
    }
    return b.buf ? b.buf : strdup ("");
}
